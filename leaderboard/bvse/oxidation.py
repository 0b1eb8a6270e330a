"""Oxidation states of a structure for BVSE (paper: BVAnalyzer with O1- and P3- forbidden)."""
from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from litraj_data.errors import StructureError

FORBIDDEN_SPECIES = ("O-", "P3-")


def _given_states(structure: Structure) -> list[int] | None:
    """States already on the structure (species with ``oxi_state``), else None."""
    states = []
    for site in structure:
        sp = site.specie
        ox = getattr(sp, "oxi_state", None)
        if ox is None:
            return None
        states.append(ox)
    if all(s == 0 for s in states):  # undecorated structures read from extxyz report 0
        return None
    if any(abs(s - round(s)) > 1e-6 for s in states):
        raise StructureError("non-integer oxidation states on the structure", reason="oxidation_states")
    return [int(round(s)) for s in states]


def oxidation_states(
    structure: Structure,
    mobile: str = "Li",
    forbidden_species: tuple[str, ...] = FORBIDDEN_SPECIES,
) -> tuple[list[str], list[int]]:
    """Element symbols and integer oxidation states of every site.

    Parameters
    ----------
    structure : Structure
        An ordered structure. Oxidation states already on it are used as given; otherwise
        pymatgen's ``BVAnalyzer(forbidden_species=...)`` assigns them.
    mobile : str
        The mobile element; the structure must contain it.
    forbidden_species : tuple of str
        Species BVAnalyzer may not assign (paper: ``O-`` and ``P3-``).

    Returns
    -------
    (elements, states) : (list of str, list of int)

    Raises
    ------
    StructureError
        ``disordered`` (partial occupancies), ``no_mobile_ion`` (no ``mobile`` site),
        ``oxidation_states`` (BVAnalyzer cannot assign valences).
    """
    if not structure.is_ordered:
        raise StructureError("structure has partially occupied sites", reason="disordered")
    elements = [site.specie.symbol for site in structure]
    if mobile not in elements:
        raise StructureError(f"structure contains no {mobile}", reason="no_mobile_ion")
    states = _given_states(structure)
    if states is None:
        from pymatgen.analysis.bond_valence import BVAnalyzer

        try:
            valences = BVAnalyzer(forbidden_species=list(forbidden_species)).get_valences(structure)
        except Exception as exc:  # BVAnalyzer raises ValueError / others when it fails
            raise StructureError(f"BVAnalyzer cannot assign oxidation states ({exc})",
                                 reason="oxidation_states") from exc
        states = [int(v) for v in np.round(valences)]
    return elements, states
