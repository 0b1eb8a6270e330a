"""Tests of leaderboard scoring: metrics, bootstrap, tasks, validation errors, scoring, CLI."""
from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pandas as pd
import pytest
from test_scoring_support import band_truth, predictions_for, scalar_truth, write_band_files, write_metadata

from litraj_data.leaderboard.scoring import (
    bootstrap_ci,
    get_task,
    list_tasks,
    pa_mae,
    read_submission,
    reference_rows,
    regression_metrics,
    score_submission,
    screening_metrics,
    validate,
)
from litraj_data.leaderboard.scoring.metrics import minimum_image_distances, roc_auc
from litraj_data.leaderboard.scoring.submission import SubmissionInvalid, check_submission, read_metadata

# ------------------------------------------------------------------ metrics

def test_metrics_hand_checkable():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    yhat = np.array([1.5, 2.0, 2.5, 5.0])
    m = regression_metrics(y, yhat)
    assert m["n"] == 4
    assert m["mae"] == pytest.approx((0.5 + 0 + 0.5 + 1.0) / 4)
    assert m["rmse"] == pytest.approx(math.sqrt((0.25 + 0 + 0.25 + 1.0) / 4))
    assert m["r2"] == pytest.approx(1 - 1.5 / 5.0)  # TSS of 1..4 is 5
    # least squares of yhat on y: slope = Sxy / Sxx = (3.5*... ) computed by hand: Sxy = 5.5, Sxx = 5
    assert m["slope"] == pytest.approx(5.5 / 5.0)
    syy = np.sum((yhat - yhat.mean()) ** 2)
    assert m["rp"] == pytest.approx(5.5 / math.sqrt(5.0 * syy))


def test_perfect_and_constant_predictions():
    y = np.array([0.2, 0.4, 0.9])
    m = regression_metrics(y, y)
    assert m["mae"] == 0 and m["rmse"] == 0 and m["r2"] == 1 and m["slope"] == pytest.approx(1)
    c = regression_metrics(np.ones(3), np.array([1.0, 2.0, 3.0]))
    assert c["r2"] is None and c["rp"] is None and c["slope"] is None  # undefined, not NaN
    with pytest.raises(ValueError):
        regression_metrics([1.0, 2.0], [1.0])


def test_minimum_image_and_pa_mae():
    cell = np.diag([10.0, 10.0, 10.0])
    a = np.array([[0.5, 0.0, 0.0]])
    b = np.array([[9.5, 0.0, 0.0]])
    assert minimum_image_distances(a, b, cell)[0] == pytest.approx(1.0)
    assert minimum_image_distances(a, b, cell, pbc=(False, False, False))[0] == pytest.approx(9.0)
    # a skewed cell where naive wrapping of fractional coordinates is not the minimum image
    skew = np.array([[4.0, 0.0, 0.0], [3.6, 1.0, 0.0], [0.0, 0.0, 5.0]])
    p = np.array([[0.0, 0.0, 0.0]])
    q = np.array([[0.4, 1.0, 0.0]])  # = (3.6,1,0) - (4,0,0) + (0.8, 0, 0)... direct distance
    d = minimum_image_distances(p, q, skew)[0]
    brute = min(np.linalg.norm(q[0] + i * skew[0] + j * skew[1] + k * skew[2])
                for i in range(-3, 4) for j in range(-3, 4) for k in range(-3, 4))
    assert d == pytest.approx(brute)
    band = np.zeros((2, 2, 3))
    moved = band.copy()
    moved[0, 0, 0] = 9.8  # 0.2 A across the boundary
    moved[1, 1, 1] = 0.4
    assert pa_mae(band, moved, cell) == pytest.approx(((0.2 + 0) / 2 + (0 + 0.4) / 2) / 2)


def test_screening_metrics():
    y = np.array([0.1, 0.3, 0.6, 0.9])
    yhat = np.array([0.2, 0.7, 0.4, 1.0])
    s = screening_metrics(y, yhat, threshold=0.5)
    assert s["n_fast_true"] == 2 and s["n_fast_pred"] == 2 and s["tp"] == 1
    assert s["precision"] == 0.5 and s["recall"] == 0.5
    # fast = {0,1}; scores -yhat: -0.2, -0.7, -0.4, -1.0 -> positive pairs won: (0 vs 2,3), (1 vs 3) = 3/4
    assert s["roc_auc"] == pytest.approx(0.75)
    assert roc_auc([True, True], [0.1, 0.2]) is None


