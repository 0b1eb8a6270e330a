"""Baselines: descriptors on known crystals, grid-searched regressors, submissions they write."""
from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from ase import Atoms
from ase.build import bulk

from litraj_data.errors import StructureError
from litraj_data.leaderboard.baselines import (featurize_row, featurize_rows, model_names, predict_baseline,
                                               train_baseline)
from litraj_data.leaderboard.scoring import get_task, read_metadata, read_submission, validate

pytest.importorskip("sklearn")


def _row(atoms: Atoms) -> dict:
    return {"numbers": atoms.numbers.tolist(), "positions": atoms.positions.tolist(), "cell": atoms.cell[:].tolist()}


def _antifluorite(anion: str = "O", a: float = 4.61) -> Atoms:
    atoms = bulk(anion + "Li", "zincblende", a=a, cubic=True)
    extra = atoms[[k for k, s in enumerate(atoms.get_chemical_symbols()) if s == "Li"]].copy()
    extra.positions += a / 2
    atoms += extra
    atoms.wrap()
    return atoms


def _hop(atoms: Atoms, repeat=(2, 2, 2), which: int = 1) -> tuple[Atoms, float]:
    """Supercell with X at the midpoint of Li 0 and its ``which``-th nearest Li; returns hop length."""
    sc = atoms.repeat(repeat)
    li = [i for i, z in enumerate(sc.numbers) if z == 3]
    d = sc.get_distances(li[0], li, mic=True)
    j = li[int(np.argsort(d)[which])]
    v = sc.get_distance(li[0], j, mic=True, vector=True)
    sc += Atoms("X", positions=[sc.positions[li[0]] + v / 2])
    return sc, float(np.linalg.norm(v))


def test_li_site_features_known_coordination():
    rs = featurize_row(_row(bulk("LiF", "rocksalt", a=4.03, cubic=True)), "li_sites")
    assert rs["li_cn_mean"] == 6 and rs["li_d_mean_mean"] == pytest.approx(4.03 / 2)
    assert rs["li_li_min_min"] == pytest.approx(4.03 / np.sqrt(2))
    assert rs["li_anion_nb_fraction_mean"] == 1.0 and rs["li_voronoi_nb_mean"] == 6 and rs["li_fraction"] == 0.5
    af = featurize_row(_row(_antifluorite()), "li_sites")
    assert af["li_cn_mean"] == 4  # tetrahedral Li in antifluorite Li2O
    assert af["li_voronoi_nb_mean"] == 10  # + 6 Li across the faces of its Voronoi cube
    assert af["li_d_mean_mean"] == pytest.approx(4.61 * np.sqrt(3) / 4)
    assert af["li_fraction"] == pytest.approx(2 / 3)


def test_hop_features_geometry():
    sc, length = _hop(_antifluorite())
    f = featurize_row(_row(sc), "hop")
    assert f["hop_length"] == pytest.approx(length)
    assert f["x_li_d1"] == pytest.approx(length / 2)
    # the bottleneck is the distance to the nearest O minus the O atomic radius (0.6 A in pymatgen)
    o_idx = [k for k, z in enumerate(sc.numbers) if z == 8]
    nearest_o = float(np.min(sc.get_distances(len(sc) - 1, o_idx, mic=True)))
    assert f["x_anion_d1"] == pytest.approx(nearest_o)
    assert f["bottleneck"] == pytest.approx(nearest_o - 0.6)
    # a longer hop has a longer hop_length
    sc2, length2 = _hop(_antifluorite(), which=7)
    assert featurize_row(_row(sc2), "hop")["hop_length"] == pytest.approx(length2) and length2 > length


def test_descriptor_errors_name_the_reason():
    with pytest.raises(StructureError) as exc:
        featurize_row(_row(bulk("NaCl", "rocksalt", a=5.6, cubic=True)), "li_sites")
    assert exc.value.reason == "no_mobile_ion"
    with pytest.raises(StructureError) as exc:
        featurize_row(_row(bulk("LiF", "rocksalt", a=4.03, cubic=True)), "hop")
    assert exc.value.reason == "read_error"
    with pytest.raises(ValueError, match="feature set"):
        featurize_row(_row(bulk("LiF", "rocksalt", a=4.03, cubic=True)), "nope")


