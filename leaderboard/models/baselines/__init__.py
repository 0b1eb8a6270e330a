"""Classical baselines of the LiTraj leaderboard: the paper's feature sets + scikit-learn/xgboost regressors.

Features come from :mod:`litraj_data.leaderboard.models.features` (SI S1 Voronoi set, Ward et al. 2017).
The names below are served on first use (:func:`litraj_data.lazy.lazy_exports`): the CLI reads the
model and feature choices without importing the training code.
"""
from litraj_data.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "FEATURES": "models", "make_search": "models", "model_names": "models",
    "featurize_rows": "train", "model_label": "train", "predict_baseline": "train", "train_baseline": "train",
    "baseline_board": "quickstart",
})

__all__ = ["FEATURES", "make_search", "model_names", "featurize_rows", "model_label", "predict_baseline",
           "train_baseline", "baseline_board"]
