"""Feature importances of a trained baseline, and greedy forward selection (the paper's Fig. 1g).

* impurity importance: the mean decrease of impurity of a random forest, the model's own
  when it is a forest (RF, XGBRF/XGB give their ``feature_importances_``), else a random
  forest fitted on the same training matrix (KNN, SVR and KRR have none);
* permutation importance (scikit-learn) of the trained model on a held-out split: the rise
  of its MAE when one feature column is shuffled;
* impurity-order curve: the grouped 5-fold CV MAE of a KNN regressor on the top-n features
  of the impurity ranking, n = 1, 2, ... (a cheap look; not the paper's selection);
* forward selection (:func:`forward_selection`, Fig. 1g): greedy sequential forward
  selection with a KNN regressor scored by negative MSE over fixed grouped folds, the
  curve recorded step by step, then the chosen subset refitted and scored on a held-out
  split (:func:`model_forward_selection`).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from litraj_data.lazy import lazy_from, lazy_import

__all__ = ["impurity_importance", "permutation_ranking", "knn_prefix_curve", "importances", "plot_importances",
           "forward_selection", "model_forward_selection", "plot_forward_selection", "knn_pipeline"]


def _final(estimator: Any) -> Any:
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def impurity_importance(estimator: Any, X: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """Impurity importance per column and where it came from (``model`` or ``random_forest``)."""
    final = _final(estimator)
    if hasattr(final, "feature_importances_"):
        return np.asarray(final.feature_importances_, float), "model"
    RandomForestRegressor = lazy_from("sklearn.ensemble", "RandomForestRegressor")
    SimpleImputer = lazy_from("sklearn.impute", "SimpleImputer")
    Pipeline = lazy_from("sklearn.pipeline", "Pipeline")

    rf = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                   ("model", RandomForestRegressor(n_estimators=300, random_state=seed, n_jobs=1))])
    rf.fit(X, y)
    return np.asarray(rf.steps[-1][1].feature_importances_, float), "random_forest"


def permutation_ranking(estimator: Any, X: np.ndarray, y: np.ndarray, repeats: int = 5, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the MAE increase when each column of ``X`` is permuted (``repeats`` times)."""
    permutation_importance = lazy_from("sklearn.inspection", "permutation_importance")
    from threadpoolctl import threadpool_limits

    # thousands of small predictions: a thread pool per call (KNN's distance reduction) costs
    # more than the work itself
    with threadpool_limits(limits=1):
        res = permutation_importance(estimator, X, y, scoring="neg_mean_absolute_error", n_repeats=repeats,
                                     random_state=seed, n_jobs=1)
    return np.asarray(res.importances_mean, float), np.asarray(res.importances_std, float)


