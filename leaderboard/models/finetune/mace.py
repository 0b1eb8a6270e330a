"""Fine-tuning MACE-MP-0 with mace's own ``mace.cli.run_train --foundation_model``.

mace-torch pins e3nn 0.4.4, which breaks sevenn and nequip, so it is *not* a dependency of
this environment: it runs in a separate interpreter (``--python VENV/bin/python``, default
this one) as ``python -m mace.cli.run_train ...``, and the before / after errors come from
mace's own ``mace.cli.eval_configs`` in that interpreter. The foundation model is a local
file (``--weights``): nothing is downloaded.

Naive fine-tuning (``--multiheads_finetuning False``): multi-head fine-tuning would need
the foundation model's own training data, which is fetched from the network.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from litraj_data.leaderboard.models.finetune.data import Configs
from litraj_data.leaderboard.models.finetune.errors import FinetuneError
from litraj_data.leaderboard.models.finetune.metrics import Prediction
from litraj_data.leaderboard.models.finetune.protocol import Protocol

__all__ = ["WEIGHTS_NAME", "RUN_NAME", "check_mace", "run_train_args", "eval_args", "finetune_mace",
           "write_mace_extxyz"]

WEIGHTS_NAME = "mace_finetuned.model"
RUN_NAME = "mace_ft"
# labels under their own keys: mace warns (and may read the calculator) for plain "energy"/"forces"
KEYS = {"energy": "REF_energy", "forces": "REF_forces", "stress": "REF_stress"}


def check_mace(python: str | None, weights: str | None) -> str:
    """Interpreter that can run mace's training; fails fast with what to do.

    Raises
    ------
    FinetuneError
        ``weights_missing`` without a local foundation model, ``model_not_installed`` when
        ``python`` cannot import ``mace.cli.run_train``.
    """
    if not weights:
        raise FinetuneError("mace-mp-0: the foundation model cannot be downloaded here; download a MACE-MP-0 "
                            "model file (e.g. 2023-12-03-mace-128-L1_epoch-199.model from "
                            "https://github.com/ACEsuit/mace-mp/releases) elsewhere and pass --weights PATH",
                            reason="weights_missing")
    if not Path(weights).is_file():
        raise FinetuneError(f"mace-mp-0: --weights {weights} is not a file; pass --weights PATH to a MACE .model",
                            reason="weights_missing")
    python = python or sys.executable
    probe = subprocess.run([python, "-c", "import mace.cli.run_train, mace.cli.eval_configs"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise FinetuneError(
            f"mace-mp-0 needs the 'mace-torch' package in {python} ({last}). It pins e3nn 0.4.4 and breaks "
            "sevenn/nequip, so install it in a separate clean venv (python -m venv /opt/mace-venv && "
            "/opt/mace-venv/bin/pip install torch==2.13.0 && /opt/mace-venv/bin/pip install mace-torch; in a "
            "checkout: .ci/mace_venv.sh /opt/mace-venv) and pass --python /opt/mace-venv/bin/python",
            reason="model_not_installed")
    return python


def run_train_args(foundation: str, train_file: Path, valid_file: Path, work: Path, protocol: Protocol,
                   epochs: int, device: str, seed: int = 1) -> list[str]:
    """Arguments of ``mace.cli.run_train`` for the paper's protocol (after ``-m mace.cli.run_train``)."""
    if protocol.loss.upper() != "MSE":
        raise FinetuneError(f"the MACE entry implements the paper's MSE loss, got {protocol.loss!r}",
                            reason="bad_option")
    return [
        f"--name={RUN_NAME}", f"--foundation_model={foundation}", "--multiheads_finetuning=False",
        f"--train_file={train_file}", f"--valid_file={valid_file}",
        f"--energy_key={KEYS['energy']}", f"--forces_key={KEYS['forces']}", f"--stress_key={KEYS['stress']}",
        # mace's "weighted" loss: MSE of energy per atom and of forces, with these weights
        "--loss=weighted", f"--energy_weight={protocol.energy_weight}", f"--forces_weight={protocol.force_weight}",
        f"--lr={protocol.lr}", f"--batch_size={protocol.batch_size}", f"--valid_batch_size={protocol.batch_size}",
        f"--max_num_epochs={epochs}", "--E0s=average", f"--device={device}", "--default_dtype=float64",
        f"--seed={seed}", f"--model_dir={work}", f"--checkpoints_dir={work / 'checkpoints'}",
        f"--results_dir={work / 'results'}", f"--log_dir={work / 'logs'}", "--save_cpu",
    ]


