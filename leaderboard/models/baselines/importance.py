"""Feature importances of a trained baseline and the KNN forward-selection curve (the paper's Fig. 1g).

* impurity importance: the mean decrease of impurity of a random forest, the model's own
  when it is a forest (RF, XGBRF/XGB give their ``feature_importances_``), else a random
  forest fitted on the same training matrix (KNN, SVR and KRR have none);
* permutation importance (scikit-learn) of the trained model on a held-out split: the rise
  of its MAE when one feature column is shuffled;
* forward selection: the grouped 5-fold CV MAE of a KNN regressor on the top-n features of
  the impurity ranking, n = 1, 2, ... (how few descriptors carry the barrier).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["impurity_importance", "permutation_ranking", "knn_forward_curve", "importances", "plot_importances"]


def _final(estimator: Any) -> Any:
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def impurity_importance(estimator: Any, X: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """Impurity importance per column and where it came from (``model`` or ``random_forest``)."""
    final = _final(estimator)
    if hasattr(final, "feature_importances_"):
        return np.asarray(final.feature_importances_, float), "model"
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    rf = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                   ("model", RandomForestRegressor(n_estimators=300, random_state=seed, n_jobs=1))])
    rf.fit(X, y)
    return np.asarray(rf.steps[-1][1].feature_importances_, float), "random_forest"


def permutation_ranking(estimator: Any, X: np.ndarray, y: np.ndarray, repeats: int = 5, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the MAE increase when each column of ``X`` is permuted (``repeats`` times)."""
    from sklearn.inspection import permutation_importance
    from threadpoolctl import threadpool_limits

    # thousands of small predictions: a thread pool per call (KNN's distance reduction) costs
    # more than the work itself
    with threadpool_limits(limits=1):
        res = permutation_importance(estimator, X, y, scoring="neg_mean_absolute_error", n_repeats=repeats,
                                     random_state=seed, n_jobs=1)
    return np.asarray(res.importances_mean, float), np.asarray(res.importances_std, float)


def knn_forward_curve(X: np.ndarray, y: np.ndarray, order: Sequence[int], groups: np.ndarray | None = None,
                      max_features: int = 30, n_neighbors: int = 5, seed: int = 0) -> list[dict[str, float]]:
    """Grouped-CV MAE of a scaled KNN on the first n columns of ``order``, n = 1..``max_features``."""
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import GroupKFold, KFold, cross_val_score
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    n_groups = len(set(groups.tolist())) if groups is not None else len(y)
    folds = max(2, min(5, n_groups))
    cv = GroupKFold(n_splits=folds) if groups is not None else KFold(folds, shuffle=True, random_state=seed)
    k = max(1, min(n_neighbors, int(len(y) * (folds - 1) / folds) - 1))
    curve = []
    for n in range(1, min(max_features, len(order)) + 1):
        cols = list(order[:n])
        pipe = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                         ("scale", StandardScaler()), ("model", KNeighborsRegressor(n_neighbors=k))])
        scores = cross_val_score(pipe, X[:, cols], y, groups=groups, cv=cv, scoring="neg_mean_absolute_error")
        curve.append({"n_features": n, "added": int(cols[-1]), "cv_mae": float(-scores.mean())})
    return curve


def importances(estimator: Any, names: Sequence[str], X_train: np.ndarray, y_train: np.ndarray,
                X_eval: np.ndarray, y_eval: np.ndarray, groups: np.ndarray | None = None, *,
                repeats: int = 5, max_features: int = 30, seed: int = 0) -> dict[str, Any]:
    """All three analyses of one trained model.

    Parameters
    ----------
    estimator
        The fitted model (pipeline) as saved by ``baseline train``.
    names
        Column names of the matrices.
    X_train, y_train, groups
        The training matrix, target and CV groups (``material_id``).
    X_eval, y_eval
        A held-out split for the permutation importance.

    Returns
    -------
    dict
        ``impurity`` and ``permutation``: lists of ``{"feature", "importance"[, "std"]}``
        sorted by decreasing importance; ``impurity_source``; ``forward_selection``: the
        KNN curve ``{"n_features", "feature", "cv_mae"}``.
    """
    names = list(names)
    imp, source = impurity_importance(estimator, X_train, y_train, seed)
    perm, perm_std = permutation_ranking(estimator, X_eval, y_eval, repeats, seed)
    order = [int(i) for i in np.argsort(-imp, kind="stable")]
    porder = [int(i) for i in np.argsort(-perm, kind="stable")]
    curve = knn_forward_curve(X_train, y_train, order, groups, max_features, seed=seed)
    for point in curve:
        point["feature"] = names[point.pop("added")]
    return {
        "impurity_source": source,
        "impurity": [{"feature": names[i], "importance": float(imp[i])} for i in order],
        "permutation": [{"feature": names[i], "importance": float(perm[i]), "std": float(perm_std[i])}
                        for i in porder],
        "forward_selection": curve,
    }


