"""Fine-tuning SevenNet-0 with sevenn's own training entry (``sevenn train input.yaml``).

The ``input.yaml`` follows sevenn's ``fine_tune`` preset: the model section is copied from
the checkpoint being fine-tuned (so it matches it by construction), and ``train.continue``
points at that checkpoint with a fresh optimizer, scheduler and epoch count. sevenn writes
``checkpoint_best.pth`` whenever the validation ``TotalLoss`` improves (the paper's "best
validation loss kept") and ``lc.csv`` with the per-epoch errors; the best checkpoint is the
weights file of the output, loadable by ``SevenNetCalculator(model=PATH)``.

sevenn runs in a child process: its ``Logger`` is a process-wide singleton that owns
stdout, and a crash of the training leaves this process able to report it.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from litraj_data.lazy import lazy_import
from litraj_data.leaderboard.models.finetune.data import Configs
from litraj_data.leaderboard.models.finetune.errors import FinetuneError
from litraj_data.leaderboard.models.finetune.protocol import Protocol

__all__ = ["WEIGHTS_NAME", "BASE_CHECKPOINT", "input_yaml", "finetune_sevennet", "read_learning_curve"]

WEIGHTS_NAME = "checkpoint_best.pth"
BASE_CHECKPOINT = "7net-0"  # sevenn's name of SevenNet-0 (11Jul2024), shipped in its wheel
# keys of sevenn's model section that are run-time accelerator switches, not architecture
_RUNTIME_KEYS = {"use_flash_tp", "cuequivariance_config", "use_oeq"}


def checkpoint_path(weights: str | None) -> str:
    """Path of the checkpoint to start from (the wheel's SevenNet-0 unless ``weights``)."""
    util = lazy_import("sevenn.util")

    if weights:
        return str(Path(weights).resolve())
    return str(util.pretrained_name_to_path(BASE_CHECKPOINT))


def _model_section(checkpoint: str) -> dict[str, Any]:
    const = lazy_import("sevenn._const")
    util = lazy_import("sevenn.util")

    config = dict(util.load_checkpoint(checkpoint).config)  # a property that rebuilds (and touches the defaults)
    keys = list(const.DEFAULT_E3_EQUIVARIANT_MODEL_CONFIG)
    section = {k: config[k] for k in keys if k in config and k not in _RUNTIME_KEYS}
    section["chemical_species"] = "auto"  # replaced by the checkpoint's species when continuing
    return section


def input_yaml(checkpoint: str, train_file: Path, valid_file: Path, protocol: Protocol, epochs: int,
               device: str, seed: int = 1) -> dict[str, Any]:
    """sevenn's ``input.yaml`` for fine-tuning ``checkpoint`` with ``protocol``."""
    if protocol.energy_weight != 1.0:
        raise FinetuneError("sevenn's loss has no energy weight (it is 1; force and stress weights are relative "
                            f"to it); got --energy-weight {protocol.energy_weight}", reason="bad_option")
    loss = {"mse": "mse", "huber": "huber"}.get(protocol.loss.lower())
    if loss is None:
        raise FinetuneError(f"sevenn supports the MSE or Huber loss, got {protocol.loss!r}", reason="bad_option")
    return {
        "model": _model_section(checkpoint),
        "train": {
            "random_seed": seed, "is_train_stress": True, "epoch": epochs, "device": device,
            "loss": loss, "optimizer": "adam", "optim_param": {"lr": protocol.lr},
            "scheduler": "exponentiallr", "scheduler_param": {"gamma": 0.99},  # the fine_tune preset's
            "force_loss_weight": protocol.force_weight, "stress_loss_weight": protocol.stress_weight,
            "per_epoch": max(epochs, 1), "best_metric": "TotalLoss",
            # force error pooled over components, as litraj scores forces
            "error_record": [["Energy", "RMSE"], ["Force", "ComponentRMSE"], ["Stress", "RMSE"],
                             ["TotalLoss", "None"]],
            "continue": {"checkpoint": checkpoint, "reset_optimizer": True, "reset_scheduler": True,
                         "reset_epoch": True},
        },
        "data": {
            "batch_size": protocol.batch_size, "data_format_args": {"index": ":"},
            "load_trainset_path": [str(train_file)], "load_validset_path": [str(valid_file)],
        },
    }


def read_learning_curve(path: Path) -> list[dict[str, float]]:
    """sevenn's ``lc.csv``: one dict per epoch (``epoch``, ``lr``, ``trainset_*``, ``validset_*``)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _write_extxyz(path: Path, configs: Configs) -> None:
    from litraj_data.store.extxyz import write_extxyz

    frames = []
    for original in configs.atoms:
        frame = original.copy()  # ASE's copy drops the calculator: keep its DFT results, not the ids in info
        frame.calc = original.calc
        frame.info = {}
        frames.append(frame)
    write_extxyz(path, frames)


def finetune_sevennet(train: Configs, val: Configs, out: Path, work: Path, protocol: Protocol, epochs: int,
                      device: str, weights: str | None = None, seed: int = 1,
                      python: str | None = None) -> dict[str, Any]:
    """Fine-tune SevenNet-0 with ``sevenn train``; write ``out/checkpoint_best.pth``.

    Returns
    -------
    dict
        ``weights`` (file name in ``out``), ``best_epoch``, ``trainer_reported`` (sevenn's own
        validation errors of the best epoch), ``history`` (its ``lc.csv`` rows).
    """
    checkpoint = checkpoint_path(weights)
    run = (work / "sevenn").resolve()  # sevenn runs with cwd=run: every path absolute
    run.mkdir(parents=True, exist_ok=True)
    _write_extxyz(run / "train.extxyz", train)
    _write_extxyz(run / "valid.extxyz", val)
    config = input_yaml(checkpoint, run / "train.extxyz", run / "valid.extxyz", protocol, epochs, device, seed)
    (run / "input.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    cmd = [python or sys.executable, "-m", "sevenn.main.sevenn", "train", str(run / "input.yaml"),
           "-w", str(run), "-s"]
    tail: list[str] = []
    with subprocess.Popen(cmd, cwd=run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:  # sevenn's log, live, on our stderr (stdout is reserved for --json)
            sys.stderr.write(line)
            tail = (tail + [line.rstrip()])[-20:]
    if proc.returncode != 0 or not (run / WEIGHTS_NAME).is_file():
        raise FinetuneError(f"sevenn train failed (exit {proc.returncode}); last lines:\n" + "\n".join(tail),
                            reason="training_failed")
    curve = read_learning_curve(run / "lc.csv")
    best = min(curve, key=lambda r: r["validset_TotalLoss"])
    tmp = out / f".{WEIGHTS_NAME}.tmp"
    shutil.copyfile(run / WEIGHTS_NAME, tmp)
    tmp.replace(out / WEIGHTS_NAME)  # atomic
    return {"weights": WEIGHTS_NAME, "best_epoch": int(best["epoch"]), "command": cmd,
            "trainer_reported": {"energy_rmse": best["validset_Energy_RMSE"],
                                 "force_rmse": best["validset_Force_ComponentRMSE"]},
            "history": curve}
