"""One fine-tuning run: data -> before -> the model's own training -> weights -> after -> model card.

Output folder (the contract with ``--weights DIR`` of the uMLIP runners)::

    OUT/model_card.yaml          base_model, weights, versions, data, protocol, before/after, ...
    OUT/<weights>                chgnet_finetuned.pth.tar | checkpoint_best.pth | mace_finetuned.model
    OUT/val_predictions.parquet  config_id, energy, forces of the kept model on the validation configs
    OUT/work/                    the trainer's own files (checkpoints, logs, input.yaml, lc.csv)
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from pathlib import Path
from typing import Any

import yaml

from litraj_data.errors import LitrajError
from litraj_data.io import atomic_write_text, sha256_file
from litraj_data.lazy import lazy_import
from litraj_data.leaderboard.models.finetune.data import Configs, load_configs
from litraj_data.leaderboard.models.finetune.errors import FinetuneError
from litraj_data.leaderboard.models.finetune.metrics import efs_errors, predict, write_predictions
from litraj_data.leaderboard.models.finetune.protocol import MODELS, protocol_for
from litraj_data.trust import check_weights

__all__ = ["finetune", "CARD_NAME", "PREDICTIONS_NAME", "hardware"]

CARD_NAME = "model_card.yaml"
PREDICTIONS_NAME = "val_predictions.parquet"
BASE_NAMES = {"chgnet": "CHGNet 0.3.0 (chgnet wheel)", "sevennet-0": "SevenNet-0 11Jul2024 (sevenn wheel)",
              "mace-mp-0": "MACE-MP-0 foundation model (--weights)"}


def hardware(device: str) -> str:
    """Device, CPU and core count (and the GPU's name on cuda)."""
    text = f"{device} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    if device == "cuda":
        torch = lazy_import("torch")

        text += f", {torch.cuda.get_device_name(0)}"
    return text


def _model_name(model: str) -> str:
    from litraj_data.leaderboard.reference.umlip.errors import ModelUnavailable
    from litraj_data.leaderboard.reference.umlip.runners import get_spec

    try:
        name = get_spec(model).name
    except ModelUnavailable as exc:
        raise FinetuneError(f"unknown model {model!r}; fine-tuning supports {', '.join(MODELS)}",
                            reason="unknown_model") from exc
    if name not in MODELS:
        raise FinetuneError(f"{name} has no fine-tuning entry; fine-tuning supports {', '.join(MODELS)}",
                            reason="unknown_model")
    return name


def _check_installed(model: str) -> None:
    import importlib.util

    package = {"chgnet": "chgnet", "sevennet-0": "sevenn"}.get(model)
    if package and importlib.util.find_spec(package) is None:
        raise FinetuneError(f"{model} needs the '{package}' package: pip install 'litraj-data[{package}]'",
                            reason="model_not_installed")


def _device(device: str) -> str:
    if device not in ("cpu", "cuda"):
        raise FinetuneError(f"--device must be cpu or cuda, got {device!r}", reason="bad_option")
    if device == "cuda":
        torch = lazy_import("torch")

        if not torch.cuda.is_available():
            raise FinetuneError("--device cuda requested but torch sees no CUDA device; use --device cpu",
                                reason="bad_option")
    return device


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FinetuneError(f"--out {out} is a file, not a folder", reason="out_not_empty")
    if (out / CARD_NAME).exists() and not overwrite:
        raise FinetuneError(f"--out {out} already holds a fine-tuned model ({CARD_NAME}); choose another folder "
                            "or pass --overwrite", reason="out_not_empty")
    out.mkdir(parents=True, exist_ok=True)


def _version(model: str) -> str:
    from litraj_data.leaderboard.reference.umlip.runners import get_spec

    return get_spec(model).version()


def finetune(model: str, out: str | os.PathLike, *, dataset: str = "MPLiTrj", source: Any = None,
             cache_dir: Any = None, subset: str = "all", epochs: int = 1, device: str = "cpu",
             limit: int | None = None, val_split: str = "val", weights: str | None = None,
             python: str | None = None, overwrite: bool = False, seed: int = 1, progress: bool = True,
             trust: bool = False, **protocol_overrides: Any) -> dict[str, Any]:
    """Fine-tune ``model`` on an MPLiTrj split with the model's own training code.

    Parameters
    ----------
    model : {"chgnet", "sevennet-0", "mace-mp-0"}
    out : path
        Output folder: weights, ``model_card.yaml``, ``val_predictions.parquet``, ``work/``.
    dataset, source, cache_dir
        Which data (``load_litraj`` arguments); training reads ``train``.
    subset : {"all", "vacancy"}
        ``vacancy``: end-point relaxations only (the paper's "-vac" ablation), on both the
        training and the validation configurations.
    epochs : int
    device : {"cpu", "cuda"}
    limit : int, optional
        The first N selected configurations of each split (small CPU runs).
    val_split : {"val", "train"}
        Where ``before`` / ``after`` and the best checkpoint are measured; ``train`` is for
        data without a validation split (then the errors are on the training configs).
    weights : path, optional
        Model to start from (required for mace-mp-0: the foundation model file).
    python : path, optional
        Interpreter with mace-torch (mace-mp-0 only).
    overwrite : bool
        Replace a previous fine-tune in ``out``.
    trust : bool
        Let the trainer load ``weights`` even when the file needs more than tensors and plain data
        (``--trust``: a pickle can run code). A MACE foundation ``.model`` is a pickled module, so
        mace-mp-0 needs it. Default: such files are refused (``unsafe_weights``).
    **protocol_overrides
        ``lr``, ``batch_size``, ``energy_weight``, ``force_weight``, ``stress_weight``.

    Returns
    -------
    dict
        The model card (also written to ``out/model_card.yaml``).
    """
    t_start = time.perf_counter()
    name = _model_name(model)
    protocol = protocol_for(name, **protocol_overrides)
    if epochs < 1:
        raise FinetuneError(f"--epochs must be >= 1, got {epochs}", reason="bad_option")
    if val_split not in ("val", "train"):
        raise FinetuneError(f"--val-split must be val or train, got {val_split!r}", reason="bad_option")
    _check_installed(name)
    device = _device(device)
    if name == "mace-mp-0":
        from litraj_data.leaderboard.models.finetune.mace import check_mace

        python = check_mace(python, weights)  # fail before reading any data
    elif weights is not None and not Path(weights).is_file():
        raise FinetuneError(f"{name}: --weights {weights} is not a file", reason="weights_missing")
    if weights is not None:  # the trainers (and sevenn/mace in their own processes) unpickle it
        try:
            check_weights(weights, trust=trust, what=f"{name}: --weights")
        except LitrajError as exc:
            raise FinetuneError(str(exc), reason=exc.reason) from None
    out = Path(out)
    train = load_configs(dataset, "train", source, cache_dir, subset, limit)
    val = train if val_split == "train" else load_configs(dataset, "val", source, cache_dir, subset, limit)
    for configs in (train, val):
        if len(configs) == 0:
            what = "end-point relaxation configurations" if subset == "vacancy" else "configurations"
            hint = " (pass --val-split train to measure on the training configurations)" \
                if configs is val and val_split == "val" else ""
            raise FinetuneError(f"{dataset} {configs.split} has no {what} to fine-tune on{hint}",
                                reason="empty_subset" if subset == "vacancy" else "empty_split")
    _prepare_out(out, overwrite)
    work = out / "work"
    work.mkdir(exist_ok=True)
    trained = _train(name, train, val, out, work, protocol, epochs, device, weights, seed, python, progress, trust)
    wall = time.perf_counter() - t_start  # the whole command: data, evaluations, training
    before, after = trained.pop("before"), trained.pop("after")
    after_preds = trained.pop("after_predictions")
    write_predictions(out / PREDICTIONS_NAME, val, after_preds)
    card = build_card(name, protocol, train, val, trained, before, after, dataset=dataset, source=source,
                      subset=subset, epochs=epochs, limit=limit, val_split=val_split, weights=weights,
                      python=python, seed=seed, device=device, wall=wall)
    atomic_write_text(out / CARD_NAME, yaml.safe_dump(card, sort_keys=False))
    return card


def build_card(name: str, protocol: Any, train: Configs, val: Configs, trained: dict[str, Any],
               before: dict[str, Any], after: dict[str, Any], *, dataset: str, source: Any, subset: str,
               epochs: int, limit: int | None, val_split: str, weights: str | None, python: str | None,
               seed: int, device: str, wall: float) -> dict[str, Any]:
    """The ``model_card.yaml`` document, in the schema ``--weights DIR`` reads
    (:class:`litraj_data.leaderboard.reference.umlip.finetuned.FineTuneCard`: unknown keys are refused,
    so what has no key of its own goes under ``hyperparameters`` and ``metrics``)."""
    from litraj_data._version import __version__

    train_wall = trained.get("train_wall_time_s")
    where = "training" if val_split == "train" else "validation"
    return _plain({
        "base_model": name, "weights": trained["weights"],
        "base_model_version": _version(name) if name != "mace-mp-0" else _mace_version(python),
        "base_weights": weights, "fine_tuned": True,
        "dataset": dataset, "data_version": train.data_version, "split": "train", "subset": subset,
        "epochs": epochs, "loss_weights": {"energy": protocol.energy_weight, "force": protocol.force_weight,
                                           "stress": protocol.stress_weight},
        "learning_rate": protocol.lr, "batch_size": protocol.batch_size, "protocol": protocol.as_dict(),
        "protocol_source": protocol.source, "seed": seed,
        "best_checkpoint": trained.get("best_checkpoint", trained["weights"]),
        "before": before, "after": after,
        "metrics": {"val_split": val_split, "units": "energy eV/atom, forces eV/A pooled over components",
                    "best_epoch": trained.get("best_epoch"), "trainer_reported": trained.get("trainer_reported"),
                    "history": trained.get("history")},
        "hyperparameters": {"loss": protocol.loss, "base_model_name": BASE_NAMES[name],
                            "base_weights_sha256": sha256_file(weights) if weights else None,
                            "source": None if source is None else str(source), "val_split": val_split,
                            "limit": limit, "n_train": len(train), "n_val": len(val), "train_atoms": train.n_atoms,
                            "train_wall_time_s": train_wall,
                            "train_configs_per_s": round(len(train) * epochs / train_wall, 4) if train_wall else None,
                            "command": trained.get("command")},
        "device": device, "hardware": hardware(device), "wall_time_s": round(wall, 3),
        "date": _dt.date.today().isoformat(), "litraj_data_version": __version__,
        "notes": f"before/after on the {where} configurations ({len(val)}); weights = the kept checkpoint "
                 f"({protocol.best}); OUT/{PREDICTIONS_NAME} holds its predictions there",
    })


def _mace_version(python: str | None) -> str:
    import subprocess
    import sys

    res = subprocess.run([python or sys.executable, "-c", "import mace; print(mace.__version__)"],
                         capture_output=True, text=True)
    return res.stdout.strip() or "unknown"


def _plain(value: Any) -> Any:
    """YAML-safe copy (numpy scalars -> float, tuples -> lists)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _train(name: str, train: Configs, val: Configs, out: Path, work: Path, protocol: Any, epochs: int,
           device: str, weights: str | None, seed: int, python: str | None, progress: bool,
           trust: bool = False) -> dict[str, Any]:
    """Dispatch to the model's trainer; ``before`` / ``after`` errors on ``val``."""
    from litraj_data.leaderboard.reference.umlip.runners import UMLIPProvider

    if name == "mace-mp-0":
        from litraj_data.leaderboard.models.finetune.mace import finetune_mace

        t0 = time.perf_counter()
        res = finetune_mace(train, val, out, work, protocol, epochs, device, weights, seed, python)
        res["train_wall_time_s"] = round(time.perf_counter() - t0, 3)  # includes mace's two eval_configs runs
        res["before"] = efs_errors(val, res.pop("before_predictions"))
        res["after"] = efs_errors(val, res["after_predictions"])
        return res
    batch = protocol.batch_size
    before = efs_errors(val, predict(UMLIPProvider(name, weights, device, trust=trust), val, batch, "before", progress))
    t0 = time.perf_counter()
    if name == "chgnet":
        from litraj_data.leaderboard.models.finetune.chgnet import finetune_chgnet

        res = finetune_chgnet(train, val, out, work, protocol, epochs, device, weights, seed, trust)
    else:
        from litraj_data.leaderboard.models.finetune.sevennet import finetune_sevennet

        res = finetune_sevennet(train, val, out, work, protocol, epochs, device, weights, seed)
    # the trainer's own run (graphs, epochs with their validation passes, checkpoints), not our evaluations
    res["train_wall_time_s"] = round(time.perf_counter() - t0, 3)
    if name == "sevennet-0":
        # the kept checkpoint as the registry loads it (SevenNetCalculator); equals sevenn's own record
        res["after_predictions"] = predict(UMLIPProvider(name, str(out / res["weights"]), device), val, batch,
                                           "after", progress)
    res["before"] = before
    res["after"] = efs_errors(val, res["after_predictions"])
    return res
