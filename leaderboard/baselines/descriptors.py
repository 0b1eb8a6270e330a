"""Structure descriptors of Li sites, hop edges and approximate transition states.

Two feature sets, following the paper's classical baselines (Voronoi-based features of the
local environment plus composition statistics):

* :func:`li_site_features` (BVEL13k, structure -> percolation barrier): anion coordination
  from the Voronoi polyhedron, Li-anion distances, Voronoi neighbour count, Voronoi cell volume and neighbour electronegativity of
  the Li sites, shortest Li-Li distances, aggregated (mean/min/max) over the Li sites.
* :func:`hop_features` (nebBVSE122k, nebDFT2k: centroid supercell with a dummy atom X at the
  hop midpoint): the X site approximates the transition state, so its distances to the
  framework ions (bottleneck), its Voronoi polyhedron and the two hop-end Li describe the hop.

Both add composition statistics. Anions are recognised without oxidation-state analysis
(too slow for a baseline): the most electronegative element, plus O and F when that element
is O or F (oxyfluorides); this is right for oxides, oxo-salts (P, S, Cl as cations),
halides, sulfides and nitrides.
"""
from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from litraj_data.errors import StructureError

__all__ = ["row_to_structure", "composition_features", "li_site_features", "hop_features",
           "featurize_row", "FEATURE_SETS"]

_MAX_LI_SITES = 12  # Li sites sampled per structure: bounds the Voronoi work on big cells
_VORONOI_CUTOFF = 6.0


@lru_cache(maxsize=None)
def _element_props(z: int) -> tuple[float, float, float, int]:
    from pymatgen.core.periodic_table import Element

    el = Element.from_Z(z)
    x = el.X if el.X == el.X else 0.0  # noble gases have no Pauling value
    radius = float(el.atomic_radius) if el.atomic_radius is not None else 1.5
    return float(x), radius, float(el.atomic_mass), int(el.row)


def row_to_structure(row: Mapping[str, Any]):
    """pymatgen ``Structure`` of a row's structure block (atomic number 0 -> ``DummySpecies('X')``).

    Raises
    ------
    StructureError
        When the row has no structure block or an empty / singular cell.
    """
    from pymatgen.core import Lattice, Structure
    from pymatgen.core.periodic_table import DummySpecies, Element

    try:
        numbers = np.asarray(row["numbers"], dtype=int)
        positions = np.stack(row["positions"]).astype(float) if len(row["positions"]) else np.zeros((0, 3))
        cell = np.stack(row["cell"]).astype(float)
    except KeyError as exc:
        raise StructureError(f"row has no structure column {exc}", reason="read_error") from exc
    if numbers.size == 0:
        raise StructureError("structure has no atoms", reason="read_error")
    if abs(np.linalg.det(cell)) < 1e-6:
        raise StructureError("cell is singular (no 3D periodic structure)", reason="read_error")
    species = [DummySpecies("X") if z == 0 else Element.from_Z(int(z)) for z in numbers]
    return Structure(Lattice(cell), species, positions, coords_are_cartesian=True)


def _z(specie: Any) -> int:
    """Atomic number, 0 for the dummy centroid X (pymatgen gives DummySpecies a hash-like Z)."""
    from pymatgen.core.periodic_table import DummySpecies

    return 0 if isinstance(specie, DummySpecies) else int(specie.Z)


def _anion_set(numbers: np.ndarray) -> set[int]:
    zs = sorted({int(z) for z in numbers if z > 0})
    if not zs:
        return set()
    top = max(zs, key=lambda z: _element_props(z)[0])
    anions = {top}
    if top in (8, 9):  # oxyfluorides: both O and F are anions
        anions |= {z for z in zs if z in (8, 9)}
    return anions


