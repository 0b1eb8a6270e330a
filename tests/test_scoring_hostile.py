"""Submissions and metadata that strangers write: a valid result or a named reason, never a traceback.

Named cases first (text, true/false and null where numbers go; a wall time of .inf or text),
then property tests (hypothesis): arbitrary bytes as a predictions file, arbitrary rows of mixed
types in scalar, efs and band submissions. ``read_submission`` -> ``validate`` -> (when valid)
``score_submission`` may only ever raise a :class:`~litraj_data.errors.LitrajError` with a reason.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_scoring_support import band_truth, predictions_for, scalar_truth, write_band_files, write_metadata

from litraj_data.leaderboard.scoring import Truth
from litraj_data.leaderboard.scoring.score import score_submission
from litraj_data.leaderboard.scoring.submission import SubmissionInvalid, read_metadata, read_submission, validate
from litraj_data.leaderboard.scoring.tasks import get_task

_SETTINGS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def efs_truth() -> Truth:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(4):
        n = 2 + i
        rows.append({"config_id": f"test-{i}", "numbers": [3] * n, "energy": -4.0 * n + rng.normal(),
                     "forces": rng.normal(size=(n, 3)).tolist(), "stress": rng.normal(0, 0.01, 6).tolist()})
    return Truth.from_tables(get_task("MPLiTrj/efs"), {"test": pd.DataFrame(rows),
                                                        "train": pd.DataFrame({"config_id": ["train-0"]})})


def _run(path, truth) -> list:
    """The scoring route; returns the issues (empty: scored). Only LitrajError may escape."""
    try:
        sub = read_submission(path, truth.task)
    except SubmissionInvalid as exc:
        assert exc.reason and exc.issues
        return exc.issues
    issues = validate(sub, truth)
    if not issues:
        rec = score_submission(sub, truth, n_boot=0)
        assert rec["subsets"]
    return issues


def _reasons(issues) -> set[str]:
    return {i.reason for i in issues}


# ------------------------------------------------------------------ named cases


@pytest.mark.parametrize("text", ["True", "False", "true", "yes"])
def test_true_is_not_a_prediction(tmp_path, text):
    truth = scalar_truth()
    df = predictions_for(truth)
    df["prediction"] = df["prediction"].astype(object)
    df.loc[0, "prediction"] = text
    df.to_csv(tmp_path / "p.csv", index=False)
    assert _reasons(_run(tmp_path / "p.csv", truth)) == {"non_numeric"}
    # a whole column of booleans (pandas reads it as bool dtype, to_numeric would make 1.0/0.0)
    df["prediction"] = [bool(i % 2) for i in range(len(df))]
    df.to_csv(tmp_path / "b.csv", index=False)
    df.to_parquet(tmp_path / "b.parquet")
    assert _reasons(_run(tmp_path / "b.csv", truth)) == {"non_numeric"}
    assert _reasons(_run(tmp_path / "b.parquet", truth)) == {"non_numeric"}


def _efs_pred(truth: Truth) -> pd.DataFrame:
    t = truth.table
    return pd.DataFrame({"config_id": t.config_id, "energy": t.energy.astype(float),
                         "forces": list(t.forces), "stress": list(t.stress)})


def test_efs_text_and_null_energies_are_named(tmp_path):
    truth = efs_truth()
    pred = _efs_pred(truth)
    pred["energy"] = [str(e) for e in pred["energy"]]  # a string column: numbers as text are numbers
    pred.to_parquet(tmp_path / "numtext.parquet")
    assert _run(tmp_path / "numtext.parquet", truth) == []
    pred.loc[1, "energy"] = "-12.5 eV"
    pred.to_parquet(tmp_path / "text.parquet")
    assert _reasons(_run(tmp_path / "text.parquet", truth)) == {"non_numeric"}
    pred.loc[1, "energy"] = None
    pred.to_parquet(tmp_path / "null.parquet")
    assert "non_finite" in _reasons(_run(tmp_path / "null.parquet", truth))
    pred["energy"] = [bool(i % 2) for i in range(len(pred))]
    pred.to_parquet(tmp_path / "bool.parquet")
    assert _reasons(_run(tmp_path / "bool.parquet", truth)) == {"non_numeric"}


def test_band_parquet_text_and_null_energies_are_named(tmp_path):
    truth = band_truth()
    rows = []
    for eid, pos in zip(truth.table.edge_id, truth.table.relaxed_positions):
        for k, p in enumerate(pos):
            rows.append({"edge_id": eid, "image": k, "positions": np.asarray(p).tolist(), "energy": 0.1 * k})
    df = pd.DataFrame(rows)
    df["energy"] = [str(e) for e in df["energy"]]
    df.loc[2, "energy"] = "high"
    df.to_parquet(tmp_path / "text.parquet")
    assert _reasons(_run(tmp_path / "text.parquet", truth)) == {"non_numeric"}
    df.loc[2, "energy"] = None
    df["energy"] = df["energy"].astype(float)
    df.to_parquet(tmp_path / "null.parquet")
    assert "non_finite" in _reasons(_run(tmp_path / "null.parquet", truth))
    df.loc[2, "positions"] = None
    df.to_parquet(tmp_path / "nopos.parquet")
    assert _reasons(_run(tmp_path / "nopos.parquet", truth)) == {"bad_band"}


@pytest.mark.parametrize("value, check", [(".inf", "yaml_non_finite"), ("'fast'", None), ("true", None),
                                          ("-3.0", None)])
def test_wall_time_must_be_a_finite_number(tmp_path, value, check):
    path = write_metadata(tmp_path / "m.yaml", task="nebDFT2k/em")
    path.write_text(path.read_text() + f"wall_time_s: {value}\n")
    with pytest.raises(SubmissionInvalid) as exc:
        read_metadata(path)
    issue = exc.value.issues[0]
    assert issue.reason == "metadata" and "wall_time_s" in issue.message or issue.details.get("check") == check


def test_card_wall_time_text_or_inf_is_refused(tmp_path):
    from importlib import resources

    import yaml

    card = yaml.safe_load(resources.files("litraj_data.leaderboard.scoring").joinpath(
        "data/example_model_card.yaml").read_text())
    for bad in ("5400", "fast", True, float("nan")):
        card["tasks"] = {"nebDFT2k/em": {"hardware": "x", "wall_time_s": bad}}
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(card).replace(".nan", "1.0e+999"))
        with pytest.raises(SubmissionInvalid) as exc:
            read_metadata(tmp_path / "c.yaml")
        assert exc.value.issues[0].reason == "metadata"


def test_render_survives_a_hand_edited_record(tmp_path):
    """A record JSON edited by hand (wall time text or inf) renders; the runtime plot leaves it out."""
    from litraj_data.leaderboard.page.render import render_html

    truth = scalar_truth()
    predictions_for(truth).to_csv(tmp_path / "p.csv", index=False)
    meta = read_metadata(write_metadata(tmp_path / "m.yaml", task="nebDFT2k/em", wall_time_s=2.0))
    rec = score_submission(read_submission(tmp_path / "p.csv", truth.task), truth, meta, n_boot=0)
    for bad in ("fast", math.inf, None, [1], {"a": 1}):
        rec["model"]["wall_time_s"] = bad
        text = render_html([rec], tmp_path / "site", plots=False).read_text()
        assert "No submission of this task states its wall time" in text


# ------------------------------------------------------------------ property tests

_cells = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                   st.integers(-10**20, 10**20), st.text(max_size=12),
                   st.sampled_from(["True", "nan", "inf", "-1e400", "1,5", " 2.0 ", "0x10"]))


@_SETTINGS
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".parquet", ".xyz", ".extxyz"]))
def test_arbitrary_bytes_as_a_predictions_file(tmp_path_factory, data, suffix):
    tmp = tmp_path_factory.mktemp("b")
    path = tmp / f"pred{suffix}"
    path.write_bytes(data)
    truth = band_truth() if suffix in (".xyz", ".extxyz") else scalar_truth()
    _run(path, truth)


@_SETTINGS
@given(values=st.lists(_cells, min_size=1, max_size=14), ids=st.lists(st.text(max_size=8), max_size=3))
def test_arbitrary_scalar_rows(tmp_path_factory, values, ids):
    tmp = tmp_path_factory.mktemp("s")
    truth = scalar_truth()
    known = list(truth.table.edge_id)
    col = (known + ids)[: len(values)] + [f"x{i}" for i in range(len(values) - len(known) - len(ids))]
    df = pd.DataFrame({"edge_id": col[: len(values)], "prediction": pd.Series(values, dtype=object)})
    df.to_csv(tmp / "p.csv", index=False)
    _run(tmp / "p.csv", truth)
    try:
        df.to_parquet(tmp / "p.parquet")
    except (TypeError, ValueError, OverflowError, ImportError) as exc:  # pyarrow cannot store mixed objects
        assume(not isinstance(exc, ImportError))
        return
    _run(tmp / "p.parquet", truth)


_forces = st.one_of(st.none(), st.text(max_size=6),
                    st.integers(0, 6).flatmap(lambda n: st.lists(st.lists(_cells, min_size=3, max_size=3),
                                                                 min_size=n, max_size=n)))


@_SETTINGS
@given(energies=st.lists(_cells, min_size=4, max_size=4), forces=st.lists(_forces, min_size=4, max_size=4))
def test_arbitrary_efs_rows(tmp_path_factory, energies, forces):
    tmp = tmp_path_factory.mktemp("e")
    truth = efs_truth()
    df = pd.DataFrame({"config_id": list(truth.table.config_id), "energy": pd.Series(energies, dtype=object),
                       "forces": pd.Series(forces, dtype=object)})
    df.to_csv(tmp / "p.csv", index=False)
    _run(tmp / "p.csv", truth)
    try:
        df.to_parquet(tmp / "p.parquet")
    except (TypeError, ValueError, OverflowError) as exc:  # pyarrow refuses mixed object columns
        assert exc is not None
        return
    _run(tmp / "p.parquet", truth)


@_SETTINGS
@given(energies=st.lists(_cells, min_size=1, max_size=12), images=st.lists(_cells, min_size=1, max_size=12),
       shuffle=st.randoms())
def test_arbitrary_band_rows(tmp_path_factory, energies, images, shuffle):
    tmp = tmp_path_factory.mktemp("n")
    truth = band_truth(n_test=2)
    rows = []
    for eid, pos in zip(truth.table.edge_id, truth.table.relaxed_positions):
        for k, p in enumerate(pos):
            rows.append({"edge_id": eid, "image": images[len(rows) % len(images)] if shuffle.random() < 0.3 else k,
                         "positions": np.asarray(p).tolist(), "energy": energies[len(rows) % len(energies)]})
    df = pd.DataFrame(rows)
    for c in ("image", "energy"):
        df[c] = df[c].astype(object)
    df.to_csv(tmp / "p.csv", index=False)  # a CSV is not a band format: unreadable, named
    try:
        df.to_parquet(tmp / "p.parquet")
    except (TypeError, ValueError, OverflowError):
        return
    _run(tmp / "p.parquet", truth)


def test_band_extxyz_with_text_energy(tmp_path):
    truth = band_truth()
    folder = write_band_files(truth, tmp_path / "bands")
    first = sorted(folder.glob("*.xyz")) or sorted(folder.glob("*.extxyz"))
    text = first[0].read_text()
    first[0].write_text(text.replace("energy=", "energy=abc", 1))
    issues = _run(folder, truth)
    assert issues and all(isinstance(i.reason, str) for i in issues)
