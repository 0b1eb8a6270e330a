"""MACE trained, fine-tuned and run for real, in its own venv (slow).

mace-torch pins e3nn 0.4.4 and can never join the main env, so ``.ci/mace_venv.sh`` builds a
venv for it (cached in ``$HOME/.cache/litraj-ci/mace-venv``; ``LITRAJ_MACE_VENV`` moves it)
and the main env drives it as child processes:

(a) a tiny MACE is trained from scratch with mace's own ``mace.cli.run_train`` on the real
    VASP NEB of the AlCo2S4 spinel (../shared/fixtures/vasp_neb) built into MPLiTrj rows;
(b) ``litraj finetune --model mace-mp-0 --weights TINY.model --python VENV_PY --trust`` runs
    ``run_train --foundation_model`` on it, with before/after errors from ``eval_configs`` and
    the model card;
(c) ``litraj bench umlip --model mace-mp-0 --weights FT_DIR --trust`` runs the NEB harness with
    the fine-tuned model served by the venv's python over a JSON pipe (``LITRAJ_MACE_PYTHON``).

A ``.model`` file is a pickled ``nn.Module``: without ``--trust`` both commands refuse it.
Skips when the venv cannot be built (no package index) or the fixture is absent.
"""
from __future__ import annotations

import hashlib
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT.parent / "shared" / "fixtures" / "vasp_neb"


