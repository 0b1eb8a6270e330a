"""BVSE pair parameters of a mobile ion against every atom of a framework.

The softBV table itself lives in :mod:`litraj_data.leaderboard.bvse.params` (one table for
the whole project); this module only turns it into per-atom arrays for the hop energy model
and names the reason when something is missing.

Energy model (same as ``ions`` 0.2.9-0.5.1 and ``bvlain``, see ``docs/hops.md``):

* anion j (q_j < 0): Morse ``D0/2 * ((exp(alpha (r_min - r)) - 1)^2 - 1)``;
* cation j (q_j > 0): screened Coulomb
  ``14.4 q_1 q_j / sqrt(n_1 n_j) / r * erfc(r / (f (rc_1 + rc_j)))``, ``f = 0.74``,
  n = principal quantum number, rc = ASE covalent radius; other Li ions are cations, so the
  Li-Li repulsion is on;
* neutral atoms (q_j = 0) do not interact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from litraj_data.errors import StructureError

COULOMB_K = 14.4  # eV*A/e^2, the value used by ions/bvlain (kept for agreement)
SCREENING_F = 0.74  # screening factor of the softBV Coulomb term


@dataclass(frozen=True)
class PairParams:
    """Per-atom parameters of the mobile ion's pair interaction with each atom.

    Attributes
    ----------
    morse : (N,) bool
        Atom interacts through the Morse term (anion).
    r_min, alpha, d0 : (N,) float
        Morse parameters (zero for non-anions).
    coul_a : (N,) float
        Coulomb prefactor ``14.4 q_1 q_j / sqrt(n_1 n_j)`` (zero for non-cations).
    coul_s : (N,) float
        Screening length ``f (rc_1 + rc_j)`` (1 for non-cations, never used then).
    """

    morse: np.ndarray
    r_min: np.ndarray
    alpha: np.ndarray
    d0: np.ndarray
    coul_a: np.ndarray
    coul_s: np.ndarray

    def take(self, index: np.ndarray) -> "PairParams":
        """Parameters of a subset / repetition of the atoms."""
        return PairParams(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


def principal_quantum_number(z: int) -> int:
    """Principal quantum number of element ``z`` (row of the periodic table)."""
    from litraj_data.leaderboard.bvse import params as table

    return int(table.principal_quantum_number(int(z)))


def covalent_radius(z: int) -> float:
    """Covalent radius of element ``z`` used for the Coulomb screening (ASE table)."""
    from litraj_data.leaderboard.bvse import params as table

    return float(table.covalent_radius(int(z), source="ase"))


def morse_params(mobile: str, q_mobile: int, anion: str, q_anion: int) -> tuple[float, float, float]:
    """softBV Morse parameters ``(r_min, alpha, d0)`` of a mobile-cation / anion pair.

    Raises
    ------
    StructureError
        ``missing_parameters`` when the pair is not tabulated (raised by the table).
    """
    from litraj_data.leaderboard.bvse import params as table

    d0, r_min, alpha = table.pair_parameters((mobile, int(q_mobile)), (anion, int(q_anion)))
    return float(r_min), float(alpha), float(d0)


def pair_params(
    numbers: np.ndarray, charges: np.ndarray, mobile_z: int, mobile_q: float
) -> PairParams:
    """Pair parameters of the mobile ion (``mobile_z``, ``mobile_q``) against each atom.

    Parameters
    ----------
    numbers : (N,) int
        Atomic numbers of the atoms the mobile ion sees.
    charges : (N,) float
        Their oxidation states (integers in practice).
    mobile_z, mobile_q
        Atomic number and oxidation state of the mobile ion.

    Returns
    -------
    PairParams

    Raises
    ------
    StructureError
        ``missing_parameters`` for an anion without softBV parameters, ``oxidation_states``
        for non-finite charges or a non-positive mobile charge.
    """
    from ase.data import chemical_symbols

    numbers = np.asarray(numbers, dtype=int)
    charges = np.asarray(charges, dtype=float)
    if not np.all(np.isfinite(charges)):
        raise StructureError("non-finite oxidation states", reason="oxidation_states")
    if not mobile_q > 0:
        raise StructureError(f"mobile ion charge must be positive, got {mobile_q}", reason="oxidation_states")
    n = len(numbers)
    morse = charges < 0
    r_min = np.zeros(n)
    alpha = np.zeros(n)
    d0 = np.zeros(n)
    coul_a = np.zeros(n)
    coul_s = np.ones(n)
    mobile_sym = chemical_symbols[mobile_z]
    n1 = principal_quantum_number(mobile_z)
    rc1 = covalent_radius(mobile_z)
    cache: dict[tuple[int, int], tuple[float, float, float]] = {}
    for i, (z, q) in enumerate(zip(numbers, charges)):
        if q < 0:
            key = (int(z), int(round(q)))
            if key not in cache:
                cache[key] = morse_params(mobile_sym, int(round(mobile_q)), chemical_symbols[z], key[1])
            r_min[i], alpha[i], d0[i] = cache[key]
        elif q > 0:
            coul_a[i] = COULOMB_K * mobile_q * q / np.sqrt(n1 * principal_quantum_number(z))
            coul_s[i] = SCREENING_F * (rc1 + covalent_radius(z))
    return PairParams(morse, r_min, alpha, d0, coul_a, coul_s)
