"""Benchmark: GNN training throughput per architecture (graphs/s) and projected epoch times.

Each architecture (M3GNet via matgl, NequIP, Allegro) is trained side by side in one run
with ``litraj train gnn``'s own code path (the libraries' Lightning trainers) at the
paper's settings and the default network sizes, on the embedded sample: BVEL13k/E_1D
(crystal structures) and nebBVSE122k/em (hop supercells with the dummy X, ~100 atoms).
Reported per run: wall seconds per epoch (training + validation; the first epoch, which
builds graphs and warms caches, is reported apart), graphs/s and atoms/s of the steady
epochs, peak RSS, the ratio of each architecture's graphs/s to M3GNet's, and the projected
time of one epoch over the official train+val splits (BVEL13k 11,490 structures,
nebBVSE122k 109,254 hops, nebDFT2k 1,461 hops) at the measured graphs/s of the same kind
of structure (hop supercells for the hop datasets).

There is no external peer to run beside: the paper gives no timings and the training
loops are the libraries' own; the ratios are between the architectures.

Run: python benchmarks/bench_gnn.py [--archs m3gnet nequip allegro] [--epochs 3] [--threads 1]
     [--device cpu|cuda] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

OFFICIAL_TRAIN_VAL = {"BVEL13k": 10159 + 1331, "nebBVSE122k": 96849 + 12405, "nebDFT2k": 1220 + 241}
TASKS = {"BVEL13k": "BVEL13k/E_1D", "nebBVSE122k": "nebBVSE122k/em"}


def _one(arch: str, task: str, epochs: int, threads: int, device: str, hp: dict) -> dict:
    from litraj_data.leaderboard.models.gnn.run import train_gnn

    with tempfile.TemporaryDirectory(prefix="bench-gnn-") as out:
        rec = train_gnn(arch, task, out, epochs=epochs, source="sample", device=device, threads=threads,
                        overrides=hp)
        run = json.loads((Path(out) / "run.json").read_text())
    n_graphs = run["n_train"] + run["n_val"]
    epoch_s = [h["epoch_s"] for h in run["history"]]
    steady = statistics.median(epoch_s[1:]) if len(epoch_s) > 1 else epoch_s[0]
    return {"arch": arch, "task": task, "epochs": len(epoch_s), "graphs_per_epoch": n_graphs,
            "mean_atoms": run.get("mean_atoms"), "first_epoch_s": round(epoch_s[0], 2),
            "steady_epoch_s": round(steady, 2), "graphs_per_s": round(n_graphs / steady, 3),
            "n_parameters": rec["n_parameters"], "batch_size": run["train_hp"]["batch_size"],
            "hardware": run["hardware"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", nargs="+", default=["m3gnet", "nequip", "allegro"])
    ap.add_argument("--datasets", nargs="+", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--m3gnet-batch", type=int, default=8, help="M3GNet batch (memory: ~0.2 GB per hop graph)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    rows = []
    for ds in args.datasets:
        for arch in args.archs:
            hp = {"batch_size": args.m3gnet_batch} if arch == "m3gnet" else {}
            rows.append(_one(arch, TASKS[ds], args.epochs, args.threads, args.device, hp))
            print(json.dumps(rows[-1]), file=sys.stderr)
    by = {(r["task"], r["arch"]): r for r in rows}
    for r in rows:
        ref = by.get((r["task"], "m3gnet"))
        r["ratio_vs_m3gnet"] = round(r["graphs_per_s"] / ref["graphs_per_s"], 2) if ref else None
        kind = "BVEL13k" if r["task"].startswith("BVEL13k") else "hop"
        targets = ["BVEL13k"] if kind == "BVEL13k" else ["nebBVSE122k", "nebDFT2k"]
        r["projected_epoch_h"] = {t: round(OFFICIAL_TRAIN_VAL[t] / r["graphs_per_s"] / 3600, 2) for t in targets}
    load = os.getloadavg()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"{'task':<16} {'arch':<8} {'params':>8} {'batch':>5} {'1st ep s':>9} {'ep s':>7} {'graphs/s':>9} "
          f"{'x M3GNet':>8}  projected official epoch (h)")
    for r in rows:
        proj = ", ".join(f"{k} {v}" for k, v in r["projected_epoch_h"].items())
        print(f"{r['task']:<16} {r['arch']:<8} {r['n_parameters']:>8} {r['batch_size']:>5} {r['first_epoch_s']:>9} "
              f"{r['steady_epoch_s']:>7} {r['graphs_per_s']:>9} {r['ratio_vs_m3gnet']:>8}  {proj}")
    print(f"hardware: {rows[0]['hardware']}; load average {load[0]:.1f} (1 min); peak RSS {peak_gb:.1f} GB")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "loadavg": load, "peak_rss_gb": peak_gb}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
