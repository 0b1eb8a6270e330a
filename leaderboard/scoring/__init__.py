"""The LiTraj leaderboard: tasks, submission validation, metrics, reference rows, rendering."""
from litraj_data.leaderboard.scoring.board import build_board, load_records
from litraj_data.leaderboard.scoring.bootstrap import bootstrap_ci
from litraj_data.leaderboard.scoring.metrics import (
                         barrier,
                         mae,
                         pa_mae,
                         r2,
                         regression_metrics,
                         rmse,
                         screening_metrics,
)
from litraj_data.leaderboard.scoring.reference import paper_results, reference_rows
from litraj_data.leaderboard.scoring.score import score_submission, summarise
from litraj_data.leaderboard.scoring.submission import (
                         Band,
                         Issue,
                         Submission,
                         SubmissionInvalid,
                         check_submission,
                         read_metadata,
                         read_submission,
                         validate,
)
from litraj_data.leaderboard.scoring.tasks import Task, Truth, get_task, list_tasks

__all__ = ["barrier", "mae", "pa_mae", "r2", "regression_metrics", "rmse", "screening_metrics",
           "bootstrap_ci", "Task", "Truth", "get_task", "list_tasks", "Band", "Issue", "Submission",
           "SubmissionInvalid", "check_submission", "read_metadata", "read_submission", "validate",
           "score_submission", "summarise", "reference_rows", "paper_results", "build_board",
           "load_records"]
