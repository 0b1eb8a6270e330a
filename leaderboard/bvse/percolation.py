"""Exact 1D/2D/3D percolation thresholds of a periodic grid landscape, in one pass.

Problem: for a periodic landscape E on an n0 x n1 x n2 grid, find the smallest level
E* such that the sub-level set {E <= E*} (grid points joined to their grid neighbours)
contains a connected component that, unfolded into the infinite crystal, is periodic along
1, 2 or 3 independent lattice directions.

Algorithm (exact on the grid; no bisection, no tolerance):

1. The grid is a graph on the 3-torus; an edge joins neighbouring points, carries the
   lattice shift it crosses and the weight ``max(E_u, E_v)`` (the level at which it appears).
2. A minimum spanning tree T (scipy, Kruskal) has, at every level, the same components as
   the sub-level graph. Give every node the lattice cell ``pot(v)`` of its copy in the
   unfolded tree (pointer jumping along T's parents).
3. Every non-tree edge (u -> v, shift s) closes a fundamental cycle whose winding vector is
   ``pot(u) + s - pot(v)``; the fundamental cycles of the edges present at a level generate
   all cycles of the sub-level graph, so a component's periodicity lattice is spanned by
   the windings of its non-tree edges, and its dimensionality is their rank.
4. One sweep over tree edges (merge components) and winding non-tree edges (add a vector
   to the component's basis) in order of weight records the first level at which any
   component reaches rank 1, 2 and 3. The sweep is the project's one periodic union-find
   (:class:`litraj_data.leaderboard.physics.periodic.PeriodicUnionFind`, exact integer ranks).

Neighbours: ``connectivity=26`` (faces, edges and corners of the grid cell in index space),
the structuring element bvlain labels with (``generate_binary_structure(3, 3)``), or
``connectivity=6`` (faces only).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from litraj_data.leaderboard.physics.periodic import PeriodicUnionFind


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


def _edges(shape: tuple[int, int, int], connectivity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All grid edges: source, target (flat indices) and the lattice shift crossed."""
    n = np.array(shape)
    idx = np.stack(np.meshgrid(*[np.arange(m) for m in shape], indexing="ij"), -1).reshape(-1, 3)
    flat = np.arange(idx.shape[0], dtype=np.int64)
    us, vs, ss = [], [], []
    for d in neighbour_offsets(connectivity):
        t = idx + d
        shift = np.floor_divide(t, n)
        t -= shift * n
        us.append(flat)
        vs.append((t[:, 0] * n[1] + t[:, 1]) * n[2] + t[:, 2])
        ss.append(shift.astype(np.int8))
    return np.concatenate(us), np.concatenate(vs), np.concatenate(ss)


def _edge_index(a: np.ndarray, b: np.ndarray, shape: tuple[int, int, int], connectivity: int) -> np.ndarray:
    """Position in the :func:`_edges` list of the edge joining neighbours a and b (either order)."""
    n = np.array(shape)
    ia = np.stack(np.unravel_index(a, shape), -1)
    ib = np.stack(np.unravel_index(b, shape), -1)
    d = np.mod(ib - ia + 1, n) - 1
    offs = neighbour_offsets(connectivity)
    lookup = np.full(27, -1, dtype=np.int64)
    lookup[(offs[:, 0] + 1) * 9 + (offs[:, 1] + 1) * 3 + offs[:, 2] + 1] = np.arange(len(offs))
    fwd = lookup[(d[:, 0] + 1) * 9 + (d[:, 1] + 1) * 3 + d[:, 2] + 1]
    bwd = lookup[(1 - d[:, 0]) * 9 + (1 - d[:, 1]) * 3 + 1 - d[:, 2]]
    # the edge list stores each pair once, from the node whose step is in the half set
    return np.where(fwd >= 0, fwd * int(np.prod(shape)) + a, bwd * int(np.prod(shape)) + b)


def _tree_shift(a: np.ndarray, b: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Lattice shift of the step a -> b between grid neighbours (needs n_i >= 3)."""
    n = np.array(shape)
    ia = np.stack(np.unravel_index(a, shape), -1)
    ib = np.stack(np.unravel_index(b, shape), -1)
    d = np.mod(ib - ia + 1, n) - 1  # the neighbour step in {-1, 0, 1}
    return (ia + d - ib) // n


def _potentials(tree, shape: tuple[int, int, int]) -> np.ndarray:
    """Cell of every node's copy in its unfolded spanning tree (each tree's root in cell 0).

    ``tree`` may be a forest (edges above ``max_level`` dropped): a virtual node joined to
    one root per tree lets a single breadth-first search reach every tree.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n_nodes = tree.shape[0]
    n_comp, label = connected_components(tree, directed=False)
    if n_comp == 1:
        roots = np.array([0])
        graph, start = tree, 0
    else:
        roots = np.unique(label, return_index=True)[1]
        tc = tree.tocoo()
        rows = np.concatenate([tc.row, np.full(len(roots), n_nodes)])
        cols = np.concatenate([tc.col, roots])
        graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_nodes + 1, n_nodes + 1))
        start = n_nodes
    _, pred = breadth_first_order(graph, start, directed=False, return_predecessors=True)
    anc = pred[:n_nodes].astype(np.int64)
    anc[roots] = roots
    if np.any(anc < 0):
        raise RuntimeError("spanning forest does not reach every node")  # cannot happen
    acc = _tree_shift(anc, np.arange(n_nodes), shape).astype(np.int64)
    acc[roots] = 0
    # pointer jumping: acc[v] = pot(v) - pot(anc[v]) until anc is a root everywhere
    while True:
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            return acc
        acc = acc + acc[anc]
        anc = nxt