def eval_args(model: Path, configs_file: Path, output: Path, device: str, batch_size: int) -> list[str]:
    """Arguments of ``mace.cli.eval_configs`` (predictions under ``MACE_energy`` / ``MACE_forces``)."""
    return [f"--configs={configs_file}", f"--model={model}", f"--output={output}", f"--device={device}",
            "--default_dtype=float64", f"--batch_size={batch_size}"]


def write_mace_extxyz(path: Path, configs: Configs) -> None:
    """The configurations with their DFT labels under :data:`KEYS` (no calculator)."""
    from ase.stress import voigt_6_to_full_3x3_stress

    from litraj_data.store.extxyz import write_extxyz

    frames = []
    for a in configs.atoms:
        frame = a.copy()
        frame.calc = None
        frame.info = {KEYS["energy"]: float(a.get_potential_energy()),
                      KEYS["stress"]: voigt_6_to_full_3x3_stress(np.asarray(a.get_stress(), float)).reshape(-1)}
        frame.arrays[KEYS["forces"]] = np.asarray(a.get_forces(), float)
        frames.append(frame)
    write_extxyz(path, frames)


def _run(cmd: Sequence[str], cwd: Path, what: str) -> None:
    tail: list[str] = []
    with subprocess.Popen(list(cmd), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:  # mace's log, live, on our stderr
            sys.stderr.write(line)
            tail = (tail + [line.rstrip()])[-20:]
    if proc.returncode != 0:
        raise FinetuneError(f"{what} failed (exit {proc.returncode}); last lines:\n" + "\n".join(tail),
                            reason="training_failed")


def evaluate_mace(python: str, model: Path, configs_file: Path, output: Path, device: str,
                  batch_size: int) -> list[Prediction]:
    """Energies and forces of ``model`` on ``configs_file`` with mace's ``eval_configs``."""
    from litraj_data.store.extxyz import iter_extxyz

    _run([python, "-m", "mace.cli.eval_configs", *eval_args(model, configs_file, output, device, batch_size)],
         output.parent, "mace eval_configs")
    with open(output, encoding="utf-8") as fh:
        return [(float(a.info["MACE_energy"]), np.asarray(a.arrays["MACE_forces"], float))
                for a in iter_extxyz(fh, label=str(output))]


def finetune_mace(train: Configs, val: Configs, out: Path, work: Path, protocol: Protocol, epochs: int,
                  device: str, weights: str | None = None, seed: int = 1,
                  python: str | None = None) -> dict[str, Any]:
    """Fine-tune MACE-MP-0 from the local foundation model ``weights``; write ``out/mace_finetuned.model``.

    Returns
    -------
    dict
        ``weights``, ``before_predictions`` / ``after_predictions`` (mace's eval_configs on
        ``val``), ``command``.
    """
    python = check_mace(python, weights)
    run = (work / "mace").resolve()
    run.mkdir(parents=True, exist_ok=True)
    write_mace_extxyz(run / "train.extxyz", train)
    write_mace_extxyz(run / "valid.extxyz", val)
    foundation = str(Path(weights).resolve())
    before = evaluate_mace(python, Path(foundation), run / "valid.extxyz", run / "before.extxyz", device,
                           protocol.batch_size)
    cmd = [python, "-m", "mace.cli.run_train",
           *run_train_args(foundation, run / "train.extxyz", run / "valid.extxyz", run, protocol, epochs, device, seed)]
    _run(cmd, run, "mace run_train")
    model = run / f"{RUN_NAME}.model"
    if not model.is_file():
        raise FinetuneError(f"mace run_train wrote no {model.name} in {run}", reason="training_failed")
    after = evaluate_mace(python, model, run / "valid.extxyz", run / "after.extxyz", device, protocol.batch_size)
    tmp = out / f".{WEIGHTS_NAME}.tmp"
    shutil.copyfile(model, tmp)
    tmp.replace(out / WEIGHTS_NAME)
    return {"weights": WEIGHTS_NAME, "before_predictions": before, "after_predictions": after, "command": cmd}
