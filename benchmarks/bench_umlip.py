"""Benchmark: uMLIP-NEB harness, batched vs image-by-image, scaling, barriers vs BVSE-NEB.

Hops: every symmetry-inequivalent hop of the embedded sample structures whose hop
supercell (``--min-width``, default 5 A so that CHGNet and SevenNet run in minutes on a
laptop CPU) holds at most ``--max-atoms`` atoms, each started from its BVSE-NEB band
(the paper's protocol: end-point relaxation, CI-NEB, improved tangent, k = 5, FIRE,
fmax 0.1, <= 100 steps).

1. Batched vs image-by-image, same model, same hops, one run: ASE's NEB with one
   ``CHGNetCalculator`` / ``SevenNetCalculator`` per image against the harness's batched
   band evaluator (chunks of <= 64 atoms on CPU); wall-time ratio and barrier differences.
   With ``--paper-size``, also one hop at the paper's 8 A width (63 atoms): image by image,
   chunked, and the whole band in one pass.
2. Throughput in hops/hour with 1 and 2 local worker processes (CHGNet, batched).
3. CHGNet and SevenNet barriers against the BVSE-NEB barriers of the same hops.

4. ``--multi-hop`` (issue 18): hops at the paper's 8 A width, side by side in one run: ASE's
   image-by-image NEB, the batched path one hop at a time (``batch_hops=1``) and many hops
   per model call (lock step, refill); per-hop and total ratios, barrier differences, success
   metrics and where the time goes (model calls vs the rest). ``--device cuda`` for a GPU
   (hops/hour and the projected time of the 1,681-hop nebDFT2k benchmark).
5. ``--options`` (issue 18): the robust-convergence options (IDPP start, two-stage, retry
   ladder, LBFGS/BFGS) on the same hops: convergence rate at fmax 0.1 eV/A and cost.

Run: python benchmarks/bench_umlip.py [--models chgnet sevennet-0] [--paper-size] [--json OUT.json]
     python benchmarks/bench_umlip.py --multi-hop --models chgnet --hops LiCl LiBr Li3BrO LiF --json OUT.json
     python benchmarks/bench_umlip.py --options --models chgnet --hops LiCl LiBr Li3BrO LiF --json OUT.json
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.simplefilter("ignore")


def sample_hops(min_width: float, max_atoms: int):
    from litraj_data.builders.sample_structures import load_sample_structures
    from litraj_data.errors import LitrajError
    from litraj_data.leaderboard.reference.umlip.bands import structure_hops

    hops = []
    for entry in load_sample_structures():
        try:
            sh = structure_hops(entry.structure, entry.material_id, min_width=min_width)
        except LitrajError:
            continue  # no softBV parameters etc.: not part of the BVSE-started benchmark
        hops += [h for h in sh.inputs if len(h.images[0]) <= max_atoms]
    return hops


def run_set(hops, provider, batched: bool, workers: int = 1) -> tuple[dict, float]:
    from litraj_data.leaderboard.reference.neb import NEBConfig, read_records, run_hops

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            run_hops(hops, provider, out, NEBConfig(batched=batched), workers=workers)
        wall = time.perf_counter() - t0
        return {r["edge_id"]: r for r in read_records(out)}, wall


def compare(name: str, hops, provider) -> dict:
    """Image-by-image then batched on the same hops (same process, same model)."""
    ibi, t_ibi = run_set(hops, provider, batched=False)
    bat, t_bat = run_set(hops, provider, batched=True)
    per_hop = []
    for h in hops:
        a, b = ibi[h.edge_id], bat[h.edge_id]
        ok = a["error"] is None and b["error"] is None
        per_hop.append({"edge_id": h.edge_id, "n_atoms": len(h.images[0]), "n_images": len(h.images),
                        "em_bvse": h.meta.get("em_bvse"), "barrier_ibi": a["barrier"], "barrier_batched": b["barrier"],
                        "converged": bool(a["converged"] and b["converged"]), "steps": b["steps"],
                        "time_ibi": a["wall_time"], "time_batched": b["wall_time"],
                        "diff_meV": abs(a["barrier"] - b["barrier"]) * 1000 if ok else None})
    diffs = [p["diff_meV"] for p in per_hop if p["diff_meV"] is not None]
    ratios = [p["time_ibi"] / p["time_batched"] for p in per_hop if p["time_batched"]]
    res = {"model": name, "hops": len(hops), "wall_ibi_s": t_ibi, "wall_batched_s": t_bat,
           "speedup_total": t_ibi / t_bat, "speedup_median_per_hop": statistics.median(ratios),
           "max_barrier_diff_meV": max(diffs) if diffs else None, "per_hop": per_hop}
    print(f"{name}: {len(hops)} hops  image-by-image {t_ibi:.1f} s  batched {t_bat:.1f} s  "
          f"x{res['speedup_total']:.2f} (median per hop x{res['speedup_median_per_hop']:.2f}), "
          f"max |dE| {res['max_barrier_diff_meV']:.3f} meV", flush=True)
    return res


def paper_size(provider, material_id: str = "sample-LiF-225", variants=("image_by_image", "chunked", "whole_band")
               ) -> dict:
    """One hop at the paper's 8 A width: image by image, chunked, whole band in one pass."""
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.neb import NEBConfig, run_hop
    from litraj_data.leaderboard.reference.umlip import get_provider
    from litraj_data.leaderboard.reference.umlip.bands import structure_hops

    hop = structure_hops(get_sample_structure(material_id), material_id, min_width=8.0).inputs[0]
    whole = get_provider(provider.spec.name, max_batch_atoms=100_000)
    out = {"edge_id": hop.edge_id, "n_atoms": len(hop.images[0]), "n_images": len(hop.images)}
    for label, prov, batched in (("image_by_image", provider, False), ("chunked", provider, True),
                                 ("whole_band", whole, True)):
        if label not in variants:
            continue
        with contextlib.redirect_stdout(sys.stderr):
            rec, _ = run_hop(hop, prov, NEBConfig(batched=batched))
        out[label] = {"time_s": rec["wall_time"], "barrier": rec["barrier"], "steps": rec["steps"]}
        print(f"  paper-size {hop.edge_id} ({len(hop.images[0])} atoms) {label:15s} {rec['wall_time']:.1f} s "
              f"barrier {rec['barrier']:.4f} eV", flush=True)
    return out


