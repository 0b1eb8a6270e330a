"""Oxidation states of a structure: as given on the input, else assigned by BVAnalyzer.

One rule for BVEL13k and nebBVSE122k (so both datasets see the same charges):

1. states carried by the input are used as given: pymatgen ``Species.oxi_state`` on every
   site, or ASE ``atoms.arrays['oxi_states']``; all-zero states count as *not given*
   (structures read from extxyz without charges report 0 everywhere);
2. otherwise pymatgen's ``BVAnalyzer`` assigns them with the paper's forbidden species
   (``O-`` and ``P3-``, :data:`FORBIDDEN_SPECIES`); where its own table leaves it one
   choice (every element with a single candidate valence, charge balanced: Li2O, LiF,
   Li2MgO2...), that choice is returned without running it (:func:`forced_oxidation_states`).

Failures are :class:`~litraj_data.errors.StructureError` with reason ``disordered``
(partial occupancies), ``no_mobile_ion`` (the mobile element is absent) or
``oxidation_states`` (non-finite or, where integers are required, non-integer given states;
BVAnalyzer finds no charge-balanced assignment).
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

from litraj_data.errors import StructureError

FORBIDDEN_SPECIES = ("O-", "P3-")
INTEGER_TOL = 1e-6  # given states this close to an integer are that integer


def _symbols(structure: Any) -> list[str]:
    if hasattr(structure, "arrays"):  # ASE Atoms
        return list(structure.get_chemical_symbols())
    return [site.specie.symbol for site in structure]


def given_oxidation_states(structure: Any) -> np.ndarray | None:
    """States carried by a pymatgen Structure or ASE Atoms, or None when there are none.

    Raises
    ------
    StructureError
        ``oxidation_states`` when given states are not finite.
    """
    arrays = getattr(structure, "arrays", None)
    if arrays is not None:  # ASE Atoms
        if "oxi_states" not in arrays:
            return None
        states = np.asarray(arrays["oxi_states"], dtype=float)
    else:
        given = []
        for site in structure:
            ox = getattr(site.specie, "oxi_state", None)  # Element has none, Species has one
            if ox is None:
                return None
            given.append(ox)
        states = np.asarray(given, dtype=float)
    if not np.any(states):  # undecorated structures (e.g. read from extxyz) report 0 everywhere
        return None
    if not np.all(np.isfinite(states)):
        raise StructureError("non-finite oxidation states on the structure", reason="oxidation_states")
    return states


_ANALYZERS = threading.local()


def _bv_analyzer(forbidden_species: tuple[str, ...]) -> Any:
    """One ``BVAnalyzer`` per forbidden-species set and thread.

    Its constructor rebuilds the ICSD bond-valence table minus the forbidden species (~5-10 ms,
    a quarter of a small crystal's whole hop pipeline); ``get_valences`` resets its search
    state (``_n``, ``_best_score``, ``_best_vset``) on every call and only reads the table,
    so a reused analyzer assigns exactly what a fresh one does. Per thread, because that
    search state lives on the instance.
    """
    from pymatgen.analysis.bond_valence import BVAnalyzer

    cache = getattr(_ANALYZERS, "by_forbidden", None)
    if cache is None:
        cache = _ANALYZERS.by_forbidden = {}
    if forbidden_species not in cache:
        cache[forbidden_species] = BVAnalyzer(forbidden_species=list(forbidden_species))
    return cache[forbidden_species]


def _single_candidates(forbidden_species: tuple[str, ...]) -> dict[str, float]:
    """Elements with exactly one valence BVAnalyzer can give them (its table minus the forbidden species).

    Per element, BVAnalyzer weighs the valences of its ICSD table (``oxi_state != 0``,
    ``std > 0``) by a bond-valence-sum likelihood; with a single candidate that valence has
    probability 1 on every site, whatever the geometry.
    """
    cache = getattr(_ANALYZERS, "single", None)
    if cache is None:
        cache = _ANALYZERS.single = {}
    if forbidden_species not in cache:
        from pymatgen.analysis.bond_valence import BV_PARAMS, PRIOR_PROB

        analyzer = _bv_analyzer(forbidden_species)
        candidates: dict[str, list[Any]] = {}
        for sp, data in analyzer.icsd_bv_data.items():
            if sp.oxi_state != 0 and data["std"] > 0:
                candidates.setdefault(sp.symbol, []).append(sp)
        with_params = {el.symbol for el in BV_PARAMS}
        cache[forbidden_species] = {el: float(sps[0].oxi_state) for el, sps in candidates.items()
                                    if len(sps) == 1 and sps[0] in PRIOR_PROB and el in with_params}
    return cache[forbidden_species]


def forced_oxidation_states(structure: Any, forbidden_species: tuple[str, ...] = FORBIDDEN_SPECIES
                            ) -> np.ndarray | None:
    """BVAnalyzer's answer when it is forced by its own table, without running it; else None.

    When every element of an ordered structure has a single candidate valence (Li+, O2- once
    O- is forbidden, F-, Na+, Mg2+, ...; :func:`_single_candidates`) and those valences
    balance the charge, BVAnalyzer has one assignment to choose from and returns it (score
    1, whatever the bond-valence sums); this gives it without the symmetry analysis and
    neighbour search that cost it tens of ms on a small cubic cell. Anything else (an
    element with several candidates or without BV parameters, charge imbalance) returns
    None and BVAnalyzer decides, errors included. The one case where BVAnalyzer would do
    otherwise is a site whose bond-valence likelihood underflows to 0 (a sum ~40 standard
    deviations off, e.g. an isolated atom), where it stops on an empty ``min()``.
    """
    symbols = _symbols(structure)
    single = _single_candidates(tuple(forbidden_species))
    if not all(el in single for el in set(symbols)):
        return None
    states = np.array([single[el] for el in symbols], dtype=float)
    if states.sum() != 0:  # integer valences: exact
        return None
    return states


def assign_oxidation_states(structure: Any, forbidden_species: tuple[str, ...] = FORBIDDEN_SPECIES) -> np.ndarray:
    """Integer states (as floats) assigned by pymatgen's ``BVAnalyzer``.

    Parameters
    ----------
    structure : pymatgen Structure or ASE Atoms
        Ordered; ASE Atoms are converted with ``AseAtomsAdaptor``.
    forbidden_species : tuple of str
        Species BVAnalyzer may not assign (paper: ``O-`` and ``P3-``).

    Raises
    ------
    StructureError
        ``oxidation_states`` when BVAnalyzer finds no assignment or lacks parameters.
    """
    from pymatgen.core import Structure

    forced = forced_oxidation_states(structure, forbidden_species)
    if forced is not None:
        return forced
    if not isinstance(structure, Structure):
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(structure)
    try:
        valences = _bv_analyzer(tuple(forbidden_species)).get_valences(structure)
    except ValueError as exc:  # "Valences cannot be assigned!" / elements without BV parameters
        raise StructureError(f"BVAnalyzer cannot assign oxidation states ({exc})",
                             reason="oxidation_states") from exc
    return np.array([int(v) for v in np.round(valences)], dtype=float)


def oxidation_states(
    structure: Any,
    mobile: str | None = "Li",
    forbidden_species: tuple[str, ...] = FORBIDDEN_SPECIES,
    integer: bool = True,
) -> np.ndarray:
    """Oxidation state of every site of ``structure`` (pymatgen Structure or ASE Atoms).

    Parameters
    ----------
    structure : pymatgen Structure or ASE Atoms
        An ordered structure.
    mobile : str or None
        The mobile element; the structure must contain it (None: no check).
    forbidden_species : tuple of str
        Species BVAnalyzer may not assign (paper: ``O-`` and ``P3-``).
    integer : bool
        Given states must be integers (within 1e-6) and are returned rounded. The BVSE
        landscape needs this (the softBV table is per integer valence); the hop energy
        model accepts fractional given charges in its Coulomb term (``integer=False``).

    Returns
    -------
    ndarray (N,) float

    Raises
    ------
    StructureError
        ``disordered``, ``no_mobile_ion`` or ``oxidation_states`` (see the module docstring).
    """
    if not hasattr(structure, "arrays") and not structure.is_ordered:
        raise StructureError("structure has partially occupied sites", reason="disordered")
    if mobile is not None and mobile not in _symbols(structure):
        raise StructureError(f"structure contains no {mobile}", reason="no_mobile_ion")
    states = given_oxidation_states(structure)
    if states is None:
        return assign_oxidation_states(structure, forbidden_species)
    if integer:
        rounded = np.round(states)
        if np.any(np.abs(states - rounded) > INTEGER_TOL):
            raise StructureError("non-integer oxidation states on the structure", reason="oxidation_states")
        states = rounded
    return states
