"""Benchmark: fine-tuning throughput (configs/s) of ``litraj finetune`` on CPU, per model.

Data: the real VASP NEB of ../shared/fixtures/vasp_neb (55-atom AlCo2S4 spinel) built into
MPLiTrj rows, or synthetic release frames (``--synthetic``) when the fixture is absent.
Each model runs its own training code (CHGNet ``Trainer``, ``sevenn train``) through
``litraj_data.leaderboard.models.finetune.run.finetune`` with the paper's protocol; every epoch is
one training pass and one validation pass over the same ``--configs`` configurations
(``--val-split train``), so the throughput is conservative by up to 2x.

Side by side in one run: the model's own trainer (``train_wall_time_s``: graphs, epochs,
checkpoints) against the whole ``litraj finetune`` (data loading, before/after evaluation,
model card); the ratio is litraj's overhead. Projection: minutes per epoch of
MPLiTrj_subsample (94,044 training configurations) at the measured configs/s and atoms/s
(the projection by atoms scales by ``--mean-atoms``, the mean configuration size assumed
for MPLiTrj_subsample; the fixture's configurations have 55 atoms).

Run: python benchmarks/bench_finetune.py [--models chgnet sevennet-0] [--configs 4] [--epochs 1]
         [--device cpu|cuda] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SPINEL = SHARED / "fixtures" / "vasp_neb"
SUBSAMPLE_TRAIN = 94_044


def _source(tmp: Path, synthetic: bool) -> Path:
    if not synthetic and SPINEL.is_dir():
        from litraj_data.builders.raw_neb import build_from_raw

        build_from_raw("MPLiTrj", SPINEL, tmp / "spinel")
        return tmp / "spinel"
    from litraj_data.testing import write_release

    return write_release("MPLiTrj", tmp, {"train": 16, "val": 2, "test": 1}, make_zip=False, atoms_repeat=(2, 2, 2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["chgnet", "sevennet-0"])
    ap.add_argument("--configs", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the protocol's, capped at --configs")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--mean-atoms", type=float, default=55.0, help="assumed mean atoms per MPLiTrj_subsample config")
    ap.add_argument("--synthetic", action="store_true", help="synthetic frames instead of the real VASP NEB")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from litraj_data.leaderboard.models.finetune.protocol import PROTOCOLS
    from litraj_data.leaderboard.models.finetune.run import finetune

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = _source(tmp, args.synthetic)
        for model in args.models:
            batch = args.batch_size or min(PROTOCOLS[model].batch_size, args.configs)
            with contextlib.redirect_stdout(sys.stderr):
                card = finetune(model, tmp / f"out-{model}", source=source, epochs=args.epochs, device=args.device,
                                limit=args.configs, val_split="train", batch_size=batch, progress=False)
            hp = card["hyperparameters"]
            n = hp["n_train"] * args.epochs
            atoms_per_config = hp["train_atoms"] / hp["n_train"]
            cps = n / hp["train_wall_time_s"]
            row = {"model": model, "device": args.device, "hardware": card["hardware"], "configs": hp["n_train"],
                   "atoms_per_config": atoms_per_config, "epochs": args.epochs, "batch_size": batch,
                   "trainer_s": hp["train_wall_time_s"], "litraj_finetune_s": card["wall_time_s"],
                   "overhead_ratio": round(card["wall_time_s"] / hp["train_wall_time_s"], 3),
                   "configs_per_s": round(cps, 4), "atoms_per_s": round(cps * atoms_per_config, 2),
                   "subsample_epoch_min": round(SUBSAMPLE_TRAIN / cps / 60, 1),
                   "subsample_epoch_min_by_atoms": round(SUBSAMPLE_TRAIN * args.mean_atoms / (cps * atoms_per_config)
                                                         / 60, 1),
                   "force_rmse_before": card["before"]["force_rmse"], "force_rmse_after": card["after"]["force_rmse"],
                   "load_average_1min": round(os.getloadavg()[0], 2)}  # a shared machine slows every number
            rows.append(row)
            print(f"{model:11s} {row['configs']} x {row['atoms_per_config']:.0f} atoms, {args.epochs} epoch(s), "
                  f"batch {batch}: trainer {row['trainer_s']:.1f} s, litraj finetune {row['litraj_finetune_s']:.1f} s "
                  f"(x{row['overhead_ratio']}); {row['configs_per_s']:.3f} configs/s -> "
                  f"{row['subsample_epoch_min']:.0f} min per MPLiTrj_subsample epoch; force RMSE "
                  f"{row['force_rmse_before']:.4f} -> {row['force_rmse_after']:.4f} eV/A", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"records": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
