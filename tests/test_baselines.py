"""Baselines: the paper's feature sets on the embedded sample, grid-searched regressors, submissions, importances."""
from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from litraj_data.leaderboard.models.baselines import featurize_rows, model_names, predict_baseline, train_baseline
from litraj_data.leaderboard.scoring import get_task, read_metadata, read_submission, validate

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory):
    """One feature cache for the module: each structure is featurised once, as in a leaderboard run."""
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="module")
def hop_data():
    """The embedded sample's hops as nebDFT2k rows: em_dft a noisy copy of the BVSE barrier."""
    from litraj_data.loaders import load_litraj

    rng = np.random.default_rng(0)
    out = {}
    for split in ("train", "val", "test"):
        df = load_litraj("nebBVSE122k", split=split, source="sample").to_pandas()
        df = df[np.isfinite(df["em"].astype(float))].reset_index(drop=True)
        out[split] = df.assign(em_bvse=df["em"], em_dft=df["em"] + rng.normal(0, 0.05, len(df)),
                               has_specific_TM=df["chemsys"].str.contains("Co|Mn|V|Fe|Nb|Ta"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield out


def test_featurize_rows_and_tl_column(hop_data, tmp_path, feature_cache):
    X, names, failures = featurize_rows(hop_data["train"], "voronoi", "hop", tl_feature="em_bvse",
                                        cache_dir=feature_cache)
    assert X.shape == (len(hop_data["train"]), len(names)) and names[-1] == "em_bvse" and failures == []
    assert "length" in names and "min_dist_to_edge" in names and len(names) == 203
    np.testing.assert_allclose(X[:, -1], hop_data["train"]["em_bvse"])
    bad = hop_data["train"].iloc[:2].copy()
    bad.at[bad.index[0], "numbers"] = [z if z else 3 for z in bad.iloc[0]["numbers"]]  # no X left
    X2, _, failures = featurize_rows(bad, "voronoi", "hop", cache_dir=tmp_path)
    assert failures[0]["reason"] == "no_centroid" and failures[0]["set"] == "voronoi"
    assert np.isnan(X2[0]).all() and np.isfinite(X2[1]).all()
    # worker processes give the same matrix
    Xp, names_p, _ = featurize_rows(hop_data["train"], "voronoi", "hop", tl_feature="em_bvse", jobs=2,
                                    cache=False)
    assert names_p == names and np.array_equal(Xp, X)
    with pytest.raises(ValueError, match="feature set"):
        featurize_rows(bad, "magpie", "hop")


@pytest.mark.parametrize("model,tl", [("knn", False), ("rf", True), ("krr", False), ("svr", True), ("xgb", False)])
def test_train_predict_writes_valid_submission(hop_data, tmp_path, feature_cache, model, tl):
    if model == "xgb":
        pytest.importorskip("xgboost")
    from litraj_data.leaderboard.scoring import Truth

    task = get_task("nebDFT2k/em")
    trainval = pd.concat([hop_data["train"], hop_data["val"]], ignore_index=True)
    info = train_baseline(task.id, model, tmp_path / "m", tl=tl, rows=trainval, grid="small", cache_dir=feature_cache)
    assert info["label"].endswith("-tl") == tl and info["cv_folds"] == 5 and info["n_train"] == len(trainval)
    assert ("em_bvse" in info["features"]) == tl and info["feature_set"] == "voronoi" and info["grid"] == "small"
    assert info["label"].split("-")[0] == model.upper() and "-v" not in info["label"]  # Tables 2-3 names
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["best_params"] == info["best_params"]
    res = predict_baseline(tmp_path / "m", tmp_path / "sub" / "pred.csv", rows=hop_data["test"],
                           cache_dir=feature_cache)
    assert res["n"] == len(hop_data["test"]) and res["n_imputed"] == 0
    truth = Truth.from_tables(task, {s: df for s, df in hop_data.items()}, version=task.version)
    sub = read_submission(res["file"], task)
    meta = read_metadata(res["metadata"])
    assert meta["fine_tuned_on_litraj"] is True and meta["dataset_version"] == task.version
    assert validate(sub, truth, meta) == []
    assert np.isfinite(sub.predictions["prediction"]).all()


def test_tl_needs_a_bvse_task(tmp_path, hop_data):
    with pytest.raises(Exception, match="BVSE"):
        train_baseline("nebBVSE122k/em", "rf", tmp_path, tl=True, rows=hop_data["train"])
    with pytest.raises(Exception, match="scalar"):
        train_baseline("nebDFT2k/umlip_neb", "rf", tmp_path, rows=hop_data["train"])
    assert set(model_names()) == {"rf", "xgb", "xgbrf", "knn", "svr", "krr"}


def test_end_to_end_built_dataset(tmp_path):
    """Official-layout archive -> built dataset -> baseline train/predict -> score -> page."""
    pytest.importorskip("litraj_data.builders.from_release")
    from litraj_data.builders.from_release import import_release
    from litraj_data.leaderboard.models.baselines import cli as bcli
    from litraj_data.leaderboard.page import cli as scli
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
               "--grid", "small", "--cache-dir", tmp_path / "c", "--out", tmp_path / "m") == 0
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


def test_baseline_board_on_the_sample(tmp_path, feature_cache):
    """The README's main job: the embedded sample -> trained baseline -> scored -> leaderboard table."""
    from litraj_data.leaderboard.models.baselines import baseline_board

    res = baseline_board("sample", "nebBVSE122k/em", "knn", out_dir=tmp_path / "out", n_boot=100,
                         cache_dir=feature_cache)
    assert res["record"]["subsets"]["all"]["n"] == 8
    assert "| KNN baseline" in res["markdown"] and "reported, not rerun (Table 2)" in res["markdown"]
    saved = json.loads(open(res["files"]["record"]).read())
    assert saved["subsets"]["all"]["mae"] == res["record"]["subsets"]["all"]["mae"]


def test_synthetic_layout_archives_have_no_hops_to_featurise(tmp_path):
    """The layout fixtures of litraj_data.testing put X between Li and an anion: a clear error, not a model."""
    pytest.importorskip("litraj_data.builders.from_release")
    from litraj_data.builders.from_release import import_release
    from litraj_data.errors import DataFormatError
    from litraj_data.testing import write_release

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = write_release("nebBVSE122k", tmp_path / "rel", {"train": 6, "val": 2, "test": 2}, seed=2)
        built = import_release("nebBVSE122k", archive, tmp_path / "built", progress=False)
        with pytest.raises(DataFormatError, match="no_hop|no Li pair") as exc:
            train_baseline("nebBVSE122k/em", "knn", tmp_path / "m", source=str(built), grid="small",
                           cache_dir=tmp_path / "c")
    assert exc.value.reason == "no_features"


def test_model_folders_are_loaded_without_unpickling(hop_data, tmp_path, feature_cache):
    """Models are saved with skops; a pickle (which can run code) needs an explicit --trust."""
    import pickle

    from litraj_data.leaderboard.models.baselines.persist import UntrustedModelError, load_model

    pytest.importorskip("skops")
    task = get_task("nebDFT2k/em")
    trainval = pd.concat([hop_data["train"], hop_data["val"]], ignore_index=True)
    train_baseline(task.id, "rf", tmp_path / "m", rows=trainval, grid="small", cache_dir=feature_cache)
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
        predict_baseline(evil, tmp_path / "p.csv", rows=hop_data["test"], cache_dir=feature_cache)
    assert not (tmp_path / "pwned").exists()
    with pytest.warns(UserWarning, match="unpickling"):
        load_model(evil, trust=True)
    assert (tmp_path / "pwned").exists()  # --trust really is trust


def test_a_skops_file_asking_for_foreign_types_is_refused(tmp_path):
    import os

    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from litraj_data.leaderboard.models.baselines.persist import MODEL_FILE, UntrustedModelError, load_model

    (tmp_path / MODEL_FILE).write_bytes(sio.dumps(Pipeline([("f", FunctionTransformer(os.system))])))
    with pytest.raises(UntrustedModelError, match="system"):
        load_model(tmp_path)


def _cli():
    from litraj_data.leaderboard.models.baselines import cli as bcli
    from litraj_data.leaderboard.page import cli as scli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="c", required=True)
    scli.register(sub)
    bcli.register(sub)

    def run(*argv):
        args = parser.parse_args([str(a) for a in argv])
        return args.func(args)

    return run


