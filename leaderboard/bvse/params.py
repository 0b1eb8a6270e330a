"""softBV force-field parameters (Chen, Wong & Adams, Acta Cryst. B 75, 18 (2019)).

The table is package data (``data/softbv_params.json``, regenerated from the copy bundled
in the MIT-licensed bvlain 0.25.1 by ``data/make_params.py``). This module only looks
values up and assembles per-ion arrays for a framework.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from litraj_data.errors import StructureError

DATA_FILE = Path(__file__).with_name("data") / "softbv_params.json"


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


def pair_parameters(mobile: tuple[str, int], other: tuple[str, int]) -> tuple[float, float, float]:
    """Morse parameters of a mobile ion / counter-ion pair.

    Parameters
    ----------
    mobile : (element, oxidation state)
        The mobile ion, e.g. ``("Li", 1)``.
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

    ``source="ase"`` (the default of bvlain, hence of the BVEL13k release) takes Cordero's
    radii as tabulated by ASE; ``source="softbv"`` takes the per-oxidation-state softBV ones.
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
class FrameworkParameters:
    """Per-ion parameters of the framework seen by one mobile ion.

    Arrays have one entry per framework ion. Counter-ions (sign opposite to the mobile
    ion) carry Morse parameters and ``coulomb_prefactor = 0``; like-charged ions carry
    ``d0 = 0`` and the screened-Coulomb prefactor ``14.4 q_m q / sqrt(n_m n)`` (eV Å) and
    screening length ``f (r_c,m + r_c)`` (Å); neutral ions carry neither.
    """

    d0: np.ndarray
    r_min: np.ndarray
    alpha: np.ndarray
    coulomb_prefactor: np.ndarray
    screening: np.ndarray

    def kinds(self) -> tuple[np.ndarray, np.ndarray]:
        """Unique parameter rows and the kind index of every ion (ions of a kind share φ(r))."""
        rows = np.stack([self.d0, self.r_min, self.alpha, self.coulomb_prefactor, self.screening], axis=1)
        uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
        return uniq, inverse.ravel()


COULOMB_CONSTANT = 14.4  # e^2 / (4 pi eps0) in eV Å, the value used by softBV and bvlain


def framework_parameters(
    elements: list[str],
    oxidation_states: list[int],
    mobile: tuple[str, int] = ("Li", 1),
    f: float = 0.74,
    radii: str = "ase",
) -> FrameworkParameters:
    """Assemble Morse / screened-Coulomb parameters for every framework ion.

    Parameters
    ----------
    elements, oxidation_states : list
        Element symbol and integer oxidation state of each framework ion (mobile ions
        already removed).
    mobile : (element, oxidation state)
        The mobile ion.
    f : float
        Screening factor of the Coulomb term (paper: 0.74).
    radii : {"ase", "softbv"}
        Covalent radius table (see :func:`covalent_radius`).

    Raises
    ------
    StructureError
        ``missing_parameters`` when a counter-ion pair or quantum number is not tabulated.
    """
    m_el, m_q = mobile
    sign = np.sign(m_q)
    n_m = principal_quantum_number(m_el)
    rc_m = covalent_radius(m_el, m_q, radii)
    cache: dict[tuple[str, int], tuple[float, float, float, float, float]] = {}
    rows = []
    for el, q in zip(elements, oxidation_states):
        key = (el, int(q))
        if key not in cache:
            if q * sign < 0:
                d0, r_min, alpha = pair_parameters(mobile, key)
                cache[key] = (d0, r_min, alpha, 0.0, 1.0)
            elif q * sign > 0:
                pref = COULOMB_CONSTANT * m_q * q / np.sqrt(n_m * principal_quantum_number(el))
                cache[key] = (0.0, 0.0, 0.0, float(pref), f * (rc_m + covalent_radius(el, q, radii)))
            else:  # neutral ions (e.g. noble gases) interact with neither term
                cache[key] = (0.0, 0.0, 0.0, 0.0, 1.0)
        rows.append(cache[key])
    arr = np.array(rows, dtype=float).reshape(-1, 5)
    return FrameworkParameters(*(arr[:, i].copy() for i in range(5)))
