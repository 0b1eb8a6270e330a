"""uMLIP runners (CHGNet, SevenNet-0 for real; MACE/M3GNet failure paths), bench and screen CLI."""
from __future__ import annotations

import argparse
import importlib.util
import json

import numpy as np
import pytest

from litraj_data.leaderboard.reference.neb import NEBConfig, read_records, run_hop
from litraj_data.leaderboard.reference.umlip import ModelUnavailable, get_provider, get_spec, list_models

chgnet = pytest.importorskip("chgnet")


@pytest.fixture(scope="module")
def lif_hop():
    """The LiF vacancy hop (face diagonal, 2.85 A) in its conventional cell minus one Li: 7 atoms."""
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.umlip.bands import structure_hops

    sh = structure_hops(get_sample_structure("sample-LiF-225"), "LiF", min_width=4.0)
    assert len(sh.inputs) == 1
    return sh.inputs[0]


@pytest.fixture(scope="module")
def chgnet_provider():
    return get_provider("chgnet")


def test_registry_names():
    # the four models of the paper are registered (the registry has more: tests/test_umlip_registry.py)
    assert {"chgnet", "m3gnet", "mace-mp-0", "sevennet-0"} <= set(list_models())
    assert get_spec("SevenNet").name == "sevennet-0" and get_spec("MACE").name == "mace-mp-0"
    with pytest.raises(ModelUnavailable, match="unknown model 'gap'") as exc:
        get_spec("gap")
    assert exc.value.reason == "unknown_model"


@pytest.mark.parametrize("name, extra", [("mace-mp-0", "mace"), ("m3gnet", "matgl")])
def test_download_models_need_weights(tmp_path, name, extra):
    pkg = get_spec(name).package
    if importlib.util.find_spec(pkg) is None:  # the package is said before the weights (issue 25)
        with pytest.raises(ModelUnavailable, match=rf"litraj-data\[{extra}\]") as exc:
            get_provider(name)
        assert exc.value.reason == "model_not_installed"
    else:
        with pytest.raises(ModelUnavailable, match="--weights PATH") as exc:
            get_provider(name)
        assert exc.value.reason == "weights_missing"
        missing = tmp_path / "nope.model"
        with pytest.raises(ModelUnavailable, match="does not exist") as exc:
            get_provider(name, weights=missing)
        assert exc.value.reason == "weights_missing" and str(missing) in str(exc.value)
    present = tmp_path / "w.model"
    present.write_bytes(b"\0" * 16)

    if importlib.util.find_spec(pkg) is None:  # not installed here: say which extra
        with pytest.raises(ModelUnavailable, match=rf"litraj-data\[{extra}\]") as exc:
            get_provider(name, weights=present)
        assert exc.value.reason == "model_not_installed"
    else:  # installed: a garbage file is not this model's weights
        with pytest.raises(ModelUnavailable) as exc:
            get_provider(name, weights=present)
        assert exc.value.reason == "weights_invalid"


def test_weights_of_another_model(tmp_path):
    bogus = tmp_path / "other.pth.tar"
    import torch

    torch.save({"not_a_model": 1}, bogus)
    with pytest.raises(ModelUnavailable, match="cannot load weights") as exc:
        get_provider("chgnet", weights=bogus)
    assert exc.value.reason == "weights_invalid"


def test_cuda_without_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelUnavailable, match="CUDA") as exc:
        get_provider("chgnet", device="cuda")
    assert exc.value.reason == "device"


def test_provider_pickles_without_model(chgnet_provider):
    import pickle

    blob = pickle.dumps(chgnet_provider)
    assert len(blob) < 2000  # the weights never travel with the tasks
    assert pickle.loads(blob).key == chgnet_provider.key


# a full CHGNet NEB twice (~80 s on 2 idle cores since the lock-step driver): slow
@pytest.mark.slow
def test_chgnet_real_hop_batched_equals_image_by_image(lif_hop, chgnet_provider):
    bat, frames = run_hop(lif_hop, chgnet_provider, NEBConfig(batched=True))
    ref, _ = run_hop(lif_hop, chgnet_provider, NEBConfig(batched=False))
    assert bat["error"] is None and ref["error"] is None
    assert bat["batched"] and not ref["batched"]
    assert bat["converged"] and bat["fmax"] <= 0.1
    assert abs(bat["barrier"] - ref["barrier"]) < 1e-3
    # Li vacancy migration in LiF: a few tenths of an eV (DFT ~0.6-0.7 eV), never BVSE's 1.4 eV
    assert 0.2 < bat["barrier"] < 1.0
    e = np.array([f.get_potential_energy() for f in frames])
    assert bat["barrier"] == pytest.approx(e.max() - e.min())
    assert 0 < int(np.argmax(e)) < len(e) - 1