@pytest.mark.parametrize("features,model", [("voronoi", "svr"), pytest.param("ward", "rf", marks=pytest.mark.slow),
                                            pytest.param("both", "krr", marks=pytest.mark.slow)])
def test_structure_baseline_on_the_sample_is_scored(tmp_path, feature_cache, capsys, features, model):
    """BVEL13k/E_1D on the embedded sample: train (grouped 5-fold, small grid), predict test, score."""
    if features != "voronoi":
        pytest.importorskip("matminer")
    run = _cli()
    assert run("baseline", "train", "--task", "BVEL13k/E_1D", "--model", model, "--features", features, "--grid",
               "small", "--source", "sample", "--cache-dir", feature_cache, "--out", tmp_path / "m", "--json") == 0
    rec = json.loads(capsys.readouterr().out)["records"][0]
    suffix = {"voronoi": "-v", "ward": "-w", "both": "-vw"}[features]
    assert rec["label"] == model.upper() + suffix and rec["cv_folds"] == 5 and rec["n_train"] == 17
    info = json.loads((tmp_path / "m" / "model.json").read_text())
    n_v, n_w = 639, 273
    assert len(info["features"]) == {"voronoi": n_v, "ward": n_w, "both": n_v + n_w}[features]
    assert run("baseline", "predict", "--model-dir", tmp_path / "m", "--source", "sample", "--cache-dir",
               feature_cache, "--out", tmp_path / "s" / "p.csv") == 0
    sub = pd.read_csv(tmp_path / "s" / "p.csv")
    assert list(sub.columns) == ["material_id", "prediction"] and len(sub) == 4
    assert run("score", tmp_path / "s" / "p.csv", "--task", "BVEL13k/E_1D", "--source", "sample", "--metadata",
               tmp_path / "s" / "p.metadata.yaml", "--out", tmp_path / "r.json", "--bootstrap", "50") == 0
    scored = json.loads((tmp_path / "r.json").read_text())
    assert scored["subsets"]["all"]["n"] == 4 and np.isfinite(scored["subsets"]["all"]["mae"])


