"""Train a baseline on train+val of a task and write predictions as a valid submission."""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import yaml

from litraj_data._version import __version__ as _package_version
from litraj_data.errors import DataFormatError
from litraj_data.io import atomic_write_json, atomic_write_table, atomic_write_text
from litraj_data.leaderboard.models.baselines.models import FEATURES, make_search
from litraj_data.leaderboard.models.baselines.persist import load_model, save_model
from litraj_data.leaderboard.scoring.tasks import Task, get_task

__all__ = ["FEATURES", "feature_kind_of", "featurize_rows", "train_baseline", "predict_baseline", "load_rows",
           "model_label", "TRAIN_TABLE", "read_model_info", "align_features"]

_STRUCTURE = ["numbers", "positions", "cell"]
TRAIN_TABLE = "train_features.parquet"  # the training matrix, kept for `baseline importance`
_MODEL_LABELS = {"rf": "RF", "xgb": "XGB", "xgbrf": "XGBRF", "knn": "KNN", "svr": "SVR", "krr": "KRR"}


def feature_kind_of(task: Task) -> str:
    """``structure`` for structure-level tasks (BVEL13k), ``hop`` for centroid supercells."""
    if task.kind != "scalar":
        raise DataFormatError(f"{task.id} is a {task.kind} task: baselines predict scalar targets only",
                              reason="unsupported_task")
    return "structure" if task.id_column == "material_id" else "hop"


def model_label(model: str, features: str, kind: str, tl: bool) -> str:
    """The paper's row name: ``SVR-v``/``RF-w`` on BVEL13k (Table 1), ``RF``/``RF-tl`` on hops (Tables 2-3)."""
    suffix = {"voronoi": "-v", "ward": "-w", "both": "-vw"}[features]
    if kind == "hop" and features == "voronoi":
        suffix = ""  # Tables 2 and 3 use the Voronoi set only and name rows without it
    return _MODEL_LABELS[model] + suffix + ("-tl" if tl else "")


def load_rows(task: Task, splits: Iterable[str], source: str | None = None, tl: bool = False,
              cache_dir: str | None = None) -> pd.DataFrame:
    """Rows of ``splits`` with the columns a baseline needs (ids, target, structure, tl feature)."""
    from litraj_data.loaders import load_litraj

    cols = [task.id_column, task.target, *_STRUCTURE]
    if task.id_column != "material_id":
        cols.append("material_id")
    if tl:
        cols.append(task.tl_feature)
    frames = []
    for split in splits:
        ds = load_litraj(task.dataset, split=split, version=task.version, source=source, cache_dir=cache_dir)
        present = [c for c in cols if c in ds.column_names]
        frames.append(ds.select_columns(present).to_pandas().assign(split=split))
    return pd.concat(frames, ignore_index=True)


def featurize_rows(rows: pd.DataFrame, features: str, kind: str, tl_feature: str | None = None, *, jobs: int = 1,
                   cache: bool = True, cache_dir: str | None = None, progress: bool = False
                   ) -> tuple[np.ndarray, list[str], list[dict[str, str]]]:
    """Feature matrix of ``rows``; rows that fail featurisation come back as NaN with a reason.

    Parameters
    ----------
    rows
        Rows with the structure block (and ``tl_feature`` when given).
    features
        ``voronoi`` (SI S1), ``ward`` (Ward et al. 2017, matminer) or ``both`` (concatenated).
    kind
        ``structure`` or ``hop`` (:func:`feature_kind_of`).
    tl_feature
        Column appended as the last feature (the BVSE barrier of a ``-tl`` baseline).
    jobs
        Worker processes.

    Returns
    -------
    tuple
        ``(X, names, failures)``; failures are ``{"row", "set", "reason", "message"}``.
    """
    from litraj_data.leaderboard.models.features import featurize_table

    if features not in FEATURES:
        raise ValueError(f"unknown feature set {features!r}; choose from {', '.join(FEATURES)}")
    sets = ["voronoi", "ward"] if features == "both" else [features]
    tables, failures = [], []
    for fs in sets:
        table, fails = featurize_table(rows, fs, kind, jobs=jobs, cache=cache, cache_dir=cache_dir, progress=progress)
        tables.append(table)
        failures += [{**f, "set": fs} for f in fails]
    names = [n for t in tables for n in t.columns]
    if len(set(names)) != len(names):  # matminer's and SI S1's names never meet; say so if they ever do
        raise DataFormatError("feature names of the two sets collide", reason="bad_format")
    X = np.column_stack([t.to_numpy(float) for t in tables]) if tables else np.zeros((len(rows), 0))
    if tl_feature:
        X = np.column_stack([X, rows[tl_feature].to_numpy(float)])
        names = names + [tl_feature]
    return X, names, failures


