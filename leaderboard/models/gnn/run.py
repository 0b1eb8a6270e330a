"""``train_gnn``: load a task, train one architecture with its library, write predictions and card.

A run folder holds::

    predictions.csv      id column (material_id / edge_id) + prediction, the task's split
    model_card.yaml      a complete model card (`litraj score --metadata`)
    run.json             arch, hyperparameters, model config, normalisation, loss history, timings
    model.pt             the best-validation weights (a plain state dict: loads with weights_only=True)
    checkpoints/best.ckpt  Lightning's weights-only checkpoint of the same epoch
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from litraj_data.io import atomic_write_json, atomic_write_table, atomic_write_text, atomic_writer
from litraj_data.lazy import lazy_import
from litraj_data.leaderboard.models.gnn.card import hardware, model_card
from litraj_data.leaderboard.models.gnn.data import GraphSplit, check_species, check_task, load_splits, r_max_for
from litraj_data.leaderboard.models.gnn.errors import GNNError
from litraj_data.leaderboard.models.gnn.settings import PAPER_NAMES, get_preset, resolve
from litraj_data.leaderboard.models.gnn.trainer import check_device, count_parameters, stdout_to_stderr
from litraj_data.leaderboard.scoring.tasks import get_task

__all__ = ["train_gnn", "read_run", "load_weights", "network_parameters", "preset_parameters"]


def network_parameters(arch: str, model_hp: Mapping[str, Any]) -> int:
    """Trainable parameters of the untrained ``arch`` network built from ``model_hp`` on CPU.

    The network is the one :func:`train_gnn` trains (the same builder and type list); nothing
    is trained and no data is read, so this takes seconds.
    """
    if arch == "m3gnet":
        from litraj_data.leaderboard.models.gnn.m3gnet import build_model

        return count_parameters(build_model(dict(model_hp)))
    from litraj_data.leaderboard.models.gnn.nequip_family import build_network

    return count_parameters(build_network(arch, dict(model_hp)))


def preset_parameters(preset: str) -> int:
    """Trainable parameters of the network of a named preset (:data:`~.settings.PRESETS`)."""
    chosen = get_preset(preset)
    model_hp, _ = resolve(chosen.arch, {}, preset=preset)
    return network_parameters(chosen.arch, model_hp)


def read_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``run.json`` of a previous run folder (``--init-from``), checked for what a transfer needs."""
    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    if not path.is_file() or not (run_dir / "model.pt").is_file():
        raise GNNError(f"--init-from {run_dir}: not a `litraj train gnn` run folder (needs run.json and model.pt)",
                       reason="bad_init_from")
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested past the parser's depth
        raise GNNError(f"--init-from {path}: unreadable run.json ({exc})", reason="bad_init_from") from None
    if not isinstance(run, dict):
        raise GNNError(f"--init-from {path}: run.json holds a {type(run).__name__}, not an object",
                       reason="bad_init_from")
    missing = [k for k in ("arch", "model_hp", "model_config", "task") if k not in run]
    if missing:
        raise GNNError(f"--init-from {path}: run.json lacks {missing}", reason="bad_init_from")
    return run


