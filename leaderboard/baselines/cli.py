"""``litraj baseline train`` and ``litraj baseline predict``."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from litraj_data.errors import LitrajError
from litraj_data.io import dumps_json
from litraj_data.leaderboard.baselines.models import model_names
from litraj_data.leaderboard.baselines.train import predict_baseline, train_baseline

__all__ = ["register"]


def _emit(args: argparse.Namespace, record: dict[str, Any], text: str) -> None:
    print(dumps_json({"records": [record]}, indent=2) if args.json else text)


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        info = train_baseline(args.task, args.model, args.out, tl=args.tl, source=args.source, seed=args.seed,
                              cache_dir=args.cache_dir, jobs=args.jobs)
    except (LitrajError, ValueError) as exc:
        print(f"baseline train failed: {exc}", file=sys.stderr)
        return 2
    _emit(args, {"file": args.out, **{k: v for k, v in info.items() if k != "features"}},
          f"{info['label']} on {info['task']}: CV MAE {info['cv_mae']:.4f} ({info['cv_folds']} folds, "
          f"{info['n_train']} rows), best {info['best_params']}; saved in {args.out}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    try:
        res = predict_baseline(args.model_dir, args.out, source=args.source, split=args.split,
                               cache_dir=args.cache_dir, jobs=args.jobs, trust=args.trust)
    except (LitrajError, ValueError, OSError) as exc:
        print(f"baseline predict failed: {exc}", file=sys.stderr)
        return 2
    _emit(args, res, f"wrote {res['n']} predictions for {res['task']} to {res['file']} "
          f"(metadata {res['metadata']})")
    return 0


def register(subparsers: Any) -> None:
    """Add ``baseline train`` and ``baseline predict`` to the ``litraj`` command."""
    p = subparsers.add_parser("baseline", help="classical baselines on structure descriptors")
    sub = p.add_subparsers(dest="baseline_command", required=True)
    tr = sub.add_parser("train", help="grid-search a regressor on train+val of a task")
    tr.add_argument("--task", required=True, help="scalar task, e.g. nebDFT2k/em")
    tr.add_argument("--model", default="rf", choices=model_names())
    tr.add_argument("--tl", action="store_true", help="add the BVSE barrier as a feature (-tl variant)")
    tr.add_argument("--source", help="dataset source, as load_litraj(source=)")
    tr.add_argument("--cache-dir", help="dataset cache folder")
    tr.add_argument("--out", required=True, help="model folder")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--jobs", type=int, default=1, help="featurisation worker processes")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=_cmd_train)
    pr = sub.add_parser("predict", help="predict the task's split and write a submission")
    pr.add_argument("--model-dir", required=True, help="folder written by `baseline train`")
    pr.add_argument("--source", help="dataset source, as load_litraj(source=)")
    pr.add_argument("--cache-dir", help="dataset cache folder")
    pr.add_argument("--split", help="split to predict (default: the task's)")
    pr.add_argument("--out", required=True, help="predictions file (.csv or .parquet)")
    pr.add_argument("--trust", action="store_true",
                    help="load a model file that needs untrusted types or is a legacy pickle (can run code: "
                         "only for a folder you made yourself)")
    pr.add_argument("--jobs", type=int, default=1, help="featurisation worker processes")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=_cmd_predict)
