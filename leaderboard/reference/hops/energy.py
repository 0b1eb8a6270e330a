"""BVSE energy and analytic forces of one mobile ion in a fixed framework.

The framework is static during a hop, so its contribution is gathered once per hop: every
framework atom (with its periodic images) within ``cutoff + margin`` of the hop segment, with
its pair parameters. Energies and forces of all band images are then one vectorised
evaluation over (images x neighbours). Forces are the exact negative gradient of the
energy (``ions`` 0.3.5-0.5.1 drop a 1/r factor; see ``docs/hops.md``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from litraj_data.errors import StructureError
from litraj_data.leaderboard.reference.physics.periodic import lattice_images
from litraj_data.leaderboard.reference.physics.softbv import PairParameters

DEFAULT_CUTOFF = 10.0  # A, interaction cutoff of the paper / ions
_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)


def pair_energy(r: np.ndarray, p: PairParameters) -> tuple[np.ndarray, np.ndarray]:
    """Pair energies and their radial derivatives dE/dr.

    Parameters
    ----------
    r : array (..., K)
        Distances (A) to K atoms whose parameters are ``p`` (broadcast on the last axis).
    p : PairParameters
        Parameters of the K atoms.

    Returns
    -------
    energy, dedr : arrays (..., K)
    """
    e = np.exp(p.alpha * (p.r_min - r))
    morse = 0.5 * p.d0 * ((e - 1.0) ** 2 - 1.0)
    dmorse = -p.alpha * p.d0 * (e - 1.0) * e
    x = r / p.screening
    erfc_x = erfc(x)
    coul = p.coulomb_prefactor * erfc_x / r
    dcoul = -p.coulomb_prefactor * (erfc_x / r**2 + _TWO_OVER_SQRT_PI * np.exp(-x * x) / (p.screening * r))
    energy = np.where(p.morse, morse, coul)
    dedr = np.where(p.morse, dmorse, dcoul)
    return energy, dedr


def segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances of ``points`` (..., 3) to the segment [a, b]."""
    ab = b - a
    L2 = float(ab @ ab)
    if L2 == 0.0:
        return np.linalg.norm(points - a, axis=-1)
    t = np.clip(((points - a) @ ab) / L2, 0.0, 1.0)
    return np.linalg.norm(points - (a + t[..., None] * ab), axis=-1)


@dataclass
class FrameworkField:
    """The static field of a framework acting on one mobile ion near a hop segment.

    Attributes
    ----------
    positions : (K, 3)
        Cartesian positions of the framework atoms (periodic images included).
    params : PairParameters
        Their pair parameters with the mobile ion.
    a, b : (3,)
        End points of the segment the field was gathered around.
    reach : float
        Points within ``reach`` of the segment are evaluated exactly (``radius - cutoff``).
    cutoff : float
        Interaction cutoff (A); pairs at r >= cutoff are dropped.
    """

    positions: np.ndarray
    params: PairParameters
    a: np.ndarray
    b: np.ndarray
    reach: float
    cutoff: float = DEFAULT_CUTOFF

    def covers(self, x: np.ndarray) -> bool:
        """Whether every point of ``x`` (M, 3) is inside the exactly evaluated region."""
        return bool(np.all(segment_distance(x, self.a, self.b) <= self.reach))

    def energy_forces(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Energies (M,) and forces (M, 3) of the mobile ion at the M positions ``x``.

        Raises
        ------
        StructureError
            ``overlapping_atoms`` when a position coincides with a framework atom,
            ``nan_energy`` when the energy is not finite.
        """
        x = np.atleast_2d(np.asarray(x, dtype=float))
        d = x[:, None, :] - self.positions[None, :, :]  # (M, K, 3)
        r = np.sqrt(np.einsum("mki,mki->mk", d, d))
        if np.any(r < 1e-6):
            raise StructureError("mobile ion on top of a framework atom", reason="overlapping_atoms")
        inside = r < self.cutoff
        e, dedr = pair_energy(r, self.params)
        e = np.where(inside, e, 0.0)
        g = np.where(inside, dedr / r, 0.0)
        energy = e.sum(axis=1)
        forces = -np.einsum("mk,mki->mi", g, d)
        if not (np.all(np.isfinite(energy)) and np.all(np.isfinite(forces))):
            raise StructureError("non-finite BVSE energy or force", reason="nan_energy")
        return energy, forces


def gather_field(
    cell: np.ndarray,
    frac: np.ndarray,
    params: PairParameters,
    a: np.ndarray,
    b: np.ndarray,
    excluded: list[tuple[int, np.ndarray]],
    period: np.ndarray,
    cutoff: float = DEFAULT_CUTOFF,
    margin: float = 2.0,
) -> FrameworkField:
    """Gather the framework around the segment [a, b] of a hop.

    Parameters
    ----------
    cell : (3, 3)
        Unit cell (rows).
    frac : (N, 3)
        Fractional coordinates of the unit-cell atoms.
    params : PairParameters
        Pair parameters of the N unit-cell atoms with the mobile ion.
    a, b : (3,)
        Cartesian end points of the hop.
    excluded : list of (atom, shift)
        Sites that are empty in the supercell: the moving ion's source (its images are the
        moving ion's own periodic replicas, a constant) and the vacated target. Each site is
        removed together with its images under the supercell translations.
    period : (3,) int
        Diagonal supercell repetition; excluded sites repeat with this period.
    cutoff : float
        Interaction cutoff (A).
    margin : float
        How far (A) the moving ion may leave the segment before the field must be regathered.

    Returns
    -------
    FrameworkField
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    center = 0.5 * (a + b)
    radius = cutoff + margin + 0.5 * float(np.linalg.norm(b - a))
    atom, shift, pos = lattice_images(cell, frac, center, radius)
    keep = segment_distance(pos, a, b) <= cutoff + margin
    period = np.asarray(period, dtype=int)
    for idx, s0 in excluded:
        same = (atom == idx) & np.all((shift - np.asarray(s0)) % period == 0, axis=1)
        keep &= ~same
    return FrameworkField(pos[keep], params.take(atom[keep]), a, b, margin, cutoff)