def test_roc_auc_matches_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.random(50) < 0.4
    scores = np.round(rng.normal(size=50), 1)  # ties on purpose
    assert roc_auc(labels, scores) == pytest.approx(sk.roc_auc_score(labels, scores))


def test_bootstrap_reproducible_and_covers():
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 2, 200)
    yhat = y + rng.normal(0, 0.2, 200)
    a = bootstrap_ci(y, yhat, n_boot=300, seed=7)
    b = bootstrap_ci(y, yhat, n_boot=300, seed=7)
    c = bootstrap_ci(y, yhat, n_boot=300, seed=8)
    assert a == b
    assert a != c
    point = regression_metrics(y, yhat)
    for k in ("mae", "rmse", "r2", "rp", "slope"):
        assert a[k][0] <= point[k] <= a[k][1], k
    assert bootstrap_ci(np.ones(5), np.arange(5.0), n_boot=50)["r2"] is None
    # the batching that bounds memory does not change the intervals
    assert bootstrap_ci(y, yhat, n_boot=300, seed=7, chunk=13) == a


@pytest.mark.peers
def test_identical_to_litraj_get_metrics():
    litraj_metrics = pytest.importorskip("litraj.metrics")
    rng = np.random.default_rng(11)
    for n in (2, 7, 220, 1317):
        y = rng.uniform(0, 3, n)
        yhat = y + rng.normal(0, 0.3, n)
        ours = regression_metrics(y, yhat)
        theirs = litraj_metrics.get_metrics(y, yhat)
        # bit-identical, not merely close: same formulas, same numpy reductions, same linregress
        assert (ours["mae"], ours["rmse"], ours["r2"], ours["rp"], ours["slope"]) == (
            theirs["mae"], theirs["rmse"], theirs["R2"], theirs["Rp"], theirs["slope"])


@pytest.mark.peers
def test_pa_mae_identical_to_litraj():
    litraj_metrics = pytest.importorskip("litraj.metrics")
    from ase import Atoms

    rng = np.random.default_rng(4)
    cell = np.array([[8.0, 0, 0], [1.5, 8.2, 0], [0.3, 0.4, 9.0]])
    true = rng.uniform(0, 8, (5, 6, 3))
    pred = true + rng.normal(0, 0.5, true.shape)
    pred[:, 0] += cell[0]  # a whole lattice vector away: zero under PBC
    ta = [Atoms("Li6", positions=p, cell=cell, pbc=True) for p in true]
    pa = [Atoms("Li6", positions=p, cell=cell, pbc=True) for p in pred]
    assert pa_mae(true, pred, cell) == pytest.approx(litraj_metrics.PA_MAE(ta, pa), rel=1e-10)


# ------------------------------------------------------------------ tasks and reference rows

def test_tasks_registry():
    ids = list_tasks()
    for t in ("BVEL13k/E_1D", "BVEL13k/E_2D", "BVEL13k/E_3D", "nebBVSE122k/em", "nebDFT2k/em",
              "nebDFT2k/umlip_neb", "MPLiTrj/efs"):
        assert t in ids
    t = get_task("nebdft2k/em")
    assert t.target == "em_dft" and t.id_column == "edge_id" and t.split == "test"
    assert t.subsets == ("all", "w/o TM", "with TM")
    with pytest.raises(KeyError, match="Did you mean"):
        get_task("nebDFT2k/emm")


def test_tasks_yaml_unknown_key_names_file_and_key(tmp_path):
    from importlib import resources

    import yaml

    from litraj_data.errors import DataFormatError
    from litraj_data.leaderboard.scoring.tasks import load_tasks_file

    shipped = resources.files("litraj_data.leaderboard.scoring").joinpath("tasks.yaml").read_text()
    raw = yaml.safe_load(shipped)
    good = tmp_path / "tasks.yaml"
    good.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert list(load_tasks_file(good)) == list_tasks()
    raw["tasks"]["nebDFT2k/umlip_neb"]["drop_failed"] = True  # the key that was parsed and never used
    bad = tmp_path / "bad_tasks.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(DataFormatError, match=r"bad_tasks\.yaml: unknown key 'drop_failed'") as exc:
        load_tasks_file(bad)
    assert "nebDFT2k/umlip_neb" in str(exc.value) and exc.value.reason == "bad_format"
    raw["tasks"]["nebDFT2k/umlip_neb"].pop("drop_failed")
    raw["tasks"]["nebDFT2k/umlip_neb"]["kind"] = "vectors"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(DataFormatError, match="kind"):
        load_tasks_file(bad)


