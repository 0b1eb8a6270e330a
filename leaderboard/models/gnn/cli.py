"""``litraj train gnn``: M3GNet, NequIP or Allegro on a scalar LiTraj task."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from litraj_data.errors import LitrajError
from litraj_data.io import dumps_json
from litraj_data.leaderboard.models.gnn.settings import ARCHS

__all__ = ["register"]


def _cmd_gnn(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.models.gnn.run import train_gnn
    from litraj_data.leaderboard.models.gnn.settings import parse_overrides

    try:
        rec = train_gnn(args.arch, args.task, args.out, epochs=args.epochs, source=args.source,
                        cache_dir=args.cache_dir, init_from=args.init_from, device=args.device, seed=args.seed,
                        overrides=parse_overrides(args.hp or []), threads=args.threads)
    except (LitrajError, OSError) as exc:
        if args.json:
            print(dumps_json({"records": [{"file": args.out, "ok": False,
                                           "reason": getattr(exc, "reason", type(exc).__name__),
                                           "message": str(exc)}]}))
        print(f"train gnn failed: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(dumps_json({"records": [rec]}, indent=2))
    else:
        print(f"{rec['model']} on {rec['task']}: {rec['epochs_run']} epochs (best {rec['best_epoch']}), "
              f"val MAE {rec['val_mae']:.4f} (mean predictor {rec['val_mae_mean_predictor']:.4f}), "
              f"{rec['n_parameters']} parameters, {rec['wall_time_s']:.1f} s; "
              f"{rec['n_predicted']} predictions in {rec['predictions']}, card {rec['model_card']}\n"
              f"score: litraj score {rec['predictions']} --task {rec['task']} --metadata {rec['model_card']}"
              + (f" --source {args.source}" if args.source else ""))
    return 0


def register(subparsers: Any) -> None:
    """Add ``train gnn`` to the ``litraj`` command."""
    p = subparsers.add_parser("train", help="train a model on a LiTraj task")
    sub = p.add_subparsers(dest="train_command", required=True)
    g = sub.add_parser("gnn", help="train M3GNet (matgl), NequIP or Allegro from scratch or from a run (--init-from)",
                       description="Train a GNN with its library's own training code on train, keep the best "
                                   "validation epoch, predict the task's split; writes predictions.csv, "
                                   "model_card.yaml, run.json and model.pt in --out.")
    g.add_argument("--arch", required=True, choices=ARCHS)
    g.add_argument("--task", required=True, help="scalar task: BVEL13k/E_1D|E_2D|E_3D, nebBVSE122k/em, nebDFT2k/em")
    g.add_argument("--source", help="dataset source, as load_litraj(source=)")
    g.add_argument("--cache-dir", help="dataset cache folder")
    g.add_argument("--epochs", type=int, required=True, help="maximum epochs")
    g.add_argument("--out", required=True, help="run folder")
    g.add_argument("--init-from", help="run folder of a previous `train gnn` (transfer learning: its weights)")
    g.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, help="torch CPU threads for the run (default: torch's; 1 is fastest "
                                               "on a machine whose cores are busy with other work)")
    g.add_argument("--hp", action="append", metavar="KEY=VALUE",
                   help="change a hyperparameter (repeatable), e.g. --hp units=32 --hp batch_size=16")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=_cmd_gnn)
