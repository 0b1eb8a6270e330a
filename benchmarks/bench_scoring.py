"""Scoring speed and memory, side by side with the authors' ``litraj.metrics`` (peer).

Each measurement runs in a fresh subprocess so that its peak RSS (VmHWM) is its own.

    python benchmarks/bench_scoring.py [--n 13167] [--bands 220] [--atoms 120] [--images 7]

Parts: regression metrics on ``n`` pairs (nebBVSE122k test size), PA-MAE of ``bands`` bands
(nebDFT2k test size), and a full ``score_submission`` of a scalar task with 1000 bootstrap
resamples and the baselines on an archive in the official layout (ours only: the peer has
no such functions).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from memory import peak_rss_mb  # noqa: E402  (VmHWM: ru_maxrss carries the parent's peak over exec)


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 3, n)
    return y, y + rng.normal(0, 0.3, n)


def _bands(n_bands: int, n_atoms: int, n_images: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    cell = np.array([[9.0, 0, 0], [1.2, 9.5, 0], [0.4, 0.7, 10.0]])
    true = rng.uniform(0, 9, (n_bands, n_images, n_atoms, 3))
    return cell, true, true + rng.normal(0, 0.1, true.shape)


def part(name: str, a: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    if name == "metrics_ours":
        from litraj_data.leaderboard.scoring.metrics import regression_metrics

        y, yh = _data(a.n)
        t0 = time.perf_counter()
        for _ in range(a.repeat):
            out = regression_metrics(y, yh)
        value = out["mae"]
    elif name == "metrics_peer":
        from litraj.metrics import get_metrics

        y, yh = _data(a.n)
        t0 = time.perf_counter()
        for _ in range(a.repeat):
            out = get_metrics(y, yh)
        value = out["mae"]
    elif name == "pa_mae_ours":
        from litraj_data.leaderboard.scoring.metrics import pa_mae

        cell, true, pred = _bands(a.bands, a.atoms, a.images)
        t0 = time.perf_counter()
        value = float(np.mean([pa_mae(t, p, cell) for t, p in zip(true, pred)]))
    elif name == "pa_mae_peer":
        from ase import Atoms
        from litraj.metrics import PA_MAE

        cell, true, pred = _bands(a.bands, a.atoms, a.images)
        t0 = time.perf_counter()
        vals = []
        for t, p in zip(true, pred):
            ta = [Atoms(f"Li{a.atoms}", positions=x, cell=cell, pbc=True) for x in t]
            pa = [Atoms(f"Li{a.atoms}", positions=x, cell=cell, pbc=True) for x in p]
            vals.append(PA_MAE(ta, pa))
        value = float(np.mean(vals))
    elif name == "score_ours":
        import pandas as pd

        from litraj_data.leaderboard.scoring import Truth, get_task
        from litraj_data.leaderboard.scoring.score import score_submission
        from litraj_data.leaderboard.scoring.submission import Submission

        task = get_task("nebBVSE122k/em")
        y, yh = _data(a.n)
        ids = [f"mp-{i}_0_1_0_0_0" for i in range(a.n)]
        truth = Truth.from_tables(task, {"test": pd.DataFrame({"edge_id": ids, "em": y})}, version="1.0.0")
        sub = Submission(task=task, path="bench", predictions=pd.DataFrame({"edge_id": ids, "prediction": yh}))
        t0 = time.perf_counter()
        value = score_submission(sub, truth, n_boot=1000, seed=0)["subsets"]["all"]["mae"]
    elif name.startswith("baseline_"):
        import tempfile
        import warnings

        from litraj_data.leaderboard.models.baselines import predict_baseline, train_baseline
        from litraj_data.leaderboard.models.baselines.train import load_rows
        from litraj_data.leaderboard.scoring import get_task

        # the embedded sample's real hops: the synthetic archives of litraj_data.testing place X
        # between Li and an anion (no Li-Li hop), which the hop features rightly refuse
        model = name.split("_", 1)[1]
        tmp = tempfile.mkdtemp()
        task = get_task("nebBVSE122k/em")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = load_rows(task, ("train", "val"), source="sample")
        t0 = time.perf_counter()
        info = train_baseline(task.id, model, f"{tmp}/m", rows=rows, grid="small", cache_dir=f"{tmp}/cache")
        predict_baseline(f"{tmp}/m", f"{tmp}/p.csv", source="sample", cache_dir=f"{tmp}/cache")
        value = info["cv_mae"]
    else:
        raise SystemExit(f"unknown part {name}")
    seconds = time.perf_counter() - t0
    return {"part": name, "seconds": seconds, "value": value,
            "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=13167)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--bands", type=int, default=220)
    ap.add_argument("--atoms", type=int, default=120)
    ap.add_argument("--images", type=int, default=7)
    ap.add_argument("--part", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.part:
        print(json.dumps(part(a.part, a)))
        return
    args = [f"--n={a.n}", f"--repeat={a.repeat}", f"--bands={a.bands}", f"--atoms={a.atoms}", f"--images={a.images}"]
    res = {}
    parts = ("metrics_ours", "metrics_peer", "pa_mae_ours", "pa_mae_peer", "score_ours",
             "baseline_rf", "baseline_knn", "baseline_xgbrf")
    for name in parts:
        out = subprocess.run([sys.executable, __file__, "--part", name, *args], capture_output=True, text=True,
                             check=True).stdout
        res[name] = json.loads(out.strip().splitlines()[-1])
    for kind in ("metrics", "pa_mae"):
        ours, peer = res[f"{kind}_ours"], res[f"{kind}_peer"]
        assert abs(ours["value"] - peer["value"]) <= 1e-9 * max(1.0, abs(peer["value"])), (ours, peer)
        print(f"{kind:8s} ours {ours['seconds']:.4f} s  peer {peer['seconds']:.4f} s  "
              f"speed-up {peer['seconds'] / ours['seconds']:.1f}x  peak RSS ours/peer "
              f"{ours['peak_rss_mb']:.0f}/{peer['peak_rss_mb']:.0f} MB  (same value {ours['value']:.6g})")
    s = res["score_ours"]
    print(f"score_submission n={a.n} with 1000 bootstrap resamples: {s['seconds']:.2f} s, "
          f"peak RSS {s['peak_rss_mb']:.0f} MB")
    for m in ("rf", "knn", "xgbrf"):
        b = res[f"baseline_{m}"]
        print(f"baseline {m}-v on the embedded sample's nebBVSE122k train+val hops (featurise, grouped 5-fold "
              f"small-grid search, predict test): {b['seconds']:.1f} s, peak RSS {b['peak_rss_mb']:.0f} MB")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