def test_reference_rows_marked_and_cited():
    rows = reference_rows(get_task("nebDFT2k/em"))
    assert len(rows) == 12
    assert all(r["status"] == "reported, not rerun" and r["doi"] == "10.1038/s41524-025-01571-z" for r in rows)
    rf_tl = next(r for r in rows if r["model"] == "RF-tl")
    assert (rf_tl["mae"], rf_tl["rmse"], rf_tl["r2"], rf_tl["table"]) == (0.25, 0.38, 0.80, "Table 3")
    neb = reference_rows(get_task("nebDFT2k/umlip_neb"))
    assert {r["subset"] for r in neb} == {"w/o TM", "with TM", "all"}
    assert next(r for r in neb if r["model"] == "MACE" and r["subset"] == "w/o TM")["n"] == 761
    assert reference_rows(get_task("MPLiTrj/efs")) == []
    assert all(r["subset"] == "all" for r in reference_rows(get_task("BVEL13k/E_3D")))


# ------------------------------------------------------------------ validation errors

def _scalar_sub(tmp_path, df, task="nebDFT2k/em", suffix=".csv"):
    path = tmp_path / f"pred{suffix}"
    if suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return read_submission(path, get_task(task))


def _reasons(issues):
    return {i.reason for i in issues}


def test_valid_submission_has_no_issues(tmp_path):
    truth = scalar_truth()
    sub = _scalar_sub(tmp_path, predictions_for(truth), suffix=".parquet")
    assert validate(sub, truth) == []


def test_missing_ids_counted_with_first_few(tmp_path):
    truth = scalar_truth(n_test=12)
    issues = validate(_scalar_sub(tmp_path, predictions_for(truth).iloc[:4]), truth)
    miss = next(i for i in issues if i.reason == "missing_ids")
    assert miss.details["count"] == 8 and len(miss.details["first"]) == 5
    assert "8 of 12" in miss.message


def test_duplicate_extra_and_wrong_split_ids(tmp_path):
    truth = scalar_truth()
    df = predictions_for(truth)
    extra = pd.DataFrame({"edge_id": ["mp-nowhere_0_1_0_0_0", "mp-train1_0_1_0_0_0", "mp-val2_0_1_0_0_0"],
                          "prediction": [0.3, 0.4, 0.5]})
    df = pd.concat([df, df.iloc[:2], extra])
    issues = validate(_scalar_sub(tmp_path, df), truth)
    by = {i.reason: i for i in issues if i.reason != "wrong_split"}
    assert by["duplicate_ids"].details["count"] == 2
    assert by["extra_ids"].details["first"] == ["mp-nowhere_0_1_0_0_0"]
    splits = {i.details["split"] for i in issues if i.reason == "wrong_split"}
    assert splits == {"train", "val"}


def test_non_finite_and_mev(tmp_path):
    truth = scalar_truth()
    df = predictions_for(truth)
    df.loc[0, "prediction"] = np.nan
    df.loc[1, "prediction"] = np.inf
    issues = validate(_scalar_sub(tmp_path, df), truth)
    nf = next(i for i in issues if i.reason == "non_finite")
    assert nf.details["count"] == 2
    mev = predictions_for(truth)
    mev["prediction"] *= 1000
    assert "looks_like_meV" in _reasons(validate(_scalar_sub(tmp_path, mev), truth))


def test_wrong_version_and_metadata(tmp_path):
    truth = scalar_truth()
    sub = _scalar_sub(tmp_path, predictions_for(truth))
    meta = read_metadata(write_metadata(tmp_path / "m.yaml", dataset_version="0.9.0"))
    issues = validate(sub, truth, meta)
    assert "wrong_version" in _reasons(issues)
    truth.version = "2.0.0"
    assert "wrong_version" in _reasons(validate(sub, truth))
    truth.version = None
    bad = read_metadata(write_metadata(tmp_path / "b.yaml"))
    del bad["authors"]
    assert _reasons(validate(sub, truth, bad)) == {"metadata"}