def load_weights(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The state dict in ``run_dir/model.pt``, loaded the restricted way (tensors only).

    :func:`litraj_data.trust.load_torch` refuses a pickle that names code (``unsafe_weights``)
    and a file that is no checkpoint (``weights_invalid``); a run folder that ``train gnn``
    wrote always passes, so there is no ``--trust`` here.
    """
    from litraj_data.errors import LitrajError
    from litraj_data.trust import load_torch

    path = Path(run_dir) / "model.pt"
    try:
        state = load_torch(path, what="--init-from")
    except LitrajError as exc:
        raise GNNError(str(exc), reason=exc.reason) from None
    if not isinstance(state, dict):
        raise GNNError(f"--init-from {path}: expected a state dict, got {type(state).__name__}",
                       reason="bad_init_from")
    return state


def _fit(arch: str, train: GraphSplit, val: GraphSplit, model_hp: dict[str, Any], train_hp: dict[str, Any],
         prev: Mapping[str, Any] | None, init_state: dict[str, Any] | None, **kw: Any) -> Any:
    if arch == "m3gnet":
        from litraj_data.leaderboard.models.gnn import m3gnet

        return m3gnet.fit(train, val, model_hp, train_hp, init_state=init_state,
                          norm=None if prev is None else prev.get("norm") or None, **kw)
    from litraj_data.leaderboard.models.gnn import nequip_family

    return nequip_family.fit(arch, train, val, model_hp, train_hp, init_state=init_state,
                             init_config=None if prev is None else prev["model_config"], **kw)


def _train_and_predict(arch: str, train: GraphSplit, val: GraphSplit, model_hp: dict[str, Any],
                       train_hp: dict[str, Any], prev: Mapping[str, Any] | None, init_state: dict[str, Any] | None,
                       target: GraphSplit, *, epochs: int, device: str, out_dir: Path, seed: int, label: str
                       ) -> tuple[Any, np.ndarray, float, float, np.ndarray, str]:
    L = lazy_import("lightning")

    with stdout_to_stderr():
        L.seed_everything(seed, workers=True, verbose=False)
        t0 = time.perf_counter()
        result = _fit(arch, train, val, model_hp, train_hp, prev, init_state, epochs=epochs, device=device,
                      out_dir=out_dir, label=label, **({} if arch == "m3gnet" else {"seed": seed}))
        fit_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        pred = result.predict(target)
        predict_s = time.perf_counter() - t1
        val_pred = result.predict(val)
    return result, pred, fit_s, predict_s, val_pred, hardware(device)


def train_gnn(arch: str | None, task_id: str, out_dir: str | os.PathLike, *, epochs: int,
              source: str | None = None, cache_dir: str | None = None, init_from: str | os.PathLike | None = None,
              device: str = "cpu", seed: int = 0, overrides: Mapping[str, Any] | None = None,
              data: Mapping[str, GraphSplit] | None = None, threads: int | None = None,
              preset: str | None = None) -> dict[str, Any]:
    """Train ``arch`` on train (+ val for the best epoch) of ``task_id`` and predict its split.

    Parameters
    ----------
    arch
        ``m3gnet``, ``nequip`` or ``allegro``; may be ``None`` when ``preset`` names it.
    task_id
        A scalar task: ``BVEL13k/E_1D`` (``E_2D``, ``E_3D``), ``nebBVSE122k/em``, ``nebDFT2k/em``.
    out_dir
        Run folder (created): predictions, model card, weights, ``run.json``.
    epochs
        Maximum epochs (NequIP/Allegro may stop early on the validation MAE).
    source, cache_dir
        Where the dataset comes from, as :func:`litraj_data.loaders.load_litraj`.
    init_from
        A previous run folder: its architecture and weights are the starting point
        (BVSE -> DFT transfer learning); the card's name gets ``-tl``.
    device
        ``cpu`` or ``cuda`` (an error when no GPU is visible).
    overrides
        Hyperparameters to change (see :mod:`litraj_data.leaderboard.models.gnn.settings`).
    data
        ``{"train", "val", "<task split>"}`` -> :class:`GraphSplit`, instead of loading.
    preset
        A named network size (:data:`~litraj_data.leaderboard.models.gnn.settings.PRESETS`:
        ``nequip`` about 2 M parameters, ``nequip-s`` about 0.2 M, ``m3gnet``, ``allegro``);
        ``overrides`` still win. The card takes the preset's row name (``Nequip-s``).
    threads
        CPU threads of torch for this run (restored after). On a shared machine one thread
        per process is much faster than torch's default: its threads spin-wait when cores
        are taken by others (measured 40x on a loaded two-core box).

    Returns
    -------
    dict
        The record ``--json`` prints (files, counts, best epoch, validation MAE, timings).
    """
    chosen = None
    if preset is not None:
        chosen = get_preset(preset)
        if arch is None:
            arch = chosen.arch
    if arch is None:
        raise GNNError("no architecture: give --arch or --preset", reason="unknown_arch")
    task = get_task(task_id)
    check_task(task)
    device = check_device(device)
    if not isinstance(epochs, int) or epochs < 1:
        raise GNNError(f"--epochs must be a positive integer, got {epochs!r}", reason="bad_hyperparameter")
    prev = init_state = None
    if init_from is not None:
        prev = read_run(init_from)
        if prev["arch"] != arch:
            raise GNNError(f"--init-from {init_from} is a {prev['arch']} run, not {arch}", reason="arch_mismatch")
        init_state = load_weights(init_from)
    model_hp, train_hp = resolve(arch, overrides or {}, None if prev is None else prev["model_hp"], preset=preset)
    if arch != "m3gnet" and model_hp.get("r_max") is None:
        model_hp["r_max"] = r_max_for(task)
    eval_split = task.split
    if data is None:
        data = load_splits(task, ["train", "val", eval_split], source=source, cache_dir=cache_dir)
    missing = [s for s in ("train", "val", eval_split) if s not in data]
    if missing:
        raise GNNError(f"no {missing} split given for {task.id}", reason="too_few_rows")
    check_species(dict(data))
    train, val = data["train"].labelled(), data["val"].labelled()
    if len(train) < 2 or len(val) < 1:
        raise GNNError(f"{task.id}: {len(train)} labelled train and {len(val)} val rows; need at least 2 and 1",
                       reason="too_few_rows")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = (chosen.name if chosen is not None else PAPER_NAMES[arch]) + ("-tl" if init_from is not None else "")
    torch = lazy_import("torch")

    threads_before = torch.get_num_threads()
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise GNNError(f"--threads must be a positive integer, got {threads!r}", reason="bad_hyperparameter")
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    try:
        target = data[eval_split]
        result, pred, fit_s, predict_s, val_pred, hw = _train_and_predict(
            arch, train, val, model_hp, train_hp, prev, init_state, data[eval_split], epochs=epochs, device=device,
            out_dir=out_dir, seed=seed, label=f"{name} {task.id}")
    finally:
        torch.set_num_threads(threads_before)

    wall = time.perf_counter() - t0
    if len(pred) != len(target) or not np.all(np.isfinite(pred)):
        raise GNNError(f"{arch} returned {len(pred)} predictions ({int(np.sum(~np.isfinite(pred)))} not finite) "
                       f"for {len(target)} rows", reason="bad_prediction")
    pred_path = out_dir / "predictions.csv"
    atomic_write_table(pd.DataFrame({task.id_column: target.ids, "prediction": pred}), pred_path)
    with atomic_writer(out_dir / "model.pt", "wb") as fh:
        torch.save({k: v.detach().cpu() for k, v in result.model.state_dict().items()}, fh)
    n_params = count_parameters(result.model)
    val_mae = float(np.mean(np.abs(val_pred - val.y)))
    mean_mae = float(np.mean(np.abs(val.y - np.mean(train.y))))
    hp = {"arch": arch, **model_hp, **train_hp, "epochs": epochs, "epochs_run": result.epochs_run,
          "best_epoch": result.best_epoch, "seed": seed, "preset": preset,
          "type_names": "H..Pu + X (dummy at the hop centroid)",
          "init_from": None if init_from is None else str(init_from)}
    datasets = [task.dataset] + ([] if prev is None else [d for d in prev.get("datasets", []) if d != task.dataset])
    card = model_card(arch=arch, name=name, task=task, n_parameters=n_params, hyperparameters=hp, wall_time_s=wall,
                      hardware=hw, datasets=datasets, from_scratch=prev is None,
                      notes=None if prev is None else f"fine-tuned from a {prev['arch']} run on {prev['task']}")
    card_path = out_dir / "model_card.yaml"
    atomic_write_text(card_path, yaml.safe_dump(card, sort_keys=False))
    graphs = len(train) + len(val)
    run = {"arch": arch, "name": name, "task": task.id, "dataset": task.dataset, "dataset_version": task.version,
           "datasets": datasets, "source": None if source is None else str(source), "split": eval_split,
           "preset": preset, "model_hp": model_hp, "train_hp": train_hp, "model_config": result.model_config,
           "norm": result.norm,
           "epochs": epochs, "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
           "best_val_mae": result.best_val_mae, "val_mae": val_mae, "val_mae_mean_predictor": mean_mae,
           "history": result.history, "seed": seed, "n_parameters": n_params, "device": device,
           "hardware": hw, "wall_time_s": wall, "fit_s": fit_s, "predict_s": predict_s,
           "graphs_per_s": graphs * max(result.epochs_run, 1) / fit_s if fit_s > 0 else None,
           "n_train": len(train), "n_val": len(val), "n_predicted": len(target),
           "mean_atoms": float(np.mean([len(a) for a in train.atoms + val.atoms])),
           "init_from": None if init_from is None else str(init_from)}
    atomic_write_json(out_dir / "run.json", run)
    return {"file": str(out_dir), "task": task.id, "arch": arch, "model": name, "predictions": str(pred_path),
            "model_card": str(card_path), "n_train": len(train), "n_val": len(val), "n_predicted": len(target),
            "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "val_mae": val_mae,
            "val_mae_mean_predictor": mean_mae, "n_parameters": n_params, "preset": preset,
            "wall_time_s": round(wall, 2),
            "device": device}