def train_baseline(task_id: str, model: str, out_dir: str | os.PathLike, *, features: str = "voronoi",
                   tl: bool = False, source: str | None = None, rows: pd.DataFrame | None = None, seed: int = 0,
                   cache_dir: str | None = None, jobs: int = 1, grid: str = "paper", progress: bool = False
                   ) -> dict[str, Any]:
    """Fit ``model`` on train+val of ``task_id`` with a grouped 5-fold grid search; save it.

    Parameters
    ----------
    task_id
        A scalar task (``BVEL13k/E_1D``, ``nebBVSE122k/em``, ``nebDFT2k/em``, ...).
    model
        ``rf``, ``xgb``, ``xgbrf``, ``knn``, ``svr`` or ``krr``.
    out_dir
        Folder for ``model.skops`` (a format that cannot run code), ``model.json`` and the
        training matrix ``train_features.parquet``.
    features
        ``voronoi`` ("-v", SI S1), ``ward`` ("-w", Ward et al. 2017) or ``both``.
    tl
        Add the task's BVSE barrier (``em_bvse`` for nebDFT2k) as a feature: the ``-tl`` variant.
    source
        Dataset source (``load_litraj(source=)``), used when ``rows`` is not given.
    rows
        Training rows (train+val) instead of loading them.
    jobs
        Featurisation worker processes.
    grid
        ``paper`` (default) or ``small`` (see :mod:`~litraj_data.leaderboard.models.baselines.models`).

    Returns
    -------
    dict
        What ``model.json`` holds: task, model, label, feature set, feature names, best
        parameters, CV MAE, counts.
    """
    task = get_task(task_id)
    if tl and not task.tl_feature:
        raise DataFormatError(f"{task.id} has no BVSE barrier feature for a -tl baseline", reason="unsupported_task")
    if features not in FEATURES:
        raise ValueError(f"unknown feature set {features!r}; choose from {', '.join(FEATURES)}")
    kind = feature_kind_of(task)
    if rows is None:
        rows = load_rows(task, ("train", "val"), source=source, tl=tl, cache_dir=cache_dir)
    # null and inf targets (inf: no percolation below the BVSE cutoff) cannot be regressed on
    rows = rows[np.isfinite(rows[task.target].astype(float))].reset_index(drop=True)
    if len(rows) < 4:
        raise DataFormatError(f"{task.id}: {len(rows)} labelled training rows, need at least 4", reason="too_few_rows")
    X, names, failures = featurize_rows(rows, features, kind, task.tl_feature if tl else None, jobs=jobs,
                                        cache_dir=cache_dir, progress=progress)
    usable = ~np.isnan(X).all(axis=1) if X.shape[1] else np.zeros(len(X), bool)
    if not usable.any():
        reasons = sorted({f"{f['reason']}: {f['message']}" for f in failures})[:3]
        raise DataFormatError(f"{task.id}: no training row could be featurised ({'; '.join(reasons) or 'no features'})",
                              reason="no_features")
    y = rows[task.target].to_numpy(float)
    # grouped by structure: the hops of one material never sit on both sides of a fold
    groups = rows["material_id"].astype(str).to_numpy() if "material_id" in rows else None
    search, _ = make_search(model, len(rows), groups, seed, grid=grid)
    search.fit(X, y, groups=groups)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_model(search.best_estimator_, out_dir)
    table = pd.DataFrame(X, columns=names)
    table.insert(0, "__target__", y)
    table.insert(0, "__group__", groups if groups is not None else rows[task.id_column].astype(str).to_numpy())
    table.insert(0, task.id_column, rows[task.id_column].astype(str).to_numpy())
    atomic_write_table(table, out_dir / TRAIN_TABLE)
    info = {
        "task": task.id, "model": model, "label": model_label(model, features, kind, tl), "tl": tl,
        "feature_set": features, "feature_kind": kind, "features": names, "grid": grid,
        "best_params": {k.replace("model__", ""): v for k, v in search.best_params_.items()},
        "cv_mae": float(-search.best_score_), "cv_folds": int(search.n_splits_), "n_train": int(len(rows)),
        "featurisation_failures": failures, "dataset": task.dataset, "dataset_version": task.version,
        "source": None if source is None else str(source), "seed": seed,
        "trained_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "litraj_data_version": _package_version,
    }
    atomic_write_json(out_dir / "model.json", info)
    return info


