"""The paper's "-v" feature set (SI S1): Voronoi descriptors of Li sites, hops and crystals.

The specification is the authors' implementation, ``ions.featurizers`` 0.5.1
(``StructureFeaturizer`` for BVEL13k structures, ``EdgeFeaturizer`` for one Li hop), with
oxidation states on. Column names are theirs; the differences (bugs fixed, exact instead
of bisected percolation radii, pymatgen element data) are listed in ``docs/features.md``.

Structure features (:func:`structure_features`):

* percolation radii ``r1d``/``r2d``/``r3d``: the largest distance from the framework that
  Li-Li segments (<= 10 A) can keep while still percolating in 1/2/3 dimensions;
* covalent free space / packing fractions and volumes per atom;
* Voronoi blocks, each the statistics over sites of per-site polyhedron descriptors:
  ``mobile_ions_framework`` (Li in the crystal), ``mobile_sublattice`` (Li among Li),
  ``centroid`` (midpoints of Voronoi-adjacent Li pairs = approximate transition states, in
  the framework), ``anions``, ``cations``, ``centroid_anions``, ``centroid_cations``.

Hop features (:func:`hop_features`): the hop length, the closest approach of the framework
to the hop segment, cylinder volumes, and statistics over four points (source, target,
nearest point of the edge to the framework "nnp", geometric median of the nnp's
neighbours "gm") of their Voronoi polyhedra.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from litraj_data.errors import StructureError
from litraj_data.leaderboard.models.features.elements import covalent_radius_of, electronegativity, ionic_radius
from litraj_data.leaderboard.models.features.polyhedra import (
    centred_supercell,
    group_reduce,
    polyhedra,
    site_supercell,
    vertex_neighbours,
)

__all__ = ["STRUCTURE_STATS", "HOP_STATS", "structure_features", "hop_features", "hop_endpoints"]

STRUCTURE_STATS = ("min", "max", "mean", "range", "std")
HOP_STATS = ("min", "max", "mean", "range")  # the authors' EdgeFeaturizer default
HAS_ELEMENTS = ("O", "F", "P", "S", "B", "I", "Cl", "N")
R_CUT = 10.0
LI = 3


def _stat(arr: np.ndarray, stat: str) -> float:
    arr = np.asarray(arr, dtype=float)
    if stat == "min":
        return float(arr.min())
    if stat == "max":
        return float(arr.max())
    if stat == "mean":
        return float(arr.mean())
    if stat == "range":
        return float(arr.max() - arr.min())
    if stat == "std":
        return float(arr.std())
    raise ValueError(f"unknown statistic {stat!r} (min, max, mean, range, std)")


def _site_block(points: np.ndarray, centres: np.ndarray, elneg: np.ndarray, oxi: np.ndarray,
                ri: np.ndarray) -> dict[str, np.ndarray]:
    """Per-site descriptors of the Voronoi polyhedra of ``centres`` (one value per site).

    As ``StructureFeaturizer._voro_data`` + ``_process_site_poly_data(['min', 'mean'])``:
    total volume and area, max solid angle, effective CN, min/mean over faces of the face
    distance, ionic distance (centre-neighbour distance minus both ionic radii), neighbour
    electronegativity, bond ionicity |X_site - X_nb|, solid-angle-weighted electronegativity,
    neighbour oxidation state and its weighted value (weights: solid angle / its sum).
    """
    f = polyhedra(points, centres)
    s, o, st = f.site, f.other, f.start
    c = np.asarray(centres)[s]
    weight = f.solid_angle / group_reduce(f.solid_angle, st, "sum")[s]
    per_face = {
        "face_dist": f.face_dist,
        "ionic_dist": 2 * f.face_dist - ri[c] - ri[o],
        "elneg": elneg[o],
        "bond_ionicity": np.abs(elneg[c] - elneg[o]),
        "weighted_elneg": elneg[o] * weight,
        "oxi_state": oxi[o],
        "weighted_oxi_state": oxi[o] * weight,
    }
    area_sum = group_reduce(f.area, st, "sum")
    out = {
        "volume": group_reduce(f.volume, st, "sum"),
        "area": area_sum,
        "max_solid_angle": group_reduce(f.solid_angle, st, "max"),
        "effective_CN": area_sum ** 2 / group_reduce(f.area ** 2, st, "sum"),
    }
    for key, vals in per_face.items():
        out[f"min_{key}"] = group_reduce(vals, st, "min")
        out[f"mean_{key}"] = group_reduce(vals, st, "mean")
    return out


def _stats_block(label: str, per_site: dict[str, np.ndarray], stats: Sequence[str]) -> dict[str, float]:
    return {f"{label}_{stat}_{key}": _stat(vals, stat) for stat in stats for key, vals in per_site.items()}


def _percolation_radii(cell: np.ndarray, frac: np.ndarray, numbers: np.ndarray) -> dict[str, float]:
    """r1d/r2d/r3d: the largest bottleneck at which the Li-Li edges (<= 10 A) still percolate.

    Exact (a sweep of the edges by decreasing bottleneck through the periodic union-find)
    where the authors bisect to 0.01 A; 0.0 where the 10 A graph never reaches the dimension.
    """
    from litraj_data.leaderboard.reference.hops.graph import collect_edges
    from litraj_data.leaderboard.reference.physics.periodic import percolation_thresholds

    edges, _ = collect_edges(cell, frac, numbers, mobile_z=LI, cutoff=R_CUT)
    if len(edges) == 0:
        return {"r1d": 0.0, "r2d": 0.0, "r3d": 0.0}
    bn = _bottlenecks(cell, frac, edges)
    li = np.nonzero(numbers == LI)[0]
    compact = np.full(len(numbers), -1, dtype=np.int64)
    compact[li] = np.arange(len(li))
    e = edges.copy()
    e[:, 0], e[:, 1] = compact[edges[:, 0]], compact[edges[:, 1]]
    ok = np.isfinite(bn)
    _, thr = percolation_thresholds(len(li), e[ok], -bn[ok])
    r = np.where(np.isfinite(thr), -thr, 0.0)
    return {"r1d": float(r[0]), "r2d": float(r[1]), "r3d": float(r[2])}


def _bottlenecks(cell: np.ndarray, frac: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Smallest distance of each edge's segment to any atom image but its two end points.

    The definition of ``hops.graph.bottlenecks``, computed by a compiled loop over every
    atom image within reach of any edge (``kernels.segment_bottlenecks``).
    """
    from litraj_data.leaderboard.models.features.kernels import segment_bottlenecks
    from litraj_data.leaderboard.reference.physics.periodic import lattice_images

    a = frac[edges[:, 0]] @ cell
    b = (frac[edges[:, 1]] + edges[:, 2:5]) @ cell
    centre = a.mean(axis=0)
    reach = float(np.linalg.norm(np.vstack([a, b]) - centre, axis=1).max()) + 1e-6
    margin = 4.0
    while True:
        # every atom image within `margin` of a segment lies within reach + margin of the centre
        _, _, pos = lattice_images(cell, frac, centre, reach + margin)
        d = segment_bottlenecks(np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(pos), 1e-6)
        finite = d[np.isfinite(d)]
        if finite.size == 0 or finite.max() < margin or margin > 64.0:
            return d
        margin = 2.0 * float(finite.max()) + 1.0


