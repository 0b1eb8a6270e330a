"""Feature sets: the Voronoi set column by column against the authors' (cast) featurizers, Ward vs matminer."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from ase import Atoms

from litraj_data.errors import StructureError
from litraj_data.leaderboard.models.features import featurize, featurize_table
from litraj_data.leaderboard.models.features.voronoi import hop_endpoints

# percolation radii: the authors bisect to 0.01 A and keep the lower end, rounded to 1e-4
BISECTION = 0.01 + 1e-4
# columns whose definition differs on purpose (docs/features.md)
FIXED_HOP = {"cylinder_volume^1/3", "cylinder_ionic_volume^1/3"}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def sample_structures():
    from litraj_data.loaders import load_litraj
    from litraj_data.loaders.convert import row_to_atoms

    out = {}
    for split in ("train", "val", "test"):
        for row in load_litraj("BVEL13k", split=split, source="sample"):
            out[row["material_id"]] = row_to_atoms(row)
    return out


@pytest.fixture(scope="module")
def sample_hops():
    from litraj_data.loaders import load_litraj

    return [row for split in ("train", "val", "test") for row in load_litraj("nebBVSE122k", split=split, source="sample")]


def _with_oxi(atoms: Atoms) -> Atoms:
    from litraj_data.leaderboard.reference.physics.oxidation import oxidation_states

    atoms = atoms.copy()
    atoms.set_array("oxi_states", oxidation_states(atoms))
    return atoms


def _without_zero_faces(poly_data: dict) -> dict:
    """The peer's polyhedra without qhull's zero-area faces (< AREA_TOL), as ours (docs/features.md)."""
    from litraj_data.leaderboard.models.features.polyhedra import AREA_TOL

    out = {}
    for site, data in poly_data.items():
        real = data["area"] >= AREA_TOL
        # removed faces have ~1e-18 sr: weights, sums and the effective CN do not change
        out[site] = {k: (v[real] if isinstance(v, np.ndarray) and v.shape == real.shape else v) for k, v in data.items()}
    return out


@pytest.fixture()
def cast_peer(monkeypatch):
    """The authors' featurizers made to run (test only), with one definition aligned.

    ``_voro_data`` indexes with the neighbour ids of sites that qhull left without a cell
    (coincident transition-state probes): an empty, hence float, id array that numpy >= 1.26
    refuses as an index. The cast keeps the sites that have Voronoi faces, and drops the
    zero-area faces of degenerate (cospherical) points as we do.
    """
    sf = pytest.importorskip("ions.featurizers.structure_featurizer")
    from scipy.spatial import Voronoi

    original = sf.StructureFeaturizer._voro_data

    def voro_data(self, supercell, central_points_ids):
        counts = np.bincount(Voronoi(supercell.positions).ridge_points.ravel(), minlength=len(supercell))
        ids = np.asarray([i for i in central_points_ids if counts[i] > 0], dtype=int)
        return _without_zero_faces(original(self, supercell, ids))

    monkeypatch.setattr(sf.StructureFeaturizer, "_voro_data", voro_data)
    return sf.StructureFeaturizer


STATS = ["min", "max", "mean", "range", "std"]


# crystals whose Li-Li midpoints never coincide with a framework atom (docs/features.md: probes)
@pytest.mark.parametrize("material_id", ["sample-LiNbO3-161", "sample-Li2MnO3-12",
                                         "sample-LiFePO4-62"])
def test_structure_features_match_the_cast_peer(sample_structures, cast_peer, material_id):
    atoms = _with_oxi(sample_structures[material_id])
    ours = featurize(atoms, "voronoi", cache=False)
    peer_obj = cast_peer(atoms.copy(), 3, oxi=True)
    peer = peer_obj.featurize(stats=STATS)
    assert set(ours) == set(peer) and len(ours) == 639
    compared = 0
    for key, value in peer.items():
        if key in ("r1d", "r2d", "r3d"):
            assert -1e-4 <= ours[key] - value <= BISECTION, key
        elif key.startswith("mobile_sublattice"):
            continue  # the authors reuse the framework polyhedra here (checked below)
        else:
            assert ours[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
            compared += 1
    assert compared > 500
    # mobile_sublattice: the Li sites among Li only, computed with the authors' own polyhedra routine
    li = peer_obj.atoms[peer_obj.atoms.numbers == 3].copy()  # carries the peer's elneg / ri arrays
    sc = peer_obj._create_supercell(li)
    poly = peer_obj._voro_data(sc, np.arange(len(li)))
    per_site = [peer_obj._process_site_poly_data(poly[s], ["min", "mean"]) for s in poly]
    for key in per_site[0]:
        vals = np.array([p[key] for p in per_site])
        for stat in STATS:
            assert ours[f"mobile_sublattice_{stat}_{key}"] == pytest.approx(peer_obj._calc_stat(vals, stat),
                                                                            rel=1e-6, abs=1e-6), key
    # ... which the authors' featurize() does not use: their columns repeat the framework ones
    assert peer["mobile_sublattice_mean_volume"] == peer["mobile_ions_framework_mean_volume"]
    assert ours["mobile_sublattice_mean_volume"] > ours["mobile_ions_framework_mean_volume"]


def test_coincident_transition_state_probes_are_dropped(sample_structures):
    """Rocksalt LiCl: Li-Li midpoints coincide with each other and with Cl (the peer crashes there)."""
    feats = featurize(_with_oxi(sample_structures["sample-LiCl-225"]), "voronoi", cache=False)
    assert np.isfinite([v for k, v in feats.items() if k.startswith("centroid")]).all()
    # every remaining probe sits between two Li at the face-diagonal midpoint: 12-fold cells
    assert feats["centroid_min_effective_CN"] > 0


def _peer_edge(row):
    from ions.edge import Edge
    from ions.featurizers import EdgeFeaturizer

    from litraj_data.loaders.convert import row_to_atoms

    atoms = row_to_atoms(row)
    s, t, off = hop_endpoints(atoms.numbers, atoms.positions, atoms.cell[:], edge_id=row["edge_id"])
    keep = atoms.numbers != 0
    remap = np.cumsum(keep) - 1
    fw = _with_oxi(atoms[keep])
    return EdgeFeaturizer(Edge(fw, remap[s], remap[t], off), oxi=True), fw, int(remap[s]), int(remap[t])


def test_hop_features_match_the_peer(sample_hops):
    pytest.importorskip("ions.featurizers")
    from litraj_data.leaderboard.models.features import voronoi
    from litraj_data.leaderboard.models.features.elements import covalent_radius_of, electronegativity, ionic_radius

    rows = {r["edge_id"]: r for r in sample_hops}
    # source and target equivalent: the peer's target-is-source slip does not show
    for edge_id in ("sample-Li2S-225_0_1_0_0_0", "sample-LiCoO2-166_0_0_-1_-1_0"):
        ef, fw, s, t = _peer_edge(rows[edge_id])
        peer = ef.featurize()
        ours = featurize(rows[edge_id], "voronoi", "hop", cache=False)
        assert set(ours) == set(peer)
        for key, value in peer.items():
            if key in FIXED_HOP:
                continue
            assert ours[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
        # the peer's x ** 1/3 is x / 3; ours is the cube root its name says
        assert peer["cylinder_volume^1/3"] == pytest.approx(peer["cylinder_volume"] / 3)
        assert ours["cylinder_volume^1/3"] == pytest.approx(peer["cylinder_volume"] ** (1 / 3))
    # an asymmetric hop: the target polyhedron the peer never uses, against its own routine
    asym = next(r for r in sample_hops if r["edge_id"].startswith("sample-Li2MnO3-12_2_5"))
    ef, fw, s, t = _peer_edge(asym)
    props = {"rc": covalent_radius_of(fw.numbers), "elneg": electronegativity(fw.numbers),
             "ri": ionic_radius(fw.numbers, fw.arrays["oxi_states"]), "oxi": fw.arrays["oxi_states"]}
    for site in (s, t):
        mine = voronoi._site_voro(fw.positions, fw.cell[:], site, props)
        theirs = ef._get_voro_data(ef.atoms, site)
        for key in ("volume", "area", "face_dist", "solid_angle", "rc", "elneg", "elneg_weighted", "ri",
                    "oxi_state", "oxi_state_weighted", "ionic_dist"):
            np.testing.assert_allclose(np.sort(mine[key]), np.sort(theirs[key]), rtol=1e-6, atol=1e-6, err_msg=key)
    peer = ef.featurize()
    ours = featurize(asym, "voronoi", "hop", cache=False)
    for key in ("length", "min_dist_to_edge", "has_O", "has_Cl"):
        assert ours[key] == pytest.approx(peer[key], rel=1e-9), key
    differ = {k for k in peer if ours[k] != pytest.approx(peer[k], rel=1e-6, abs=1e-6)}
    assert differ and "mean_volume" in differ  # the target polyhedron now counts in the 4-point statistics


def test_hop_endpoints_are_the_hop_not_the_nearest_li(sample_structures, sample_hops):
    # a long hop with a third Li closer to the midpoint than half the hop
    atoms = Atoms("Li3O", positions=[[2, 5, 5], [8, 5, 5], [5, 6.5, 5], [5, 2, 8]], cell=[10, 10, 10], pbc=True)
    atoms += Atoms("X", positions=[[5, 5, 5]])
    s, t, off = hop_endpoints(atoms.numbers, atoms.positions, atoms.cell[:])
    assert (s, t) == (0, 1) and not off.any()
    # across the periodic border
    atoms.positions[1] = [-2, 5, 5]
    atoms.positions[4] = [0, 5, 5]
    s, t, off = hop_endpoints(atoms.numbers, atoms.positions, atoms.cell[:])
    length = np.linalg.norm(atoms.positions[t] + off @ atoms.cell[:] - atoms.positions[s])
    assert (s, t) == (0, 1) and length == pytest.approx(4.0)
    # a triangular Li layer: first- and second-neighbour hops share the midpoint; the id decides
    row = next(r for r in sample_hops if r["edge_id"] == "sample-LiCoO2-166_0_0_-2_-1_0")
    numbers, pos, cell = np.asarray(row["numbers"]), np.stack(row["positions"]), np.stack(row["cell"])
    a, b, off = hop_endpoints(numbers, pos, cell)
    assert np.linalg.norm(pos[b] + off @ cell - pos[a]) == pytest.approx(2.8156, abs=1e-3)  # shortest alone
    # the sample's hops: the length agrees with the edge id (unit-cell source, target, offset)
    for row in sample_hops:
        parts = row["edge_id"].split("_")
        unit = sample_structures[row["material_id"]]
        src, tgt, o = int(parts[-5]), int(parts[-4]), np.array(parts[-3:], dtype=float)
        expected = np.linalg.norm(unit.positions[tgt] + o @ unit.cell[:] - unit.positions[src])
        got = featurize(row, "voronoi", "hop", cache=False)["length"] if row is sample_hops[0] else None
        numbers = np.asarray(row["numbers"])
        pos = np.stack(row["positions"])
        cell = np.stack(row["cell"])
        a, b, off = hop_endpoints(numbers, pos, cell, edge_id=row["edge_id"])
        # within the stored precision of the two datasets (a wrong Li pair is off by > 0.1 A)
        assert np.linalg.norm(pos[b] + off @ cell - pos[a]) == pytest.approx(expected, abs=2e-3), row["edge_id"]
        if got is not None:
            assert got == pytest.approx(expected, abs=2e-3)


def test_errors_name_the_reason(sample_structures):
    with pytest.raises(StructureError) as exc:
        featurize(Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]], cell=[5.6, 5.6, 5.6], pbc=True), cache=False)
    assert exc.value.reason == "no_mobile_ion"
    licl = sample_structures["sample-LiCl-225"]
    with pytest.raises(StructureError) as exc:
        featurize(licl, "voronoi", "hop", cache=False)
    assert exc.value.reason == "no_centroid"
    with pytest.raises(StructureError) as exc:
        featurize({"numbers": [3]}, cache=False)
    assert exc.value.reason == "read_error"
    with pytest.raises(StructureError) as exc:
        featurize(Atoms("LiF", positions=[[0, 0, 0], [0, 0, 0]], cell=np.zeros((3, 3))), cache=False)
    assert exc.value.reason == "read_error"
    with pytest.raises(ValueError, match="feature set"):
        featurize(licl, "nope")
    with pytest.raises(ValueError, match="kind"):
        featurize(licl, "voronoi", "edge")


def test_cache_is_reused_and_repaired(sample_structures, tmp_path, monkeypatch):
    from litraj_data.leaderboard.models.features import api

    atoms = _with_oxi(sample_structures["sample-Li2O-225"])
    first = featurize(atoms, "voronoi", cache_dir=tmp_path)
    files = list((tmp_path / "features" / "voronoi").rglob("*.json"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp"))

    def boom(*a, **k):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(api, "_compute", boom)
    again = featurize(atoms, "voronoi", cache_dir=tmp_path)
    assert again == pytest.approx(first, nan_ok=True)
    monkeypatch.undo()
    files[0].write_text("{torn")
    assert featurize(atoms, "voronoi", cache_dir=tmp_path) == pytest.approx(first, nan_ok=True)
    assert json.loads(files[0].read_text())["set"] == "voronoi"
    moved = atoms.copy()
    moved.positions[0] += 0.01  # another structure, another entry
    featurize(moved, "voronoi", cache_dir=tmp_path)
    assert len(list((tmp_path / "features" / "voronoi").rglob("*.json"))) == 2


def test_table_records_failures(sample_hops, tmp_path):
    rows = [dict(sample_hops[0]), dict(sample_hops[1])]
    rows[0]["numbers"] = [z if z else 3 for z in rows[0]["numbers"]]  # X replaced by Li: no centroid left
    table, failures = featurize_table(rows, "voronoi", "hop", cache_dir=tmp_path)
    assert table.shape[0] == 2 and failures == [{"row": "0", "reason": "no_centroid", "message": failures[0]["message"]}]
    assert table.iloc[0].isna().all() and np.isfinite(table.iloc[1].to_numpy()).all()
    assert list(table.columns) == sorted(table.columns)


def _licl() -> object:
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_ward_set_is_matminer_called_directly():
    pytest.importorskip("matminer")
    from matminer.featurizers import composition as cf
    from matminer.featurizers import structure as sf
    from matminer.featurizers.base import MultipleFeaturizer

    structure = _licl().get_primitive_structure()
    direct = MultipleFeaturizer([
        sf.SiteStatsFingerprint.from_preset("CoordinationNumber_ward-prb-2017"),
        sf.StructuralHeterogeneity(), sf.ChemicalOrdering(), sf.MaximumPackingEfficiency(),
        sf.SiteStatsFingerprint.from_preset("LocalPropertyDifference_ward-prb-2017"),
        sf.StructureComposition(cf.Stoichiometry()),
        sf.StructureComposition(cf.ElementProperty.from_preset("magpie")),
        sf.StructureComposition(cf.ValenceOrbital(props=["frac"])),
        sf.StructureComposition(cf.IonProperty(fast=True)),
    ])
    expected = dict(zip(direct.feature_labels(), direct.featurize(structure)))
    ours = featurize(structure, "ward", cache=False)
    assert list(ours) == list(expected) and len(ours) > 250
    for key, value in expected.items():
        assert ours[key] == pytest.approx(float(value), nan_ok=True), key
    assert ours["mean CN_VoronoiNN"] == pytest.approx(6.0)  # rocksalt


def test_ward_without_matminer_names_the_extra(monkeypatch):
    import sys

    from litraj_data.leaderboard.models.features import ward

    ward.ward_featurizer.cache_clear()
    monkeypatch.setitem(sys.modules, "matminer", None)
    monkeypatch.setitem(sys.modules, "matminer.featurizers", None)
    try:
        with pytest.raises(ward.MissingExtraError, match=r"litraj-data\[features\]") as exc:
            featurize(_licl(), "ward", cache=False)
        assert exc.value.reason == "missing_extra"
    finally:
        ward.ward_featurizer.cache_clear()


def test_cli_files_and_dataset(tmp_path, sample_hops, capsys):
    import argparse

    from ase.io import write

    from litraj_data.leaderboard.models.features import cli
    from litraj_data.loaders.convert import row_to_atoms

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="c", required=True)
    cli.register(sub)

    def run(*argv):
        args = parser.parse_args([str(a) for a in argv])
        return args.func(args)

    _licl().to(filename=str(tmp_path / "LiCl.cif"))
    hop = row_to_atoms(sample_hops[0])
    write(tmp_path / "hop.extxyz", hop, format="extxyz")
    (tmp_path / "broken.cif").write_text("data_x\n_cell_length_a 1\n")
    capsys.readouterr()
    assert run("features", tmp_path / "LiCl.cif", tmp_path / "hop.extxyz", tmp_path / "broken.cif", "--json",
               "--cache-dir", tmp_path / "c") == 1
    doc = json.loads(capsys.readouterr().out)
    recs = {r["file"].rsplit("/", 1)[-1]: r for r in doc["records"]}
    assert recs["LiCl.cif"]["ok"] and recs["LiCl.cif"]["kind"] == "structure"
    assert recs["LiCl.cif"]["n_features"] == len(recs["LiCl.cif"]["features"]) == 639
    assert recs["hop.extxyz"]["kind"] == "hop" and "length" in recs["hop.extxyz"]["features"]
    assert not recs["broken.cif"]["ok"] and recs["broken.cif"]["reason"]
    assert run("features", "--dataset", "BVEL13k", "--split", "test", "--source", "sample", "--out",
               tmp_path / "t.csv", "--json", "--cache-dir", tmp_path / "c") == 0
    rec = json.loads(capsys.readouterr().out)["records"][0]
    import pandas as pd

    table = pd.read_csv(tmp_path / "t.csv")
    assert rec["rows"] == len(table) == 4 and table.columns[0] == "material_id" and table.shape[1] == 640
    assert run("features", "--dataset", "BVEL13k", "--source", "sample") == 2


def test_compiled_geometric_median_is_the_authors():
    geometry = pytest.importorskip("ions.geometry")
    from litraj_data.leaderboard.models.features.kernels import geometric_median

    rng = np.random.default_rng(0)
    for k in range(12):
        x = rng.normal(size=(8, 3))
        y0 = x[0].copy() if k % 3 == 0 else rng.normal(size=3)  # a start on a data point: Vardi-Zhang step
        np.testing.assert_allclose(geometric_median(x, y0), geometry._geometric_median(x, y0), rtol=0, atol=1e-12)