def plot_importances(result: dict[str, Any], path: str, title: str = "", top: int = 15) -> str:
    """Three panels (impurity, permutation, KNN forward selection) written atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; also keeps a user's interactive backend untouched
    import matplotlib.pyplot as plt

    from litraj_data.io import atomic_writer

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5))
    for ax, key, label in ((axes[0], "impurity", f"impurity ({result['impurity_source']})"),
                           (axes[1], "permutation", "permutation (MAE increase, eV)")):
        items = result[key][:top][::-1]
        ax.barh([i["feature"] for i in items], [i["importance"] for i in items],
                xerr=[i.get("std", 0.0) for i in items] if key == "permutation" else None, color="tab:blue")
        ax.set_title(label)
        ax.tick_params(axis="y", labelsize=7)
    curve = result["forward_selection"]
    axes[2].plot([c["n_features"] for c in curve], [c["cv_mae"] for c in curve], "o-")
    axes[2].set_xlabel("top-n features (impurity ranking)")
    axes[2].set_ylabel("KNN 5-fold CV MAE (eV)")
    axes[2].set_title("forward selection")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else "png"
    with atomic_writer(path, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=120)
    plt.close(fig)
    return path


def model_importances(model_dir: str, *, source: str | None = None, rows: Any = None, split: str | None = None,
                      cache_dir: str | None = None, trust: bool = False, repeats: int = 5, max_features: int = 30,
                      jobs: int = 1, seed: int = 0) -> dict[str, Any]:
    """:func:`importances` of a folder written by ``baseline train``.

    The training matrix comes from the folder (``train_features.parquet``); the held-out
    split (default: the task's evaluation split) is featurised (cached) from ``source`` or
    taken from ``rows``.

    Raises
    ------
    DataFormatError
        ``no_model`` / ``old_model`` (see ``read_model_info``), ``no_train_table`` when the
        folder lacks the training matrix, ``no_labels`` when the held-out rows have no finite target.
    """
    from pathlib import Path

    import pandas as pd

    from litraj_data.errors import DataFormatError
    from litraj_data.leaderboard.models.baselines.persist import load_model
    from litraj_data.leaderboard.models.baselines.train import TRAIN_TABLE, align_features, load_rows, read_model_info
    from litraj_data.leaderboard.scoring.tasks import get_task

    info = read_model_info(model_dir)
    task = get_task(info["task"])
    table_path = Path(model_dir) / TRAIN_TABLE
    if not table_path.is_file():
        raise DataFormatError(f"{table_path}: no training matrix (retrain with this version)", reason="no_train_table")
    table = pd.read_parquet(table_path)
    names = list(info["features"])
    X_train = table[names].to_numpy(float)
    y_train = table["__target__"].to_numpy(float)
    groups = table["__group__"].astype(str).to_numpy()
    estimator = load_model(model_dir, trust=trust)
    if rows is None:
        splits = [split or task.split] if (split or task.split) != "all" else ["train", "val", "test"]
        rows = load_rows(task, splits, source=source, tl=info["tl"], cache_dir=cache_dir)
    rows = rows[np.isfinite(rows[task.target].astype(float))].reset_index(drop=True)
    if len(rows) < 2:
        raise DataFormatError(f"{task.id}: {len(rows)} labelled held-out rows, need at least 2", reason="no_labels")
    X_eval, _ = align_features(rows, info, jobs=jobs, cache_dir=cache_dir)
    res = importances(estimator, names, X_train, y_train, X_eval, rows[task.target].to_numpy(float), groups,
                      repeats=repeats, max_features=max_features, seed=seed)
    return {"task": task.id, "label": info["label"], "n_train": int(len(y_train)), "n_eval": int(len(rows)), **res}
