"""softBV force field (Chen, Wong & Adams, Acta Cryst. B 75, 18 (2019)) and pair parameters.

The table is package data (``data/softbv_params.json``, regenerated from the copy bundled
in the MIT-licensed bvlain 0.25.1 by ``data/make_params.py``). This module looks values up
and assembles the per-atom parameters of one mobile ion against a framework,
:class:`PairParameters`, the one parameter type of the BVSE landscape (BVEL13k) and of the
hop energy model (nebBVSE122k).

Energy model (same as ``bvlain`` and ``ions`` 0.2.9-0.5.1), mobile ion m, framework atom j:

* counter-ion (sign of q_j opposite to q_m): Morse ``D0/2 ((exp(alpha (R_min - r)) - 1)^2 - 1)``;
* like-charged ion: screened Coulomb ``14.4 q_m q_j / sqrt(n_m n_j) / r * erfc(r / (f (rc_m + rc_j)))``,
  n = principal quantum number, rc = covalent radius, f = 0.74;
* neutral atoms (q_j = 0) interact with neither term.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from litraj_data.errors import StructureError

DATA_FILE = Path(__file__).with_name("data") / "softbv_params.json"
COULOMB_CONSTANT = 14.4  # e^2 / (4 pi eps0) in eV Å, the value used by softBV, bvlain and ions
SCREENING_F = 0.74  # screening factor f of the Coulomb term (paper)


@lru_cache(maxsize=1)
def load_table() -> dict[str, Any]:
    """The raw JSON document of the shipped parameter table (cached)."""
    return json.loads(DATA_FILE.read_text())


@lru_cache(maxsize=1)
def _pairs() -> dict[tuple[int, int, int, int], tuple[float, float, float, float]]:
    table = load_table()
    out = {}
    for key in ("cation_mobile_pairs", "anion_mobile_pairs"):
        for zm, qm, zo, qo, r_min, alpha, d0, r0 in table[key]:
            out[(zm, qm, zo, qo)] = (r_min, alpha, d0, r0)
    return out


def _z(element: str | int) -> int:
    if isinstance(element, (int, np.integer)):
        return int(element)
    try:
        return atomic_numbers[str(element)]
    except KeyError:
        raise StructureError(f"unknown element {element!r}", reason="missing_parameters") from None


def pair_parameters(mobile: tuple[str | int, int], other: tuple[str | int, int]) -> tuple[float, float, float]:
    """Morse parameters of a mobile ion / counter-ion pair.

    Parameters
    ----------
    mobile : (element, oxidation state)
        The mobile ion, e.g. ``("Li", 1)`` (element as symbol or atomic number).
    other : (element, oxidation state)
        A counter-ion of opposite sign, e.g. ``("O", -2)``.

    Returns
    -------
    (D0, R_min, alpha) : tuple of float
        Bond-breaking energy (eV), equilibrium distance (Å) and softness (1/Å).

    Raises
    ------
    StructureError
        ``missing_parameters`` when the table has no entry for the pair.
    """
    key = (_z(mobile[0]), int(mobile[1]), _z(other[0]), int(other[1]))
    try:
        r_min, alpha, d0, _ = _pairs()[key]
    except KeyError:
        raise StructureError(
            f"no softBV parameters for {chemical_symbols[key[0]]}{key[1]:+d} - "
            f"{chemical_symbols[key[2]]}{key[3]:+d}",
            reason="missing_parameters",
        ) from None
    return d0, r_min, alpha


def principal_quantum_number(element: str | int) -> int:
    """Principal quantum number of the valence shell (softBV table)."""
    z = _z(element)
    try:
        return load_table()["principal_quantum_number"][str(z)]
    except KeyError:
        raise StructureError(
            f"no principal quantum number for {chemical_symbols[z]}", reason="missing_parameters"
        ) from None


def covalent_radius(element: str | int, oxidation: int | None = None, source: str = "ase") -> float:
    """Covalent radius (Å) used in the Coulomb screening length.

    ``source="ase"`` (the default of bvlain, hence of the BVEL13k release, and of ions)
    takes Cordero's radii as tabulated by ASE; ``source="softbv"`` takes the
    per-oxidation-state softBV ones.
    """
    z = _z(element)
    table = load_table()
    if source == "ase":
        return table["covalent_radii_ase"][z]
    if source == "softbv":
        try:
            return table["covalent_radii_softbv"][str(z)][str(int(oxidation))]
        except KeyError:
            raise StructureError(
                f"no softBV covalent radius for {chemical_symbols[z]}{oxidation:+d}",
                reason="missing_parameters",
            ) from None
    raise ValueError(f"unknown radius source {source!r} (use 'ase' or 'softbv')")


@dataclass(frozen=True)
class PairParameters:
    """Per-atom parameters of one mobile ion's pair interaction with each framework atom.

    Arrays have one entry per framework atom. Counter-ions (sign opposite to the mobile
    ion) carry Morse parameters, ``coulomb_prefactor = 0`` and ``screening = 1``;
    like-charged ions carry ``d0 = r_min = alpha = 0``, the screened-Coulomb prefactor
    ``14.4 q_m q / sqrt(n_m n)`` (eV Å) and screening length ``f (rc_m + rc)`` (Å);
    neutral atoms carry zeros (and ``screening = 1``, never used).

    Attributes
    ----------
    d0, r_min, alpha : (N,) float
        Morse bond-breaking energy (eV), equilibrium distance (Å), softness (1/Å).
    coulomb_prefactor, screening : (N,) float
        Screened-Coulomb prefactor (eV Å) and screening length (Å).
    morse : (N,) bool
        The atom is a counter-ion (interacts through the Morse term).
    """

    d0: np.ndarray
    r_min: np.ndarray
    alpha: np.ndarray
    coulomb_prefactor: np.ndarray
    screening: np.ndarray
    morse: np.ndarray

    def take(self, index: np.ndarray) -> PairParameters:
        """Parameters of a subset / repetition of the atoms (``index`` into every array)."""
        return PairParameters(*(getattr(self, f.name)[index] for f in fields(self)))


def framework_parameters(
    species: Sequence[str | int] | np.ndarray,
    oxidation_states: Sequence[float] | np.ndarray,
    mobile: tuple[str | int, float] = ("Li", 1),
    f: float = SCREENING_F,
    radii: str = "ase",
) -> PairParameters:
    """Morse / screened-Coulomb parameters of the mobile ion against every framework atom.

    Parameters
    ----------
    species : sequence of str or int
        Element symbol or atomic number of each framework atom.
    oxidation_states : sequence of float
        Oxidation state of each framework atom. The Morse pair is looked up at the nearest
        integer state; the Coulomb prefactor uses the state as given (integers in practice).
    mobile : (element, oxidation state)
        The mobile ion, e.g. ``("Li", 1)`` or ``(3, 1.0)``.
    f : float
        Screening factor of the Coulomb term (paper: 0.74).
    radii : {"ase", "softbv"}
        Covalent radius table (see :func:`covalent_radius`).

    Raises
    ------
    StructureError
        ``missing_parameters`` when a counter-ion pair or quantum number is not tabulated,
        ``oxidation_states`` for non-finite states or a neutral mobile ion.
    """
    m_el, m_q = mobile
    states = np.asarray(oxidation_states, dtype=float).reshape(-1)
    if not np.all(np.isfinite(states)):
        raise StructureError("non-finite oxidation states", reason="oxidation_states")
    if not (np.isfinite(m_q) and m_q != 0):
        raise StructureError(f"mobile ion charge must be non-zero, got {m_q}", reason="oxidation_states")
    if len(species) != len(states):
        raise ValueError(f"{len(species)} species but {len(states)} oxidation states")
    sign = np.sign(m_q)
    m_int = int(round(m_q))
    n_m = principal_quantum_number(m_el)
    rc_m = covalent_radius(m_el, m_int, radii)
    # atoms of one species and state share their parameters: look each pair up once
    cache: dict[tuple[int, float], tuple[float, float, float, float, float]] = {}
    rows = []
    for el, q in zip(species, states.tolist()):
        key = (_z(el), q)
        if key not in cache:
            if q * sign < 0:
                d0, r_min, alpha = pair_parameters((m_el, m_int), (key[0], int(round(q))))
                cache[key] = (d0, r_min, alpha, 0.0, 1.0)
            elif q * sign > 0:
                pref = COULOMB_CONSTANT * m_q * q / np.sqrt(n_m * principal_quantum_number(key[0]))
                cache[key] = (0.0, 0.0, 0.0, float(pref), f * (rc_m + covalent_radius(key[0], int(round(q)), radii)))
            else:  # neutral atoms (e.g. noble gases) interact with neither term
                cache[key] = (0.0, 0.0, 0.0, 0.0, 1.0)
        rows.append(cache[key])
    arr = np.array(rows, dtype=float).reshape(-1, 5)
    return PairParameters(*(arr[:, i].copy() for i in range(5)), morse=states * sign < 0)
