"""``litraj finetune --model chgnet|sevennet-0|mace-mp-0 --source S --dataset MPLiTrj --epochs N --out DIR``.

Exit codes: 0 success, 2 unusable input or a training that failed (the record says why).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from litraj_data.cli.options import (
    add_cache_dir_option,
    add_device_option,
    add_json_option,
    add_out_option,
    add_source_option,
)
from litraj_data.cli.output import emit, fail
from litraj_data.errors import LitrajError
from litraj_data.trust import TRUST_HELP

__all__ = ["register", "run_finetune"]


def register(subparsers: Any) -> None:
    """Add ``finetune`` to an argparse sub-parser collection."""
    from litraj_data.leaderboard.models.finetune.data import DATASETS, SUBSETS
    from litraj_data.leaderboard.models.finetune.protocol import MODELS

    p = subparsers.add_parser(
        "finetune", help="fine-tune a uMLIP on MPLiTrj with the model's own training code",
        description="Fine-tune CHGNet (chgnet Trainer), SevenNet-0 (sevenn train) or MACE-MP-0 (mace run_train "
                    "--foundation_model) on the train split of MPLiTrj with the paper's protocol (MSE loss, "
                    "energy/force/stress weights 1/10/1e-6, lr 1e-3, batch 32 SevenNet / 16 MACE, best validation "
                    "loss kept). Writes OUT/model_card.yaml, the weights and val_predictions.parquet; reports the "
                    "energy/force RMSE before and after on the validation configurations.")
    p.add_argument("--model", required=True, help=f"base model: {', '.join(MODELS)}")
    p.add_argument("--dataset", default="MPLiTrj", choices=list(DATASETS))
    add_source_option(p)
    add_cache_dir_option(p)
    p.add_argument("--subset", default="all", choices=list(SUBSETS),
                   help="vacancy: end-point relaxations only (the paper's '-vac' ablation)")
    p.add_argument("--epochs", type=int, required=True)
    add_out_option(p, "output folder (model_card.yaml + weights)", required=True)
    add_device_option(p)
    p.add_argument("--limit", type=int, default=None, help="first N configurations of each split")
    p.add_argument("--val-split", default="val", choices=["val", "train"],
                   help="where before/after and the best checkpoint are measured (train: data without val)")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="model to start from (required for mace-mp-0: the foundation .model file)")
    p.add_argument("--trust", action="store_true", help=TRUST_HELP + "; a MACE foundation .model needs it")
    p.add_argument("--python", default=None, metavar="PATH",
                   help="interpreter with mace-torch for mace-mp-0 (a separate venv; default this one)")
    g = p.add_argument_group("protocol overrides (defaults: the paper's)")
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--energy-weight", type=float, default=None)
    g.add_argument("--force-weight", type=float, default=None)
    g.add_argument("--stress-weight", type=float, default=None, help="in the model's stress-loss units")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--overwrite", action="store_true", help="replace a previous fine-tune in --out")
    add_json_option(p)
    p.set_defaults(func=run_finetune)


def _summary(card: dict[str, Any]) -> dict[str, Any]:
    keep = ("base_model", "base_model_version", "weights", "dataset", "data_version", "subset", "epochs",
            "loss_weights", "learning_rate", "batch_size", "device", "hardware", "wall_time_s", "before", "after")
    hp, metrics = card["hyperparameters"], card["metrics"]
    return {**{k: card.get(k) for k in keep}, "val_split": metrics["val_split"], "best_epoch": metrics["best_epoch"],
            "n_train": hp["n_train"], "n_val": hp["n_val"], "train_wall_time_s": hp["train_wall_time_s"],
            "train_configs_per_s": hp["train_configs_per_s"]}


def run_finetune(args: argparse.Namespace) -> int:
    """``litraj finetune``."""
    from litraj_data.leaderboard.models.finetune.run import CARD_NAME, finetune

    try:
        with contextlib.redirect_stdout(sys.stderr):  # trainers print on stdout, which --json reserves
            card = finetune(args.model, args.out, dataset=args.dataset, source=args.source,
                            cache_dir=args.cache_dir, subset=args.subset, epochs=args.epochs, device=args.device,
                            limit=args.limit, val_split=args.val_split, weights=args.weights, python=args.python,
                            overwrite=args.overwrite, seed=args.seed, lr=args.lr, batch_size=args.batch_size,
                            energy_weight=args.energy_weight, force_weight=args.force_weight,
                            stress_weight=args.stress_weight, trust=args.trust)
    except (LitrajError, OSError) as exc:  # OSError: a --source path that does not exist
        return fail(args, args.out, exc, code=2, command="finetune")
    record = {"file": f"{args.out}/{CARD_NAME}", "ok": True, **_summary(card)}
    b, a, rec = card["before"], card["after"], _summary(card)
    emit(args, [record],
         f"{card['base_model']} fine-tuned on {card['dataset']} ({card['subset']}, {rec['n_train']} configs, "
         f"{card['epochs']} epochs, {card['wall_time_s']:.0f} s) -> {args.out}/{card['weights']}\n"
         f"  on {rec['val_split']} ({rec['n_val']} configs): force RMSE {b['force_rmse']:.4f} -> "
         f"{a['force_rmse']:.4f} eV/A, energy RMSE {b['energy_rmse']:.4f} -> {a['energy_rmse']:.4f} eV/atom")
    return 0
