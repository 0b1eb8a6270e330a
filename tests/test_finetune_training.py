"""Real fine-tuning runs on real DFT configurations (slow).

Data: the VASP NEB of the AlCo2S4 spinel (../shared/fixtures/vasp_neb) built into MPLiTrj
rows. That is one hop, so every row is in the train split: the runs measure before/after on
the training configurations (``--val-split train``) -- the test shows that each model's own
training code lowers the force error and that the written weights are the trained ones.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

CARD_KEYS = {"base_model", "weights", "base_model_version", "dataset", "data_version", "split", "subset", "epochs",
             "loss_weights", "learning_rate", "batch_size", "hardware", "wall_time_s", "before", "after", "metrics",
             "hyperparameters"}


def _contract(out: Path, model: str) -> None:
    """The folder is what ``--weights DIR`` of the uMLIP runners resolves (their schema, their loader)."""
    from litraj_data.leaderboard.reference.umlip.finetuned import resolve_finetuned

    ft = resolve_finetuned(out, model)
    assert ft is not None and ft.weights == out / ft.card.weights

pytestmark = pytest.mark.slow


def _finetune(capsys, source: Path, out: Path, *argv: str) -> dict:
    from litraj_data.cli import main

    code = main(["finetune", "--source", str(source), "--out", str(out), "--val-split", "train", "--json", *argv])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0, doc
    rec = doc["records"][0]
    assert rec["ok"] and rec["file"] == f"{out}/model_card.yaml"
    return rec


def _energies(calc, source: Path, ids: list[str]) -> np.ndarray:
    from litraj_data.leaderboard.models.finetune.data import load_configs

    configs = load_configs("MPLiTrj", "train", source)
    index = {cid: a for cid, a in zip(configs.ids, configs.atoms)}
    out = []
    for cid in ids:
        a = index[cid].copy()
        a.calc = calc
        out.append(a.get_potential_energy())
    return np.array(out)


def test_finetune_chgnet_lowers_force_rmse_and_reloads(spinel_built, tmp_path, capsys):
    pytest.importorskip("chgnet")
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    out = tmp_path / "ft"
    rec = _finetune(capsys, spinel_built, out, "--model", "chgnet", "--epochs", "2", "--limit", "4",
                    "--batch-size", "2")
    assert rec["after"]["force_rmse"] < rec["before"]["force_rmse"]
    card = yaml.safe_load((out / "model_card.yaml").read_text())
    assert CARD_KEYS <= set(card) and card["base_model"] == "chgnet" and card["weights"] == "chgnet_finetuned.pth.tar"
    assert card["loss_weights"] == {"energy": 1.0, "force": 10.0, "stress": 1e-4}
    assert card["hyperparameters"]["n_train"] == 4 and card["metrics"]["val_split"] == "train"
    assert card["metrics"]["best_epoch"] in (1, 2) and card["learning_rate"] == 1e-3
    _contract(out, "chgnet")
    # the weights file is a CHGNet checkpoint that reproduces the model at the end of training
    pred = pd.read_parquet(out / "val_predictions.parquet")
    calc = CHGNetCalculator(model=CHGNet.from_file(str(out / card["weights"])), use_device="cpu")
    np.testing.assert_allclose(_energies(calc, spinel_built, list(pred.config_id)), pred.energy, rtol=1e-5, atol=1e-4)


def test_finetune_sevennet_lowers_force_rmse_and_reloads(spinel_built, tmp_path, capsys):
    pytest.importorskip("sevenn")
    from sevenn.calculator import SevenNetCalculator

    out = tmp_path / "ft"
    rec = _finetune(capsys, spinel_built, out, "--model", "sevennet-0", "--epochs", "1", "--limit", "4",
                    "--batch-size", "2")
    assert rec["after"]["force_rmse"] < rec["before"]["force_rmse"]
    card = yaml.safe_load((out / "model_card.yaml").read_text())
    assert CARD_KEYS <= set(card) and card["weights"] == "checkpoint_best.pth" and card["metrics"]["best_epoch"] == 1
    assert card["loss_weights"] == {"energy": 1.0, "force": 10.0, "stress": 1e-6} and card["batch_size"] == 2
    # sevenn's own validation record of the kept epoch == the reloaded checkpoint's errors
    reported = card["metrics"]["trainer_reported"]
    assert card["after"]["force_rmse"] == pytest.approx(reported["force_rmse"], abs=2e-6)
    assert card["after"]["energy_rmse"] == pytest.approx(reported["energy_rmse"], abs=2e-6)
    _contract(out, "sevennet-0")
    pred = pd.read_parquet(out / "val_predictions.parquet")
    calc = SevenNetCalculator(model=str(out / card["weights"]), device="cpu")
    np.testing.assert_allclose(_energies(calc, spinel_built, list(pred.config_id)), pred.energy, rtol=1e-6, atol=1e-4)
