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
from litraj_data.errors import DataFormatError, LitrajError
from litraj_data.io import atomic_write_json, atomic_write_text, atomic_writer
from litraj_data.leaderboard.scoring.tasks import Task, get_task
from litraj_data.leaderboard.baselines.descriptors import featurize_row
from litraj_data.leaderboard.baselines.models import make_search
from litraj_data.leaderboard.baselines.persist import load_model, save_model

__all__ = ["feature_set_of", "featurize_rows", "train_baseline", "predict_baseline", "load_rows"]

_STRUCTURE = ["numbers", "positions", "cell"]


def feature_set_of(task: Task) -> str:
    """``li_sites`` for structure-level tasks (BVEL13k), ``hop`` for centroid supercells."""
    if task.kind != "scalar":
        raise DataFormatError(f"{task.id} is a {task.kind} task: baselines predict scalar targets only",
                              reason="unsupported_task")
    return "li_sites" if task.id_column == "material_id" else "hop"


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


def _featurize_one(args: tuple[dict[str, Any], str]) -> tuple[dict[str, float] | None, tuple[str, str] | None]:
    row, feature_set = args
    try:
        return featurize_row(row, feature_set), None
    except LitrajError as exc:  # per-structure failure: recorded, never fatal
        return None, (exc.reason, str(exc))


