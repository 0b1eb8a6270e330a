"""The README's main job (`litraj demo`) on the embedded sample."""
from __future__ import annotations

import json
import math

import pytest

from litraj_data import demo


def test_umlip_step_screens_a_sample_crystal():
    pytest.importorskip("chgnet")
    res = demo.step_umlip("sample")
    assert res["material_id"] == demo.UMLIP_STRUCTURE and res["hops"]
    for hop in res["hops"]:
        assert hop["error"] is None and hop["converged"]
        assert 0.05 < hop["em_umlip"] < 2.0  # a rock-salt Li vacancy hop: tenths of an eV
    # one orbit percolating in 3D: every percolation barrier is the largest hop barrier needed
    assert math.isclose(res["percolation"]["E_3D"], max(h["em_umlip"] for h in res["hops"]))
    assert "CHGNet" in res["text"]


def test_demo_prints_each_step_as_it_goes(monkeypatch, capsys):
    """A line announces each step before it runs and its result follows before the next starts."""
    import argparse

    seen = []

    def fake(name):
        def step(source):
            seen.append((name, capsys.readouterr()))  # what the user had seen when this step started
            return {"text": f"result of {name}"}
        return step

    monkeypatch.setattr(demo, "STEPS", [("bvse", fake("bvse")), ("hops", fake("hops"))])
    parser = argparse.ArgumentParser(prog="litraj")
    demo.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["demo"])
    assert args.func(args) == 0
    (_, first), (_, second) = seen
    assert "[1/2] bvse:" in first.err and first.out == ""
    assert "result of bvse" in second.out and "[2/2] hops:" in second.err
    assert "result of hops" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_json_runs_every_step(capsys):
    import argparse

    parser = argparse.ArgumentParser(prog="litraj")
    demo.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["demo", "--json"])
    assert args.func(args) == 0
    doc = json.loads(capsys.readouterr().out)
    steps = {r["file"].split(":", 1)[1]: r for r in doc["records"]}
    assert list(steps) == [name for name, _ in demo.STEPS]
    assert steps["bvse"]["structures"] and steps["hops"]["hops"]
    board = steps["leaderboard"]["metrics"]
    assert board["n"] == 8 and board["mae"] > 0 and board["rmse"] >= board["mae"]
    assert steps["umlip"].get("hops") or "skipped" in steps["umlip"]
