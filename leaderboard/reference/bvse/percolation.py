"""Exact 1D/2D/3D percolation thresholds of a periodic grid landscape, in one pass.

Problem: for a periodic landscape E on an n0 x n1 x n2 grid, find the smallest level
E* such that the sub-level set {E <= E*} (grid points joined to their grid neighbours)
contains a connected component that, unfolded into the infinite crystal, is periodic along
1, 2 or 3 independent lattice directions.

Algorithm (exact on the grid; no bisection, no tolerance): the grid is a graph on the
3-torus whose edges carry the lattice shift they cross and appear at level
``max(E_u, E_v)``. Points are added in order of energy, each with its edges to the points
already present, into a periodic union-find (every point keeps the lattice cell of its copy
in its component's unfolded tree): an edge inside one component closes a cycle whose
winding is a lattice translation of the component, and a component's dimensionality is the
rank of its windings. The first levels at which any component reaches rank 1, 2 and 3 are
the answer. The sweep is compiled
(:func:`litraj_data.leaderboard.reference.physics.periodic_compiled.grid_percolation_sweep`); the
earlier formulation by minimum spanning tree, fundamental cycles and the Python
:class:`~litraj_data.leaderboard.reference.physics.periodic.PeriodicUnionFind` is kept as the test
oracle (``tests/bvse_reference.py::percolation_levels_mst``).

Neighbours: ``connectivity=26`` (faces, edges and corners of the grid cell in index space),
the structuring element bvlain labels with (``generate_binary_structure(3, 3)``), or
``connectivity=6`` (faces only).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PercolationResult:
    """Percolation levels (absolute energies, eV) and the grid minimum."""

    levels: tuple[float, float, float]  # level at which rank 1, 2, 3 is first reached (inf: never)
    emin: float

    @property
    def barriers(self) -> tuple[float, float, float]:
        """Levels relative to the landscape minimum."""
        return tuple(lv - self.emin for lv in self.levels)


def neighbour_offsets(connectivity: int = 26) -> np.ndarray:
    """Half of the neighbour offsets (one of each +d/-d pair) for 6- or 26-connectivity."""
    if connectivity == 6:
        return np.eye(3, dtype=np.int64)
    if connectivity == 26:
        offs = [d for d in np.ndindex(3, 3, 3)]
        offs = np.array(offs, dtype=np.int64) - 1
        first = np.array([next((x for x in d if x != 0), 0) for d in offs])
        return offs[first > 0]
    raise ValueError("connectivity must be 6 or 26")


def _all_offsets(connectivity: int) -> np.ndarray:
    half = neighbour_offsets(connectivity)
    return np.ascontiguousarray(np.concatenate([half, -half]), dtype=np.int64)


def percolation_levels(energies: np.ndarray, connectivity: int = 26,
                       max_level: float | None = None) -> PercolationResult:
    """Exact levels at which the sub-level set first percolates in 1, 2 and 3 dimensions.

    Compiled sweep (:func:`litraj_data.leaderboard.reference.physics.periodic_compiled.grid_percolation_sweep`): grid
    points join in order of energy, each with the edges to its present neighbours, in a
    periodic union-find that keeps every component's lattice of windings. Equivalent to
    the spanning-tree formulation of the module docstring (kept as the test oracle in
    ``tests/bvse_reference.py``): both report, for d = 1, 2, 3, the weight of the first
    edge at which some component's windings reach rank d.

    Parameters
    ----------
    energies : ndarray, shape (n0, n1, n2)
        Periodic landscape; point (i, j, k) sits at fractional (i/n0, j/n1, k/n2).
    connectivity : {26, 6}
        Grid neighbourhood.
    max_level : float, optional
        Stop the sweep above this absolute level (levels above it are reported as inf).

    Returns
    -------
    PercolationResult
        ``levels[d-1]`` is a grid energy value (the level is exact on the grid).
    """
    from litraj_data.leaderboard.reference.physics.periodic_compiled import grid_percolation_sweep

    energies = np.asarray(energies, dtype=float)
    if energies.ndim != 3 or min(energies.shape) < 3:
        raise ValueError(f"need a 3D grid with at least 3 points per axis, got {energies.shape}")
    if not np.all(np.isfinite(energies)):
        raise ValueError("landscape contains non-finite energies")
    flat_e = np.ascontiguousarray(energies.ravel())
    emin = float(flat_e.min())
    limit = np.inf if max_level is None else float(max_level)
    if limit < np.inf:
        # only the points below the last level of interest are ever visited: sort those
        below = np.flatnonzero(flat_e <= limit)
        order = below[np.argsort(flat_e[below], kind="stable")]
    else:
        order = np.argsort(flat_e, kind="stable")
    n0, n1, n2 = energies.shape
    levels = grid_percolation_sweep(flat_e, order.astype(np.int64), n0, n1, n2, _all_offsets(connectivity), limit)
    return PercolationResult(tuple(float(x) for x in levels), emin)