def composition_features(numbers: np.ndarray, volume: float) -> dict[str, float]:
    """Composition statistics of the real atoms (electronegativity, radius, mass, row)."""
    real = numbers[numbers > 0]
    props = np.array([_element_props(int(z)) for z in real], dtype=float)
    feats = {
        "n_atoms": float(real.size),
        "n_elements": float(len(set(real.tolist()))),
        "li_fraction": float(np.mean(real == 3)),
        "volume_per_atom": float(volume / real.size),
        "density_amu_per_A3": float(props[:, 2].sum() / volume),
        "packing_fraction": float(np.sum(4.0 / 3.0 * np.pi * props[:, 1] ** 3) / volume),
    }
    for k, name in enumerate(("chi", "radius", "mass", "row")):
        col = props[:, k]
        feats[f"{name}_mean"] = float(col.mean())
        feats[f"{name}_std"] = float(col.std())
        feats[f"{name}_max"] = float(col.max())
        feats[f"{name}_min"] = float(col.min())
    anions = _anion_set(real)
    feats["anion_fraction"] = float(np.mean(np.isin(real, list(anions))))
    feats["anion_chi"] = float(np.mean([_element_props(z)[0] for z in anions])) if anions else 0.0
    cations = [z for z in real if z not in anions and z != 3]
    feats["cation_chi_mean"] = float(np.mean([_element_props(int(z))[0] for z in cations])) if cations else 0.0
    return feats


