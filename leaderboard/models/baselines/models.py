"""Classical regressors of the paper's baselines with their cross-validation grids.

Every model is a scikit-learn pipeline (median imputation, scaling where the method needs
it) tuned by a 5-fold grid search on train+val; folds are grouped by ``material_id`` so that
hops of one structure never sit on both sides of a fold (the datasets split by structure).

Two grids per model: ``paper`` (the default; the paper names its models and a grid search
but publishes no grid, so this is a documented grid around each library's defaults, see
``docs/features.md``) and ``small`` (a few points, for tests and quick looks).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from litraj_data.lazy import lazy_from

#: feature sets a baseline can be trained on (the paper's SI S1 Voronoi set, Ward et al. 2017, or both)
FEATURES = ("voronoi", "ward", "both")

__all__ = ["MODELS", "GRIDS", "make_search", "model_names"]


def _rf(seed: int) -> tuple[Any, dict[str, dict[str, list]]]:
    RandomForestRegressor = lazy_from("sklearn.ensemble", "RandomForestRegressor")

    return (RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1),
            {"small": {"max_depth": [None, 12], "min_samples_leaf": [1, 3]},
             # forests dominate the CPU budget (one 200-tree fit on 1000 x 639: ~2 min on one core)
             "paper": {"n_estimators": [300], "max_depth": [None, 20], "min_samples_leaf": [1, 3],
                       "max_features": [0.33]}})


def _xgb(seed: int) -> tuple[Any, dict[str, dict[str, list]]]:
    XGBRegressor = lazy_from("xgboost", "XGBRegressor")  # imported late: xgboost is an optional extra

    return (XGBRegressor(n_estimators=200, random_state=seed, n_jobs=1, tree_method="hist"),
            {"small": {"max_depth": [3, 6], "learning_rate": [0.05, 0.1]},
             "paper": {"n_estimators": [400], "max_depth": [4, 6, 8], "learning_rate": [0.05, 0.1],
                       "subsample": [0.8]}})


def _xgbrf(seed: int) -> tuple[Any, dict[str, dict[str, list]]]:
    XGBRFRegressor = lazy_from("xgboost", "XGBRFRegressor")

    return (XGBRFRegressor(n_estimators=100, random_state=seed, n_jobs=1, tree_method="hist"),
            {"small": {"max_depth": [6, 10], "subsample": [0.8]},
             "paper": {"n_estimators": [300], "max_depth": [8, 12], "subsample": [0.8],
                       "colsample_bynode": [0.33, 0.6]}})


def _knn(seed: int) -> tuple[Any, dict[str, dict[str, list]]]:
    KNeighborsRegressor = lazy_from("sklearn.neighbors", "KNeighborsRegressor")

    return KNeighborsRegressor(), {"small": {"n_neighbors": [3, 5, 10], "weights": ["uniform", "distance"]},
                                   "paper": {"n_neighbors": [2, 3, 5, 7, 10, 15, 20],
                                             "weights": ["uniform", "distance"], "p": [1, 2]}}


def _svr(seed: int) -> tuple[Any, dict[str, dict[str, list]]]:
    SVR = lazy_from("sklearn.svm", "SVR")

    return SVR(), {"small": {"C": [0.3, 1.0, 3.0], "epsilon": [0.05], "gamma": ["scale"]},
                   "paper": {"C": [0.1, 1.0, 10.0, 100.0], "epsilon": [0.01, 0.05, 0.1],
                             "gamma": ["scale", 0.001, 0.01]}}


def _krr(seed: int) -> tuple[Any, dict[str, dict[str, list]]]:
    KernelRidge = lazy_from("sklearn.kernel_ridge", "KernelRidge")

    return KernelRidge(kernel="rbf"), {"small": {"alpha": [0.01, 0.1, 1.0], "gamma": [0.005, 0.02]},
                                       "paper": {"alpha": [0.001, 0.01, 0.1, 1.0],
                                                 "gamma": [0.0003, 0.001, 0.003, 0.01, 0.03]}}


# name -> (factory, needs scaling); names follow the paper's tables (RF, XGBRF, KNN, SVR, KRR)
GRIDS = ("paper", "small")

MODELS: dict[str, tuple[Callable[[int], tuple[Any, dict[str, dict[str, list]]]], bool]] = {
    "rf": (_rf, False), "xgb": (_xgb, False), "xgbrf": (_xgbrf, False),
    "knn": (_knn, True), "svr": (_svr, True), "krr": (_krr, True),
}


def model_names() -> list[str]:
    """Names accepted by :func:`make_search`."""
    return list(MODELS)


def make_search(name: str, n_samples: int, groups: np.ndarray | None = None, seed: int = 0,
                grid: str = "paper"):
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
    grid
        ``paper`` (default) or ``small`` (see the module docstring).

    Returns
    -------
    tuple
        ``(search, cv)``: the unfitted ``GridSearchCV`` and its splitter.
    """
    SimpleImputer = lazy_from("sklearn.impute", "SimpleImputer")
    GridSearchCV, GroupKFold, KFold = lazy_from("sklearn.model_selection", "GridSearchCV", "GroupKFold", "KFold")
    Pipeline = lazy_from("sklearn.pipeline", "Pipeline")
    StandardScaler = lazy_from("sklearn.preprocessing", "StandardScaler")

    if name not in MODELS:
        raise ValueError(f"unknown baseline model {name!r}; choose from {', '.join(MODELS)}")
    if grid not in GRIDS:
        raise ValueError(f"unknown grid {grid!r}; choose from {', '.join(GRIDS)}")
    factory, scaled = MODELS[name]
    estimator, grids = factory(seed)
    grid = grids[grid]
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
