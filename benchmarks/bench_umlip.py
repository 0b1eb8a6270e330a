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

Run: python benchmarks/bench_umlip.py [--models chgnet sevennet-0] [--paper-size] [--json OUT.json]
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
    from litraj_data.leaderboard.umlip.bands import structure_hops

    hops = []
    for entry in load_sample_structures():
        try:
            sh = structure_hops(entry.structure, entry.material_id, min_width=min_width)
        except LitrajError:
            continue  # no softBV parameters etc.: not part of the BVSE-started benchmark
        hops += [h for h in sh.inputs if len(h.images[0]) <= max_atoms]
    return hops


def run_set(hops, provider, batched: bool, workers: int = 1) -> tuple[dict, float]:
    from litraj_data.leaderboard.neb import NEBConfig, read_records, run_hops

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
    from litraj_data.leaderboard.neb import NEBConfig, run_hop
    from litraj_data.leaderboard.umlip import get_provider
    from litraj_data.leaderboard.umlip.bands import structure_hops

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["chgnet", "sevennet-0"])
    ap.add_argument("--min-width", type=float, default=5.0)
    ap.add_argument("--max-atoms", type=int, default=31)
    ap.add_argument("--paper-size", action="store_true", help="also one 63-atom hop at 8 A width")
    ap.add_argument("--paper-size-only", nargs="+", metavar="MATERIAL_ID",
                    help="only the 8 A-width comparison (image by image vs chunked) on these sample crystals")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from litraj_data.leaderboard.umlip import get_provider

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
