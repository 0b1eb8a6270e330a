"""Classical baselines of the LiTraj leaderboard: the paper's feature sets + scikit-learn/xgboost regressors.

Features come from :mod:`litraj_data.leaderboard.models.features` (SI S1 Voronoi set, Ward et al. 2017).
"""
from litraj_data.leaderboard.models.baselines.models import make_search, model_names
from litraj_data.leaderboard.models.baselines.train import (FEATURES, featurize_rows, model_label, predict_baseline,
                                                     train_baseline)
from litraj_data.leaderboard.models.baselines.quickstart import baseline_board

__all__ = ["FEATURES", "make_search", "model_names", "featurize_rows", "model_label", "predict_baseline",
           "train_baseline", "baseline_board"]
