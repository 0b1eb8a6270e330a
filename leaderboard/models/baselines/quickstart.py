"""One call from a built dataset to a leaderboard table: train, predict, validate, score, tabulate.

Used by the README's main job (``litraj demo``) on the embedded sample, and handy to fill a
board on any built dataset.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from litraj_data.io import atomic_write_json
from litraj_data.leaderboard.models.baselines.train import predict_baseline, train_baseline
from litraj_data.leaderboard.scoring.board import build_board
from litraj_data.leaderboard.scoring.report import markdown_board
from litraj_data.leaderboard.scoring.score import score_submission
from litraj_data.leaderboard.scoring.submission import read_metadata, read_submission
from litraj_data.leaderboard.scoring.tasks import get_task

__all__ = ["baseline_board"]


def baseline_board(source: str | None = None, task_id: str = "nebBVSE122k/em", model: str = "rf", *,
                   tl: bool = False, features: str = "voronoi", grid: str = "small",
                   out_dir: str | Path | None = None, n_boot: int = 1000, seed: int = 0,
                   cache_dir: str | None = None, jobs: int = 1) -> dict[str, Any]:
    """Train a baseline on train+val of ``task_id``, score it on the task's split, build the table.

    Parameters
    ----------
    source
        Dataset source, as ``load_litraj(source=)`` (``"sample"`` for the embedded sample).
    task_id, model, tl, features
        Scalar task, regressor name, the ``-tl`` switch and the feature set (see ``train_baseline``).
    grid
        Hyperparameter grid; ``small`` by default (a quick board: ``baseline train`` uses ``paper``).
    out_dir
        Where the model, submission and score record go (a temporary folder when ``None``).
    n_boot, seed
        Bootstrap resamples and seed of the 95 % intervals.

    Returns
    -------
    dict
        ``{"record": score record, "markdown": leaderboard table with the paper's rows,
        "files": {"model", "predictions", "metadata", "record"}, "train": model.json info}``.
    """
    task = get_task(task_id)
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="litraj-baseline-"))
    tag = f"{model}-{features}" + ("-tl" if tl else "")
    info = train_baseline(task.id, model, out / "model" / tag, features=features, tl=tl, source=source, seed=seed,
                          cache_dir=cache_dir, jobs=jobs, grid=grid)
    pred = predict_baseline(out / "model" / tag, out / "submission" / f"{tag}.csv", source=source,
                            cache_dir=cache_dir, jobs=jobs)
    truth = task.load_truth(source=source, cache_dir=cache_dir)
    record = score_submission(read_submission(pred["file"], task), truth, read_metadata(pred["metadata"]),
                              n_boot=n_boot, seed=seed)
    record_path = out / "records" / f"{tag}.json"
    record_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(record_path, record)
    return {"record": record, "markdown": markdown_board(build_board([record], tasks=[task.id])),
            "files": {"model": str(out / "model" / tag), "predictions": pred["file"],
                      "metadata": pred["metadata"], "record": str(record_path)},
            "train": {k: v for k, v in info.items() if k != "features"}}
