"""Lattice geometry and periodic connectivity: the one answer to "does it percolate?".

* Geometry: :func:`plane_spacings` (perpendicular widths of a cell), :func:`lattice_images`
  (every periodic image of some atoms inside a sphere) and :func:`cell_images` (every image
  that can come within a distance of the unit cell).
* Connectivity: :class:`PeriodicUnionFind` joins the sites of the unit cell (the quotient
  graph) while tracking, for every site, the lattice cell of its copy relative to its
  component's root (the *lattice potential*). An edge closing a cycle inside a component
  adds the cycle's net lattice translation to the component's basis; a component's
  periodic dimensionality is the rank of that basis, computed exactly on integers
  (:func:`extends_rank`: a cross product and a determinant, no floating-point rank).
* :func:`percolation_thresholds`: the smallest edge weight at which a weighted periodic
  graph percolates in 1, 2 and 3 dimensions.

"Does not percolate" has one meaning everywhere: ``math.inf`` in Python (``null`` in JSON,
written by :func:`litraj_data.io.to_jsonable`).
"""
from __future__ import annotations

import math

import numpy as np

from litraj_data.errors import StructureError

Vector = tuple[int, int, int]
ZERO: Vector = (0, 0, 0)


# ------------------------------------------------------------------ lattice geometry
def plane_spacings(cell: np.ndarray) -> np.ndarray:
    """Distances between lattice planes (perpendicular widths) of a 3x3 cell (rows)."""
    vol = abs(np.linalg.det(cell))
    return vol / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)


def lattice_images(
    cell: np.ndarray, frac: np.ndarray, center: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All periodic images of the atoms within ``radius`` of ``center``.

    Parameters
    ----------
    cell : (3, 3)
        Lattice vectors as rows.
    frac : (N, 3)
        Fractional coordinates of the atoms (any range).
    center : (3,)
        Cartesian centre of the sphere.
    radius : float

    Returns
    -------
    atom : (K,) int
        Index of the atom of each image.
    shift : (K, 3) int
        Lattice translation of each image (added to ``frac``).
    pos : (K, 3) float
        Cartesian positions.
    """
    h = plane_spacings(cell)
    fc = np.linalg.solve(cell.T, center)
    lo = np.floor(fc - radius / h - frac.max(axis=0)).astype(int)
    hi = np.ceil(fc + radius / h - frac.min(axis=0)).astype(int)
    grids = np.meshgrid(*[np.arange(l, u + 1) for l, u in zip(lo, hi)], indexing="ij")
    shifts = np.stack([g.ravel() for g in grids], axis=1)
    pos = (frac[None, :, :] + shifts[:, None, :]) @ cell  # (S, N, 3)
    keep = np.linalg.norm(pos - center, axis=-1) <= radius
    s_idx, a_idx = np.nonzero(keep)
    return a_idx, shifts[s_idx], pos[s_idx, a_idx]


def cell_images(frac: np.ndarray, lattice: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian positions of all periodic images within ``reach`` of the unit cell.

    Parameters
    ----------
    frac : (N, 3)
        Fractional coordinates (wrapped into [0, 1) here).
    lattice : (3, 3)
        Lattice vectors as rows.
    reach : float
        Distance (A) from the cell beyond which images are dropped (a superset is kept:
        every image within ``reach + half diagonal`` of the cell centre).

    Returns
    -------
    positions : (K, 3) float
        Image positions, shift-major (all atoms of the first shift, then the next...).
    owner : (K,) int
        Index of the atom of each image.
    """
    # Distance between opposite faces is 1/|b_i*|; images beyond ceil(reach |b_i*|) cells
    # cannot come within ``reach`` of any point of the cell.
    recip = np.linalg.inv(lattice).T
    ext = np.ceil(reach * np.linalg.norm(recip, axis=1)).astype(int)
    shifts = np.stack(np.meshgrid(*[np.arange(-e, e + 1) for e in ext], indexing="ij"), -1).reshape(-1, 3)
    frac = frac - np.floor(frac)
    cart = ((frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3)) @ lattice
    owner = np.tile(np.arange(len(frac)), len(shifts))
    # drop images farther than ``reach`` from the cell (the cell is inside the sphere of
    # radius |diagonal| around its centre)
    centre = 0.5 * lattice.sum(axis=0)
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)]) @ lattice
    half_diag = np.max(np.linalg.norm(corners - centre, axis=1))
    keep = np.linalg.norm(cart - centre, axis=1) <= reach + half_diag
    return cart[keep], owner[keep]