def test_non_finite_truth_is_not_required_nor_scored(tmp_path):
    # BVEL13k E_3D is inf where Li does not percolate in 3D below the BVSE cutoff
    truth = scalar_truth("BVEL13k/E_3D", n_test=8)
    truth.table.loc[[1, 4], "E_3D"] = np.inf
    truth.table.loc[6, "E_3D"] = np.nan
    full = predictions_for(truth).fillna({"prediction": 2.0}).replace(np.inf, 3.0)
    only_finite = full.drop(index=[1, 4, 6])
    for df in (full, only_finite):
        sub = _scalar_sub(tmp_path, df, task="BVEL13k/E_3D")
        assert validate(sub, truth) == []
        rec = score_submission(sub, truth, n_boot=0)
        assert rec["subsets"]["all"]["n"] == 5
        assert "3 truth rows without a finite E_3D" in rec["notes"][0]


def test_missing_columns_and_unreadable(tmp_path):
    task = get_task("nebDFT2k/em")
    (tmp_path / "a.csv").write_text("material_id,prediction\nmp-1,0.3\n")
    with pytest.raises(SubmissionInvalid, match="edge_id"):
        read_submission(tmp_path / "a.csv", task)
    (tmp_path / "b.csv").write_text("edge_id,guess\nmp-1,0.3\n")
    with pytest.raises(SubmissionInvalid, match="prediction"):
        read_submission(tmp_path / "b.csv", task)
    (tmp_path / "c.txt").write_text("x")
    with pytest.raises(SubmissionInvalid) as exc:
        read_submission(tmp_path / "c.txt", task)
    assert exc.value.issues[0].reason == "unreadable"
    # a target-named column is accepted for multi-target datasets
    (tmp_path / "d.csv").write_text("material_id,E_2D\nmp-test0,0.3\n")
    assert read_submission(tmp_path / "d.csv", get_task("BVEL13k/E_2D")).predictions["prediction"].iloc[0] == 0.3


def test_check_submission_raises_with_every_issue(tmp_path):
    truth = scalar_truth()
    df = predictions_for(truth).iloc[1:].copy()
    df.iloc[0, 1] = np.nan
    with pytest.raises(SubmissionInvalid) as exc:
        check_submission(_scalar_sub(tmp_path, df), truth)
    assert {"missing_ids", "non_finite"} <= {i.reason for i in exc.value.issues}
    with pytest.raises(SubmissionInvalid):  # scoring refuses too
        score_submission(_scalar_sub(tmp_path, df), truth)


# ------------------------------------------------------------------ bands

def test_band_submission_scored_with_failed_hops_dropped(tmp_path):
    truth = band_truth()
    failed_id = truth.table["edge_id"].iloc[0]
    folder = write_band_files(truth, tmp_path / "bands", shift=0.05, scale=1.1, failed=(failed_id,))
    sub = read_submission(folder, truth.task)
    assert sub.failed_ids == {failed_id}
    rec = score_submission(sub, truth, n_boot=100)
    assert rec["dropped"]["failed_by_this_model"] == [failed_id]
    assert "failed" in rec["notes"][0]
    allm = rec["subsets"]["all"]
    assert allm["n"] == len(truth.table) - 1
    assert allm["pa_mae"] == pytest.approx(0.05 / 5)  # one atom of five off by 0.05 A in every image
    kept = truth.table[truth.table.edge_id != failed_id]
    assert allm["mae"] == pytest.approx(0.1 * kept.em_dft.mean())  # barriers scaled by 1.1
    assert rec["subsets"]["w/o TM"]["n"] + rec["subsets"]["with TM"]["n"] == allm["n"]
    # other compared models' failures are dropped too
    other = truth.table["edge_id"].iloc[1]
    rec2 = score_submission(read_submission(folder, truth.task), truth, n_boot=0, exclude_ids=[other])
    assert rec2["subsets"]["all"]["n"] == allm["n"] - 1
    assert rec2["dropped"]["failed_by_other_models"] == [other]


