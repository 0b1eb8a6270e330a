"""Scoring against a local release zip: the cache's content-keyed build tag ("+src-...") is not by itself a
version mismatch; a partial copy (fewer rows than the official split) is."""
from __future__ import annotations

import json

from litraj_data import load_litraj
from litraj_data.cli.main import main
from litraj_data.testing import write_release


def test_score_against_a_full_copy_of_the_release(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    from litraj_data.leaderboard.scoring import submission

    monkeypatch.setenv("LITRAJ_CACHE", str(tmp_path / "cache"))
    # a copy with the official row counts (a registry whose card says 3/2/2 rows): scored as the release
    monkeypatch.setattr(submission, "get_config", lambda name: SimpleNamespace(splits={"train": 3, "val": 2, "test": 2}))
    zip_path = write_release("BVEL13k", tmp_path, {"train": 3, "val": 2, "test": 2})
    test = load_litraj("BVEL13k", split="test", source=str(zip_path))
    preds = tmp_path / "p.csv"
    preds.write_text("material_id,prediction\n" + "".join(f"{r['material_id']},{r['E_1D'] + 0.1!r}\n" for r in test))
    assert main(["score", str(preds), "--task", "BVEL13k/E_1D", "--source", str(zip_path), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)["records"][0]
    assert abs(rec["subsets"]["all"]["mae"] - 0.1) < 1e-9 and rec["dataset_version"].startswith("1.0.0")


def test_another_version_is_still_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LITRAJ_CACHE", str(tmp_path / "cache"))
    zip_path = write_release("BVEL13k", tmp_path)
    test = load_litraj("BVEL13k", split="test", source=str(zip_path))
    preds = tmp_path / "p.csv"
    preds.write_text("material_id,prediction\n" + "".join(f"{r['material_id']},0.5\n" for r in test))
    meta = tmp_path / "meta.yaml"
    meta.write_text("model: m\ndataset_version: 2.0.0\n")
    assert main(["score", str(preds), "--task", "BVEL13k/E_1D", "--source", str(zip_path), "--metadata", str(meta),
                 "--json"]) != 0
    assert "wrong_version" in capsys.readouterr().out


def test_a_partial_copy_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LITRAJ_CACHE", str(tmp_path / "cache"))
    zip_path = write_release("BVEL13k", tmp_path)
    test = load_litraj("BVEL13k", split="test", source=str(zip_path))
    preds = tmp_path / "p.csv"
    preds.write_text("material_id,prediction\n" + "".join(f"{r['material_id']},0.5\n" for r in test))
    assert main(["score", str(preds), "--task", "BVEL13k/E_1D", "--source", str(zip_path), "--json"]) != 0
    out = capsys.readouterr().out
    assert "wrong_version" in out and "partial" in out and "1317" in out
