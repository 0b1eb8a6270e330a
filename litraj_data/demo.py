"""``litraj demo``: the main job on the embedded sample, end to end and offline.

Loads the sample shards, converts rows to ASE / pymatgen / PyG, summarises every split,
recomputes BVSE percolation barriers and BVSE-NEB hop barriers of a few structures with
the reference calculators and compares them with the shipped values, then trains a
baseline and scores it on the leaderboard. Each step prints what it did and how long it
took; ``--json`` prints one JSON document instead.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any, Callable

import numpy as np


def _stats(values: list[Any]) -> dict[str, Any]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return {"n": len(values), "computed": sum(v is not None for v in values), "finite": len(finite),
            "mean": float(np.mean(finite)) if finite else None}


def step_load(source: str) -> dict[str, Any]:
    """Load both sample datasets, convert a row each way, summarise splits and targets."""
    from litraj_data import info, load_litraj
    from litraj_data.loaders.convert import iter_numpy_batches, to_ase, to_pyg, to_pymatgen

    out: dict[str, Any] = {}
    for name in ("BVEL13k", "nebBVSE122k"):
        dd = load_litraj(name, source=source)
        card = info(name)
        summary: dict[str, Any] = {"splits": {s: dd[s].num_rows for s in dd}}
        train = dd["train"]
        atoms = next(iter(to_ase(train)))
        structure = to_pymatgen(train[0])
        graph = to_pyg(train[0], cutoff=5.0)
        natoms = np.concatenate([b["n_atoms"] for b in iter_numpy_batches(train, columns=["numbers"])])
        summary["first_row"] = {"ase": atoms.get_chemical_formula(), "pymatgen": structure.composition.reduced_formula,
                                "pyg_edges": int(graph.edge_index.shape[1]),
                                "dummy_X": bool((np.asarray(train[0]["numbers"]) == 0).any())}
        summary["atoms_per_row"] = {"min": int(natoms.min()), "max": int(natoms.max())}
        summary["targets"] = {t: _stats([v for s in dd for v in dd[s][t]]) for t in card.task_targets}
        out[name] = summary
    return out


STEPS: list[tuple[str, Callable[[str], dict[str, Any]]]] = [("load", step_load)]


def _extend_steps() -> None:
    """Steps of the reference calculators and the leaderboard, when those parts are installed."""
    try:
        from litraj_data import demo_steps  # noqa: F401  (module listing the later steps)
    except ModuleNotFoundError:
        return
    for item in demo_steps.STEPS:
        if item[0] not in [s[0] for s in STEPS]:
            STEPS.append(item)


def run_demo(source: str = "sample") -> dict[str, Any]:
    """Run every step of the main job; returns their results with timings."""
    _extend_steps()
    results: dict[str, Any] = {}
    for name, func in STEPS:
        t0 = time.perf_counter()
        results[name] = func(source) | {"seconds": round(time.perf_counter() - t0, 2)}
    return results


def _print_text(results: dict[str, Any]) -> None:
    load = results["load"]
    print("LiTraj embedded sample (offline): load -> convert -> summarise")
    for name, s in load.items():
        if name == "seconds":
            continue
        print(f"\n{name}: " + ", ".join(f"{k} {v}" for k, v in s["splits"].items()) +
              f" rows; {s['atoms_per_row']['min']}-{s['atoms_per_row']['max']} atoms per row")
        fr = s["first_row"]
        print(f"  first row: ASE {fr['ase']}, pymatgen {fr['pymatgen']}, PyG graph with {fr['pyg_edges']} edges "
              f"(5 A), dummy X present: {fr['dummy_X']}")
        for t, st in s["targets"].items():
            mean = "n/a" if st["mean"] is None else f"{st['mean']:.3f} eV"
            print(f"  {t}: computed for {st['computed']}/{st['n']} rows, finite {st['finite']}, mean {mean}")
    for name, res in results.items():
        if name != "load" and "text" in res:
            print(f"\n{res['text']}")
    print(f"\ntotal {sum(r['seconds'] for r in results.values()):.1f} s. Cite the data: litraj cite")


def _cmd_demo(args: argparse.Namespace) -> int:
    results = run_demo(args.source)
    if args.json:
        print(json.dumps({"records": [{"file": f"{args.source}:{k}", **v} for k, v in results.items()]}, default=str))
    else:
        _print_text(results)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="the main job on the embedded sample: load, convert, compute, score",
                              description=__doc__)
    p.add_argument("--source", default="sample", help="as load_litraj(source=); default: the embedded sample")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_demo)