def _hop_centroids(li_pos: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Midpoints of the Li pairs whose Voronoi domains (Li sublattice) share a vertex.

    As the authors: pairs of supercell points with one end in the central cell, so a hop
    that crosses the cell border appears once per direction (two periodic images).
    """
    pts, _ = centred_supercell(li_pos, cell, R_CUT)
    pairs = vertex_neighbours(pts, np.arange(len(li_pos)))
    if not pairs:
        raise StructureError("no Li-Li Voronoi neighbours", reason="no_hops")
    p = np.asarray(pairs)
    return pts[p].sum(axis=1) / 2


def _distinct_probes(points: np.ndarray, probes: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """``probes`` without those that coincide with a point or an earlier probe.

    Midpoints of different Li pairs coincide in centrosymmetric Li sublattices (rocksalt
    LiCl: 16 of 66); qhull keeps one of coincident points and leaves the others without a
    cell (the authors' code then crashes on the empty neighbour list).
    """
    from scipy.spatial import cKDTree

    allp = np.vstack([points, probes])
    drop = np.zeros(len(allp), bool)
    for i, j in sorted(cKDTree(allp).query_pairs(tol)):
        if j >= len(points) and not drop[i]:
            drop[j] = True
    return probes[~drop[len(points):]]


def structure_features(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, oxi: np.ndarray,
                       stats: Sequence[str] = STRUCTURE_STATS) -> dict[str, float]:
    """SI S1 structure features of a crystal (BVEL13k input).

    Parameters
    ----------
    numbers, positions, cell
        The crystal (no dummy atom); positions in A, cell rows are lattice vectors.
    oxi : (N,) float
        Oxidation state of every atom (``litraj_data.leaderboard.reference.physics.oxidation``).
    stats
        Statistics over sites of each per-site descriptor.

    Returns
    -------
    dict
        Column name -> value (see ``docs/features.md``).

    Raises
    ------
    StructureError
        ``no_mobile_ion`` without Li, ``no_anion`` / ``no_cation`` when a sublattice is
        empty, ``voronoi_unbounded`` on a degenerate tessellation.
    """
    numbers = np.asarray(numbers, dtype=int)
    positions = np.asarray(positions, dtype=float)
    cell = np.asarray(cell, dtype=float)
    oxi = np.asarray(oxi, dtype=float)
    li = numbers == LI
    if not li.any():
        raise StructureError("no Li in the structure", reason="no_mobile_ion")
    if not (oxi < 0).any():
        raise StructureError("no anion (negative oxidation state)", reason="no_anion")
    if li.all():
        raise StructureError("no framework atom besides Li", reason="no_framework")
    volume = abs(float(np.linalg.det(cell)))
    frac = np.linalg.solve(cell.T, positions.T).T
    elneg = electronegativity(numbers)
    ri = ionic_radius(numbers, oxi)
    rc3 = 4 / 3 * np.pi * covalent_radius_of(numbers) ** 3
    n_fw = int((~li).sum())
    out: dict[str, float] = {}
    out.update(_percolation_radii(cell, frac, numbers))
    out["framework_covalent_free_space_fraction"] = (volume - rc3[~li].sum()) / n_fw
    out["covalent_packing_fraction_crystal"] = (volume - rc3.sum()) / volume
    out["covalent_packing_fraction_framework"] = (volume - rc3[~li].sum()) / volume
    out["vpa"] = volume / len(numbers)
    out["vpa_framework"] = volume / n_fw
    out["free_framework_volume_per_atom"] = (volume - rc3[~li].sum()) / n_fw

    centroids = _hop_centroids(positions[li], cell)

    def block(label: str, mask: np.ndarray | None, centre_mask: np.ndarray | None, with_centroids: bool) -> None:
        sel = np.ones(len(numbers), bool) if mask is None else mask
        pts, index = centred_supercell(positions[sel], cell, R_CUT)
        el, q, r = elneg[sel][index], oxi[sel][index], ri[sel][index]
        if with_centroids:
            # the transition-state probes are empty points: electronegativity, charge and radius 0
            probes = _distinct_probes(pts, centroids)
            centres = np.arange(len(pts), len(pts) + len(probes))
            pts = np.vstack([pts, probes])
            zero = np.zeros(len(probes))
            el, q, r = np.concatenate([el, zero]), np.concatenate([q, zero]), np.concatenate([r, zero])
        else:
            centres = np.nonzero(centre_mask[sel])[0] if centre_mask is not None else np.arange(int(sel.sum()))
        out.update(_stats_block(label, _site_block(pts, centres, el, q, r), stats))

    block("mobile_ions_framework", None, li, False)
    block("mobile_sublattice", li, None, False)
    block("centroid", ~li, None, True)
    anion, cation = oxi < 0, oxi > 0
    if not cation.any():
        raise StructureError("no cation (positive oxidation state)", reason="no_cation")
    block("anions", anion, None, False)
    block("cations", cation, None, False)
    block("centroid_anions", anion, None, True)
    block("centroid_cations", cation, None, True)
    return out


def _unit_cell_of(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray) -> tuple[int, np.ndarray] | None:
    """``(atoms per unit cell, unit cell)`` of a supercell made by ``Atoms.repeat`` (block-first, unwrapped).

    ``None`` when the atoms are not ordered as such a repeat.
    """
    n_all = len(numbers)
    inv = np.linalg.inv(cell)
    for n in range(1, n_all // 2 + 1):
        if n_all % n or not (numbers.reshape(-1, n) == numbers[:n]).all():
            continue
        blocks = positions.reshape(-1, n, 3) - positions[:n]
        if np.ptp(blocks, axis=1).max() > 1e-4:
            continue
        frac = blocks[:, 0, :] @ inv
        scale = np.ones(3)
        for j in range(3):
            nz = np.abs(frac[:, j])[np.abs(frac[:, j]) > 1e-6]
            if len(nz):
                scale[j] = np.round(1.0 / nz.min())
        if int(np.prod(scale)) * n != n_all:
            return None
        return n, cell / scale[:, None]
    return None


def _hop_from_edge_id(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, x: np.ndarray,
                      edge_id: str, tol: float) -> tuple[int, int, np.ndarray] | None:
    """The hop named by ``edge_id`` (unit-cell source, target, offset) when the supercell is a plain repeat."""
    try:
        src, tgt, *off = (int(v) for v in edge_id.rsplit("_", 5)[1:])
    except ValueError:
        return None
    unit = _unit_cell_of(numbers, positions, cell)
    if unit is None or max(src, tgt) >= unit[0]:
        return None
    end = positions[tgt] + np.asarray(off, dtype=float) @ unit[1]
    inv = np.linalg.inv(cell)
    mid = ((0.5 * (positions[src] + end) - x) @ inv)
    if np.linalg.norm((mid - np.round(mid)) @ cell) > tol:
        return None  # the edge id does not describe this X
    li = np.nonzero(numbers == LI)[0]
    d = (positions[li] - end) @ inv
    res = np.linalg.norm((d - np.round(d)) @ cell, axis=1)
    k = int(np.argmin(res))
    if res[k] > tol:
        return None
    b = int(li[k])
    return src, b, np.round((end - positions[b]) @ inv).astype(int)


def hop_endpoints(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, tol: float = 0.02,
                  edge_id: str | None = None) -> tuple[int, int, np.ndarray]:
    """The hop of a centroid supercell: the two Li whose minimum-image midpoint is X.

    Not the two Li nearest to X (another Li can sit closer to the midpoint than half the
    hop). Where several Li pairs have X as midpoint (X on an inversion centre of the Li
    sublattice), the shortest pair is the hop, unless ``edge_id`` names it: then, for a
    supercell made by repeating the unit cell (atoms block by block, as ``Atoms.repeat``),
    the unit-cell source, target and offset of the id decide (a triangular Li layer has
    first- and second-neighbour hops through the same midpoint). ``tol`` (A) absorbs the
    stored precision of released coordinates. Returns ``(source, target, offset)`` with
    ``positions[target] + offset @ cell`` the target image.

    Raises
    ------
    StructureError
        ``no_centroid`` without exactly one X; ``no_hop`` when no Li pair is centred on X.
    """
    numbers = np.asarray(numbers, dtype=int)
    xs = np.nonzero(numbers == 0)[0]
    if len(xs) != 1:
        raise StructureError(f"a centroid supercell has exactly one dummy atom X, found {len(xs)}",
                             reason="no_centroid")
    x = positions[xs[0]]
    if edge_id:
        keep = numbers != 0
        named = _hop_from_edge_id(numbers[keep], positions[keep], cell, x, str(edge_id), tol)
        if named is not None:
            full = np.nonzero(keep)[0]
            return int(full[named[0]]), int(full[named[1]]), named[2]
    li = np.nonzero(numbers == LI)[0]
    inv = np.linalg.inv(cell)
    best = None
    for a in li.tolist():
        # minimum image of a around X; its partner sits at the reflection x - va (modulo the lattice)
        fa = (positions[a] - x) @ inv
        va = (fa - np.round(fa)) @ cell
        end = positions[a] - 2 * va  # the target image seen from the stored source position
        d = (positions[li] - end) @ inv
        res = np.linalg.norm((d - np.round(d)) @ cell, axis=1)
        length = 2.0 * float(np.linalg.norm(va))
        for k in np.nonzero(res < tol)[0].tolist():
            b = int(li[k])
            off = np.round((end - positions[b]) @ inv).astype(int)
            key = (round(length, 6), min(a, b), max(a, b))
            if length > 1e-6 and (best is None or key < best[0]):
                best = (key, a, b, off)
    if best is None:
        raise StructureError("no Li pair has the dummy atom X as its midpoint", reason="no_hop")
    _, a, b, off = best
    if b < a:  # canonical: source is the lower index; the reversed hop has the opposite offset
        a, b, off = b, a, -off
    return int(a), int(b), off


def _lineseg_dists(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from litraj_data.leaderboard.reference.hops.energy import segment_distance

    return segment_distance(p, a, b)


def _images27(positions: np.ndarray, cell: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tr = np.array(list(itertools.product([0, 1, -1], repeat=3)), dtype=float)
    pts = (positions[idx][None, :, :] + (tr @ cell)[:, None, :]).reshape(-1, 3)
    return pts, np.tile(idx, len(tr))


def _site_voro(positions: np.ndarray, cell: np.ndarray, site: int, props: dict[str, np.ndarray]
               ) -> dict[str, np.ndarray]:
    """Faces of the Voronoi polyhedron of one atom (the authors' ``VoroSite``) and neighbour data."""
    pts, index = site_supercell(positions, cell, site)
    f = polyhedra(pts, np.array([site]))
    nb = index[f.other]
    weight = f.solid_angle / f.solid_angle.max()  # EdgeFeaturizer weighs by solid angle / its max
    data = {"volume": f.volume, "area": f.area, "face_dist": f.face_dist, "solid_angle": f.solid_angle,
            "rc": props["rc"][nb], "elneg": props["elneg"][nb], "elneg_weighted": weight * props["elneg"][nb],
            "ri": props["ri"][nb], "oxi_state": props["oxi"][nb],
            "oxi_state_weighted": weight * props["oxi"][nb]}
    data["ionic_dist"] = 2 * f.face_dist - data["ri"]
    return data


def hop_features(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, oxi: np.ndarray,
                 source: int, target: int, offset: np.ndarray, stats: Sequence[str] = HOP_STATS
                 ) -> dict[str, float]:
    """SI S1 features of one Li hop (nebBVSE122k / nebDFT2k input), ``EdgeFeaturizer`` with ions.

    Parameters
    ----------
    numbers, positions, cell, oxi
        The (super)cell without the dummy atom, with oxidation states.
    source, target, offset
        The hop: ``positions[target] + offset @ cell`` is the end point.
    stats
        Statistics over faces (inner) and over the four points (outer).
    """
    numbers = np.asarray(numbers, dtype=int)
    positions = np.asarray(positions, dtype=float)
    cell = np.asarray(cell, dtype=float)
    props = {"rc": covalent_radius_of(numbers), "elneg": electronegativity(numbers),
             "ri": ionic_radius(numbers, oxi), "oxi": np.asarray(oxi, dtype=float)}
    p1 = positions[source]
    p2 = positions[target] + np.asarray(offset, dtype=float) @ cell
    length = float(np.linalg.norm(p2 - p1))
    rest = np.array([i for i in range(len(numbers)) if i not in (source, target)], dtype=np.int64)
    pts, ids = _images27(positions, cell, rest)
    dd = _lineseg_dists(pts, p1, p2)
    k = int(np.argmin(dd))
    d_min = float(dd[k])
    ab = p2 - p1
    nnp = p1 + np.dot(pts[k] - p1, ab) / np.dot(ab, ab) * ab  # projection on the line, as the authors

    lo, hi = min(source, target), max(source, target)
    keep = np.array([i for i in range(len(numbers)) if i != hi], dtype=np.int64)
    sub = {key: v[keep] for key, v in props.items()}

    def moved(point: np.ndarray) -> np.ndarray:
        pos = positions[keep].copy()
        pos[lo] = point
        return pos

    data_source = _site_voro(positions, cell, source, props)
    data_target = _site_voro(positions, cell, target, props)
    data_nnp = _site_voro(moved(nnp), cell, lo, sub)
    from scipy.spatial import cKDTree

    cn = len(data_nnp["volume"])
    _, nn = cKDTree(pts).query(nnp, k=cn, distance_upper_bound=10.0)
    nn = np.atleast_1d(nn)
    from litraj_data.leaderboard.models.features.kernels import geometric_median

    gm = geometric_median(np.ascontiguousarray(pts[nn[nn < len(pts)]]), np.asarray(nnp, dtype=float))
    data_gm = _site_voro(moved(gm), cell, lo, sub)
    four = (data_source, data_target, data_nnp, data_gm)

    out: dict[str, float] = {"length": length, "min_dist_to_edge": d_min}
    radius = 2 * min(d["face_dist"].min() for d in four)
    out["cylinder_volume"] = float(np.pi * radius ** 2 * length)
    out["cylinder_volume^1/3"] = out["cylinder_volume"] ** (1 / 3)
    ionic = min(d["face_dist"].min() for d in four)
    out["cylinder_ionic_volume"] = float(np.pi * ionic ** 2 * length)
    out["cylinder_ionic_volume^1/3"] = out["cylinder_ionic_volume"] ** (1 / 3)
    cns = np.array([d["area"].sum() ** 2 / (d["area"] ** 2).sum() for d in four])
    for stat in stats:
        out[f"{stat}_CN"] = _stat(cns, stat)
    for key in ("volume", "area"):
        tot = np.array([d[key].sum() for d in four])
        for stat in stats:
            out[f"{stat}_{key}"] = _stat(tot, stat)
    for prop in data_source:
        for s1 in stats:
            arr = np.array([_stat(d[prop], s1) for d in four])
            for s2 in stats:
                out[f"{s2}_{s1}_{prop}"] = _stat(arr, s2)
    present = set(numbers.tolist())
    from ase.data import atomic_numbers

    for el in HAS_ELEMENTS:
        out[f"has_{el}"] = float(atomic_numbers[el] in present)
    return out
