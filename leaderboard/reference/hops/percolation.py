"""Percolation barriers from hop barriers (the paper's practical-application rule).

E_kD = the smallest energy E at which the edges whose hop barrier is <= E form a network
that percolates in k dimensions. Every edge carries the barrier of its symmetry orbit; hops
without a barrier (failed NEB, ``nan``) never enter. A dimension that is never reached is
``inf`` ("does not percolate"; ``null`` in JSON), as for BVSE grid percolation.
"""
from __future__ import annotations

import math

import numpy as np

from litraj_data.leaderboard.reference.hops.graph import LENGTH_TOL, HopGraph, _compact
from litraj_data.leaderboard.reference.physics.periodic import percolation_thresholds


def percolation_barriers(graph: HopGraph, barriers: np.ndarray, li_index: np.ndarray) -> np.ndarray:
    """1D/2D/3D percolation barriers (eV, ``inf`` when not reached).

    Parameters
    ----------
    graph : HopGraph
    barriers : (n_hops,) float
        Barrier of each representative hop (``graph.hops`` order); ``nan`` for failures.
    li_index : (n_li,) int
        Unit-cell indices of the Li sites.

    Returns
    -------
    ndarray (3,)
        E_1D, E_2D, E_3D.
    """
    weights = np.asarray(barriers, float)[graph.labels]
    ok = np.isfinite(weights)
    if not ok.any():
        return np.full(3, math.inf)
    # barriers within LENGTH_TOL (1e-4 eV) of each other enter together, as lengths do
    _, thr = percolation_thresholds(len(li_index), _compact(graph.edges[ok], li_index), weights[ok], tie=LENGTH_TOL)
    return thr
