"""No model file a user points at is unpickled unless they pass --trust (litraj_data.trust).

Every route is tried with a real malicious pickle whose ``__reduce__`` writes a marker file:
the marker must never appear without ``--trust``; with ``--trust`` the library's own loader
runs it (the user's explicit choice, checked once so that the test can fail).
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from litraj_data.errors import LitrajError

torch = pytest.importorskip("torch")


class _Payload:
    """Unpickling it creates ``path`` (what an attacker's ``os.system`` call would do, visibly)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (os.makedirs, (self.path,))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "MARKER_code_ran"


def _zip_pickle(path: Path, marker: Path) -> Path:
    torch.save({"model": {"state_dict": {}, "payload": _Payload(marker)}}, path)  # torch's zip format
    return path


def _raw_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(_Payload(marker)))
    return path


def _protocol0_pickle(path: Path, marker: Path) -> Path:
    path.write_text(f"cos\nmakedirs\n(V{marker}\ntR.")  # text pickle: no 0x80 magic byte
    return path


MAKERS = [_zip_pickle, _raw_pickle, _protocol0_pickle]


@pytest.mark.parametrize("make", MAKERS, ids=["zip", "raw", "protocol0"])
def test_load_torch_refuses_code_and_names_it(tmp_path, marker, make):
    from litraj_data.trust import UnsafeWeightsError, check_weights, load_torch

    f = make(tmp_path / "w.pth", marker)
    with pytest.raises(UnsafeWeightsError) as exc:
        load_torch(f)
    assert exc.value.reason == "unsafe_weights" and "makedirs" in str(exc.value) and "--trust" in str(exc.value)
    with pytest.raises(UnsafeWeightsError):
        check_weights(tmp_path)  # the folder route checks every file a loader may unpickle
    assert not marker.exists()


def test_trust_runs_the_library_loader(tmp_path, marker):
    from litraj_data.trust import check_weights, load_torch

    f = _zip_pickle(tmp_path / "w.pth", marker)
    check_weights(f, trust=True)  # nothing checked, nothing loaded
    assert not marker.exists()
    load_torch(f, trust=True)  # the user said so: torch.load(weights_only=False) runs the payload
    assert marker.exists()


def test_plain_checkpoints_load_and_junk_is_named(tmp_path):
    import numpy as np

    from litraj_data.trust import load_torch

    state = {"w": torch.ones(3), "config": {"cutoff": 5.0, "arr": np.arange(3), "x": np.float64(1.5)}}
    torch.save(state, tmp_path / "ok.pt")
    back = load_torch(tmp_path / "ok.pt")
    assert torch.equal(back["w"], state["w"]) and back["config"]["arr"].tolist() == [0, 1, 2]
    for name, data in [("empty", b""), ("text", b"hello"), ("zip", b"PK\x03\x04garbage"), ("half", b"\x80\x04\x95")]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(LitrajError) as exc:
            load_torch(tmp_path / name)
        assert exc.value.reason == "weights_invalid", name
    with pytest.raises(LitrajError) as exc:
        load_torch(tmp_path / "absent.pt")
    assert exc.value.reason == "weights_missing"


# --------------------------------------------------------------------------- uMLIP routes


def _finetuned_folder(tmp_path: Path, weights: Path, base: str = "chgnet") -> Path:
    folder = tmp_path / "ft"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(weights, folder / weights.name)
    (folder / "model_card.yaml").write_text(f"base_model: {base}\nweights: {weights.name}\n")
    return folder


@pytest.mark.parametrize("as_folder", [False, True], ids=["--weights FILE", "fine-tuned folder"])
def test_umlip_provider_refuses_malicious_chgnet_weights(tmp_path, marker, as_folder):
    pytest.importorskip("chgnet")
    from litraj_data.leaderboard.reference.umlip.errors import ModelUnavailable
    from litraj_data.leaderboard.reference.umlip.runners import get_provider

    w = _zip_pickle(tmp_path / "evil.pth.tar", marker)
    target = _finetuned_folder(tmp_path, w) if as_folder else w
    with pytest.raises(ModelUnavailable) as exc:
        get_provider("chgnet", target)
    assert exc.value.reason == "unsafe_weights"
    assert not marker.exists()


