"""Percolation barriers from hop barriers (the paper's practical-application rule).

E_kD = the smallest energy E at which the edges whose hop barrier is <= E form a network
that percolates in k dimensions. Every edge carries the barrier of its symmetry orbit; hops
without a barrier (failed NEB) never enter.
"""
from __future__ import annotations

import numpy as np

from litraj_data.leaderboard.hops.graph import HopGraph, _compact, percolation_cutoff


def percolation_barriers(graph: HopGraph, barriers: np.ndarray, li_index: np.ndarray) -> np.ndarray:
    """1D/2D/3D percolation barriers (eV, ``nan`` when not reached).

    Parameters
    ----------
    graph : HopGraph
    barriers : (n_hops,) float
        Barrier of each representative hop (``graph.hops`` order); ``nan`` for failures.
    li_index : (n_li,) int
        Unit-cell indices of the Li sites.
    """
    weights = np.asarray(barriers, float)[graph.labels]
    ok = np.isfinite(weights)
    if not ok.any():
        return np.full(3, np.nan)
    _, thr = percolation_cutoff(len(li_index), _compact(graph.edges[ok], li_index), weights[ok])
    return thr