def test_band_parquet_and_wrong_atoms_order_images(tmp_path):
    truth = band_truth()
    rows = []
    for r in truth.table.itertuples(index=False):
        for k, (pos, e) in enumerate(zip(r.relaxed_positions, r.relaxed_energies)):
            rows.append({"edge_id": r.edge_id, "image": k, "positions": np.array(pos).tolist(), "energy": e,
                         "numbers": list(r.band_numbers)})
    df = pd.DataFrame(rows)
    df.to_parquet(tmp_path / "ok.parquet")
    sub = read_submission(tmp_path / "ok.parquet", truth.task)
    rec = score_submission(sub, truth, n_boot=0)
    assert rec["subsets"]["all"]["mae"] == pytest.approx(0, abs=1e-12)
    assert rec["subsets"]["all"]["pa_mae"] == pytest.approx(0, abs=1e-12)

    bad = df.copy()
    first = bad.edge_id == truth.table.edge_id.iloc[0]
    bad.loc[first, "positions"] = bad.loc[first, "positions"].apply(lambda p: p[:-1])
    second = bad.edge_id == truth.table.edge_id.iloc[1]
    bad.loc[second, "numbers"] = bad.loc[second, "numbers"].apply(lambda n: list(reversed(n)))
    third = truth.table.edge_id.iloc[2]
    bad = bad[~((bad.edge_id == third) & (bad.image == 4))]
    bad.to_parquet(tmp_path / "bad.parquet")
    reasons = _reasons(validate(read_submission(tmp_path / "bad.parquet", truth.task), truth))
    assert {"band_atoms", "band_order", "band_images"} <= reasons


def test_band_file_problems_use_the_one_band_check(tmp_path):
    from ase.io import read, write

    truth = band_truth()
    folder = write_band_files(truth, tmp_path / "bands")
    first, second = truth.table.edge_id.iloc[0], truth.table.edge_id.iloc[1]
    frames = read(folder / f"{first}.xyz", ":")
    frames[1].calc.results["energy"] = float("nan")
    write(folder / f"{first}.xyz", frames, format="extxyz")
    issues = validate(read_submission(folder, truth.task), truth)  # NaN: a validation issue, not a read error
    nf = next(i for i in issues if i.reason == "non_finite")
    assert nf.details["first"] == [first]
    frames = read(folder / f"{second}.xyz", ":")
    frames[2].numbers = frames[2].numbers[::-1].copy()
    write(folder / f"{second}.xyz", frames, format="extxyz")
    with pytest.raises(SubmissionInvalid) as exc:
        read_submission(folder, truth.task)
    issue = exc.value.issues[0]
    assert issue.reason == "bad_band" and issue.details == {"edge_id": second, "check": "species_mismatch"}


def test_band_missing_hop_must_be_declared(tmp_path):
    truth = band_truth()
    folder = write_band_files(truth, tmp_path / "bands")
    gone = truth.table.edge_id.iloc[3]
    (folder / f"{gone}.xyz").unlink()
    issues = validate(read_submission(folder, truth.task), truth)
    assert _reasons(issues) == {"missing_ids"}
    (folder / "failed.txt").write_text(gone + "\n")
    sub = read_submission(folder, truth.task)
    assert validate(sub, truth) == []
    assert score_submission(sub, truth, n_boot=0)["dropped"]["failed_by_this_model"] == [gone]


def test_umlip_all_refuses_finetuned(tmp_path):
    truth = band_truth("nebDFT2k/umlip_neb_all")
    folder = write_band_files(truth, tmp_path / "bands")
    meta = read_metadata(write_metadata(tmp_path / "m.yaml", fine_tuned_on_litraj=True))
    assert "not_allowed" in _reasons(validate(read_submission(folder, truth.task), truth, meta))


# ------------------------------------------------------------------ efs

def _efs_truth():
    from litraj_data.leaderboard.scoring import Truth

    task = get_task("MPLiTrj/efs")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(5):
        n = 3 + i
        rows.append({"config_id": f"test-{i}", "numbers": [3] * n, "energy": -4.0 * n + rng.normal(),
                     "forces": rng.normal(size=(n, 3)).tolist(), "stress": rng.normal(0, 0.01, 6).tolist()})
    return Truth.from_tables(task, {"test": pd.DataFrame(rows), "train": pd.DataFrame({"config_id": ["train-0"]})})