OVERLAP_TOL = 0.5  # A: closer than any real bond (H-H is 0.74 A); two atoms on one site


def check_no_overlaps(cell: np.ndarray, frac: np.ndarray, tol: float = OVERLAP_TOL) -> None:
    """Raise ``overlapping_atoms`` when two atoms (or periodic images) are closer than ``tol``.

    Both reference calculators call it first: two Li on one site (a bad CIF, a supercell
    made twice) would otherwise give a plausible-looking barrier.
    """
    for a in range(len(frac)):
        atom, shift, _ = lattice_images(cell, frac, frac[a] @ cell, tol)
        self_img = (atom == a) & np.all(shift == 0, axis=1)
        if np.any(~self_img):
            other = int(atom[~self_img][0])
            raise StructureError(f"atoms {a} and {other} are closer than {tol} A (two atoms on one site?)",
                                 reason="overlapping_atoms")


# ------------------------------------------------------------------ exact integer rank
def extends_rank(basis: list[Vector], z: Vector) -> bool:
    """Append the integer vector ``z`` to ``basis`` if it raises the rank; say whether it did.

    ``basis`` holds linearly independent integer 3-vectors. The tests are exact integer
    arithmetic (a cross product against one vector, a determinant against two), so lattice
    translations of any size are ranked without floating-point tolerance.
    """
    r = len(basis)
    if r == 0:
        if z == ZERO:
            return False
        basis.append(z)
        return True
    if r == 1:
        a = basis[0]
        if (a[1] * z[2] - a[2] * z[1], a[2] * z[0] - a[0] * z[2], a[0] * z[1] - a[1] * z[0]) != ZERO:
            basis.append(z)
            return True
        return False
    if r == 2:
        a, b = basis
        c = (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])
        if c[0] * z[0] + c[1] * z[1] + c[2] * z[2] != 0:
            basis.append(z)
            return True
    return False