def test_ward_baseline_on_small_crystals(tmp_path, feature_cache):
    """The -w set end to end on the sample's smallest crystals (matminer's Voronoi sites are slow)."""
    pytest.importorskip("matminer")
    from litraj_data.leaderboard.models.baselines.train import load_rows

    task = get_task("BVEL13k/E_1D")
    rows = load_rows(task, ("train", "val", "test"), source="sample")
    small = rows[rows["numbers"].map(len) <= 8]
    train, test = small[small["split"] != "test"], small[small["split"] == "test"]
    assert len(train) >= 4 and len(test) >= 1
    info = train_baseline(task.id, "knn", tmp_path / "m", features="ward", rows=train, grid="small",
                          cache_dir=feature_cache)
    assert info["label"] == "KNN-w" and "mean CN_VoronoiNN" in info["features"] and len(info["features"]) == 273
    res = predict_baseline(tmp_path / "m", tmp_path / "p.csv", rows=test, cache_dir=feature_cache)
    pred = pd.read_csv(res["file"])
    assert len(pred) == len(test) and np.isfinite(pred["prediction"]).all() and res["n_imputed"] == 0


def test_importance_ranks_the_feature_that_sets_the_target():
    from litraj_data.leaderboard.models.baselines.importance import importances
    from litraj_data.leaderboard.models.baselines.models import make_search

    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 6))
    y = 0.8 * X[:, 2] + rng.normal(0, 0.02, 90)
    groups = np.repeat(np.arange(30), 3).astype(str)
    names = [f"f{i}" for i in range(6)]
    for model in ("rf", "knn"):
        search, _ = make_search(model, 60, groups[:60], grid="small")
        search.fit(X[:60], y[:60], groups=groups[:60])
        res = importances(search.best_estimator_, names, X[:60], y[:60], X[60:], y[60:], groups[:60],
                          repeats=3, max_features=4)
        assert res["impurity_source"] == ("model" if model == "rf" else "random_forest")
        for key in ("impurity", "permutation"):
            ranked = [i["feature"] for i in res[key]]
            vals = [i["importance"] for i in res[key]]
            assert ranked[0] == "f2" and sorted(ranked) == names and vals == sorted(vals, reverse=True), key
        curve = res["impurity_order_curve"]
        assert [c["n_features"] for c in curve] == [1, 2, 3, 4] and curve[0]["feature"] == "f2"
        assert curve[0]["cv_mae"] < 0.5 * np.mean(np.abs(y - y.mean()))  # beats the mean predictor


def test_importance_command_writes_json_and_plot(tmp_path, feature_cache, capsys):
    run = _cli()
    assert run("baseline", "train", "--task", "BVEL13k/E_1D", "--model", "knn", "--grid", "small", "--source",
               "sample", "--cache-dir", feature_cache, "--out", tmp_path / "m") == 0
    capsys.readouterr()
    assert run("baseline", "importance", "--model-dir", tmp_path / "m", "--source", "sample", "--cache-dir",
               feature_cache, "--max-features", "5", "--repeats", "2", "--plot", tmp_path / "imp.png", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    rec = doc["records"][0]
    assert rec["file"] == str(tmp_path / "m") and rec["n_eval"] == 4 and len(rec["impurity"]) == 639
    assert len(rec["impurity_order_curve"]) == 5
    assert (tmp_path / "imp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run("baseline", "importance", "--model-dir", tmp_path / "nope") == 2
    assert "no such file" in capsys.readouterr().err