def knn_prefix_curve(X: np.ndarray, y: np.ndarray, order: Sequence[int], groups: np.ndarray | None = None,
                      max_features: int = 30, n_neighbors: int = 5, seed: int = 0) -> list[dict[str, float]]:
    """Grouped-CV MAE of a scaled KNN on the first n columns of ``order``, n = 1..``max_features``."""
    SimpleImputer = lazy_from("sklearn.impute", "SimpleImputer")
    cross_val_score = lazy_from("sklearn.model_selection", "cross_val_score")
    KNeighborsRegressor = lazy_from("sklearn.neighbors", "KNeighborsRegressor")
    Pipeline = lazy_from("sklearn.pipeline", "Pipeline")
    StandardScaler = lazy_from("sklearn.preprocessing", "StandardScaler")

    cv = selection_folds(y, groups, seed)  # the same fixed folds as forward selection
    folds = len(cv)
    k = max(1, min(n_neighbors, int(len(y) * (folds - 1) / folds) - 1))
    curve = []
    for n in range(1, min(max_features, len(order)) + 1):
        cols = list(order[:n])
        pipe = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                         ("scale", StandardScaler()), ("model", KNeighborsRegressor(n_neighbors=k))])
        scores = cross_val_score(pipe, X[:, cols], y, cv=cv, scoring="neg_mean_absolute_error")
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
        sorted by decreasing importance; ``impurity_source``; ``impurity_order_curve``: the
        KNN curve on the impurity ranking's prefixes ``{"n_features", "feature", "cv_mae"}``
        (greedy forward selection is :func:`forward_selection`).
    """
    names = list(names)
    imp, source = impurity_importance(estimator, X_train, y_train, seed)
    perm, perm_std = permutation_ranking(estimator, X_eval, y_eval, repeats, seed)
    order = [int(i) for i in np.argsort(-imp, kind="stable")]
    porder = [int(i) for i in np.argsort(-perm, kind="stable")]
    curve = knn_prefix_curve(X_train, y_train, order, groups, max_features, seed=seed)
    for point in curve:
        point["feature"] = names[point.pop("added")]
    return {
        "impurity_source": source,
        "impurity": [{"feature": names[i], "importance": float(imp[i])} for i in order],
        "permutation": [{"feature": names[i], "importance": float(perm[i]), "std": float(perm_std[i])}
                        for i in porder],
        "impurity_order_curve": curve,
    }


def plot_importances(result: dict[str, Any], path: str, title: str = "", top: int = 15) -> str:
    """Three panels (impurity, permutation, KNN impurity-order curve) written atomically to ``path``."""
    matplotlib = lazy_import("matplotlib")

    matplotlib.use("Agg")  # no display needed; also keeps a user's interactive backend untouched
    plt = lazy_import("matplotlib.pyplot")

    from litraj_data.io import atomic_writer

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5))
    for ax, key, label in ((axes[0], "impurity", f"impurity ({result['impurity_source']})"),
                           (axes[1], "permutation", "permutation (MAE increase, eV)")):
        items = result[key][:top][::-1]
        ax.barh([i["feature"] for i in items], [i["importance"] for i in items],
                xerr=[i.get("std", 0.0) for i in items] if key == "permutation" else None, color="tab:blue")
        ax.set_title(label)
        ax.tick_params(axis="y", labelsize=7)
    curve = result["impurity_order_curve"]
    axes[2].plot([c["n_features"] for c in curve], [c["cv_mae"] for c in curve], "o-")
    axes[2].set_xlabel("top-n features (impurity ranking)")
    axes[2].set_ylabel("KNN 5-fold CV MAE (eV)")
    axes[2].set_title("impurity-order curve (not Fig. 1g: see `baseline select`)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else "png"
    with atomic_writer(path, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=120)
    plt.close(fig)
    return path


def _training_matrix(model_dir: str) -> tuple[dict[str, Any], Any, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """``(info, task, names, X, y, groups)`` of a ``baseline train`` folder's training matrix."""
    from pathlib import Path

    from litraj_data.errors import DataFormatError
    from litraj_data.leaderboard.models.baselines.train import TRAIN_TABLE, read_model_info
    from litraj_data.leaderboard.scoring.tasks import get_task

    pd = lazy_import("pandas")
    info = read_model_info(model_dir)
    task = get_task(info["task"])
    table_path = Path(model_dir) / TRAIN_TABLE
    if not table_path.is_file():
        raise DataFormatError(f"{table_path}: no training matrix (retrain with this version)", reason="no_train_table")
    table = pd.read_parquet(table_path)
    names = list(info["features"])
    return (info, task, names, table[names].to_numpy(float), table["__target__"].to_numpy(float),
            table["__group__"].astype(str).to_numpy())


def _held_out(info: dict[str, Any], task: Any, eval_split: str, rows: Any, source: str | None,
              cache_dir: str | None, jobs: int) -> tuple[Any, np.ndarray]:
    """The labelled held-out rows (from ``rows`` or loaded from ``source``) and their aligned features."""
    from litraj_data.errors import DataFormatError
    from litraj_data.leaderboard.models.baselines.train import align_features, load_rows

    if rows is None:
        splits = [eval_split] if eval_split != "all" else ["train", "val", "test"]
        rows = load_rows(task, splits, source=source, tl=info["tl"], cache_dir=cache_dir)
    rows = rows[np.isfinite(rows[task.target].astype(float))].reset_index(drop=True)
    if len(rows) < 2:
        raise DataFormatError(f"{task.id}: {len(rows)} labelled held-out rows, need at least 2", reason="no_labels")
    X_eval, _ = align_features(rows, info, jobs=jobs, cache_dir=cache_dir)
    return rows, X_eval


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
    from litraj_data.leaderboard.models.baselines.persist import load_model

    info, task, names, X_train, y_train, groups = _training_matrix(model_dir)
    estimator = load_model(model_dir, trust=trust)
    rows, X_eval = _held_out(info, task, split or task.split, rows, source, cache_dir, jobs)
    res = importances(estimator, names, X_train, y_train, X_eval, rows[task.target].to_numpy(float), groups,
                      repeats=repeats, max_features=max_features, seed=seed)
    return {"task": task.id, "label": info["label"], "n_train": int(len(y_train)), "n_eval": int(len(rows)), **res}