def _voronoi(structure: Any, index: int) -> tuple[list[dict], float]:
    from pymatgen.analysis.local_env import VoronoiNN

    vnn = VoronoiNN(cutoff=_VORONOI_CUTOFF, allow_pathological=True, compute_adj_neighbors=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        poly = vnn.get_voronoi_polyhedra(structure, index)
    faces = list(poly.values())
    volume = float(sum(f["volume"] for f in faces))
    # faces smaller than 5 % of the largest are numerical slivers, not bonds (VoronoiNN tol)
    big = max((f["area"] for f in faces), default=0.0)
    return [f for f in faces if f["area"] >= 0.05 * big], volume


def _face_stats(faces: list[dict], anions: set[int], prefix: str) -> dict[str, float]:
    # Voronoi neighbours of the site; the coordination that matters for Li migration is the
    # anion one (Li-Li faces of, e.g., antifluorite are neighbours but not bonds).
    real = [f for f in faces if _z(f["site"].specie) > 0]
    anion_faces = [f for f in real if _z(f["site"].specie) in anions]
    d = np.array([f["face_dist"] * 2 for f in anion_faces]) if anion_faces else np.array([np.nan])
    chi = [_element_props(_z(f["site"].specie))[0] for f in real] or [np.nan]
    return {
        f"{prefix}_cn": float(len(anion_faces)),
        f"{prefix}_voronoi_nb": float(len(real)),
        f"{prefix}_d_mean": float(np.nanmean(d)),
        f"{prefix}_d_min": float(np.nanmin(d)),
        f"{prefix}_chi_nb": float(np.mean(chi)),
        f"{prefix}_anion_nb_fraction": float(len(anion_faces) / len(real)) if real else 0.0,
    }


def li_site_features(structure: Any) -> dict[str, float]:
    """Voronoi features of the Li sites aggregated over sites, plus composition statistics.

    Raises
    ------
    StructureError
        ``no_mobile_ion`` when the structure holds no Li.
    """
    numbers = np.array([_z(s.specie) for s in structure])
    li = np.flatnonzero(numbers == 3)
    if li.size == 0:
        raise StructureError("structure has no Li site", reason="no_mobile_ion")
    anions = _anion_set(numbers)
    sample = li[np.linspace(0, li.size - 1, min(li.size, _MAX_LI_SITES)).astype(int)]
    per_site = []
    for i in sample:
        faces, volume = _voronoi(structure, int(i))
        f = _face_stats(faces, anions, "li")
        f["li_voronoi_volume"] = volume
        nbrs = structure.get_neighbors(structure[int(i)], _VORONOI_CUTOFF)
        li_d = [n.nn_distance for n in nbrs if _z(n.specie) == 3]
        f["li_li_min"] = float(min(li_d)) if li_d else _VORONOI_CUTOFF
        f["li_li_count_4A"] = float(sum(d < 4.0 for d in li_d))
        per_site.append(f)
    feats = composition_features(numbers, structure.volume)
    for key in per_site[0]:
        vals = np.array([p[key] for p in per_site], dtype=float)
        feats[f"{key}_mean"] = float(np.nanmean(vals))
        feats[f"{key}_min"] = float(np.nanmin(vals))
        feats[f"{key}_max"] = float(np.nanmax(vals))
    return feats


def hop_features(structure: Any) -> dict[str, float]:
    """Features of the hop whose midpoint is the dummy atom X of a centroid supercell.

    Raises
    ------
    StructureError
        ``read_error`` when there is not exactly one dummy atom; ``no_mobile_ion`` when
        no Li lies within 6 A of it.
    """
    numbers = np.array([_z(s.specie) for s in structure])
    dummies = np.flatnonzero(numbers == 0)
    if dummies.size != 1:
        raise StructureError(f"centroid supercell must hold exactly one dummy atom X, found {dummies.size}",
                             reason="read_error")
    x = int(dummies[0])
    anions = _anion_set(numbers)
    nbrs = sorted(structure.get_neighbors(structure[x], _VORONOI_CUTOFF), key=lambda n: n.nn_distance)
    li = [n for n in nbrs if _z(n.specie) == 3]
    if not li:
        raise StructureError("no Li within 6 A of the hop centroid", reason="no_mobile_ion")
    an = [n for n in nbrs if _z(n.specie) in anions]
    cat = [n for n in nbrs if _z(n.specie) not in anions | {0, 3}]
    frame = [n for n in nbrs if _z(n.specie) not in (0, 3)]

    def dist(seq: list, k: int) -> float:
        return float(seq[k].nn_distance) if len(seq) > k else _VORONOI_CUTOFF

    feats: dict[str, float] = {
        "x_li_d1": dist(li, 0), "x_li_d2": dist(li, 1),
        "hop_length": dist(li, 0) + dist(li, 1),
        "x_anion_d1": dist(an, 0), "x_anion_d2": dist(an, 1), "x_anion_d3": dist(an, 2),
        "x_anion_d4": dist(an, 3),
        "x_anion_mean3": float(np.mean([dist(an, k) for k in range(3)])),
        "x_cation_d1": dist(cat, 0), "x_cation_d2": dist(cat, 1),
        # bottleneck: free space left between the centroid and the nearest framework ion
        "bottleneck": float(min((n.nn_distance - _element_props(_z(n.specie))[1] for n in frame),
                                default=_VORONOI_CUTOFF)),
        "n_anion_2p5A": float(sum(n.nn_distance < 2.5 for n in an)),
        "n_anion_3A": float(sum(n.nn_distance < 3.0 for n in an)),
        "n_cation_3p5A": float(sum(n.nn_distance < 3.5 for n in cat)),
        "n_li_4A": float(sum(n.nn_distance < 4.0 for n in li)),
        "x_chi_shell": float(np.mean([_element_props(_z(n.specie))[0] for n in frame if n.nn_distance < 3.5]
                                     or [0.0])),
    }
    faces, volume = _voronoi(structure, x)
    feats.update(_face_stats(faces, anions, "ts"))
    feats["ts_voronoi_volume"] = volume
    end = int(li[0].index)
    faces, volume = _voronoi(structure, end)
    feats.update(_face_stats(faces, anions, "end_li"))
    feats["end_li_voronoi_volume"] = volume
    feats.update(composition_features(numbers, structure.volume))
    return feats


FEATURE_SETS = {"li_sites": li_site_features, "hop": hop_features}


def featurize_row(row: Mapping[str, Any], feature_set: str) -> dict[str, float]:
    """Descriptors of one dataset row with the named feature set (``li_sites`` or ``hop``)."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; choose from {sorted(FEATURE_SETS)}")
    return FEATURE_SETS[feature_set](row_to_structure(row))
