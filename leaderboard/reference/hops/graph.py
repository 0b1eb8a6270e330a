"""Li hop graph: edges, bottleneck filter, periodic dimensionality, symmetry reduction.

An edge ``(source, target, offset)`` joins Li ``source`` in the home cell to Li ``target`` in
the cell translated by the integer ``offset``. Edges are undirected; the stored orientation is
the smaller of ``(s, t, o)`` and ``(t, s, -o)``, so ``source <= target``.

* Bottleneck: the smallest distance from the straight segment to any other atom (every
  periodic image of every atom except the two end points, other Li included).
* Dimensionality: exact, by the project's periodic union-find over the quotient graph with
  lattice potentials (:mod:`litraj_data.leaderboard.reference.physics.periodic`, also behind the BVSE
  grid percolation); every cycle closes with a lattice translation and the integer rank of
  those translations (per connected component) is the dimension. Never reached: ``inf``.
* Symmetry: each edge is mapped by every space-group operation (spglib) and edges in one orbit
  share a representative, so equivalent hops are never split by rounding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from litraj_data.errors import StructureError
from litraj_data.leaderboard.reference.physics.periodic import check_no_overlaps, lattice_images, percolation_thresholds

DEFAULT_CUTOFF = 8.0  # A, longest Li-Li hop considered
DEFAULT_BOTTLENECK = 0.5  # A, smallest allowed segment-to-atom distance
LENGTH_TOL = 1e-4  # A, edges closer in length than this are added together


@dataclass(frozen=True)
class Hop:
    """One symmetry-inequivalent Li hop.

    Attributes
    ----------
    material_id : str
    source, target : int
        Li indices in the unit cell.
    offset : tuple of 3 int
        Lattice translation of the target.
    length : float
        Hop length (A).
    bottleneck : float
        Smallest distance from the hop segment to any other atom (A).
    multiplicity : int
        Number of edges (per unit cell) in this hop's symmetry orbit.
    """

    material_id: str
    source: int
    target: int
    offset: tuple[int, int, int]
    length: float
    bottleneck: float
    multiplicity: int = 1

    @property
    def edge_id(self) -> str:
        """LiTraj edge id ``{material_id}_{source}_{target}_{ox}_{oy}_{oz}``."""
        ox, oy, oz = self.offset
        return f"{self.material_id}_{self.source}_{self.target}_{ox}_{oy}_{oz}"

    def as_dict(self) -> dict:
        """JSON-friendly record."""
        return {
            "edge_id": self.edge_id,
            "source": self.source,
            "target": self.target,
            "offset": list(self.offset),
            "length": round(self.length, 6),
            "bottleneck": round(self.bottleneck, 6),
            "multiplicity": self.multiplicity,
        }


def collect_edges(
    cell: np.ndarray, frac: np.ndarray, numbers: np.ndarray, mobile_z: int = 3, cutoff: float = DEFAULT_CUTOFF
) -> tuple[np.ndarray, np.ndarray]:
    """All undirected Li-Li edges up to ``cutoff`` (periodic images included).

    Returns
    -------
    edges : (E, 5) int
        ``source, target, ox, oy, oz`` in canonical orientation, sorted by length then id.
    lengths : (E,) float
    """
    li = np.nonzero(numbers == mobile_z)[0]
    found: dict[tuple[int, ...], float] = {}
    for s in li:
        center = frac[s] @ cell
        atom, shift, pos = lattice_images(cell, frac[li], center, cutoff)
        d = np.linalg.norm(pos - center, axis=1)
        ok = (d >= 1e-8) & (d <= cutoff)
        t, sh, d = li[atom[ok]], shift[ok], d[ok]
        # canonical orientation of every edge at once (what ``tests/oracles.py::canonical_edge``
        # gives edge by edge): the lexicographically smaller of (s, t, o) and (t, s, -o); first
        # occurrence keeps its length
        fwd = np.column_stack([np.full(len(t), s), t, sh])
        bwd = np.column_stack([t, np.full(len(t), s), -sh])
        diff = fwd - bwd
        first = np.argmax(diff != 0, axis=1)
        take_bwd = diff[np.arange(len(t)), first] > 0
        keys = np.where(take_bwd[:, None], bwd, fwd)
        for key, dd in zip(map(tuple, keys.tolist()), d.tolist()):
            found.setdefault(key, dd)
    if not found:
        return np.zeros((0, 5), dtype=int), np.zeros(0)
    keys = sorted(found, key=lambda k: (round(found[k], 6), k))
    return np.array(keys, dtype=int), np.array([found[k] for k in keys])


def bottlenecks(cell: np.ndarray, frac: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Smallest distance from each edge's segment to any atom other than its end points.

    The atoms are gathered once per source site (images within the first edge's length
    + 1 A, re-gathered within length + 3 A when an edge reaches past them, in edge order),
    and all the edges that share a gathering are measured in one array operation
    (:func:`_segment_distances`); ``tests/test_hops_graph.py`` checks the values against the
    edge-by-edge loop (``tests/oracles.py::bottlenecks_reference``).
    """
    out = np.full(len(edges), np.inf)
    if not len(edges):
        return out
    by_source: dict[int, list[int]] = {}
    for k, s in enumerate(edges[:, 0].tolist()):
        by_source.setdefault(s, []).append(k)
    for s, ks in by_source.items():
        a = frac[s] @ cell
        # per edge as the reference loop computes them (a stacked product may round differently)
        ends = np.array([(frac[t] + np.asarray(o)) @ cell for t, *o in edges[ks, 1:].tolist()])
        lengths = [float(np.linalg.norm(b - a)) for b in ends]
        group: list[int] = []
        gathered = None
        for j, L in enumerate(lengths):
            if gathered is None:
                gathered = lattice_images(cell, frac, a, L + 1.0 + 1e-9)
                reach = np.linalg.norm(gathered[2] - a, axis=1).max(initial=0.0)
            if reach < L + 0.5:  # this edge reaches past the gathered atoms: measure the group, re-gather
                if group:
                    rows = [ks[i] for i in group]
                    out[rows] = _segment_distances(gathered, a, s, ends[group], edges[rows])
                group = []
                gathered = lattice_images(cell, frac, a, L + 3.0)
                reach = np.linalg.norm(gathered[2] - a, axis=1).max(initial=0.0)
            group.append(j)
        out[[ks[i] for i in group]] = _segment_distances(gathered, a, s, ends[group], edges[[ks[i] for i in group]])
    return out


