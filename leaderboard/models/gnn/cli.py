"""``litraj train gnn``: M3GNet, NequIP or Allegro on a scalar LiTraj task."""
from __future__ import annotations

import argparse
from typing import Any

from litraj_data.cli.options import (
    add_cache_dir_option,
    add_device_option,
    add_json_option,
    add_out_option,
    add_source_option,
    add_threads_option,
)
from litraj_data.cli.output import emit, fail
from litraj_data.errors import LitrajError
from litraj_data.leaderboard.models.gnn.settings import ARCHS, PRESETS

__all__ = ["register"]


def _cmd_gnn(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.models.gnn.run import train_gnn
    from litraj_data.leaderboard.models.gnn.settings import parse_overrides

    try:
        rec = train_gnn(args.arch, args.task, args.out, epochs=args.epochs, source=args.source,
                        cache_dir=args.cache_dir, init_from=args.init_from, device=args.device, seed=args.seed,
                        overrides=parse_overrides(args.hp or []), threads=args.threads, preset=args.preset)
    except (LitrajError, OSError) as exc:
        return fail(args, args.out, exc, code=2, command="train gnn")
    emit(args, [rec], lambda: f"{rec['model']} on {rec['task']}: {rec['epochs_run']} epochs "
         f"(best {rec['best_epoch']}), "
         f"val MAE {rec['val_mae']:.4f} (mean predictor {rec['val_mae_mean_predictor']:.4f}), "
         f"{rec['n_parameters']} parameters, {rec['wall_time_s']:.1f} s; "
         f"{rec['n_predicted']} predictions in {rec['predictions']}, card {rec['model_card']}\n"
         f"score: litraj score {rec['predictions']} --task {rec['task']} --metadata {rec['model_card']}"
         + (f" --source {args.source}" if args.source else ""), indent=2)
    return 0


def register(subparsers: Any) -> None:
    """Add ``train gnn`` to the ``litraj`` command."""
    p = subparsers.add_parser("train", help="train a model on a LiTraj task")
    sub = p.add_subparsers(dest="train_command", required=True)
    g = sub.add_parser("gnn", help="train M3GNet (matgl), NequIP or Allegro from scratch or from a run (--init-from)",
                       description="Train a GNN with its library's own training code on train, keep the best "
                                   "validation epoch, predict the task's split; writes predictions.csv, "
                                   "model_card.yaml, run.json and model.pt in --out.")
    g.add_argument("--arch", choices=ARCHS, help="architecture (may be left out with --preset)")
    g.add_argument("--preset", choices=sorted(PRESETS), help="named network size: nequip (about 2 M parameters, "
                   "Table 1), nequip-s (about 0.2 M), m3gnet (about 0.3 M), allegro (the Allegro tutorial's sizes)")
    g.add_argument("--task", required=True, help="scalar task: BVEL13k/E_1D|E_2D|E_3D, nebBVSE122k/em, nebDFT2k/em")
    add_source_option(g)
    add_cache_dir_option(g)
    g.add_argument("--epochs", type=int, required=True, help="maximum epochs")
    add_out_option(g, "run folder", required=True)
    g.add_argument("--init-from", help="run folder of a previous `train gnn` (transfer learning: its weights)")
    add_device_option(g)
    g.add_argument("--seed", type=int, default=0)
    add_threads_option(g, "torch CPU threads for the run (default: torch's; 1 is fastest on a machine whose cores "
                          "are busy with other work)")
    g.add_argument("--hp", action="append", metavar="KEY=VALUE",
                   help="change a hyperparameter (repeatable), e.g. --hp units=32 --hp batch_size=16")
    add_json_option(g)
    g.set_defaults(func=_cmd_gnn)