def test_umlip_sevennet_refuses_and_loads_its_own_checkpoint_safely(tmp_path, marker):
    pytest.importorskip("sevenn")
    from litraj_data.leaderboard.reference.umlip.errors import ModelUnavailable
    from litraj_data.leaderboard.reference.umlip.runners import UMLIPProvider, get_provider

    with pytest.raises(ModelUnavailable) as exc:
        get_provider("sevennet-0", _zip_pickle(tmp_path / "evil.pth", marker))
    assert exc.value.reason == "unsafe_weights" and not marker.exists()
    # the wheel's checkpoint (numpy arrays in its config) passed as a user file: the restricted path
    wheel = UMLIPProvider("sevennet-0").weights_path()
    user = tmp_path / "checkpoint_copy.pth"
    shutil.copyfile(wheel, user)
    provider = get_provider("sevennet-0", user)
    assert provider.calculator() is not None


def test_chgnet_user_weights_load_without_trust(tmp_path):
    pytest.importorskip("chgnet")
    from ase.build import bulk

    from litraj_data.leaderboard.reference.umlip.runners import UMLIPProvider, get_provider

    wheel = UMLIPProvider("chgnet").weights_path()
    folder = _finetuned_folder(tmp_path, wheel)
    safe, stock = get_provider("chgnet", folder), get_provider("chgnet")
    atoms = bulk("Li", "bcc", a=3.45)
    e = []
    for p in (safe, stock):
        a = atoms.copy()
        a.calc = p.calculator()
        e.append(a.get_potential_energy())
    assert e[0] == pytest.approx(e[1], abs=1e-6)  # the same model, built from the restricted load
    assert safe.metadata()["fine_tuned_on_litraj"] is True


def test_other_builders_check_before_their_library(tmp_path, marker):
    from litraj_data.leaderboard.reference.umlip import builders_mlip
    from litraj_data.trust import UnsafeWeightsError

    evil = _zip_pickle(tmp_path / "mace.model", marker)
    for build in (builders_mlip.build_mace, builders_mlip.build_mattersim):
        with pytest.raises(UnsafeWeightsError):
            build(str(evil), "cpu")
    with pytest.raises(UnsafeWeightsError):
        builders_mlip.build_orb(str(evil), "cpu")
    folder = tmp_path / "m3gnet"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"@module": "matgl.apps.pes", "@class": "Potential"}))
    _zip_pickle(folder / "model.pt", marker)
    (folder / "state.pt").write_bytes((folder / "model.pt").read_bytes())
    if pytest.importorskip("matgl"):
        with pytest.raises(UnsafeWeightsError):
            builders_mlip.build_m3gnet(str(folder), "cpu")
        (folder / "model.json").write_text(json.dumps({"@module": "antigravity", "@class": "x"}))
        with pytest.raises(UnsafeWeightsError, match="antigravity"):
            builders_mlip.build_m3gnet(str(folder), "cpu")
    assert not marker.exists()


def _main():
    from litraj_data.cli import main

    # litraj_data.cli may be a package whose ``main`` module holds ``main``
    return getattr(main, "main", main)


@pytest.mark.parametrize("command", ["screen", "bench-efs"])
def test_cli_routes_refuse_then_trust(tmp_path, marker, capsys, command):
    pytest.importorskip("chgnet")
    from litraj_data.builders.sample_structures import get_sample_structure

    folder = _finetuned_folder(tmp_path, _zip_pickle(tmp_path / "evil.pth.tar", marker))
    if command == "screen":
        cif = tmp_path / "LiF.cif"
        get_sample_structure("sample-LiF-225").to(filename=str(cif))
        argv = ["screen", str(cif), "--model", "chgnet", "--weights", str(folder), "--json"]
    else:
        argv = ["bench", "efs", "--model", "chgnet", "--weights", str(folder), "--dataset", "MPLiTrj",
                "--source", "sample", "--limit", "1", "--out", str(tmp_path / "sub.parquet"), "--json"]
    assert _main()([*argv]) == 2
    rec, = json.loads(capsys.readouterr().out)["records"]
    assert rec["ok"] is False and rec["reason"] == "unsafe_weights"
    assert not marker.exists()  # refused in the preflight, before any data is read
    if command == "screen":  # (bench efs would read its data before building the model)
        _main()([*argv, "--trust"])  # CHGNet.from_file unpickles it: the payload runs, then fails as CHGNet
        capsys.readouterr()
        assert marker.exists()


