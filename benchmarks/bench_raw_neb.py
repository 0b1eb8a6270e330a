"""Raw NEB ingestion: configurations/s of litraj_data's readers vs plain ``ase.io.read``,
and peak RSS of a streaming MPLiTrj build as the number of hops grows.

Every measurement runs in a fresh subprocess so its peak RSS (VmHWM) is its own.

    python benchmarks/bench_raw_neb.py [--copies 40] [--repeat 3] [--rounds 3]

The readers' modes run interleaved (ase, ase_all, ours, ase, ...) ``--rounds`` times and each
mode keeps its fastest round, so a load spike from other jobs on a shared box hits all modes
alike instead of one; the per-round ratios are reported too.

Inputs: the real VASP NEB of ../shared/fixtures/vasp_neb (skipped when absent) and
authors'-layout runs generated with tests/fixtures_raw/make_raw_runs.py (BVSE calculator),
replicated under new hop ids to scale the build.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPINEL = HERE.parents[1] / "shared" / "fixtures" / "vasp_neb" / "AlCo2S4_Al_spinel"


def _peak_mb() -> float:
    # VmHWM, not ru_maxrss: ru_maxrss carries the parent's peak over fork/exec (benchmarks/memory.py)
    sys.path.insert(0, str(HERE))
    from memory import peak_rss_mb

    return peak_rss_mb()


def worker(mode: str, target: str, repeat: int) -> dict:
    import ase.io

    from litraj_data.builders.raw_runs import find_runs, read_hop

    root = Path(target)
    t0 = time.perf_counter()
    n = 0
    for _ in range(repeat):
        if mode == "ours":
            for _, path in find_runs(root)[0]:
                n += sum(1 for _ in read_hop(path).iter_configs())
        elif mode == "ase":  # the same files, plain ase.io.read, no checks
            for _, path in find_runs(root)[0]:
                for f in sorted(path.rglob("*")):
                    if f.name in ("OUTCAR", "OUTCAR.gz"):
                        n += len(ase.io.read(f, index=":", format="vasp-out"))
                    elif f.name in ("source.xyz", "target.xyz") or f.suffix == ".traj":
                        n += len(ase.io.read(f, index=":", format="traj"))
        elif mode == "ase_all":  # every file ours reads (authors' band files too), plain ase.io.read
            for _, path in find_runs(root)[0]:
                for f in sorted(path.rglob("*")):
                    if f.name in ("OUTCAR", "OUTCAR.gz"):
                        n += len(ase.io.read(f, index=":", format="vasp-out"))
                    elif f.name in ("source.xyz", "target.xyz") or f.suffix == ".traj":
                        n += len(ase.io.read(f, index=":", format="traj"))
                    elif f.name in ("traj_init.xyz", "traj_final.xyz"):
                        ase.io.read(f, index=":", format="extxyz")  # band files: read, not configurations
        elif mode == "build":
            from litraj_data.builders.raw_neb import build_from_raw

            out = Path(tempfile.mkdtemp())
            res = build_from_raw("MPLiTrj", root, out, progress=False, dedup=False)  # copies are identical: keep them all
            n += sum(res["rows"].values())
            shutil.rmtree(out)
    dt = time.perf_counter() - t0
    return {"mode": mode, "configs": n, "seconds": dt, "configs_per_s": n / dt, "peak_rss_mb": _peak_mb()}


def interleaved(modes: tuple[str, ...], target: Path, repeat: int, rounds: int) -> dict:
    """Each mode's fastest of ``rounds`` interleaved runs, plus every round's seconds."""
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    for _ in range(rounds):
        for m in modes:
            runs[m].append(run_worker(m, target, repeat))
    out: dict = {m: min(r, key=lambda x: x["seconds"]) for m, r in runs.items()}
    out["rounds_seconds"] = {m: [round(x["seconds"], 4) for x in r] for m, r in runs.items()}
    return out


def run_worker(mode: str, target: Path, repeat: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", mode, str(target), "--repeat", str(repeat)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def replicate(src: Path, dst: Path, copies: int) -> Path:
    """``copies`` copies of every run under ``src`` with new hop ids (material kept)."""
    dst.mkdir(parents=True, exist_ok=True)
    runs = sorted(p for p in src.iterdir() if p.name.endswith(".neb"))
    for k in range(copies):
        for r in runs:
            mid, s, t, *off = r.name[:-4].split("_")
            shutil.copytree(r, dst / f"{mid}_{int(s) + 100 * (k + 1)}_{t}_{'_'.join(off)}.neb")
    return dst


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--worker", nargs=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--copies", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the reader modes (best kept)")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.repeat)))
        return 0
    sys.path.insert(0, str(HERE.parent / "tests"))
    from fixtures_raw.make_raw_runs import cached_raw_runs

    tmp = Path(tempfile.mkdtemp(prefix="bench_raw_neb_"))
    results = {}
    if SPINEL.is_dir():
        vasp = tmp / "vasp"
        vasp.mkdir()
        shutil.copytree(SPINEL, vasp / SPINEL.name)
        results["vasp"] = interleaved(("ase", "ours"), vasp, args.repeat, args.rounds)
    t = time.perf_counter()
    gen = cached_raw_runs(tmp)
    results["generate_s"] = time.perf_counter() - t
    small = replicate(gen, tmp / "small", max(1, args.copies // 4))
    big = replicate(gen, tmp / "big", args.copies)
    results["authors"] = interleaved(("ase", "ase_all", "ours"), small, args.repeat, args.rounds)
    results["build_small"] = run_worker("build", small, 1) | {"hops": len(list(small.iterdir()))}
    results["build_big"] = run_worker("build", big, 1) | {"hops": len(list(big.iterdir()))}
    for key in ("vasp", "authors"):
        if key in results:
            r = results[key]
            r["ratio_ours_over_ase"] = r["ours"]["configs_per_s"] / r["ase"]["configs_per_s"]
            if "ase_all" in r:  # same configurations; seconds compare the same set of files
                r["ratio_ours_over_ase_all_files"] = r["ase_all"]["seconds"] / r["ours"]["seconds"]
            secs = r["rounds_seconds"]
            r["ratio_per_round"] = [round(a / o, 3) for a, o in zip(secs["ase"], secs["ours"])]
    results["load_average"] = __import__("os").getloadavg()
    print(json.dumps(results, indent=1))
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
