"""Compiled periodic union-find: exact percolation levels of a periodic grid (numba).

The compiled twin of :class:`litraj_data.leaderboard.reference.physics.periodic.PeriodicUnionFind`
for grids of ~1e5-1e6 points, where the Python class costs seconds: every site keeps the
lattice cell of its copy relative to its parent's, every root the independent lattice
translations (windings of closed cycles, exact int64 ranks) of its component. Tested
against the Python class (``tests/test_physics.py``, ``tests/bvse_reference.py``).
Separate from :mod:`periodic` so that importing the physics layer does not import numba.
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _find(parent, cell, i, out):
    """Root of ``i``; writes the cell of ``i``'s copy relative to the root's into ``out``."""
    r = i
    out[0] = 0
    out[1] = 0
    out[2] = 0
    while parent[r] != r:
        out[0] += cell[r, 0]
        out[1] += cell[r, 1]
        out[2] += cell[r, 2]
        r = parent[r]
    # path compression: every node on the path points at the root with its total cell
    node = i
    acc0, acc1, acc2 = out[0], out[1], out[2]
    while parent[node] != r:
        nxt = parent[node]
        c0, c1, c2 = cell[node, 0], cell[node, 1], cell[node, 2]
        cell[node, 0], cell[node, 1], cell[node, 2] = acc0, acc1, acc2
        parent[node] = r
        acc0 -= c0
        acc1 -= c1
        acc2 -= c2
        node = nxt
    return r


@nb.njit(cache=True, inline="always")
def _extend(basis, rank, root, z0, z1, z2):
    """Add the integer vector z to the basis of ``root`` if it raises the rank; new rank."""
    rk = rank[root]
    if rk == 3 or (z0 == 0 and z1 == 0 and z2 == 0):
        return rk
    if rk == 0:
        independent = True
    elif rk == 1:
        b0, b1, b2 = basis[root, 0, 0], basis[root, 0, 1], basis[root, 0, 2]
        independent = (b1 * z2 - b2 * z1) != 0 or (b2 * z0 - b0 * z2) != 0 or (b0 * z1 - b1 * z0) != 0
    else:
        a0, a1, a2 = basis[root, 0, 0], basis[root, 0, 1], basis[root, 0, 2]
        b0, b1, b2 = basis[root, 1, 0], basis[root, 1, 1], basis[root, 1, 2]
        n0, n1, n2 = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0
        independent = n0 * z0 + n1 * z1 + n2 * z2 != 0
    if independent:
        basis[root, rk, 0], basis[root, rk, 1], basis[root, rk, 2] = z0, z1, z2
        rank[root] = rk + 1
    return rank[root]


@nb.njit(cache=True)
def grid_percolation_sweep(flat_e, order, n0, n1, n2, offsets, max_level):
    """Levels at which the sub-level set first reaches periodic rank 1, 2 and 3.

    Grid points are added in ``order`` (ascending energy); when point v appears at level
    E_v, every edge to an already present neighbour u appears with it (edge level
    ``max(E_u, E_v) = E_v``). An edge inside one component closes a cycle whose winding
    ``cell(v) + shift - cell(u)`` is a lattice translation of that component; the rank of
    a component is that of its translations. Ties need no order: a level is the energy of
    the point at which the rank is reached, and all points of equal energy are present
    at that level. ``offsets`` lists all neighbour steps (both signs).
    """
    n_nodes = flat_e.shape[0]
    parent = np.arange(n_nodes)
    size = np.ones(n_nodes, dtype=np.int64)
    cell = np.zeros((n_nodes, 3), dtype=np.int64)
    basis = np.zeros((n_nodes, 3, 3), dtype=np.int64)
    rank = np.zeros(n_nodes, dtype=np.int64)
    present = np.zeros(n_nodes, dtype=np.bool_)
    levels = np.full(3, np.inf)
    pv = np.zeros(3, dtype=np.int64)
    pu = np.zeros(3, dtype=np.int64)
    best = 0
    n12 = n1 * n2
    for t in range(order.shape[0]):
        v = order[t]
        ev = flat_e[v]
        if ev > max_level:
            break
        present[v] = True
        i, rest = divmod(v, n12)
        j, l = divmod(rest, n2)
        for o in range(offsets.shape[0]):
            a, bb, c = i + offsets[o, 0], j + offsets[o, 1], l + offsets[o, 2]
            s0 = s1 = s2 = 0
            if a < 0:
                a += n0
                s0 = -1
            elif a >= n0:
                a -= n0
                s0 = 1
            if bb < 0:
                bb += n1
                s1 = -1
            elif bb >= n1:
                bb -= n1
                s1 = 1
            if c < 0:
                c += n2
                s2 = -1
            elif c >= n2:
                c -= n2
                s2 = 1
            u = (a * n1 + bb) * n2 + c
            if not present[u] or u == v:
                continue
            rv = _find(parent, cell, v, pv)
            ru = _find(parent, cell, u, pu)
            # the copy of u that v reaches sits at cell(v) + shift
            w0, w1, w2 = pv[0] + s0 - pu[0], pv[1] + s1 - pu[1], pv[2] + s2 - pu[2]
            if rv == ru:
                rk = _extend(basis, rank, rv, w0, w1, w2)
            else:
                # union by size: the smaller tree goes under the other root; ru's cell
                # relative to rv is w (so that u lands on cell(v) + shift), rv's relative
                # to ru is -w
                if size[ru] > size[rv]:
                    rv, ru = ru, rv
                    w0, w1, w2 = -w0, -w1, -w2
                parent[ru] = rv
                size[rv] += size[ru]
                cell[ru, 0], cell[ru, 1], cell[ru, 2] = w0, w1, w2
                rk = rank[rv]
                for q in range(rank[ru]):
                    rk = _extend(basis, rank, rv, basis[ru, q, 0], basis[ru, q, 1], basis[ru, q, 2])
            while best < rk:
                levels[best] = ev
                best += 1
            if best == 3:
                return levels
    return levels