def test_bench_umlip_refuses(tmp_path, marker, capsys):
    pytest.importorskip("chgnet")
    folder = _finetuned_folder(tmp_path, _zip_pickle(tmp_path / "evil.pth.tar", marker))
    rc = _main()(["bench", "umlip", "--model", "chgnet", "--weights", str(folder), "--source", "sample",
                  "--split", "all", "--limit", "1", "--out", str(tmp_path / "out"), "--json"])
    rec, = json.loads(capsys.readouterr().out)["records"]
    assert rc == 2 and rec["reason"] == "unsafe_weights" and not marker.exists()


# --------------------------------------------------------------------------- training routes


def test_finetune_base_weights_refused_before_any_data(tmp_path, marker):
    pytest.importorskip("chgnet")
    from litraj_data.leaderboard.models.finetune.errors import FinetuneError
    from litraj_data.leaderboard.models.finetune.run import finetune

    evil = _zip_pickle(tmp_path / "base.pth.tar", marker)
    with pytest.raises(FinetuneError) as exc:
        finetune("chgnet", tmp_path / "out", source=tmp_path / "no-such-data", epochs=1, weights=str(evil))
    assert exc.value.reason == "unsafe_weights" and not marker.exists()
    assert not (tmp_path / "out").exists()  # refused before the output folder was made


def test_finetune_chgnet_base_model_restricted(tmp_path, marker):
    pytest.importorskip("chgnet")
    from litraj_data.leaderboard.models.finetune.chgnet import base_model
    from litraj_data.leaderboard.models.finetune.errors import FinetuneError
    from litraj_data.leaderboard.reference.umlip.runners import UMLIPProvider

    with pytest.raises(FinetuneError) as exc:
        base_model(str(_raw_pickle(tmp_path / "evil.pth.tar", marker)))
    assert exc.value.reason == "unsafe_weights" and not marker.exists()
    assert base_model(str(UMLIPProvider("chgnet").weights_path())) is not None


def test_gnn_init_from_refuses_pickle(tmp_path, marker):
    pytest.importorskip("lightning")
    from litraj_data.leaderboard.models.gnn.errors import GNNError
    from litraj_data.leaderboard.models.gnn.run import load_weights

    _raw_pickle(tmp_path / "model.pt", marker)
    with pytest.raises(GNNError) as exc:
        load_weights(tmp_path)
    assert exc.value.reason == "unsafe_weights" and not marker.exists()
    torch.save({"layer.weight": torch.zeros(2, 2)}, tmp_path / "model.pt")
    assert set(load_weights(tmp_path)) == {"layer.weight"}


def test_baseline_model_dir_refuses_pickle_and_junk(tmp_path, marker):
    pytest.importorskip("skops")
    from litraj_data.leaderboard.models.baselines.persist import LEGACY_FILE, MODEL_FILE, load_model
    from litraj_data.trust import UnsafeWeightsError

    _raw_pickle(tmp_path / LEGACY_FILE, marker)
    with pytest.raises(UnsafeWeightsError) as exc:
        load_model(tmp_path)
    assert exc.value.reason == "unsafe_weights" and not marker.exists()
    (tmp_path / MODEL_FILE).write_bytes(b"PK\x03\x04 not a skops file")
    with pytest.raises(LitrajError) as exc:
        load_model(tmp_path)
    assert exc.value.reason == "weights_invalid"
