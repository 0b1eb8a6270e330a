"""Test oracle of the BVSE landscape: the plain dense evaluation of ``compute_landscape``.

Kept with the tests (not shipped in the package): the optimised path in
:mod:`litraj_data.leaderboard.bvse.landscape` must equal it within round-off
(``tests/test_bvse.py::test_fast_landscape_equals_plain_reference``).
"""
from __future__ import annotations

import numpy as np
from scipy.special import erfc

from litraj_data.leaderboard.bvse.landscape import (
    MIN_DISTANCE,
    Landscape,
    _finish,
    _setup,
    _squared_distances,
    _with_ties,
)
from litraj_data.leaderboard.physics.softbv import PairParameters


def compute_landscape_reference(
    lattice: np.ndarray,
    frac_coords: np.ndarray,
    params: PairParameters,
    resolution: float = 0.2,
    cutoff: float = 10.0,
    k: int | None = None,
    shape: tuple[int, int, int] | None = None,
    block_edge: int = 8,
    numbers: np.ndarray | None = None,
    positions: np.ndarray | None = None,
) -> Landscape:
    """Plain dense evaluation of :func:`compute_landscape` (same parameters and result).

    Every candidate ion of a block is evaluated with ``scipy.special.erfc`` and masked
    afterwards; the k nearest come from a float64 ``np.partition`` per point. Kept as the
    straightforward reference the optimised path is tested against.
    """
    lattice = np.asarray(lattice, dtype=float)
    frac_coords = np.asarray(frac_coords, dtype=float).reshape(-1, 3)
    setup = _setup(lattice, frac_coords, resolution, cutoff, k, shape, block_edge)
    images, owner = setup.images, setup.owner
    morse_ion = params.d0 > 0
    coul_ion = params.coulomb_prefactor != 0
    energies = np.empty(setup.shape, dtype=float)
    cut2 = cutoff * cutoff
    n_pairs = 0
    for bl, pts, c, cand in zip(setup.blocks, setup.points, setup.centres, setup.neighbours):
        cand = np.sort(np.asarray(cand, dtype=np.int64))
        e = np.zeros(len(pts))
        if len(cand):
            ion = owner[cand]
            d2 = _squared_distances(pts + c, images[cand])
            if k is not None and d2.shape[1] > k:
                kth = np.partition(d2, k - 1, axis=1)[:, k - 1]
                limit = _with_ties(np.minimum(kth, cut2))[:, None]
            else:
                limit = _with_ties(cut2)
            within = d2 <= limit
            n_pairs += int(np.count_nonzero(within))
            m = morse_ion[ion]
            if m.any():
                r = np.sqrt(d2[:, m])
                t = np.exp(params.alpha[ion[m]] * (params.r_min[ion[m]] - r))
                phi = (0.5 * params.d0[ion[m]]) * t * (t - 2.0)
                e += np.where(within[:, m], phi, 0.0).sum(axis=1)
            c_ = coul_ion[ion]
            if c_.any():
                r = np.maximum(np.sqrt(d2[:, c_]), MIN_DISTANCE)
                phi = params.coulomb_prefactor[ion[c_]] / r * erfc(r / params.screening[ion[c_]])
                e += np.where(within[:, c_], phi, 0.0).sum(axis=1)
        energies[bl] = e.reshape(tuple(s.stop - s.start for s in bl))
    return _finish(setup, energies, lattice, numbers, positions, n_pairs)