def test_chgnet_batched_evaluator_matches_calculator(lif_hop, chgnet_provider):
    ev = chgnet_provider.evaluator()
    images = [a.copy() for a in lif_hop.images]
    batched = ev.evaluate(images)
    for img, (e, f) in zip(images, batched):
        img.calc = chgnet_provider.calculator()
        assert e == pytest.approx(img.get_potential_energy(), abs=1e-4)
        assert np.abs(f - img.get_forces()).max() < 1e-4
    assert ev.fast  # the direct energy+forces path ran (no silent fallback to predict_graph)
    assert ev.converter is not ev.model.graph_converter  # nor to CHGNet's slow line graph
    ev.fast = False  # the public predict_graph path gives the same numbers
    for (e, f), (e2, f2) in zip(batched, ev.evaluate(images)):
        assert e == pytest.approx(e2, abs=1e-4) and np.abs(f - f2).max() < 1e-4


def test_chunks_bound_the_atoms_per_pass():
    from ase import Atoms

    from litraj_data.leaderboard.reference.umlip.batched import chunks

    small = [Atoms("H7")] * 10
    assert chunks(small, 64) == [list(range(9)), [9]]
    assert chunks([Atoms("H63")] * 3, 64) == [[0], [1], [2]]  # a large image is a pass of its own
    assert sum(chunks(small, 1), []) == list(range(10))


def test_chgnet_chunk_size_changes_nothing(lif_hop):
    whole = get_provider("chgnet", max_batch_atoms=10_000).evaluator().evaluate(lif_hop.images)
    single = get_provider("chgnet", max_batch_atoms=1).evaluator().evaluate(lif_hop.images)
    for (e1, f1), (e2, f2) in zip(whole, single):
        assert e1 == pytest.approx(e2, abs=1e-4) and np.abs(f1 - f2).max() < 1e-4
    with pytest.raises(ValueError, match="max_batch_atoms"):
        get_provider("chgnet", max_batch_atoms=0, check=False)


# a full SevenNet-0 NEB twice (~140 s on 2 idle cores): slow
@pytest.mark.slow
def test_sevennet_real_hop(lif_hop):
    pytest.importorskip("sevenn")
    p = get_provider("sevennet-0")
    ev = p.evaluator()
    images = [a.copy() for a in lif_hop.images]
    for img, (e, f) in zip(images, ev.evaluate(images)):
        img.calc = p.calculator()
        assert e == pytest.approx(img.get_potential_energy(), abs=1e-4)
        assert np.abs(f - img.get_forces()).max() < 1e-4
    rec, _ = run_hop(lif_hop, p, NEBConfig(steps=30))
    assert rec["error"] is None and rec["barrier"] is not None and 0.1 < rec["barrier"] < 1.5


def _parser():
    from litraj_data.leaderboard.reference.umlip.cli import register

    parser = argparse.ArgumentParser(prog="litraj")
    register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_screen_json(tmp_path, capsys, lif_hop):
    from litraj_data.builders.sample_structures import get_sample_structure

    cif = tmp_path / "LiF.cif"
    get_sample_structure("sample-LiF-225").to(filename=str(cif))
    args = _parser().parse_args(["screen", str(cif), "--model", "chgnet", "--min-width", "4", "--json",
                                 "--out", str(tmp_path / "out")])
    assert args.func(args) == 0
    doc = json.loads(capsys.readouterr().out)
    (rec,) = doc["records"]
    assert rec["file"] == str(cif) and rec["ok"] and rec["max_dim"] == 3
    (hop,) = rec["hops"]
    assert hop["converged"] and hop["multiplicity"] == 24
    # a single orbit percolating in 3D: every percolation barrier is that hop's barrier
    assert rec["percolation"]["E_1D"] == pytest.approx(hop["em_umlip"])
    assert rec["percolation"]["E_3D"] == pytest.approx(hop["em_umlip"])
    assert rec["percolation_bvse"]["E_3D"] == pytest.approx(hop["em_bvse"])
    assert len(read_records(tmp_path / "out" / "LiF")) == 1


def test_cli_bench_bad_model(tmp_path, capsys):
    args = _parser().parse_args(["bench", "umlip", "--model", "mace-mp-0", "--out", str(tmp_path), "--json"])
    assert args.func(args) == 2
    doc = json.loads(capsys.readouterr().out)
    # what is installable is said before what is downloadable (issue 25): without mace-torch, that first
    expected = "weights_missing" if importlib.util.find_spec("mace") else "model_not_installed"
    assert doc["records"][0]["reason"] == expected


@pytest.mark.parametrize("source", ["absent", "empty_dir", "not_a_zip"])
def test_bench_checks_the_data_source_before_loading_the_model(tmp_path, capsys, monkeypatch, source):
    """An unavailable dataset fails at once: the model is never built (CHGNet used to load first)."""
    from litraj_data.leaderboard.reference.umlip import runners

    built = []

    def build(self):
        built.append(self.spec.name)
        raise AssertionError("the model must not be built before the data source is read")

    monkeypatch.setattr(runners.UMLIPProvider, "_build", build)
    path = tmp_path / source
    if source == "empty_dir":
        path.mkdir()
    elif source == "not_a_zip":
        path = tmp_path / "nebDFT2k.zip"
        path.write_bytes(b"not a zip")
    args = _parser().parse_args(["bench", "umlip", "--model", "chgnet", "--source", str(path),
                                 "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"), "--json"])
    assert args.func(args) == 2
    (rec,) = json.loads(capsys.readouterr().out)["records"]
    assert rec["ok"] is False and rec["error"] and built == []
    # model problems that need no loading still come first (and still name the model)
    args = _parser().parse_args(["bench", "umlip", "--model", "mace-mp-0", "--source", str(path),
                                 "--out", str(tmp_path / "out"), "--json"])
    assert args.func(args) == 2
    expected = "weights_missing" if importlib.util.find_spec("mace") else "model_not_installed"
    assert json.loads(capsys.readouterr().out)["records"][0]["reason"] == expected and built == []