def featurize_rows(rows: pd.DataFrame, feature_set: str, tl_feature: str | None = None, *, jobs: int = 1
                   ) -> tuple[np.ndarray, list[str], list[dict[str, str]]]:
    """Feature matrix of ``rows``; rows that fail featurisation come back as NaN with a reason.

    Parameters
    ----------
    rows
        Rows with the structure block (and ``tl_feature`` when given).
    feature_set
        ``li_sites`` or ``hop``.
    tl_feature
        Column appended as the last feature (the BVSE barrier of a ``-tl`` baseline).
    jobs
        Worker processes (the Voronoi analysis is per row and CPU-bound).

    Returns
    -------
    tuple
        ``(X, names, failures)``; failures are ``{"row", "reason", "message"}``.
    """
    cols = [c for c in ("numbers", "positions", "cell") if c in rows.columns]
    work = [(row, feature_set) for row in rows[cols].to_dict("records")]
    if jobs > 1 and len(work) >= 4 * jobs:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_featurize_one, work, chunksize=max(1, len(work) // (8 * jobs))))
    else:
        results = [_featurize_one(w) for w in work]
    feats = [f for f, _ in results]
    failures = [{"row": str(i), "reason": err[0], "message": err[1]} for i, (_, err) in enumerate(results) if err]
    names = sorted({k for f in feats if f for k in f})
    X = np.array([[f.get(n, np.nan) for n in names] if f else [np.nan] * len(names) for f in feats], dtype=float)
    if tl_feature:
        X = np.column_stack([X, rows[tl_feature].to_numpy(float)])
        names = names + [tl_feature]
    return X, names, failures


def train_baseline(task_id: str, model: str, out_dir: str | os.PathLike, *, tl: bool = False,
                   source: str | None = None, rows: pd.DataFrame | None = None, seed: int = 0,
                   cache_dir: str | None = None, jobs: int = 1) -> dict[str, Any]:
    """Fit ``model`` on train+val of ``task_id`` with a grouped 5-fold grid search; save it.

    Parameters
    ----------
    task_id
        A scalar task (``BVEL13k/E_1D``, ``nebBVSE122k/em``, ``nebDFT2k/em``, ...).
    model
        ``rf``, ``xgb``, ``xgbrf``, ``knn``, ``svr`` or ``krr``.
    out_dir
        Folder for ``model.skops`` (a format that cannot run code) and ``model.json``.
    tl
        Add the task's BVSE barrier (``em_bvse`` for nebDFT2k) as a feature: the ``-tl`` variant.
    source
        Dataset source (``load_litraj(source=)``), used when ``rows`` is not given.
    rows
        Training rows (train+val) instead of loading them.
    jobs
        Featurisation worker processes.

    Returns
    -------
    dict
        What ``model.json`` holds: task, model, features, best parameters, CV MAE, counts.
    """
    task = get_task(task_id)
    if tl and not task.tl_feature:
        raise DataFormatError(f"{task.id} has no BVSE barrier feature for a -tl baseline", reason="unsupported_task")
    fset = feature_set_of(task)
    if rows is None:
        rows = load_rows(task, ("train", "val"), source=source, tl=tl, cache_dir=cache_dir)
    # null and inf targets (inf: no percolation below the BVSE cutoff) cannot be regressed on
    rows = rows[np.isfinite(rows[task.target].astype(float))].reset_index(drop=True)
    if len(rows) < 4:
        raise DataFormatError(f"{task.id}: {len(rows)} labelled training rows, need at least 4", reason="too_few_rows")
    X, names, failures = featurize_rows(rows, fset, task.tl_feature if tl else None, jobs=jobs)
    y = rows[task.target].to_numpy(float)
    groups = rows["material_id"].astype(str).to_numpy() if "material_id" in rows else None
    search, _ = make_search(model, len(rows), groups, seed)
    search.fit(X, y, groups=groups)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_model(search.best_estimator_, out_dir)
    label = {"rf": "RF", "xgb": "XGB", "xgbrf": "XGBRF", "knn": "KNN", "svr": "SVR", "krr": "KRR"}[model]
    info = {
        "task": task.id, "model": model, "label": f"{label}-tl" if tl else label, "tl": tl,
        "feature_set": fset, "features": names, "best_params": {k.replace("model__", ""): v for k, v in
                                                                   search.best_params_.items()},
        "cv_mae": float(-search.best_score_), "cv_folds": int(search.n_splits_), "n_train": int(len(rows)),
        "featurisation_failures": failures, "dataset": task.dataset, "dataset_version": task.version,
        "source": None if source is None else str(source), "seed": seed,
        "trained_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "litraj_data_version": _package_version,
    }
    atomic_write_json(out_dir / "model.json", info)
    return info


def predict_baseline(model_dir: str | os.PathLike, out: str | os.PathLike, *, source: str | None = None,
                     rows: pd.DataFrame | None = None, split: str | None = None,
                     cache_dir: str | None = None, jobs: int = 1, trust: bool = False) -> dict[str, Any]:
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
        :func:`~litraj_data.leaderboard.baselines.persist.load_model`).

    Returns
    -------
    dict
        ``{"file", "metadata", "task", "n"}``. Rows that cannot be featurised get the
        training median (the submission stays complete), counted in ``n_imputed``.
    """
    model_dir = Path(model_dir)
    info = json.loads((model_dir / "model.json").read_text())
    task = get_task(info["task"])
    estimator = load_model(model_dir, trust=trust)
    if rows is None:
        splits = [split or task.split] if (split or task.split) != "all" else ["train", "val", "test"]
        rows = load_rows(task, splits, source=source, tl=info["tl"], cache_dir=cache_dir)
    X, names, failures = featurize_rows(rows, info["feature_set"], task.tl_feature if info["tl"] else None,
                                        jobs=jobs)
    if names != info["features"]:  # feature names come from the rows: align to the training order
        index = {n: k for k, n in enumerate(names)}
        X = np.column_stack([X[:, index[n]] if n in index else np.full(len(X), np.nan) for n in info["features"]])
    pred = estimator.predict(X)
    out = Path(out)
    df = pd.DataFrame({task.id_column: rows[task.id_column].astype(str), "prediction": pred})
    out.parent.mkdir(parents=True, exist_ok=True)
    parquet = out.suffix.lower() in (".parquet", ".pq")
    with atomic_writer(out, "wb" if parquet else "w", newline="") as fh:
        if parquet:
            df.to_parquet(fh, index=False)
        else:
            df.to_csv(fh, index=False)
    meta = {
        "model": f"{info['label']} baseline", "model_version": info["litraj_data_version"],
        "authors": ["litraj-data baselines"], "url": None,
        "training_data": f"{task.dataset} {task.version} train+val ({info['n_train']} rows)",
        "fine_tuned_on_litraj": True, "dataset_version": task.version,
        "hyperparameters": {**info["best_params"], "cv_mae": info["cv_mae"], "feature_set": info["feature_set"]},
        "date": _dt.date.today().isoformat(),
    }
    meta_path = out.with_name(out.stem + ".metadata.yaml")
    atomic_write_text(meta_path, yaml.safe_dump(meta, sort_keys=False))
    return {"file": str(out), "metadata": str(meta_path), "task": task.id, "n": int(len(df)),
            "n_imputed": len(failures)}