# --------------------------------------------------------------------------- issue 18

#: default 8 A hops of the multi-hop comparison (the smallest sample cells: 2 cores, shared)
PAPER_HOPS = ("sample-LiCl-225", "sample-LiBr-225", "sample-Li3BrO-221", "sample-LiF-225")


def paper_hops(materials, min_width: float = 8.0, per_material: int = 1):
    """The first ``per_material`` inequivalent hops of each sample crystal at ``min_width``."""
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.umlip.bands import structure_hops

    out = []
    for m in materials:
        mid = m if m.startswith("sample-") else next(
            e for e in _sample_ids() if e.split("-")[1] == m)
        out += structure_hops(get_sample_structure(mid), mid, min_width=min_width).inputs[:per_material]
    return out


def _sample_ids():
    from litraj_data.builders.sample_structures import load_sample_structures

    return [e.material_id for e in load_sample_structures()]


class TimedCalculator:
    """Wraps an ASE calculator's ``calculate`` to add its time to a shared clock."""

    def __new__(cls, inner, clock):
        orig = inner.calculate

        def calculate(*a, **k):
            t = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                clock[0] += time.perf_counter() - t
        inner.calculate = calculate
        return inner


class TimedProvider:
    """A provider whose model time (calculator and evaluator calls) is measured."""

    def __init__(self, inner, max_batch_atoms=None):
        self.inner = inner
        self.key = inner.key
        self.max_batch_atoms = max_batch_atoms or getattr(inner, "max_batch_atoms", None)
        self.clock = [0.0]

    def calculator(self):
        return TimedCalculator(self.inner.calculator(), self.clock)

    def evaluator(self):
        ev = self.inner.evaluator()
        if ev is None:
            return None
        clock, orig = self.clock, ev.evaluate

        class Timed:
            max_batch_atoms = getattr(ev, "max_batch_atoms", None)

            def evaluate(self, images):
                t = time.perf_counter()
                try:
                    return orig(images)
                finally:
                    clock[0] += time.perf_counter() - t
        return Timed()