def _sorted_events(weights: np.ndarray, *columns: np.ndarray, chunk: int = 1 << 15):
    """Yield rows ``(column values...)`` in order of weight, sorting lazily chunk by chunk.

    The sweep usually stops long before the last event, so only the prefix it reaches is
    sorted and converted to Python objects. Ties need no order: a level is the weight of
    the event that reaches it.
    """
    rest = np.arange(len(weights))
    while rest.size:
        if rest.size > chunk:
            part = np.argpartition(weights[rest], chunk)
            head, rest = rest[part[:chunk]], rest[part[chunk:]]
        else:
            head, rest = rest, rest[:0]
        head = head[np.argsort(weights[head], kind="stable")]
        yield from zip(columns[0][head].tolist(), weights[head].tolist(), *(c[head].tolist() for c in columns[1:]))


def percolation_levels(energies: np.ndarray, connectivity: int = 26, max_level: float | None = None) -> PercolationResult:
    """Exact levels at which the sub-level set first percolates in 1, 2 and 3 dimensions.

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
    energies = np.asarray(energies, dtype=float)
    if energies.ndim != 3 or min(energies.shape) < 3:
        raise ValueError(f"need a 3D grid with at least 3 points per axis, got {energies.shape}")
    if not np.all(np.isfinite(energies)):
        raise ValueError("landscape contains non-finite energies")
    shape = energies.shape
    flat_e = energies.ravel()
    n_nodes = flat_e.size
    emin = float(flat_e.min())
    u, v, s = _edges(shape, connectivity)
    w = np.maximum(flat_e[u], flat_e[v])
    position = None  # full edge list -> kept edges
    if max_level is not None:
        # edges above the last level of interest never matter: the spanning tree becomes a
        # spanning forest of the sub-level graph at max_level, with the same components below
        keep = w <= max_level
        if not keep.all():
            u, v, s, w = u[keep], v[keep], s[keep], w[keep]
            position = np.full(len(keep), -1, dtype=np.int64)
            position[keep] = np.arange(len(u))
    # positive weights (scipy drops explicit zeros); ties are broken by scipy, any MST works
    graph = coo_matrix((w - emin + 1.0, (u, v)), shape=(n_nodes, n_nodes)).tocsr()
    tree = minimum_spanning_tree(graph)
    pot = _potentials(tree, shape)

    tc = tree.tocoo()
    ta, tb = tc.row.astype(np.int64), tc.col.astype(np.int64)
    nontree = np.ones(len(u), dtype=bool)
    tree_edges = _edge_index(ta, tb, shape, connectivity)
    nontree[tree_edges if position is None else position[tree_edges]] = False
    z = pot[u[nontree]] + s[nontree] - pot[v[nontree]]
    winding = np.any(z != 0, axis=1)
    z = z[winding]
    zu = u[nontree][winding]
    zw = w[nontree][winding]
    tw = np.maximum(flat_e[ta], flat_e[tb])

    levels = [np.inf, np.inf, np.inf]
    if len(zw) == 0:
        return PercolationResult(tuple(levels), emin)
    levels[0] = float(zw.min())  # rank >= 1 as soon as any winding cycle exists
    if max_level is not None and levels[0] > max_level:
        return PercolationResult((np.inf, np.inf, np.inf), emin)

    # Components merged below the first winding edge never carry a lattice vector: contract
    # them in bulk, then sweep the rest in Python.
    from scipy.sparse.csgraph import connected_components

    low = tw < levels[0]
    _, label = connected_components(
        coo_matrix((np.ones(int(low.sum())), (ta[low], tb[low])), shape=(n_nodes, n_nodes)), directed=False
    )
    ea, eb, ew = label[ta[~low]], label[tb[~low]], tw[~low]
    # event order: by weight; a tree edge (kind 0) before a winding edge (kind 1) of the same weight
    kinds = np.concatenate([np.zeros(len(ew), np.int8), np.ones(len(zw), np.int8)])
    weights = np.concatenate([ew, zw])
    a_all = np.concatenate([ea, label[zu]])
    b_all = np.concatenate([eb, np.arange(len(zw))])
    if max_level is not None:
        keep = weights <= max_level
        kinds, weights, a_all, b_all = kinds[keep], weights[keep], a_all[keep], b_all[keep]

    # the one periodic union-find of the project (also behind the hop graph's percolation):
    # tree edges join components (every winding sits on a non-tree edge, so their lattice
    # shift is zero here); a winding edge adds its cycle's translation to its component
    uf = PeriodicUnionFind(int(label.max()) + 1)
    zl = z.tolist()
    best = 0
    for kind, wt, a, b in _sorted_events(weights, kinds, a_all, b_all):
        rank = uf.union(a, b) if kind == 0 else uf.add_translation(a, zl[b])
        while best < rank:
            best += 1
            levels[best - 1] = min(levels[best - 1], wt)
        if best == 3:
            break
    return PercolationResult(tuple(float(x) for x in levels), emin)