def _segment_distances(gathered: tuple[np.ndarray, np.ndarray, np.ndarray], a: np.ndarray, s: int,
                       ends: np.ndarray, edges: np.ndarray, max_pairs: int = 1 << 21) -> np.ndarray:
    """Per edge (segments a -> ends[k]), the smallest distance to the gathered atoms other than its end points."""
    atom, shift, pos = gathered
    out = np.full(len(ends), np.inf)
    if not len(pos):
        return out
    at_source = (atom == s) & ~shift.any(axis=1)
    step = max(1, max_pairs // len(pos))  # bounded (points x edges) arrays
    for lo in range(0, len(ends), step):
        b, e = ends[lo:lo + step], edges[lo:lo + step]
        ab = b - a  # (K, 3)
        L2 = np.array([float(v @ v) for v in ab])
        rel = pos - a
        # one matrix-vector product per edge, as the reference loop: a (M, 3) x (3, K) product may
        # round the 3-term sums differently
        t = np.clip(np.stack([rel @ v for v in ab], axis=1) / np.where(L2 > 0, L2, 1.0), 0.0, 1.0)  # (M, K)
        d = np.linalg.norm(pos[:, None, :] - (a + t[..., None] * ab[None]), axis=-1)
        is_end = at_source[:, None] | ((atom[:, None] == e[None, :, 1])
                                       & (shift[:, None, :] == e[None, :, 2:]).all(axis=-1))
        d[is_end] = np.inf
        out[lo:lo + step] = d.min(axis=0)
    return out


def symmetry_operations(cell: np.ndarray, frac: np.ndarray, numbers: np.ndarray, symprec: float = 1e-3):
    """Rotations and translations of the space group (spglib), fractional coordinates."""
    import spglib

    ds = spglib.get_symmetry_dataset((cell, frac, numbers), symprec=symprec)
    if ds is None:
        return np.eye(3, dtype=int)[None], np.zeros((1, 3))
    return np.asarray(ds.rotations), np.asarray(ds.translations)


def site_permutations(
    cell: np.ndarray, frac: np.ndarray, numbers: np.ndarray, rotations: np.ndarray, translations: np.ndarray,
    tol: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """How each operation permutes the atoms: ``R x_a + t = x_perm[a] + shift[a]``.

    Returns
    -------
    perm : (n_ops, N) int
    shift : (n_ops, N, 3) int
    """
    n = len(frac)
    perm = np.empty((len(rotations), n), dtype=int)
    shift = np.empty((len(rotations), n, 3), dtype=int)
    for k, (R, t) in enumerate(zip(rotations, translations)):
        img = frac @ R.T + t  # (N, 3)
        diff = img[:, None, :] - frac[None, :, :]  # (N, N, 3)
        nearest = np.round(diff)
        dist = np.linalg.norm((diff - nearest) @ cell, axis=-1)
        dist[numbers[:, None] != numbers[None, :]] = np.inf
        j = dist.argmin(axis=1)
        if np.any(dist[np.arange(n), j] > tol):
            raise StructureError("symmetry operation does not map the structure onto itself", reason="symmetry")
        perm[k] = j
        shift[k] = nearest[np.arange(n), j].astype(int)
    return perm, shift


def orbit_labels(
    edges: np.ndarray, rotations: np.ndarray, perm: np.ndarray, shift: np.ndarray
) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Label each edge with its symmetry orbit.

    Operation k maps site s to ``perm[k, s]`` in cell ``shift[k, s]`` and the target
    ``t + o`` to ``perm[k, t]`` in cell ``shift[k, t] + R_k o``, so the image edge is
    ``(perm[k, s], perm[k, t], shift[k, t] + R_k o - shift[k, s])``.

    Returns
    -------
    labels : (E,) int
        Orbit index of each edge (0..n_orbits-1, in order of first appearance).
    representatives : list of tuple
        Per orbit, the smallest canonical ``(source, target, ox, oy, oz)`` in the orbit.
    """
    keys: dict[tuple[int, ...], int] = {}
    reps: list[tuple[int, ...]] = []
    labels = np.empty(len(edges), dtype=int)
    for e, (s, t, *o) in enumerate(edges):
        s2 = perm[:, s]
        t2 = perm[:, t]
        o2 = shift[:, t, :] + rotations @ np.asarray(o) - shift[:, s, :]
        fwd = np.column_stack([s2, t2, o2])
        bwd = np.column_stack([t2, s2, -o2])
        both = np.concatenate([fwd, bwd])
        key = tuple(int(v) for v in both[np.lexsort(both.T[::-1])[0]])
        if key not in keys:
            keys[key] = len(reps)
            reps.append(key)
        labels[e] = keys[key]
    return labels, reps


@dataclass
class HopGraph:
    """The percolating Li hop graph of one structure.

    Attributes
    ----------
    material_id : str
    edges : (E, 5) int
        Every edge (unit-cell Li indices) of the percolating network: bottleneck-filtered and
        no longer than ``cutoff``.
    lengths, bottlenecks : (E,) float
    labels : (E,) int
        Index into ``hops`` of each edge's symmetry orbit.
    hops : list of Hop
        One representative per orbit.
    max_dim : int
        Largest percolation dimensionality reachable with edges up to the search cutoff.
    cutoff : float
        Smallest hop length at which the graph percolates in ``max_dim`` dimensions.
    dim_cutoffs : (3,) float
        Smallest hop length for 1D, 2D, 3D percolation (``inf`` when not reached).
    """

    material_id: str
    edges: np.ndarray
    lengths: np.ndarray
    bottlenecks: np.ndarray
    labels: np.ndarray
    hops: list[Hop] = field(default_factory=list)
    max_dim: int = 0
    cutoff: float = math.inf
    dim_cutoffs: np.ndarray = field(default_factory=lambda: np.full(3, math.inf))


def _compact(edges: np.ndarray, li: np.ndarray) -> np.ndarray:
    """Edges with Li indices renumbered 0..n_li-1 (for the periodic graph)."""
    index = {int(a): k for k, a in enumerate(li)}
    out = edges.copy()
    out[:, 0] = [index[int(v)] for v in edges[:, 0]]
    out[:, 1] = [index[int(v)] for v in edges[:, 1]]
    return out


def build_hop_graph(
    cell: np.ndarray,
    frac: np.ndarray,
    numbers: np.ndarray,
    material_id: str,
    cutoff: float = DEFAULT_CUTOFF,
    bottleneck: float = DEFAULT_BOTTLENECK,
    mobile_z: int = 3,
    symprec: float = 1e-3,
) -> HopGraph:
    """Percolating hop graph and its symmetry-inequivalent hops.

    Parameters
    ----------
    cell : (3, 3)
        Lattice vectors (rows).
    frac : (N, 3)
        Fractional coordinates.
    numbers : (N,) int
        Atomic numbers.
    material_id : str
        Used in the edge ids.
    cutoff : float
        Longest hop considered (A).
    bottleneck : float
        Edges whose segment passes closer than this to another atom are dropped (A).
    mobile_z : int
        Atomic number of the mobile species (3, Li).
    symprec : float
        spglib tolerance (A).

    Raises
    ------
    StructureError
        ``no_mobile_ion`` without Li, ``no_percolating_hop`` when no edge set percolates,
        ``overlapping_atoms`` for atoms closer than 0.5 A.
    """
    cell = np.asarray(cell, float)
    frac = np.asarray(frac, float)
    numbers = np.asarray(numbers, int)
    li = np.nonzero(numbers == mobile_z)[0]
    if len(li) == 0:
        raise StructureError(f"{material_id}: no mobile ions (Z={mobile_z})", reason="no_mobile_ion")
    check_no_overlaps(cell, frac)
    edges, lengths = collect_edges(cell, frac, numbers, mobile_z, cutoff)
    if len(edges):
        bn = bottlenecks(cell, frac, edges)
        ok = bn >= bottleneck
        edges, lengths, bn = edges[ok], lengths[ok], bn[ok]
    else:
        bn = np.zeros(0)
    # edges within LENGTH_TOL of each other enter together (symmetry-equal lengths differ by round-off)
    max_dim, dim_cut = percolation_thresholds(len(li), _compact(edges, li), lengths, tie=LENGTH_TOL)
    if max_dim == 0:
        raise StructureError(
            f"{material_id}: Li hops up to {cutoff} A (bottleneck {bottleneck} A) do not percolate",
            reason="no_percolating_hop",
        )
    perc_cut = float(dim_cut[max_dim - 1])
    keep = lengths <= perc_cut + LENGTH_TOL
    edges, lengths, bn = edges[keep], lengths[keep], bn[keep]
    rot, trans = symmetry_operations(cell, frac, numbers, symprec)
    perm, shift = site_permutations(cell, frac, numbers, rot, trans)
    labels, reps = orbit_labels(edges, rot, perm, shift)
    row = {tuple(int(v) for v in e): k for k, e in enumerate(edges)}
    hops = []
    for k, rep in enumerate(reps):
        e = row.get(rep, int(np.nonzero(labels == k)[0][0]))  # rep is in the list unless cut by a tie
        hops.append(
            Hop(material_id, rep[0], rep[1], (rep[2], rep[3], rep[4]), float(lengths[e]), float(bn[e]),
                int(np.sum(labels == k)))
        )
    return HopGraph(material_id, edges, lengths, bn, labels, hops, max_dim, perc_cut, dim_cut)