def run_variant(hops, provider, config):
    from litraj_data.leaderboard.reference.neb import run_hops

    timed = TimedProvider(provider)
    with tempfile.TemporaryDirectory() as out:
        with contextlib.redirect_stdout(sys.stderr):
            summary = run_hops(hops, timed, out, config)
        from litraj_data.leaderboard.reference.neb import read_records

        recs = {r["edge_id"]: r for r in read_records(out)}
    summary["model_time_s"] = timed.clock[0]
    summary["model_fraction"] = timed.clock[0] / summary["wall_time"] if summary["wall_time"] else None
    return summary, recs


def multi_hop_compare(name, hops, provider, config, batch_hops=None):
    """ASE image by image vs batched one hop at a time vs many hops per call, one run."""
    from dataclasses import replace

    variants = {"image_by_image": replace(config, batched=False),
                "batched_1_hop": replace(config, batched=True, batch_hops=1),
                "multi_hop": replace(config, batched=True, batch_hops=batch_hops)}
    res = {"model": name, "hops": [h.edge_id for h in hops], "n_atoms": [len(h.images[0]) for h in hops],
           "variants": {}}
    recs = {}
    for label, cfg in variants.items():
        summary, recs[label] = run_variant(hops, provider, cfg)
        res["variants"][label] = {k: summary[k] for k in (
            "wall_time", "model_time_s", "model_fraction", "convergence_rate", "hops_per_hour", "mean_steps",
            "mean_model_calls", "n_converged", "n_hops")}
        print(f"{name} {label:15s} {summary['wall_time']:8.1f} s  model {summary['model_fraction']:.0%}  "
              f"converged {summary['n_converged']}/{summary['n_hops']}  {summary['hops_per_hour']:.0f} hops/h",
              flush=True)
    ref = recs["image_by_image"]
    per_hop = []
    for h in hops:
        row = {"edge_id": h.edge_id, "n_atoms": len(h.images[0]), "n_images": len(h.images)}
        for label in variants:
            r = recs[label][h.edge_id]
            row[label] = {"barrier": r["barrier"], "converged": r["converged"], "steps": r["steps"],
                          "model_calls": r.get("model_calls"), "wall_time": r["wall_time"]}
        a = ref[h.edge_id]["barrier"]
        row["max_diff_meV"] = max(abs(recs[lb][h.edge_id]["barrier"] - a) * 1000 for lb in variants
                                  if recs[lb][h.edge_id]["barrier"] is not None and a is not None) if a is not None else None
        # wall time of a hop in flight overlaps the other hops' for multi_hop: the per-hop ratio
        # compares image-by-image and batched one hop at a time, the total includes multi_hop
        row["ratio_batched_1_hop"] = row["image_by_image"]["wall_time"] / row["batched_1_hop"]["wall_time"]
        per_hop.append(row)
    v = res["variants"]
    res["per_hop"] = per_hop
    res["speedup_multi_hop_total"] = v["image_by_image"]["wall_time"] / v["multi_hop"]["wall_time"]
    res["speedup_batched_1_hop_total"] = v["image_by_image"]["wall_time"] / v["batched_1_hop"]["wall_time"]
    res["max_barrier_diff_meV"] = max((r["max_diff_meV"] for r in per_hop if r["max_diff_meV"] is not None), default=None)
    print(f"{name}: multi-hop x{res['speedup_multi_hop_total']:.2f}, batched one hop at a time "
          f"x{res['speedup_batched_1_hop_total']:.2f} over image by image; max |dE| "
          f"{res['max_barrier_diff_meV']:.3f} meV", flush=True)
    # the issue's GPU goal: the 1,681-hop nebDFT2k benchmark under 30 minutes on one device
    for label in ("image_by_image", "multi_hop"):
        hph = v[label]["hops_per_hour"]
        res[f"projected_nebDFT2k_1681_hops_min_{label}"] = 60 * 1681 / hph if hph else None
    return res


