"""Test oracle of the BVSE landscape: the plain dense evaluation of ``compute_landscape``.

Kept with the tests (not shipped in the package): the optimised path in
:mod:`litraj_data.leaderboard.reference.bvse.landscape` must equal it within round-off
(``tests/test_bvse.py::test_fast_landscape_equals_plain_reference``).
"""
from __future__ import annotations

import numpy as np
from scipy.special import erfc

from litraj_data.leaderboard.reference.bvse.landscape import (
    ERFC_STEP,
    MIN_DISTANCE,
    TIE,
    Landscape,
    _erfc_table,
    _finish,
    _setup,
)
from litraj_data.leaderboard.reference.physics.softbv import PairParameters


def _with_ties(limit_d2):
    """Squared-distance limit widened by ``TIE`` (the compiled path: ``kernels._with_ties_jit``)."""
    return limit_d2 + 2.0 * TIE * np.sqrt(limit_d2)


def _squared_distances(pts: np.ndarray, ions: np.ndarray) -> np.ndarray:
    """Dense points x ions squared distances by explicit differences (exact as d -> 0)."""
    d2 = np.subtract.outer(pts[:, 0], ions[:, 0])
    d2 *= d2
    for ax in (1, 2):
        t = np.subtract.outer(pts[:, ax], ions[:, ax])
        t *= t
        d2 += t
    return d2


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


# ------------------------------------------------------------------ the numpy blocked path
# The package's landscape before it was compiled (numba, leaderboard/reference/bvse/kernels.py): the
# same block bounds and arithmetic in numpy. The compiled path must equal it within
# round-off (tests/test_bvse.py::test_compiled_landscape_equals_numpy_path).


def fast_erfc(s: np.ndarray) -> np.ndarray:
    """erfc(x) from the table, given ``s = x / ERFC_STEP`` (x >= 0); ``s`` is overwritten."""
    c0, c1, c2, c3 = _erfc_table()
    np.minimum(s, len(c0) - 1, out=s)
    i = s.astype(np.intp)
    s -= i  # local coordinate t in [0, 1)
    out = c3.take(i)
    out *= s
    out += c2.take(i)
    out *= s
    out += c1.take(i)
    out *= s
    out += c0.take(i)
    return out


def _kth_smallest(u: np.ndarray, kk: int) -> np.ndarray:
    """Exact kk-th smallest value (1-based) of every row of ``u`` (float64).

    Selection runs in float32 (several times faster); rounding is monotone, so the float32
    k-th value is the rounding of the exact one, and where it is shared by a single entry
    that entry is the exact answer. Rows with several entries rounding to it are redone
    in float64.
    """
    if kk >= u.shape[1]:
        return u.max(axis=1)
    u32 = u.astype(np.float32)
    kth32 = np.partition(u32, kk - 1, axis=1)[:, kk - 1]
    eq = u32 == kth32[:, None]
    kth = u[np.arange(len(u)), eq.argmax(axis=1)]
    tied = np.flatnonzero(np.count_nonzero(eq, axis=1) > 1)
    if tied.size:
        kth[tied] = np.partition(u[tied], kk - 1, axis=1)[:, kk - 1]
    return kth


