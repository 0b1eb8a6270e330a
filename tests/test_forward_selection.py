"""Greedy forward selection with KNN on negative MSE (the paper's Fig. 1g): `litraj baseline select`."""
from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from litraj_data.leaderboard.models.baselines.importance import (  # noqa: E402
    forward_selection,
    knn_pipeline,
    model_forward_selection,
    selection_folds,
)


def synthetic(n: int = 150, p: int = 12, seed: int = 3):
    """Three informative columns of decreasing weight (5, 2, 9) among noise; groups of three rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = 1.0 * X[:, 5] + 0.6 * X[:, 2] + 0.3 * X[:, 9] + rng.normal(0, 0.03, n)
    groups = np.repeat(np.arange(n // 3), 3).astype(str)
    return X, y, groups


def test_informative_features_come_first_and_curve_levels_off():
    X, y, groups = synthetic()
    res = forward_selection(X, y, groups, max_features=8, n_neighbors=5)
    curve = res["curve"]
    assert [c["n_features"] for c in curve] == list(range(1, 9))
    assert [c["added"] for c in curve[:3]] == [5, 2, 9]          # in the order of their weights
    mse = [c["cv_mse"] for c in curve]
    # the curve falls while informative columns are added, then rises on noise columns (KNN
    # distances get diluted): "monotone-ish" = falling to its minimum, then never far below it
    assert mse[0] > mse[1] > mse[2] and int(np.argmin(mse)) == 2
    assert all(m >= mse[2] for m in mse[3:])
    assert res["selected"] == [5, 2, 9] and res["n_selected"] == 3
    assert curve[2]["cv_rmse"] == pytest.approx(np.sqrt(curve[2]["cv_mse"]))
    assert curve[2]["cv_mae"] < 0.5 * np.mean(np.abs(y - y.mean()))
    # a tolerance of 100 % takes the first prefix within 2x the lowest MSE: fewer features
    loose = forward_selection(X, y, groups, max_features=8, tolerance=1.0)
    assert loose["n_selected"] < 3 and loose["selected"] == [5, 2, 9][:loose["n_selected"]]


def test_same_choice_and_scores_as_scikit_learn():
    """The loop's per-step scores are cross_val_score's; its choices are SequentialFeatureSelector's."""
    from sklearn.feature_selection import SequentialFeatureSelector
    from sklearn.model_selection import cross_val_score

    X, y, groups = synthetic(n=90, p=11, seed=5)
    folds = selection_folds(y, groups)
    Xn = X.copy()
    Xn[::7, 3] = np.nan  # imputation happens inside each fold in both
    res = forward_selection(Xn, y, groups, max_features=4, n_neighbors=4)
    for step in res["curve"]:
        cols = [c["added"] for c in res["curve"][:step["n_features"]]]
        ref = cross_val_score(knn_pipeline(4), Xn[:, cols], y, cv=folds, scoring="neg_mean_squared_error")
        assert step["cv_mse"] == pytest.approx(-ref.mean(), rel=1e-10)
    # SequentialFeatureSelector refuses NaN even with an imputing pipeline: compare on complete data
    res = forward_selection(X, y, groups, max_features=4, n_neighbors=4)
    for n in (2, 4):
        sfs = SequentialFeatureSelector(knn_pipeline(4), n_features_to_select=n, direction="forward",
                                        scoring="neg_mean_squared_error", cv=folds).fit(X, y)
        assert sorted(np.flatnonzero(sfs.get_support()).tolist()) == sorted(c["added"] for c in res["curve"][:n])


def test_bad_arguments_are_named():
    X, y, groups = synthetic(n=30, p=10)
    with pytest.raises(ValueError, match="max_features"):
        forward_selection(X, y, groups, max_features=0)
    with pytest.raises(ValueError, match="tolerance"):
        forward_selection(X, y, groups, tolerance=-0.1)
    with pytest.raises(ValueError, match="one row per target"):
        forward_selection(X, y[:-1], groups)


