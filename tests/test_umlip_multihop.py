"""Multi-hop batched uMLIP-NEB with CHGNet: same barriers as ASE image by image (1 meV),
shared calls, CLI options, metrics and progress on stderr."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

import pytest

from litraj_data.leaderboard.reference.neb import NEBConfig
from litraj_data.leaderboard.reference.neb.lockstep import run_lockstep

pytest.importorskip("chgnet")


@pytest.fixture(scope="module")
def small_hops():
    """The vacancy hop of LiF, LiCl, LiBr in their 7-atom cells (4 A width)."""
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.umlip.bands import structure_hops

    return [structure_hops(get_sample_structure(f"sample-{m}-225"), m, min_width=4.0).inputs[0]
            for m in ("LiF", "LiCl", "LiBr")]


@pytest.fixture(scope="module")
def chgnet_provider():
    from litraj_data.leaderboard.reference.umlip import get_provider

    return get_provider("chgnet")


def _compare(hops, provider, config):
    ref = {r["edge_id"]: r for r, _ in run_lockstep(hops, provider, replace(config, batched=False))}
    bat = {r["edge_id"]: r for r, _ in run_lockstep(hops, provider, replace(config, batched=True,
                                                                              batch_hops=len(hops)))}
    for h in hops:
        a, b = ref[h.edge_id], bat[h.edge_id]
        assert a["error"] is None and b["error"] is None
        assert not a["batched"] and b["batched"]
        assert abs(a["barrier"] - b["barrier"]) < 1e-3, h.edge_id  # the 1 meV
        assert a["steps"] == b["steps"] and a["endpoint_steps"] == b["endpoint_steps"]
    return ref, bat


def test_chgnet_multi_hop_equals_image_by_image_short(small_hops, chgnet_provider):
    """A few steps of every stage (fast): the same trajectory step for step, one call per round."""
    cfg = NEBConfig(steps=3, endpoint_steps=2)
    ref, bat = _compare(small_hops[:2], chgnet_provider, cfg)
    for eid, b in bat.items():
        # image by image: a model call per structure; multi-hop: calls shared by both hops
        assert b["model_calls"] < ref[eid]["model_calls"]
        assert b["model_calls"] <= b["endpoint_steps"] + b["steps"] + 3


@pytest.mark.slow
def test_chgnet_multi_hop_equals_image_by_image_paper_protocol(small_hops, chgnet_provider):
    ref, bat = _compare(small_hops, chgnet_provider, NEBConfig())
    assert all(r["converged"] for r in bat.values())


def _parser():
    from litraj_data.leaderboard.reference.umlip.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser


def test_cli_screen_batch_hops_progress_and_metrics(tmp_path, capsys):
    from litraj_data.builders.sample_structures import get_sample_structure

    cif = tmp_path / "LiCl.cif"
    get_sample_structure("sample-LiCl-225").to(filename=str(cif))
    args = _parser().parse_args(["screen", str(cif), "--model", "chgnet", "--min-width", "4", "--json",
                                 "--batch-hops", "4", "--steps", "4", "--endpoint-steps", "2",
                                 "--optimizer", "LBFGS", "--retry", "more_steps", "--out", str(tmp_path / "o")])
    assert args.func(args) in (0, 1)
    cap = capsys.readouterr()
    (rec,) = json.loads(cap.out)["records"]  # stdout: one JSON document, the bar went to stderr
    assert "hop" in cap.err and "converged=" in cap.err
    m = rec["metrics"]
    assert m["hops_per_hour"] > 0 and 0 <= m["convergence_rate"] <= 1
    (hop,) = rec["hops"]
    assert hop["model_calls"] > 0 and hop["steps"] is not None


@pytest.mark.parametrize("argv, message", [
    (["--image-by-image", "--batch-hops", "2"], "--image-by-image"),
    (["--batch-hops", "0"], "batch_hops"),
    (["--stage1-fmax", "-1"], "fmax"),
])
def test_cli_bad_batching_options(tmp_path, capsys, argv, message):
    from litraj_data.builders.sample_structures import get_sample_structure

    cif = tmp_path / "LiCl.cif"
    get_sample_structure("sample-LiCl-225").to(filename=str(cif))
    args = _parser().parse_args(["screen", str(cif), "--model", "chgnet", "--json", *argv])
    assert args.func(args) == 2
    (rec,) = json.loads(capsys.readouterr().out)["records"]
    assert rec["ok"] is False and message in rec["error"]


def test_cli_rejects_unknown_optimizer_and_rung(capsys):
    for argv in (["--optimizer", "Newton"], ["--retry", "pray"]):
        with pytest.raises(SystemExit):
            _parser().parse_args(["screen", "x.cif", "--model", "chgnet", *argv])
    assert "invalid choice" in capsys.readouterr().err