OPTIONS = {
    "paper (FIRE, given BVSE path)": {},
    "idpp start": {"initial_path": "idpp"},
    "two-stage (0.5 no-CI, then CI 0.1)": {"two_stage": True},
    "retry ladder": {"retries": ("more_steps", "smaller_step", "perturb")},
    "LBFGS": {"optimizer": "LBFGS"},
    "BFGS": {"optimizer": "BFGS"},
    "two-stage + retry ladder": {"two_stage": True, "retries": ("more_steps", "smaller_step", "perturb")},
}


def options_study(name, hops, provider, base, only=None):
    """Convergence rate and cost of each robust-convergence option on the same hops."""
    from dataclasses import replace

    out = {}
    for label, opts in OPTIONS.items():
        if only and label not in only:
            continue
        summary, recs = run_variant(hops, provider, replace(base, **opts))
        out[label] = {"options": {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()},
                      "convergence_rate": summary["convergence_rate"], "n_converged": summary["n_converged"],
                      "n_hops": summary["n_hops"], "wall_time_s": summary["wall_time"],
                      "mean_steps": summary["mean_steps"], "mean_model_calls": summary["mean_model_calls"],
                      "barriers": {e: r["barrier"] for e, r in recs.items()},
                      "stages": {e: [(s["stage"], s["steps"], s["converged"]) for s in r.get("stages") or []]
                                 for e, r in recs.items()}}
        print(f"{name} {label:38s} converged {summary['n_converged']}/{summary['n_hops']}  "
              f"{summary['wall_time']:7.1f} s  mean steps {summary['mean_steps'] or 0:.0f}  "
              f"calls {summary['mean_model_calls'] or 0:.0f}", flush=True)
    return out


def main_issue18(args) -> int:
    from litraj_data.leaderboard.reference.neb import NEBConfig
    from litraj_data.leaderboard.reference.umlip import get_provider

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    hops = paper_hops(args.hops or PAPER_HOPS, args.width)
    print(f"{len(hops)} hops: " + ", ".join(f"{h.edge_id} ({len(h.images[0])} atoms, {len(h.images)} images)"
                                          for h in hops), flush=True)
    report = {"hops": [h.edge_id for h in hops], "device": args.device, "threads": args.threads, "models": {}}
    # --steps/--endpoint-steps cap every stage: a fixed step budget compares the paths' cost per
    # step on a loaded machine (the trajectories are the same, so the ratio is that of full runs
    # with the same step counts); the paper's 100/100 by default
    base = NEBConfig(steps=args.steps, endpoint_steps=args.endpoint_steps)
    for name in args.models:
        with contextlib.redirect_stdout(sys.stderr):
            provider = get_provider(name, device=args.device, max_batch_atoms=args.max_batch_atoms)
        entry = {}
        if args.multi_hop:
            entry["multi_hop"] = multi_hop_compare(name, hops, provider, base, args.batch_hops)
        if args.options:
            entry["options"] = options_study(name, hops, provider, replace_batched(base), args.only)
        report["models"][name] = entry
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


