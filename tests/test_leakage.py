"""`check-leakage`: no structure of any test split in any train/val split of the datasets given."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from fixtures_raw.make_raw_runs import cached_raw_runs

from litraj_data.builders import leakage
from litraj_data.builders.raw_neb import build_from_raw
from litraj_data.errors import DataFormatError


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict[str, Path]:
    raw = cached_raw_runs(tmp_path_factory.getbasetemp())
    root = tmp_path_factory.mktemp("leak")
    good, bad = root / "good", root / "bad"
    splits = root / "splits.csv"
    splits.write_text("material_id,split\nmp-1960,test\nmp-19017,train\n")
    build_from_raw("nebDFT2k", raw, good, splits_from=splits, include_unconverged=True)
    build_from_raw("MPLiTrj", raw, good, splits_from=good / "nebDFT2k")
    wrong = root / "wrong.csv"
    wrong.write_text("material_id,split\nmp-1960,val\nmp-19017,train\n")
    build_from_raw("MPLiTrj", raw, bad, splits_from=wrong)
    return {"good": good, "bad": bad}


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    leakage.register(parser.add_subparsers(dest="cmd"))
    return parser.parse_args(["check-leakage", *argv])


def test_find_versions(built):
    found = leakage.find_versions(built["good"])
    assert sorted(p.parent.name for p in found) == ["MPLiTrj", "nebDFT2k"]
    assert leakage.find_versions(found[0]) == [found[0]]
    with pytest.raises(DataFormatError) as info:
        leakage.find_versions(built["good"] / "nothing")
    assert info.value.reason == "missing_manifest"


def test_material_splits(built):
    version = built["good"] / "nebDFT2k" / "1.0.0"
    splits, unknown = leakage.material_splits(version)
    assert splits["test"] == {"mp-1960"} and splits["train"] == {"mp-19017"} and unknown == 0


def test_no_leak(built):
    report = leakage.check_leakage([built["good"]])
    assert report.ok and len(report.datasets) == 2


def test_leak_found_across_datasets(built):
    assert leakage.check_leakage([built["bad"]]).ok  # alone, the bad build is self-consistent
    report = leakage.check_leakage([built["good"], built["bad"]])
    assert not report.ok
    assert [lk["material_id"] for lk in report.leaks] == ["mp-1960"]
    leak = report.leaks[0]
    assert any("bad" in p for p in leak["train_val_in"]) and any("good" in p for p in leak["test_in"])


def test_cli_json(built, capsys):
    args = _cli([str(built["good"]), "--json"])
    assert args.func(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["records"]) == 2 and all(r["ok"] and r["file"] for r in doc["records"])
    args = _cli([str(built["good"]), str(built["bad"]), "--json"])
    assert args.func(args) == 1
    doc = json.loads(capsys.readouterr().out)
    assert any(not r["ok"] for r in doc["records"])
    args = _cli([str(built["good"] / "missing")])
    assert args.func(args) == 2
