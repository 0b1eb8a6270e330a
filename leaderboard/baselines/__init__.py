"""Classical baselines of the LiTraj leaderboard: structure descriptors + scikit-learn/xgboost regressors."""
from litraj_data.leaderboard.baselines.descriptors import featurize_row, hop_features, li_site_features, row_to_structure
from litraj_data.leaderboard.baselines.models import make_search, model_names
from litraj_data.leaderboard.baselines.train import featurize_rows, predict_baseline, train_baseline
from litraj_data.leaderboard.baselines.quickstart import baseline_board

__all__ = ["featurize_row", "hop_features", "li_site_features", "row_to_structure", "make_search",
           "model_names", "featurize_rows", "predict_baseline", "train_baseline", "baseline_board"]