def test_bench_fixture_submission_validates(tmp_path, capsys):
    """The test archive's synthetic bands end on an occupied site: every hop must fail *cleanly*,
    be declared in failed.txt, and the submission must still validate."""
    from litraj_data.leaderboard.scoring.submission import read_metadata, read_submission, validate
    from litraj_data.leaderboard.scoring.tasks import get_task
    from litraj_data.testing import write_release

    archive = write_release("nebDFT2k", tmp_path / "rel", {"train": 1, "val": 1, "test": 2}, seed=5)
    out = tmp_path / "sub"
    argv = ["bench", "umlip", "--model", "chgnet", "--source", str(archive), "--cache-dir", str(tmp_path / "c"),
            "--out", str(out), "--steps", "3", "--endpoint-steps", "3", "--json"]
    args = _parser().parse_args(argv)
    rc = args.func(args)
    doc = json.loads(capsys.readouterr().out)
    (rec,) = doc["records"]
    assert rec["task"] == "nebDFT2k/umlip_neb" and rec["n_hops"] == 2
    records = read_records(out)
    assert len(records) == 2
    assert rc == (1 if rec["failed"] else 0)
    task = get_task("nebDFT2k/umlip_neb")
    sub = read_submission(out / "bands", task)
    truth = task.load_truth(source=str(archive), cache_dir=str(tmp_path / "c"))
    meta = read_metadata(out / "metadata.yaml")
    # the run's wall time and hardware are in the metadata (the page's runtime-vs-MAE plot reads them)
    assert meta["wall_time_s"] >= 0 and meta["hardware"].startswith("cpu (") and meta["task"] == rec["task"]
    # a partial test archive imports as a local version (1.0.0+digest): the only complaint
    assert truth.version.startswith(task.version + "+")
    assert [i.reason for i in validate(sub, truth, meta)] == ["wrong_version"]
    truth.version = task.version
    assert validate(sub, truth, meta) == []
    assert sub.failed_ids == {r["edge_id"] for r in records if r["error"] or not r["converged"]}
    # rerun resumes: nothing recomputed
    args = _parser().parse_args(argv)
    args.func(args)
    again = json.loads(capsys.readouterr().out)["records"][0]
    assert again["done"] == 0 and again["skipped"] == 2


def test_structure_without_bvse_parameters_starts_from_straight_lines():
    """Li3Sb has no softBV Li-Sb parameters: the uMLIP pipeline still gets its hops."""
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.umlip.bands import structure_hops

    sh = structure_hops(get_sample_structure("sample-Li3Sb-225"), "Li3Sb", min_width=4.0)
    assert sh.system is None and sh.inputs and sh.graph.max_dim == 3
    assert np.isnan(sh.bvse_barriers).all()
    for hop in sh.inputs:
        assert hop.meta["em_bvse"] is None and hop.edge_id.startswith("Li3Sb_")
        pos = np.array([img.positions for img in hop.images])
        steps = np.diff(pos, axis=0)  # a straight line: equal steps of the one moving atom
        assert np.allclose(steps, steps[0], atol=1e-9) and np.count_nonzero(np.abs(steps[0]).sum(1) > 1e-9) == 1


def test_numpy_chgnet_graph_is_identical():
    """The numpy converter gives CHGNet's own graph tensors, bit for bit, on every sample crystal."""
    from chgnet.model import CHGNet

    from litraj_data.builders.sample_structures import load_sample_structures
    from litraj_data.leaderboard.reference.umlip.chgnet_graph import fast_converter

    conv = CHGNet.load(verbose=False).graph_converter
    fast = fast_converter(conv)
    checked = 0
    for entry in load_sample_structures():
        s = entry.structure.copy()
        s.perturb(0.05, min_distance=0.01)  # off the symmetric positions: bonds on both sides of 3 A
        ref, got = conv(s), fast(s)
        for key in ("bond_graph", "undirected2directed", "atom_graph", "directed2undirected", "neighbor_image",
                    "atomic_number", "atom_frac_coord", "lattice"):
            a, b = getattr(ref, key), getattr(got, key)
            assert a.dtype == b.dtype and torch_equal(a, b), (entry.material_id, key)
        assert got.composition == ref.composition
        checked += int(ref.bond_graph.shape[0] > 0)
    assert checked >= 20
    assert fast.fallbacks == 0  # every graph came from the numpy path


def torch_equal(a, b) -> bool:
    return tuple(a.shape) == tuple(b.shape) and bool((a == b).all())