def _cli():
    from litraj_data.leaderboard.models.baselines import cli as bcli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="c", required=True)
    bcli.register(sub)

    def run(*argv):
        args = parser.parse_args([str(a) for a in argv])
        return args.func(args)

    return run


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A `baseline train` folder on the sample whose target is set by one known feature column."""
    tmp_path = tmp_path_factory.mktemp("planted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"dir": tmp_path, **_planted_model(tmp_path)}


def _planted_model(tmp_path):
    from litraj_data.leaderboard.models.baselines import train_baseline
    from litraj_data.leaderboard.models.baselines.train import featurize_rows, load_rows
    from litraj_data.leaderboard.scoring import get_task

    task = get_task("BVEL13k/E_1D")
    rows = load_rows(task, ("train", "val", "test"), source="sample")
    X, names, _ = featurize_rows(rows, "voronoi", "structure", cache_dir=tmp_path / "cache")
    finite = [j for j in range(X.shape[1]) if np.isfinite(X[:, j]).all() and np.std(X[:, j]) > 0]
    a = finite[len(finite) // 3]
    z = (X[:, a] - X[:, a].mean()) / X[:, a].std()
    rows["E_1D"] = 0.5 + 0.3 * z
    train = (rows["split"] != "test").to_numpy()
    train_baseline(task.id, "knn", tmp_path / "m", rows=rows[train], grid="small", cache_dir=tmp_path / "cache")
    return {"feature": names[a], "test": rows[~train], "X": X[train], "names": names, "a": a}


def _proxy(planted, feature: str) -> float:
    """|Pearson r| over the training rows between a feature and the planted one (1 for itself)."""
    X, j = planted["X"], planted["names"].index(feature)
    if np.std(X[:, j]) == 0 or not np.isfinite(X[:, j]).all():
        return 0.0
    return abs(float(np.corrcoef(X[:, j], X[:, planted["a"]])[0, 1]))


def test_model_forward_selection_on_sample_with_planted_target(planted):
    """On ~17 training crystals many descriptors are near-copies of each other: the first pick is the
    planted column or a near-perfect proxy of it, and the refit beats using every column."""
    tmp_path, test = planted["dir"], planted["test"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model_forward_selection(str(tmp_path / "m"), rows=test, cache_dir=tmp_path / "cache", max_features=4,
                                      n_neighbors=3)
    assert _proxy(planted, res["curve"][0]["feature"]) >= 0.9, res["curve"][0]
    assert res["n_candidates"] == 639 and res["scoring"] == "neg_mean_squared_error"
    assert [c["n_features"] for c in res["curve"]] == [1, 2, 3, 4]
    refit = res["refit"]
    assert refit["n"] == len(test) and np.isfinite([refit["mae"], refit["rmse"]]).all()
    assert refit["rmse"] >= refit["mae"]
    # the selected subset predicts the planted target better than all 639 columns do
    assert refit["mae"] < res["all_features"]["mae"]


def test_select_command_json_plot_and_bad_folder(planted, capsys):
    tmp_path = planted["dir"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = _cli()
        assert run("baseline", "select", "--model-dir", tmp_path / "m", "--source", "sample", "--cache-dir",
                   tmp_path / "cache", "--max-features", "3", "--neighbors", "2", "--plot", tmp_path / "sfs.png",
                   "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    rec = doc["records"][0]
    assert rec["file"] == str(tmp_path / "m") and len(rec["curve"]) == 3
    assert _proxy(planted, rec["curve"][0]["feature"]) >= 0.9
    assert set(rec["refit"]) == {"mae", "rmse", "r2", "n"} and rec["refit"]["n"] == rec["n_eval"]
    assert (tmp_path / "sfs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run("baseline", "select", "--model-dir", tmp_path / "nope") == 2
    assert "no such file" in capsys.readouterr().err
    assert run("baseline", "select", "--model-dir", tmp_path / "m", "--source", "sample", "--cache-dir",
               tmp_path / "cache", "--max-features", "0") == 2
    assert "max_features" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()
