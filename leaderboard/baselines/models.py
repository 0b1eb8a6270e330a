"""Classical regressors of the paper's baselines with their cross-validation grids.

Every model is a scikit-learn pipeline (median imputation, scaling where the method needs
it) tuned by a 5-fold grid search on train+val; folds are grouped by ``material_id`` so that
hops of one structure never sit on both sides of a fold (the datasets split by structure).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["MODELS", "make_search", "model_names"]


def _rf(seed: int) -> tuple[Any, dict[str, list]]:
    from sklearn.ensemble import RandomForestRegressor

    return (RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1),
            {"max_depth": [None, 12], "min_samples_leaf": [1, 3]})


def _xgb(seed: int) -> tuple[Any, dict[str, list]]:
    from xgboost import XGBRegressor  # imported late: xgboost is an optional extra

    return (XGBRegressor(n_estimators=200, random_state=seed, n_jobs=1, tree_method="hist"),
            {"max_depth": [3, 6], "learning_rate": [0.05, 0.1]})


def _xgbrf(seed: int) -> tuple[Any, dict[str, list]]:
    from xgboost import XGBRFRegressor

    return (XGBRFRegressor(n_estimators=100, random_state=seed, n_jobs=1, tree_method="hist"),
            {"max_depth": [6, 10], "subsample": [0.8]})


def _knn(seed: int) -> tuple[Any, dict[str, list]]:
    from sklearn.neighbors import KNeighborsRegressor

    return KNeighborsRegressor(), {"n_neighbors": [3, 5, 10], "weights": ["uniform", "distance"]}


def _svr(seed: int) -> tuple[Any, dict[str, list]]:
    from sklearn.svm import SVR

    return SVR(), {"C": [0.3, 1.0, 3.0], "epsilon": [0.05], "gamma": ["scale"]}


def _krr(seed: int) -> tuple[Any, dict[str, list]]:
    from sklearn.kernel_ridge import KernelRidge

    return KernelRidge(kernel="rbf"), {"alpha": [0.01, 0.1, 1.0], "gamma": [0.005, 0.02]}


# name -> (factory, needs scaling); names follow the paper's tables (RF, XGBRF, KNN, SVR, KRR)
MODELS: dict[str, tuple[Callable[[int], tuple[Any, dict[str, list]]], bool]] = {
    "rf": (_rf, False), "xgb": (_xgb, False), "xgbrf": (_xgbrf, False),
    "knn": (_knn, True), "svr": (_svr, True), "krr": (_krr, True),
}


def model_names() -> list[str]:
    """Names accepted by :func:`make_search`."""
    return list(MODELS)


def make_search(name: str, n_samples: int, groups: np.ndarray | None = None, seed: int = 0):
    """Grid search (``GridSearchCV``) of model ``name`` with up to 5 grouped folds.

    Parameters
    ----------
    name
        One of :func:`model_names`.
    n_samples
        Training rows (fewer than 5 groups lowers the fold count; at least 2 folds).
    groups
        Group label per row (``material_id``); ``None`` means plain K-fold.
    seed
        Random state of the estimators and of the fold shuffling.

    Returns
    -------
    tuple
        ``(search, cv)``: the unfitted ``GridSearchCV`` and its splitter.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if name not in MODELS:
        raise ValueError(f"unknown baseline model {name!r}; choose from {', '.join(MODELS)}")
    factory, scaled = MODELS[name]
    estimator, grid = factory(seed)
    steps = [("impute", SimpleImputer(strategy="median"))]
    if scaled:
        steps.append(("scale", StandardScaler()))
    steps.append(("model", estimator))
    if name == "knn":  # k cannot exceed the rows of a training fold
        grid = {**grid, "n_neighbors": [k for k in grid["n_neighbors"] if k < max(2, int(n_samples * 0.6))] or [1]}
    n_groups = len(set(groups.tolist())) if groups is not None else n_samples
    folds = max(2, min(5, n_groups))
    cv = GroupKFold(n_splits=folds) if groups is not None else KFold(n_splits=folds, shuffle=True,
                                                                      random_state=seed)
    search = GridSearchCV(Pipeline(steps), {f"model__{k}": v for k, v in grid.items()}, cv=cv,
                          scoring="neg_mean_absolute_error", n_jobs=1, refit=True, error_score="raise")
    return search, cv