def replace_batched(config):
    from dataclasses import replace

    return replace(config, batched=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["chgnet", "sevennet-0"])
    ap.add_argument("--min-width", type=float, default=5.0)
    ap.add_argument("--max-atoms", type=int, default=31)
    ap.add_argument("--paper-size", action="store_true", help="also one 63-atom hop at 8 A width")
    ap.add_argument("--paper-size-only", nargs="+", metavar="MATERIAL_ID",
                    help="only the 8 A-width comparison (image by image vs chunked) on these sample crystals")
    ap.add_argument("--json", default=None)
    ap.add_argument("--multi-hop", action="store_true", help="issue 18: image by image vs batched vs multi-hop, 8 A")
    ap.add_argument("--options", action="store_true", help="issue 18: robust-convergence options, 8 A")
    ap.add_argument("--only", nargs="+", default=None, help="--options: only these option labels")
    ap.add_argument("--hops", nargs="+", default=None, metavar="MATERIAL",
                    help=f"sample crystals for --multi-hop/--options (default {' '.join(PAPER_HOPS)})")
    ap.add_argument("--width", type=float, default=8.0, help="--multi-hop/--options: supercell width, A (8, the paper's)")
    ap.add_argument("--steps", type=int, default=100, help="--multi-hop/--options: band steps (100)")
    ap.add_argument("--endpoint-steps", type=int, default=100, help="--multi-hop/--options: end-point steps (100)")
    ap.add_argument("--batch-hops", type=int, default=None, help="hops in flight (default: what fits)")
    ap.add_argument("--max-batch-atoms", type=int, default=None, help="atoms per forward pass")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    args = ap.parse_args()
    if args.multi_hop or args.options:
        return main_issue18(args)

    from litraj_data.leaderboard.reference.umlip import get_provider

    if args.paper_size_only:
        with contextlib.redirect_stdout(sys.stderr):
            provider = get_provider(args.models[0])
        out = {m: paper_size(provider, m, ("image_by_image", "chunked")) for m in args.paper_size_only}
        for m, r in out.items():
            print(f"{m}: x{r['image_by_image']['time_s'] / r['chunked']['time_s']:.2f}")
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1))
        return 0
    hops = sample_hops(args.min_width, args.max_atoms)
    print(f"{len(hops)} hops, {min(len(h.images[0]) for h in hops)}-{max(len(h.images[0]) for h in hops)} atoms, "
          f"min width {args.min_width} A", flush=True)
    report: dict = {"min_width": args.min_width, "max_atoms": args.max_atoms, "models": {}}
    for name in args.models:
        with contextlib.redirect_stdout(sys.stderr):
            provider = get_provider(name)
        report["models"][name] = compare(name, hops, provider)
        if args.paper_size and name == "chgnet":
            report["paper_size"] = paper_size(provider)

    # scaling: the same hops with 1 and 2 local worker processes (each worker builds its model)
    first = args.models[0]
    provider = get_provider(first, check=False)
    _, t1 = run_set(hops, provider, batched=True, workers=1)
    _, t2 = run_set(hops, provider, batched=True, workers=2)
    report["scaling"] = {"model": first, "hops": len(hops), "workers_1_s": t1, "workers_2_s": t2,
                         "hops_per_hour_1": 3600 * len(hops) / t1, "hops_per_hour_2": 3600 * len(hops) / t2,
                         "speedup_2_workers": t1 / t2}
    print(f"scaling ({first}): 1 worker {3600 * len(hops) / t1:.0f} hops/h, 2 workers "
          f"{3600 * len(hops) / t2:.0f} hops/h (x{t1 / t2:.2f})", flush=True)

    # barrier table vs BVSE-NEB
    names = list(report["models"])
    print("\n| edge_id | atoms | BVSE-NEB | " + " | ".join(names) + " |")
    print("|---|---:|---:|" + "---:|" * len(names))
    rows = {n: {p["edge_id"]: p for p in report["models"][n]["per_hop"]} for n in names}
    for h in hops:
        cells = []
        for n in names:
            p = rows[n][h.edge_id]
            b = p["barrier_batched"]
            cells.append("failed" if b is None else f"{b:.3f}" + ("" if p["converged"] else "*"))
        bv = h.meta.get("em_bvse")
        print(f"| {h.edge_id} | {len(h.images[0])} | {'-' if bv is None else f'{bv:.3f}'} | " + " | ".join(cells) + " |")
    for n in names:
        pairs = [(p["barrier_batched"], p["em_bvse"]) for p in report["models"][n]["per_hop"]
                 if p["barrier_batched"] is not None and p["em_bvse"] is not None]
        mad = statistics.mean(abs(a - b) for a, b in pairs) if pairs else None
        report["models"][n]["mean_abs_diff_vs_bvse_eV"] = mad
        print(f"{n}: mean |E_uMLIP - E_BVSE-NEB| = {mad:.3f} eV over {len(pairs)} hops")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