def test_efs_scoring(tmp_path):
    truth = _efs_truth()
    t = truth.table
    pred = pd.DataFrame({"config_id": t.config_id, "energy": t.energy + 0.01 * t.numbers.apply(len),
                         "forces": [(np.array(f) + 0.02).tolist() for f in t.forces],
                         "stress": [(np.array(s) - 0.001).tolist() for s in t.stress]})
    pred.to_parquet(tmp_path / "efs.parquet")
    rec = score_submission(read_submission(tmp_path / "efs.parquet", truth.task), truth, n_boot=0)
    m = rec["subsets"]["all"]
    assert m["mae"] == pytest.approx(0.01) and m["forces_mae"] == pytest.approx(0.02)
    assert m["stress_mae"] == pytest.approx(0.001)
    # a full 3x3 stress tensor is accepted and compared in Voigt order
    def full(v):
        xx, yy, zz, yz, xz, xy = v
        return [[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]
    p2 = pred.copy()
    p2["stress"] = [full(np.array(s) - 0.001) for s in t.stress]
    p2.to_parquet(tmp_path / "full.parquet")
    sub = read_submission(tmp_path / "full.parquet", truth.task)
    assert validate(sub, truth) == []
    assert score_submission(sub, truth, n_boot=0)["subsets"]["all"]["stress_mae"] == pytest.approx(0.001)
    p2["forces"] = [f[:-1] for f in p2["forces"]]
    p2.to_parquet(tmp_path / "short.parquet")
    assert "band_atoms" in _reasons(validate(read_submission(tmp_path / "short.parquet", truth.task), truth))
    pred["energy"] = pred["energy"] * 1000
    pred.to_parquet(tmp_path / "mev.parquet")
    assert "looks_like_meV" in _reasons(validate(read_submission(tmp_path / "mev.parquet", truth.task), truth))


# ------------------------------------------------------------------ CLI

def _cli(argv, monkeypatch, truth):
    from litraj_data.leaderboard.page import cli
    from litraj_data.leaderboard.scoring import tasks

    monkeypatch.setattr(tasks.Task, "load_truth", lambda self, source=None, cache_dir=None: truth)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_validate_and_score(tmp_path, monkeypatch, capsys):
    truth = scalar_truth()
    predictions_for(truth).to_csv(tmp_path / "p.csv", index=False)
    meta = write_metadata(tmp_path / "m.yaml")
    assert _cli(["submit", "validate", str(tmp_path / "p.csv"), "--task", "nebDFT2k/em", "--json"],
                monkeypatch, truth) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["records"][0]["valid"] is True and doc["records"][0]["file"].endswith("p.csv")

    predictions_for(truth).iloc[2:].to_csv(tmp_path / "q.csv", index=False)
    assert _cli(["submit", "validate", str(tmp_path / "q.csv"), "--task", "nebDFT2k/em", "--json"],
                monkeypatch, truth) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["records"][0]["issues"][0]["reason"] == "missing_ids"

    rc = _cli(["score", str(tmp_path / "p.csv"), "--task", "nebDFT2k/em", "--metadata", str(meta), "--json",
               "--plots", str(tmp_path / "plots"), "--out", str(tmp_path / "rec.json"), "--bootstrap", "200"],
              monkeypatch, truth)
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    rec = doc["records"][0]
    assert rec["model"]["model"] == "TestModel" and set(rec["subsets"]) == {"all", "w/o TM", "with TM"}
    assert (tmp_path / "plots").is_dir() and len(list((tmp_path / "plots").glob("*.png"))) == 2
    saved = json.loads((tmp_path / "rec.json").read_text())
    assert saved["subsets"]["all"]["mae"] == rec["subsets"]["all"]["mae"] and "items" in saved

    assert _cli(["score", str(tmp_path / "q.csv"), "--task", "nebDFT2k/em"], monkeypatch, truth) == 1
    assert "missing_ids" in capsys.readouterr().err
    assert _cli(["score", str(tmp_path / "p.csv"), "--task", "nope/x"], monkeypatch, truth) == 2