@pytest.fixture(scope="module")
def venv_python() -> str:
    """The mace venv's python, built (or reused) by ``.ci/mace_venv.sh``."""
    res = subprocess.run(["bash", str(ROOT / ".ci" / "mace_venv.sh")], capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        tail = [ln for ln in res.stderr.splitlines() if not ln.startswith("WARNING: Location")][-3:]
        pytest.skip("the mace venv cannot be built here: " + " | ".join(tail))
    return res.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def spinel_rows(spinel_built):
    from litraj_data.leaderboard.models.finetune.data import load_configs

    return load_configs("MPLiTrj", "train", spinel_built)


def _subset(configs, idx):
    from litraj_data.leaderboard.models.finetune.data import Configs

    return Configs(ids=[configs.ids[i] for i in idx], atoms=[configs.atoms[i] for i in idx], split=configs.split,
                   data_version=configs.data_version)


@pytest.fixture(scope="module")
def tiny_mace(venv_python, spinel_rows, tmp_path_factory) -> Path:
    """(a) A MACE trained from scratch by mace's own run_train (1 epoch, 8 channels, L=0)."""
    from litraj_data.leaderboard.models.finetune.mace import KEYS, write_mace_extxyz

    work = tmp_path_factory.mktemp("tiny_mace")
    n = len(spinel_rows)
    write_mace_extxyz(work / "train.extxyz", _subset(spinel_rows, list(range(0, n, 9))))  # end points and band
    write_mace_extxyz(work / "valid.extxyz", _subset(spinel_rows, list(range(4, n, 18))))
    cmd = [venv_python, "-m", "mace.cli.run_train", "--name=tiny", f"--train_file={work / 'train.extxyz'}",
           f"--valid_file={work / 'valid.extxyz'}", f"--energy_key={KEYS['energy']}",
           f"--forces_key={KEYS['forces']}", f"--stress_key={KEYS['stress']}", "--model=MACE",
           "--num_channels=8", "--max_L=0", "--r_max=4.0", "--num_interactions=2", "--correlation=2",
           "--max_num_epochs=1", "--batch_size=2", "--valid_batch_size=4", "--E0s=average", "--device=cpu",
           "--default_dtype=float64", "--seed=1", f"--model_dir={work}", f"--checkpoints_dir={work / 'ckpt'}",
           f"--results_dir={work / 'res'}", f"--log_dir={work / 'logs'}", "--save_cpu"]
    res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    model = work / "tiny.model"
    assert model.is_file() and model.stat().st_size > 0
    return model


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(capsys, *argv: str) -> tuple[int, dict]:
    # the function, not the package attribute (which the submodule litraj_data.cli.main shadows once imported)
    from litraj_data.cli.main import main

    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def finetuned(tiny_mace, venv_python, spinel_built, tmp_path_factory):
    """(b) ``litraj finetune --model mace-mp-0`` from the tiny model, for real."""
    # the function, not the package attribute (which the submodule litraj_data.cli.main shadows once imported)
    from litraj_data.cli.main import main

    out = tmp_path_factory.mktemp("ft") / "mace"
    argv = ["finetune", "--model", "mace-mp-0", "--weights", str(tiny_mace), "--python", venv_python, "--trust",
            "--source", str(spinel_built), "--out", str(out), "--val-split", "train", "--epochs", "1",
            "--limit", "4", "--batch-size", "2", "--json"]
    # the module fixture cannot use capsys: the JSON document is read from a redirected stdout
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(argv)
    doc = json.loads(buf.getvalue())
    assert code == 0, doc
    return out, doc["records"][0]


def test_untrusted_mace_model_is_refused_before_training(tiny_mace, venv_python, spinel_built, tmp_path, capsys):
    out = tmp_path / "ft"
    code, doc = _cli(capsys, "finetune", "--model", "mace-mp-0", "--weights", str(tiny_mace), "--python",
                     venv_python, "--source", str(spinel_built), "--out", str(out), "--val-split", "train",
                     "--epochs", "1", "--json")
    rec = doc["records"][0]
    assert code == 2 and rec["reason"] == "unsafe_weights" and "--trust" in rec["error"]
    assert not out.exists()  # nothing written


def test_finetune_mace_for_real(finetuned, tiny_mace, spinel_rows):
    from litraj_data.leaderboard.reference.umlip.finetuned import resolve_finetuned

    out, rec = finetuned
    assert rec["ok"] and rec["file"] == f"{out}/model_card.yaml"
    card = yaml.safe_load((out / "model_card.yaml").read_text())
    assert card["base_model"] == "mace-mp-0" and card["weights"] == "mace_finetuned.model"
    assert card["base_weights"] == str(tiny_mace) and card["fine_tuned"] is True
    assert card["hyperparameters"]["base_weights_sha256"] == _sha256(tiny_mace)
    assert card["dataset"] == "MPLiTrj" and card["split"] == "train" and card["epochs"] == 1
    assert card["loss_weights"]["energy"] == 1.0 and card["loss_weights"]["force"] == 10.0
    assert card["learning_rate"] == 1e-3 and card["batch_size"] == 2
    assert card["hyperparameters"]["n_train"] == 4 and card["metrics"]["val_split"] == "train"
    cmd = card["hyperparameters"]["command"]
    assert "mace.cli.run_train" in cmd and f"--foundation_model={tiny_mace.resolve()}" in cmd
    assert "--multiheads_finetuning=False" in cmd
    for side in ("before", "after"):
        errs = card[side]
        assert errs["n_configs"] == 4
        assert all(math.isfinite(errs[k]) and errs[k] >= 0 for k in ("energy_rmse", "energy_mae", "force_rmse",
                                                                      "force_mae"))
    assert card["after"] != card["before"]  # the weights were trained
    weights = out / "mace_finetuned.model"
    assert weights.is_file() and _sha256(weights) != _sha256(tiny_mace)
    assert card["base_model_version"] not in ("", "unknown")
    ft = resolve_finetuned(out, "mace-mp-0")
    assert ft is not None and ft.weights == weights
    # the predictions written beside the card are of the first 4 configurations, with all their atoms
    import pandas as pd

    pred = pd.read_parquet(out / "val_predictions.parquet")
    assert list(pred.config_id) == spinel_rows.ids[:4]
    assert all(np.stack(f).shape == (55, 3) for f in pred.forces)


def test_mace_pipe_equals_mace_eval_configs(finetuned, venv_python, spinel_rows, tmp_path):
    """The JSON pipe gives mace's own numbers: ``eval_configs`` in the venv on the same structures."""
    from litraj_data.leaderboard.models.finetune.mace import evaluate_mace, write_mace_extxyz
    from litraj_data.leaderboard.reference.umlip.mace_pipe import MacePipeCalculator, MaceServer

    out, _ = finetuned
    sample = _subset(spinel_rows, [0, len(spinel_rows) - 1])
    write_mace_extxyz(tmp_path / "two.extxyz", sample)
    want = evaluate_mace(venv_python, out / "mace_finetuned.model", tmp_path / "two.extxyz",
                         tmp_path / "two_eval.extxyz", "cpu", 2)
    server = MaceServer(venv_python, str(out / "mace_finetuned.model"))
    try:
        for atoms, (energy, forces) in zip(sample.atoms, want):
            a = atoms.copy()
            a.calc = MacePipeCalculator(server)
            assert a.get_potential_energy() == pytest.approx(energy, abs=1e-8)
            np.testing.assert_allclose(a.get_forces(), forces, atol=1e-8)
            assert a.get_stress().shape == (6,)
        bad = sample.atoms[0].copy()
        with pytest.raises(RuntimeError, match="MACE server"):
            server.compute(bad.numbers, bad.positions[:3], bad.cell.array, bad.pbc)  # 55 numbers, 3 positions
        # the server is still serving after a bad request
        a = sample.atoms[0].copy()
        a.calc = MacePipeCalculator(server)
        assert a.get_potential_energy() == pytest.approx(want[0][0], abs=1e-8)
    finally:
        server.close()
    assert server._proc.poll() is not None


def test_bench_umlip_with_finetuned_mace(finetuned, venv_python, tmp_path_factory, tmp_path, capsys, monkeypatch):
    """(c) ``litraj bench umlip`` with the fine-tuned MACE, served by the venv's python."""
    from litraj_data.builders.raw_neb import build_from_raw

    out_ft, _ = finetuned
    neb = tmp_path_factory.mktemp("neb")
    build_from_raw("nebDFT2k", FIXTURE, neb)
    monkeypatch.setenv("LITRAJ_MACE_PYTHON", venv_python)
    argv = ["bench", "umlip", "--model", "mace-mp-0", "--weights", str(out_ft), "--source", str(neb),
            "--split", "train", "--steps", "2", "--endpoint-steps", "1", "--json"]
    # the trust boundary: the fine-tuned .model is a pickle, loaded only with --trust
    code, doc = _cli(capsys, *argv, "--out", str(tmp_path / "refused"))
    assert code == 2 and doc["records"][0]["reason"] == "unsafe_weights"
    out = tmp_path / "bench"
    code, doc = _cli(capsys, *argv, "--trust", "--out", str(out))
    assert code == 0, doc
    summary = doc["records"][0]
    assert summary["ok"] and summary["n_hops"] == 1 and summary["failed"] == 0
    recs = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(recs) == 1 and recs[0]["error"] is None and recs[0]["edge_id"] == "AlCo2S4_Al_spinel"
    assert recs[0]["model_calls"] > 0 and len(recs[0]["energies"]) == recs[0]["n_images"] == 6
    assert all(math.isfinite(e) for e in recs[0]["energies"]) and math.isfinite(recs[0]["barrier"])
    assert (out / "bands" / "AlCo2S4_Al_spinel.xyz").is_file()
    meta = yaml.safe_load((out / "metadata.yaml").read_text())
    assert meta["model"] == "mace-mp-0-ft" and meta["fine_tuned_on_litraj"] is True
    version = subprocess.run([venv_python, "-c", "import mace; print(mace.__version__)"], capture_output=True,
                             text=True).stdout.strip()
    assert meta["model_version"] == version and meta["fine_tune"]["base_model"] == "mace-mp-0"


def test_bench_without_mace_anywhere_says_how(finetuned, tmp_path, capsys, monkeypatch):
    """No mace here and no LITRAJ_MACE_PYTHON: a named reason with the venv recipe, not a traceback."""
    import importlib.util

    if importlib.util.find_spec("mace") is not None:
        pytest.skip("mace is importable in this env")
    out_ft, _ = finetuned
    monkeypatch.delenv("LITRAJ_MACE_PYTHON", raising=False)
    code, doc = _cli(capsys, "bench", "umlip", "--model", "mace-mp-0", "--weights", str(out_ft), "--trust",
                     "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--json")
    assert code == 2 and doc["records"][0]["reason"] == "model_not_installed"
    monkeypatch.setenv("LITRAJ_MACE_PYTHON", str(tmp_path / "no-python"))
    code, doc = _cli(capsys, "bench", "umlip", "--model", "mace-mp-0", "--weights", str(out_ft), "--trust",
                     "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2"), "--json")
    assert code == 2 and doc["records"][0]["reason"] == "model_not_installed"
    assert "LITRAJ_MACE_PYTHON" in doc["records"][0]["error"]
