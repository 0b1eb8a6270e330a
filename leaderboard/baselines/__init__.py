"""Classical baselines of the LiTraj leaderboard: structure descriptors + scikit-learn/xgboost regressors."""
from .descriptors import featurize_row, hop_features, li_site_features, row_to_structure
from .models import make_search, model_names
from .train import featurize_rows, predict_baseline, train_baseline
from .quickstart import baseline_board

__all__ = ["featurize_row", "hop_features", "li_site_features", "row_to_structure", "make_search",
           "model_names", "featurize_rows", "predict_baseline", "train_baseline", "baseline_board"]