def _hop_rows(n: int, split: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a = rng.uniform(4.4, 5.0)
        base = _antifluorite("O" if i % 2 else "S", a=a if i % 2 else a + 1.0)
        base.positions += rng.normal(0, 0.03, base.positions.shape)
        sc, length = _hop(base, repeat=(2, 2, 2), which=1 + (i % 3))
        em = 0.4 * length - 0.6 + rng.normal(0, 0.02)  # longer hops, higher barriers
        rows.append({"edge_id": f"mp-{split}{i}_0_1_0_0_0", "material_id": f"mp-{split}{i // 2}",
                     "em_dft": em, "em_bvse": em + rng.normal(0, 0.05), "has_specific_TM": bool(i % 3 == 0),
                     **_row(sc)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def hop_data():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"train": _hop_rows(16, "train", 0), "val": _hop_rows(4, "val", 1), "test": _hop_rows(6, "test", 2)}


def test_featurize_rows_and_tl_column(hop_data):
    X, names, failures = featurize_rows(hop_data["train"], "hop", tl_feature="em_bvse")
    assert X.shape == (16, len(names)) and names[-1] == "em_bvse" and failures == []
    np.testing.assert_allclose(X[:, -1], hop_data["train"]["em_bvse"])
    bad = hop_data["train"].iloc[:2].copy()
    bad.at[bad.index[0], "numbers"] = [z if z else 3 for z in bad.iloc[0]["numbers"]]  # no X left
    X2, _, failures = featurize_rows(bad, "hop")
    assert failures[0]["reason"] == "read_error" and np.isnan(X2[0]).all() and np.isfinite(X2[1]).any()
    # worker processes give the same matrix
    Xp, names_p, _ = featurize_rows(hop_data["train"], "hop", tl_feature="em_bvse", jobs=2)
    assert names_p == names and np.array_equal(Xp, X)


@pytest.mark.parametrize("model,tl", [("knn", False), ("rf", True), ("krr", False), ("svr", True), ("xgb", False)])
def test_train_predict_writes_valid_submission(hop_data, tmp_path, model, tl):
    if model == "xgb":
        pytest.importorskip("xgboost")
    from litraj_data.leaderboard.scoring import Truth

    task = get_task("nebDFT2k/em")
    trainval = pd.concat([hop_data["train"], hop_data["val"]], ignore_index=True)
    info = train_baseline(task.id, model, tmp_path / "m", tl=tl, rows=trainval)
    assert info["label"].endswith("-tl") == tl and info["cv_folds"] == 5 and info["n_train"] == 20
    assert ("em_bvse" in info["features"]) == tl
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["best_params"] == info["best_params"]
    res = predict_baseline(tmp_path / "m", tmp_path / "sub" / "pred.csv", rows=hop_data["test"])
    assert res["n"] == 6
    truth = Truth.from_tables(task, {s: df for s, df in hop_data.items()}, version=task.version)
    sub = read_submission(res["file"], task)
    meta = read_metadata(res["metadata"])
    assert meta["fine_tuned_on_litraj"] is True and meta["dataset_version"] == task.version
    assert validate(sub, truth, meta) == []
    assert np.isfinite(sub.predictions["prediction"]).all()


def test_tl_needs_a_bvse_task(tmp_path, hop_data):
    with pytest.raises(Exception, match="BVSE"):
        train_baseline("nebBVSE122k/em", "rf", tmp_path, tl=True, rows=hop_data["train"].rename(columns={"em_dft": "em"}))
    with pytest.raises(Exception, match="scalar"):
        train_baseline("nebDFT2k/umlip_neb", "rf", tmp_path, rows=hop_data["train"])
    assert set(model_names()) == {"rf", "xgb", "xgbrf", "knn", "svr", "krr"}


def test_end_to_end_built_dataset(tmp_path):
    """Official-layout archive -> built dataset -> baseline train/predict -> score -> page."""
    pytest.importorskip("litraj_data.builders.from_release")
    from litraj_data.builders.from_release import import_release
    from litraj_data.leaderboard.baselines import cli as bcli
    from litraj_data.leaderboard.scoring import cli as scli
    from litraj_data.testing import write_release

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = write_release("nebDFT2k", tmp_path / "rel", {"train": 10, "val": 3, "test": 4}, seed=3)
        built = import_release("nebDFT2k", archive, tmp_path / "built", progress=False)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="c", required=True)
    scli.register(sub)
    bcli.register(sub)

    def run(*argv):
        args = parser.parse_args([str(a) for a in argv])
        return args.func(args)

    src = built
    assert run("baseline", "train", "--task", "nebDFT2k/em", "--model", "knn", "--tl", "--source", src,
               "--out", tmp_path / "m") == 0
    assert run("baseline", "predict", "--model-dir", tmp_path / "m", "--source", src, "--out",
               tmp_path / "s" / "knn.csv") == 0
    assert run("submit", "validate", tmp_path / "s" / "knn.csv", "--task", "nebDFT2k/em", "--source", src,
               "--metadata", tmp_path / "s" / "knn.metadata.yaml") == 0
    assert run("score", tmp_path / "s" / "knn.csv", "--task", "nebDFT2k/em", "--source", src, "--metadata",
               tmp_path / "s" / "knn.metadata.yaml", "--out", tmp_path / "r" / "knn.json", "--bootstrap", "100") == 0
    rec = json.loads((tmp_path / "r" / "knn.json").read_text())
    assert rec["subsets"]["all"]["n"] == 4 and rec["dataset_version"] == "1.0.0"
    assert run("leaderboard", "render", "--html", tmp_path / "site", "--submissions", tmp_path / "r") == 0
    assert "KNN-tl baseline" in (tmp_path / "site" / "index.html").read_text()
    # the truth from the built dataset recognises predictions made on the wrong split
    task = get_task("nebDFT2k/em")
    truth = task.load_truth(source=str(src))
    assert truth.version == "1.0.0" and set(truth.other_split_ids) == {"train", "val"}


def test_baseline_board_on_built_dataset(tmp_path):
    """The README's main job: a built dataset -> trained baseline -> scored -> leaderboard table."""
    pytest.importorskip("litraj_data.builders.from_release")
    from litraj_data.builders.from_release import import_release
    from litraj_data.leaderboard.baselines import baseline_board
    from litraj_data.testing import write_release

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = write_release("nebBVSE122k", tmp_path / "rel", {"train": 12, "val": 3, "test": 5}, seed=2)
        built = import_release("nebBVSE122k", archive, tmp_path / "built", progress=False)
        res = baseline_board(str(built), "nebBVSE122k/em", "knn", out_dir=tmp_path / "out", n_boot=100)
    assert res["record"]["subsets"]["all"]["n"] == 5
    assert "| KNN baseline" in res["markdown"] and "reported, not rerun (Table 2)" in res["markdown"]
    saved = json.loads(open(res["files"]["record"]).read())
    assert saved["subsets"]["all"]["mae"] == res["record"]["subsets"]["all"]["mae"]


def test_model_folders_are_loaded_without_unpickling(hop_data, tmp_path):
    """Models are saved with skops; a pickle (which can run code) needs an explicit --trust."""
    import pickle

    from litraj_data.leaderboard.baselines.persist import UntrustedModelError, load_model

    pytest.importorskip("skops")
    task = get_task("nebDFT2k/em")
    trainval = pd.concat([hop_data["train"], hop_data["val"]], ignore_index=True)
    train_baseline(task.id, "rf", tmp_path / "m", rows=trainval)
    assert (tmp_path / "m" / "model.skops").is_file() and not (tmp_path / "m" / "model.joblib").exists()
    assert hasattr(load_model(tmp_path / "m"), "predict")

    class Payload:  # what a hostile shared folder would hold: unpickling runs os.system
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "model.json").write_text((tmp_path / "m" / "model.json").read_text())
    (evil / "model.joblib").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(UntrustedModelError, match="is a pickle"):
        predict_baseline(evil, tmp_path / "p.csv", rows=hop_data["test"])
    assert not (tmp_path / "pwned").exists()
    with pytest.warns(UserWarning, match="unpickling"):
        load_model(evil, trust=True)
    assert (tmp_path / "pwned").exists()  # --trust really is trust


def test_a_skops_file_asking_for_foreign_types_is_refused(tmp_path):
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from litraj_data.leaderboard.baselines.persist import MODEL_FILE, UntrustedModelError, load_model

    import os

    (tmp_path / MODEL_FILE).write_bytes(sio.dumps(Pipeline([("f", FunctionTransformer(os.system))])))
    with pytest.raises(UntrustedModelError, match="system"):
        load_model(tmp_path)