def compute_landscape_numpy(
    lattice: np.ndarray,
    frac_coords: np.ndarray,
    params: PairParameters,
    resolution: float = 0.2,
    cutoff: float = 10.0,
    k: int | None = None,
    shape: tuple[int, int, int] | None = None,
    block_edge: int = 6,
    numbers: np.ndarray | None = None,
    positions: np.ndarray | None = None,
) -> Landscape:
    """BVSE energy of the mobile ion at every grid point.

    Parameters
    ----------
    lattice : ndarray (3, 3)
        Lattice vectors as rows (Å).
    frac_coords : ndarray (m, 3)
        Fractional coordinates of the framework ions (mobile ions removed).
    params : PairParameters
        Per-ion parameters, aligned with ``frac_coords``.
    resolution : float
        Target grid spacing (Å).
    cutoff : float
        Interaction cutoff (Å).
    k : int or None
        If given, only the ``k`` nearest framework ions within the cutoff contribute at
        each grid point (the paper's bvlain setting, k = 200). Ions tied with the k-th
        nearest (within :data:`TIE`) are all included.
    shape : tuple of int, optional
        Explicit grid shape (overrides ``resolution``).
    block_edge : int
        Edge of the cubic blocks of grid points evaluated at once (memory ~ edge^3 x ions).
    numbers, positions : ndarray, optional
        The whole structure, kept on the result for volumetric files.

    Returns
    -------
    Landscape
        Equal to the plain dense evaluation (``tests/bvse_reference.py``) within ~1e-12 eV
        (summation order and the tabulated erfc).
    """
    lattice = np.asarray(lattice, dtype=float)
    frac_coords = np.asarray(frac_coords, dtype=float).reshape(-1, 3)
    setup = _setup(lattice, frac_coords, resolution, cutoff, k, shape, block_edge)
    images, owner = setup.images, setup.owner
    # per-ion constants; neutral ions ride in the Morse group with D0 = 0 (they still count
    # towards the k nearest)
    coul_ion = params.coulomb_prefactor != 0
    half_d0 = np.where(coul_ion, 0.0, 0.5 * params.d0)
    alpha = np.where(coul_ion, 0.0, params.alpha)
    r_min = params.r_min
    pref = params.coulomb_prefactor
    s_scale = 1.0 / (params.screening * ERFC_STEP)  # r -> x / ERFC_STEP
    energies = np.empty(setup.shape, dtype=float)
    cut2 = cutoff * cutoff
    eps = 1e-6  # Å; margin of the block bounds over float round-off in distances
    n_pairs = 0
    for bl, pts, c, rad, cand in zip(setup.blocks, setup.points, setup.centres, setup.radii, setup.neighbours):
        n_pts = len(pts)
        if not cand:
            energies[bl] = 0.0
            continue
        cand = np.sort(np.asarray(cand, dtype=np.int64))  # independent of KD-tree order
        pos = images[cand] - c
        dc = np.sqrt(np.einsum("ij,ij->i", pos, pos))
        # every point's limit L(p) = min(d_k(p), cutoff) lies in [lo, hi]: distances from
        # the block centre move by at most the block radius
        if k is not None and len(cand) > k:
            d_k = np.partition(dc, k - 1)[k - 1]
            lo, hi = min(d_k - rad, cutoff), min(d_k + rad, cutoff)
        else:
            lo = hi = cutoff
        certain = dc <= lo - rad - eps
        keep = dc <= hi + rad + eps
        ion = owner[cand]
        coul = coul_ion[ion]
        # column order: Morse certain | Morse uncertain | Coulomb uncertain | Coulomb certain,
        # each group by distance from the centre: the uncertain columns are contiguous
        m_in = np.flatnonzero(~coul & certain)
        m_un = np.flatnonzero(~coul & keep & ~certain)
        c_un = np.flatnonzero(coul & keep & ~certain)
        c_in = np.flatnonzero(coul & certain)
        cols = np.concatenate([m_in, m_un, c_un, c_in])
        n_morse = len(m_in) + len(m_un)
        u0, u1 = len(m_in), len(m_in) + len(m_un) + len(c_un)
        n_certain = len(m_in) + len(c_in)
        d2 = _squared_distances(pts, pos[cols])
        unc = d2[:, u0:u1]
        if u1 > u0:
            if k is not None and len(cand) > k and n_certain + (u1 - u0) > k:
                limit = _with_ties(np.minimum(_kth_smallest(unc, k - n_certain), cut2))[:, None]
            else:
                limit = _with_ties(cut2)
            out = unc > limit
            n_pairs += n_certain * n_pts + unc.size - int(np.count_nonzero(out))
            # the sentinel (1e8 Å) makes exp(-alpha r) and erfc(r / s) exactly 0
            np.copyto(unc, 1e16, where=out)
        else:
            n_pairs += n_certain * n_pts
        np.sqrt(d2, out=d2)
        e = np.zeros(n_pts)
        ion = ion[cols]
        if n_morse:
            im = ion[:n_morse]
            t = np.subtract(r_min[im], d2[:, :n_morse])
            t *= alpha[im]
            np.exp(t, out=t)
            e += (t * t) @ half_d0[im]
            e -= 2.0 * (t @ half_d0[im])
        if n_morse < len(cols):
            ic = ion[n_morse:]
            r = np.maximum(d2[:, n_morse:], MIN_DISTANCE)
            x = r * s_scale[ic]
            val = fast_erfc(x)
            val /= r
            e += val @ pref[ic]
        energies[bl] = e.reshape(tuple(s.stop - s.start for s in bl))
    return _finish(setup, energies, lattice, numbers, positions, n_pairs)


# ------------------------------------------------------------------ percolation oracle
# The package's percolation before the compiled sweep: scipy minimum spanning tree,
# potentials by pointer jumping, fundamental-cycle windings and a Python sweep with the
# physics layer's PeriodicUnionFind.
from scipy.sparse import coo_matrix  # noqa: E402
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree  # noqa: E402

from litraj_data.leaderboard.reference.bvse.percolation import PercolationResult, neighbour_offsets  # noqa: E402
from litraj_data.leaderboard.reference.physics.periodic import PeriodicUnionFind  # noqa: E402


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




def percolation_levels_mst(energies: np.ndarray, connectivity: int = 26,
                           max_level: float | None = None) -> PercolationResult:
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