def read_model_info(model_dir: str | os.PathLike) -> dict[str, Any]:
    """``model.json`` of a model folder, checked for the current feature sets.

    Raises
    ------
    DataFormatError
        ``no_model`` without ``model.json``; ``old_model`` for a folder trained with the
        descriptors this package had before the SI S1 / Ward sets (retrain it).
    """
    path = Path(model_dir) / "model.json"
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataFormatError(f"{path}: no such file (a folder written by `litraj baseline train`?)",
                              reason="no_model") from None
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested past the parser's depth
        raise DataFormatError(f"{path}: not JSON ({exc})", reason="bad_format") from exc
    if not isinstance(info, dict):
        raise DataFormatError(f"{path}: expected a JSON object, got {type(info).__name__}", reason="bad_format")
    if info.get("feature_set") not in FEATURES:
        raise DataFormatError(f"{path}: trained on the old descriptors ({info.get('feature_set')!r}); retrain "
                              "with `litraj baseline train --features voronoi|ward|both`", reason="old_model")
    return info


def predict_baseline(model_dir: str | os.PathLike, out: str | os.PathLike, *, source: str | None = None,
                     rows: pd.DataFrame | None = None, split: str | None = None,
                     cache_dir: str | None = None, jobs: int = 1, trust: bool = False,
                     progress: bool = False) -> dict[str, Any]:
    """Predict the task's evaluation split and write a submission (CSV + metadata YAML).

    Parameters
    ----------
    model_dir
        Folder written by :func:`train_baseline`.
    out
        Predictions file (``.csv`` or ``.parquet``); ``<stem>.metadata.yaml`` is written beside it.
    source, rows, split
        Where the rows come from (default: the task's split loaded from ``source``).
    trust
        Load model files that need untrusted types or are pickles (see
        :func:`~litraj_data.leaderboard.models.baselines.persist.load_model`).

    Returns
    -------
    dict
        ``{"file", "metadata", "task", "n", "n_imputed"}``. Rows that cannot be featurised
        are predicted from median-imputed features (the submission stays complete), counted
        in ``n_imputed``.
    """
    model_dir = Path(model_dir)
    info = read_model_info(model_dir)
    task = get_task(info["task"])
    estimator = load_model(model_dir, trust=trust)
    if rows is None:
        splits = [split or task.split] if (split or task.split) != "all" else ["train", "val", "test"]
        rows = load_rows(task, splits, source=source, tl=info["tl"], cache_dir=cache_dir)
    X, failures = align_features(rows, info, jobs=jobs, cache_dir=cache_dir, progress=progress)
    pred = estimator.predict(X)
    df = pd.DataFrame({task.id_column: rows[task.id_column].astype(str), "prediction": pred})
    out = atomic_write_table(df, out)
    meta = {
        "model": f"{info['label']} baseline", "model_version": info["litraj_data_version"],
        "authors": ["litraj-data baselines"], "url": None,
        "training_data": f"{task.dataset} {task.version} train+val ({info['n_train']} rows)",
        "fine_tuned_on_litraj": True, "dataset_version": task.version,
        "hyperparameters": {**info["best_params"], "cv_mae": info["cv_mae"], "feature_set": info["feature_set"],
                            "grid": info.get("grid", "paper")},
        "date": _dt.date.today().isoformat(),
    }
    meta_path = out.with_name(out.stem + ".metadata.yaml")
    atomic_write_text(meta_path, yaml.safe_dump(meta, sort_keys=False))
    return {"file": str(out), "metadata": str(meta_path), "task": task.id, "n": int(len(df)),
            "n_imputed": len({f["row"] for f in failures})}


def align_features(rows: pd.DataFrame, info: dict[str, Any], *, jobs: int = 1, cache_dir: str | None = None,
                   progress: bool = False) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Feature matrix of ``rows`` in the column order the model of ``info`` was trained on, and the failures."""
    task = get_task(info["task"])
    X, names, failures = featurize_rows(rows, info["feature_set"], info["feature_kind"],
                                 task.tl_feature if info["tl"] else None, jobs=jobs, cache_dir=cache_dir,
                                 progress=progress)
    if names != info["features"]:  # feature names come from the rows: align to the training order
        index = {n: k for k, n in enumerate(names)}
        X = np.column_stack([X[:, index[n]] if n in index else np.full(len(X), np.nan) for n in info["features"]])
    return X, failures