def knn_pipeline(n_neighbors: int = 5) -> Any:
    """The KNN regressor of Fig. 1g: median imputation, standard scaling, ``KNeighborsRegressor``."""
    SimpleImputer = lazy_from("sklearn.impute", "SimpleImputer")
    KNeighborsRegressor = lazy_from("sklearn.neighbors", "KNeighborsRegressor")
    Pipeline = lazy_from("sklearn.pipeline", "Pipeline")
    StandardScaler = lazy_from("sklearn.preprocessing", "StandardScaler")

    return Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                     ("scale", StandardScaler()), ("model", KNeighborsRegressor(n_neighbors=n_neighbors))])


def selection_folds(y: np.ndarray, groups: np.ndarray | None = None, seed: int = 0
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The fixed CV folds of forward selection: up to 5, grouped by ``groups`` (``material_id``) when given."""
    GroupKFold, KFold = lazy_from("sklearn.model_selection", "GroupKFold", "KFold")

    n_groups = len(set(np.asarray(groups).tolist())) if groups is not None else len(y)
    folds = max(2, min(5, n_groups))
    cv = GroupKFold(n_splits=folds) if groups is not None else KFold(folds, shuffle=True, random_state=seed)
    return [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(np.zeros((len(y), 1)), y, groups)]


def _fold_matrices(X: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, ...]]:
    # Median imputation and standard scaling act column by column, so fitting them once per
    # fold on all columns and slicing gives exactly what the pipeline fitted on a column
    # subset would give: each candidate then costs one KNN fit, not an imputer and a scaler too.
    SimpleImputer = lazy_from("sklearn.impute", "SimpleImputer")
    StandardScaler = lazy_from("sklearn.preprocessing", "StandardScaler")

    out = []
    for tr, te in folds:
        imp = SimpleImputer(strategy="median", keep_empty_features=True).fit(X[tr])
        sc = StandardScaler().fit(imp.transform(X[tr]))
        out.append((sc.transform(imp.transform(X[tr])), sc.transform(imp.transform(X[te]))))
    return out


_BLOCK = 1 << 22  # distance-matrix entries per block of held-out rows (32 MB of float64)


def _candidate_errors(state: list[dict[str, np.ndarray]], j: int, k: int) -> tuple[float, float]:
    """Mean over folds of the MSE and MAE of a k-NN on the chosen columns plus column ``j``.

    Squared Euclidean distances add over columns, so each fold keeps the distances of its
    held-out rows to its training rows over the columns chosen so far (``D``) and a
    candidate costs one (held-out x training) update and a k-smallest partition, whatever
    the number of chosen columns: the k-NN regressor of scikit-learn (uniform weights,
    Euclidean metric), computed by brute force. Neighbours at exactly equal distance may be
    taken in another order than scikit-learn's tree searches would take them.
    """
    mse, mae = [], []
    for f in state:
        xte, xtr, ytr, yte, D = f["Xte"][:, j], f["Xtr"][:, j], f["ytr"], f["yte"], f["D"]
        step = max(1, _BLOCK // max(1, len(xtr)))
        sq = ab = 0.0
        for lo in range(0, len(xte), step):
            d = D[lo:lo + step] + (xte[lo:lo + step, None] - xtr[None, :]) ** 2
            idx = np.argpartition(d, k - 1, axis=1)[:, :k]  # the k nearest, in no particular order
            pred = ytr[idx].mean(axis=1)
            err = pred - yte[lo:lo + step]
            sq += float(np.sum(err ** 2))
            ab += float(np.sum(np.abs(err)))
        mse.append(sq / len(xte))
        mae.append(ab / len(xte))
    return float(np.mean(mse)), float(np.mean(mae))


def _check_selection(max_features: Any, n_neighbors: Any, tolerance: Any) -> None:
    if not isinstance(max_features, int) or max_features < 1:
        raise ValueError(f"max_features must be a positive integer, got {max_features!r}")
    if not isinstance(n_neighbors, int) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")
    if not (isinstance(tolerance, (int, float)) and np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a non-negative number, got {tolerance!r}")


def forward_selection(X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, *, max_features: int = 40,
                      n_neighbors: int = 5, tolerance: float = 0.0, seed: int = 0, jobs: int = 1,
                      progress: bool = False) -> dict[str, Any]:
    """Greedy sequential forward selection with a KNN regressor on negative MSE (the paper's Fig. 1g).

    At each step every column not yet chosen is tried next to the chosen ones; the one whose
    cross-validated MSE (mean over the folds, as ``cross_val_score`` with
    ``neg_mean_squared_error``) is lowest is added, ties to the lowest column index. This is
    the algorithm of scikit-learn's ``SequentialFeatureSelector(direction="forward")`` with
    the same estimator, scoring and folds (``tests/test_forward_selection.py`` checks that both
    choose the same columns); it is written as a loop because the selector keeps no
    per-step scores, and the curve is the point of the figure.

    Parameters
    ----------
    X, y
        Training matrix (NaN allowed: median-imputed inside each fold) and target.
    groups
        Fold groups (``material_id``); ``None`` means shuffled K-fold.
    max_features
        Length of the curve (the paper's levels off at 30-35 features).
    n_neighbors
        k of the KNN (capped below the smallest training fold).
    tolerance
        The chosen subset is the shortest prefix of the curve whose CV MSE is within
        ``(1 + tolerance)`` of the curve's lowest (0: the lowest itself).
    jobs
        Threads over the candidates of a step (joblib).

    Returns
    -------
    dict
        ``curve``: per step ``{"n_features", "added", "cv_mse", "cv_rmse", "cv_mae"}``
        (``added`` a column index); ``selected``: the chosen column indices in order of
        selection; ``n_selected``; ``folds``; ``n_neighbors``; ``scoring``.
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, float)
    y = np.asarray(y, float)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be (rows, columns) with one row per target, got {X.shape} and {y.shape}")
    _check_selection(max_features, n_neighbors, tolerance)
    folds = selection_folds(y, groups, seed)
    k = max(1, min(int(n_neighbors), min(len(tr) for tr, _ in folds)))
    mats = _fold_matrices(X, folds)
    chosen: list[int] = []
    curve: list[dict[str, Any]] = []
    steps = min(max_features, X.shape[1])
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="forward selection", unit="feature")
    state = [{"Xtr": Xtr, "Xte": Xte, "ytr": y[tr], "yte": y[te], "D": np.zeros((len(te), len(tr)))}
             for (Xtr, Xte), (tr, te) in zip(mats, folds)]
    # threads: numpy's arithmetic and partition release the GIL, and the fold state is shared, not copied
    with threadpool_limits(limits=1), Parallel(n_jobs=jobs, prefer="threads") as pool:
        for n in range(1, steps + 1):
            taken = set(chosen)
            candidates = [j for j in range(X.shape[1]) if j not in taken]
            scores = pool(delayed(_candidate_errors)(state, j, k) for j in candidates)
            best = min(range(len(candidates)), key=lambda i: (scores[i][0], candidates[i]))
            chosen.append(candidates[best])
            for f in state:  # the chosen column's distances join every fold's running sum
                j = candidates[best]
                f["D"] += (f["Xte"][:, j, None] - f["Xtr"][None, :, j]) ** 2
            mse, mae = scores[best]
            curve.append({"n_features": n, "added": candidates[best], "cv_mse": mse, "cv_rmse": float(np.sqrt(mse)),
                          "cv_mae": mae})
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    lowest = min(c["cv_mse"] for c in curve)
    n_selected = next(c["n_features"] for c in curve if c["cv_mse"] <= lowest * (1.0 + tolerance))
    return {"curve": curve, "selected": chosen[:n_selected], "n_selected": n_selected, "folds": len(folds),
            "n_neighbors": k, "scoring": "neg_mean_squared_error", "tolerance": float(tolerance)}


def _refit_scores(X_train: np.ndarray, y_train: np.ndarray, X_eval: np.ndarray, y_eval: np.ndarray,
                  cols: list[int], n_neighbors: int) -> dict[str, float]:
    mean_absolute_error, mean_squared_error, r2_score = lazy_from("sklearn.metrics", "mean_absolute_error",
                                                                  "mean_squared_error", "r2_score")

    pipe = knn_pipeline(n_neighbors).fit(X_train[:, cols], y_train)
    pred = pipe.predict(X_eval[:, cols])
    return {"mae": float(mean_absolute_error(y_eval, pred)), "rmse": float(np.sqrt(mean_squared_error(y_eval, pred))),
            "r2": float(r2_score(y_eval, pred)) if len(y_eval) > 1 else float("nan"), "n": int(len(y_eval))}


def model_forward_selection(model_dir: str, *, source: str | None = None, rows: Any = None, split: str | None = None,
                            cache_dir: str | None = None, max_features: int = 40, n_neighbors: int = 5,
                            tolerance: float = 0.0, jobs: int = 1, seed: int = 0, progress: bool = False
                            ) -> dict[str, Any]:
    """Forward selection (Fig. 1g) on the training matrix of a ``baseline train`` folder, refit and scored.

    The folder gives the training matrix (train+val, ``train_features.parquet``) and its
    ``material_id`` groups; the held-out split (default: the task's evaluation split) is
    featurised (cached) from ``source`` or taken from ``rows``. The KNN of the selection is
    refitted on all training rows with the chosen columns and scored on the held-out split
    (MAE, RMSE, R²; the paper reports 0.14, 0.27, 0.82 on BVEL13k E_1D). The folder's own
    model is not loaded (no ``--trust`` needed).

    Raises
    ------
    DataFormatError
        ``no_model`` / ``old_model`` / ``no_train_table`` (as :func:`model_importances`),
        ``no_labels`` when the held-out rows have fewer than 2 finite targets.
    """
    _check_selection(max_features, n_neighbors, tolerance)  # before any featurisation
    info, task, names, X_train, y_train, groups = _training_matrix(model_dir)
    eval_split = split or task.split
    rows, X_eval = _held_out(info, task, eval_split, rows, source, cache_dir, jobs)
    sel = forward_selection(X_train, y_train, groups, max_features=max_features, n_neighbors=n_neighbors,
                            tolerance=tolerance, seed=seed, jobs=jobs, progress=progress)
    y_eval = rows[task.target].to_numpy(float)
    refit = _refit_scores(X_train, y_train, X_eval, y_eval, sel["selected"], sel["n_neighbors"])
    every = _refit_scores(X_train, y_train, X_eval, y_eval, list(range(len(names))), sel["n_neighbors"])
    for point in sel["curve"]:
        point["feature"] = names[point.pop("added")]
    return {"task": task.id, "label": info["label"], "feature_set": info["feature_set"], "n_train": int(len(y_train)),
            "n_eval": int(len(rows)), "eval_split": eval_split, "n_candidates": len(names),
            "estimator": f"KNeighborsRegressor(n_neighbors={sel['n_neighbors']}) after median imputation and "
                         "standard scaling", "scoring": sel["scoring"], "folds": sel["folds"],
            "grouped_by": "material_id", "tolerance": sel["tolerance"], "curve": sel["curve"],
            "n_selected": sel["n_selected"], "selected": [names[i] for i in sel["selected"]],
            "refit": refit, "all_features": every}


def plot_forward_selection(result: dict[str, Any], path: str, title: str = "") -> str:
    """The forward-selection curve (CV MSE per number of features, the chosen size marked), written atomically."""
    matplotlib = lazy_import("matplotlib")

    matplotlib.use("Agg")  # no display needed; also keeps a user's interactive backend untouched
    plt = lazy_import("matplotlib.pyplot")

    from litraj_data.io import atomic_writer

    curve = result["curve"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.plot([c["n_features"] for c in curve], [c["cv_mse"] for c in curve], "o-", ms=3, label="CV MSE")
    n = result["n_selected"]
    ax.axvline(n, color="tab:red", ls="--", lw=1, label=f"selected: {n} features")
    ax.set_xlabel("number of features (greedy forward selection)")
    ax.set_ylabel(f"KNN {result.get('folds', 5)}-fold CV MSE (eV$^2$)")
    refit = result.get("refit")
    if refit:
        ax.set_title((title + "\n" if title else "") + f"refit on {result.get('eval_split', 'test')}: MAE "
                     f"{refit['mae']:.3f}, RMSE {refit['rmse']:.3f}, R$^2$ {refit['r2']:.3f}", fontsize=9)
    elif title:
        ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else "png"
    with atomic_writer(path, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=120)
    plt.close(fig)
    return path