# ------------------------------------------------------------------ periodic union-find
class PeriodicUnionFind:
    """Union-find over the sites of a periodic graph with lattice potentials.

    Site ``i`` of the unit cell stands for all its periodic copies. For every site the
    structure keeps the lattice cell of the site's copy relative to its parent's copy, so
    :meth:`find` returns the root and the cell of the site relative to the root: the
    unfolded component is one connected copy per cell, and an edge between two sites of
    one component either agrees with those cells (a tree edge) or closes a cycle whose net
    translation is a lattice vector of the component.

    Parameters
    ----------
    n : int
        Number of sites, numbered 0..n-1.

    Attributes
    ----------
    dimension : int
        Largest periodic dimensionality (0-3) of any component so far. Merging only
        grows bases, so this is also the dimensionality of the current graph.
    """

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.cell: list[Vector] = [ZERO] * n  # lattice cell relative to the parent's copy
        self.bases: dict[int, list[Vector]] = {}  # root -> independent translations (only non-empty)
        self.dimension = 0

    def find(self, i: int) -> tuple[int, Vector]:
        """Root of site ``i`` and the lattice cell of ``i``'s copy relative to the root's."""
        parent, cell = self.parent, self.cell
        path = []
        while parent[i] != i:
            path.append(i)
            i = parent[i]
        if not path:
            return i, ZERO
        # path compression: from the node nearest the root outwards, each cell becomes
        # relative to the root (its parent's cell, already converted, plus its own)
        acc = ZERO
        for node in reversed(path):
            c = cell[node]
            acc = (acc[0] + c[0], acc[1] + c[1], acc[2] + c[2])
            cell[node] = acc
            parent[node] = i
        return i, acc

    def rank(self, i: int) -> int:
        """Periodic dimensionality (0-3) of the component of site ``i``."""
        return len(self.bases.get(self.find(i)[0], ()))

    def add_translation(self, i: int, z: Vector) -> int:
        """Add the lattice translation ``z`` to the component of ``i``; return its rank.

        For callers that already know a cycle's winding (e.g. from a spanning tree).
        """
        root = self.find(i)[0]
        basis = self.bases.setdefault(root, [])
        if len(basis) < 3:
            extends_rank(basis, (int(z[0]), int(z[1]), int(z[2])))
        if not basis:
            del self.bases[root]
            return 0
        self.dimension = max(self.dimension, len(basis))
        return len(basis)

    def union(self, s: int, t: int, shift: Vector = ZERO) -> int:
        """Add the edge site ``s`` (cell 0) -- site ``t`` (cell ``shift``); return the rank.

        Returns the periodic dimensionality of the component now holding both sites.
        """
        rs, ps = self.find(s)
        rt, pt = self.find(t)
        # cell of t's copy reached through this edge, relative to s's root
        w = (ps[0] + int(shift[0]), ps[1] + int(shift[1]), ps[2] + int(shift[2]))
        if rs == rt:
            # the edge closes a cycle: its net translation is a lattice vector of the component
            return self.add_translation(rs, (w[0] - pt[0], w[1] - pt[1], w[2] - pt[2]))
        bs, bt = self.bases.get(rs), self.bases.get(rt)
        if bt is not None and (bs is None or len(bt) > len(bs)):
            # keep the larger basis where it is (fewer vectors to re-test): hang rs under rt
            child, root, offset = rs, rt, (pt[0] - w[0], pt[1] - w[1], pt[2] - w[2])
        else:
            child, root, offset = rt, rs, (w[0] - pt[0], w[1] - pt[1], w[2] - pt[2])
        self.parent[child] = root
        self.cell[child] = offset
        moved = self.bases.pop(child, None)
        basis = self.bases.get(root)
        if moved is None:
            return len(basis) if basis is not None else 0
        if basis is None:  # cannot happen with the choice above, kept for safety
            self.bases[root] = moved
            return len(moved)
        for z in moved:
            if len(basis) == 3:
                break
            extends_rank(basis, z)
        self.dimension = max(self.dimension, len(basis))
        return len(basis)


def percolation_thresholds(
    n_sites: int, edges: np.ndarray, weights: np.ndarray, tie: float = 0.0
) -> tuple[int, np.ndarray]:
    """Smallest weight at which the edges with weight <= w reach each dimension.

    Parameters
    ----------
    n_sites : int
    edges : (E, 5) int
        ``site_a, site_b, ox, oy, oz`` with sites numbered 0..n_sites-1.
    weights : (E,) float
        Finite edge weights (hop lengths, hop barriers...).
    tie : float
        Edges within ``tie`` above the lightest edge not yet added enter together with it
        (their threshold is that lightest weight).

    Returns
    -------
    max_dim : int
        Dimensionality of the whole graph.
    thresholds : (3,) float
        Threshold for 1D, 2D, 3D; ``inf`` where never reached.
    """
    weights = np.asarray(weights, dtype=float)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 5)
    order = np.argsort(weights, kind="stable")
    w_sorted = weights[order].tolist()
    e_sorted = edges[order].tolist()
    uf = PeriodicUnionFind(n_sites)
    thresholds = np.full(3, math.inf)
    k = 0
    while k < len(order) and uf.dimension < 3:
        w = w_sorted[k]
        while k < len(order) and w_sorted[k] <= w + tie:
            s, t, *o = e_sorted[k]
            uf.union(s, t, o)
            k += 1
        for d in range(uf.dimension):
            if thresholds[d] == math.inf:
                thresholds[d] = w
    return uf.dimension, thresholds
