"""``litraj demo``: the main job on the embedded sample, end to end and offline.

Loads the sample shards, converts rows to ASE / pymatgen / PyG, summarises every split,
recomputes BVSE percolation barriers and BVSE-NEB hop barriers of a few structures with
the reference calculators and compares them with the shipped values, screens one crystal
with a universal potential (CHGNet-NEB from the BVSE-NEB bands -> percolation barriers),
then trains a baseline and scores it on the leaderboard. Each step prints what it did and how long it
took; ``--json`` prints one JSON document instead.
"""
from __future__ import annotations

import argparse
import math
import time
from typing import Any, Callable

import numpy as np

from litraj_data.cli.options import add_json_option, add_source_option
from litraj_data.cli.output import emit
from litraj_data.cli.progress import note


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


DEMO_STRUCTURES = ("sample-Li3N-191", "sample-LiFePO4-62", "sample-Li2CO3-15")


def _sample_rows(source: str, name: str, ids: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    from litraj_data import load_litraj

    dd = load_litraj(name, source=source)
    return {r["material_id"]: r for s in dd for r in dd[s] if r["material_id"] in ids}


def step_bvse(source: str) -> dict[str, Any]:
    """Recompute BVEL13k barriers of a few sample structures with the reference calculator."""
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.bvse.api import bvse_barriers

    stored = _sample_rows(source, "BVEL13k", DEMO_STRUCTURES)
    rows = []
    for mid in DEMO_STRUCTURES:
        structure = get_sample_structure(mid)  # outside the timing: expanding the space group is pymatgen's work
        t0 = time.perf_counter()
        res = bvse_barriers(structure, resolution=0.2, cutoff=10.0, k=200)
        row = {"material_id": mid, "seconds": round(time.perf_counter() - t0, 2)}
        for key in ("E_1D", "E_2D", "E_3D"):
            row[key] = float(getattr(res, key))
            row[f"{key}_shipped"] = stored.get(mid, {}).get(key)
        rows.append(row)
    lines = ["BVSE percolation barriers (eV; paper settings: 0.2 A grid, 10 A cutoff, k = 200), recomputed "
             "vs shipped in the sample:"]
    for r in rows:
        lines.append(f"  {r['material_id']:<22} " + "  ".join(
            f"{k} {r[k]:.3f} ({'-' if r[k + '_shipped'] is None else format(r[k + '_shipped'], '.3f')})"
            for k in ("E_1D", "E_2D", "E_3D")) + f"  [{r['seconds']} s]")
    return {"structures": rows, "text": "\n".join(lines)}


def step_hops(source: str) -> dict[str, Any]:
    """Hop graph, BVSE-NEB barriers and percolation barriers of one sample structure."""
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.hops.api import hop_barriers

    mid = DEMO_STRUCTURES[0]
    res = hop_barriers(get_sample_structure(mid), material_id=mid)
    stored = {}
    from litraj_data import load_litraj

    dd = load_litraj("nebBVSE122k", source=source)
    for s in dd:
        stored.update({r["edge_id"]: r["em"] for r in dd[s] if r["material_id"] == mid})
    hops = [{"edge_id": h.edge_id, "length": float(h.length), "em": float(b), "em_shipped": stored.get(h.edge_id)}
            for h, b in zip(res.hops, res.barriers)]
    perc = [float(x) for x in res.percolation]
    lines = [f"Li hops of {mid} (BVSE-NEB, climbing image, FIRE, fmax 0.1 eV/A):"]
    lines += [f"  {h['edge_id']:<32} {h['length']:.3f} A  em {h['em']:.3f} eV (shipped "
              f"{'-' if h['em_shipped'] is None else format(h['em_shipped'], '.3f')})" for h in hops]
    lines.append("  percolation from hop barriers: " + ", ".join(f"E_{d + 1}D {e:.3f} eV" for d, e in enumerate(perc)))
    return {"material_id": mid, "hops": hops, "percolation": perc, "text": "\n".join(lines)}


UMLIP_STRUCTURE = "sample-LiCl-225"


def step_umlip(source: str) -> dict[str, Any]:
    """The paper's screening pipeline with CHGNet on one small sample crystal.

    Hop graph (< 6 A, bottleneck 0.5 A) -> uMLIP-NEB per inequivalent hop from its BVSE-NEB
    band -> percolation barriers. The supercell is 5 A wide (the paper uses 8 A) so that
    the step takes seconds on a CPU; skipped with a note when the ``chgnet`` extra is absent.
    """
    import contextlib
    import importlib.util
    import sys

    if importlib.util.find_spec("chgnet") is None:
        return {"skipped": "chgnet not installed (pip install 'litraj-data[chgnet]')",
                "text": "uMLIP screening: skipped, chgnet not installed (pip install 'litraj-data[chgnet]')"}
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.umlip import get_provider
    from litraj_data.leaderboard.reference.umlip.screen import screen_structure

    with contextlib.redirect_stdout(sys.stderr):  # CHGNet's banners must not mix with --json
        provider = get_provider("chgnet")
        rec = screen_structure(get_sample_structure(UMLIP_STRUCTURE), UMLIP_STRUCTURE, provider, min_width=5.0)
    lines = [f"uMLIP screening of {UMLIP_STRUCTURE} with CHGNet (CI-NEB from the BVSE-NEB band, 5 A supercell):"]
    for h in rec["hops"]:
        em = "failed" if h["em_umlip"] is None else f"{h['em_umlip']:.3f} eV"
        lines.append(f"  {h['edge_id']:<32} {h['length']:.3f} A  CHGNet {em} (converged {h['converged']}, "
                     f"{h['steps']} steps)  BVSE-NEB {h['em_bvse']:.3f} eV")
    p, b = rec["percolation"], rec["percolation_bvse"]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    lines.append("  percolation E_1D/E_2D/E_3D: CHGNet " + "/".join(fmt(p[k]) for k in ("E_1D", "E_2D", "E_3D"))
                 + " eV, BVSE-NEB " + "/".join(fmt(b[k]) for k in ("E_1D", "E_2D", "E_3D")) + " eV")
    return {"material_id": UMLIP_STRUCTURE, "hops": rec["hops"], "percolation": p, "percolation_bvse": b,
            "text": "\n".join(lines)}


def step_leaderboard(source: str) -> dict[str, Any]:
    """Train a random-forest baseline on train+val, score it on test, print the board."""
    from litraj_data.leaderboard.models.baselines.quickstart import baseline_board

    result = baseline_board(source=source, task_id="nebBVSE122k/em", model="rf", n_boot=200)
    scored = result["record"].get("subsets", {}).get("all", {})
    metrics = {k: v for k, v in scored.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    text = ("Leaderboard, task nebBVSE122k/em (random forest on Voronoi hop descriptors, trained on the "
            "sample's train+val, scored on its test split; the paper's rows are reported, not rerun):\n"
            + result["markdown"])
    return {"metrics": metrics, "files": result["files"], "text": text}


STEPS: list[tuple[str, Callable[[str], dict[str, Any]]]] = [
    ("load", step_load),
    ("bvse", step_bvse),
    ("hops", step_hops),
    ("umlip", step_umlip),
    ("leaderboard", step_leaderboard),
]

#: What each step does, announced before it starts (the slow ones take tens of seconds cold).
STEP_TITLES = {"load": "load the sample shards and convert rows to ASE / pymatgen / PyG",
               "bvse": "recompute BVSE percolation barriers of three structures",
               "hops": "hop graph and BVSE-NEB barriers of one structure",
               "umlip": "screen one crystal with CHGNet-NEB",
               "leaderboard": "train a random-forest baseline and score it on the leaderboard"}


def run_demo(source: str = "sample", on_step: Callable[[str, dict[str, Any]], None] | None = None,
             on_start: Callable[[int, str], None] | None = None) -> dict[str, Any]:
    """Run every step of the main job; returns their results with timings.

    Parameters
    ----------
    source
        As ``load_litraj(source=)``.
    on_start, on_step
        Called with ``(index, name)`` before a step and ``(name, result)`` after it, so that
        the command prints as it goes rather than at the end.
    """
    results: dict[str, Any] = {}
    for i, (name, func) in enumerate(STEPS):
        if on_start is not None:
            on_start(i, name)
        t0 = time.perf_counter()
        results[name] = func(source) | {"seconds": round(time.perf_counter() - t0, 2)}
        if on_step is not None:
            on_step(name, results[name])
    return results


def _load_text(load: dict[str, Any]) -> str:
    lines = ["LiTraj embedded sample (offline): load -> convert -> summarise"]
    for name, s in load.items():
        if name == "seconds":
            continue
        lines.append(f"\n{name}: " + ", ".join(f"{k} {v}" for k, v in s["splits"].items()) +
                     f" rows; {s['atoms_per_row']['min']}-{s['atoms_per_row']['max']} atoms per row")
        fr = s["first_row"]
        lines.append(f"  first row: ASE {fr['ase']}, pymatgen {fr['pymatgen']}, PyG graph with {fr['pyg_edges']} "
                     f"edges (5 A), dummy X present: {fr['dummy_X']}")
        for t, st in s["targets"].items():
            mean = "n/a" if st["mean"] is None else f"{st['mean']:.3f} eV"
            lines.append(f"  {t}: computed for {st['computed']}/{st['n']} rows, finite {st['finite']}, mean {mean}")
    return "\n".join(lines)


def _step_text(name: str, result: dict[str, Any]) -> str:
    return _load_text(result) if name == "load" else result.get("text", "")


def _cmd_demo(args: argparse.Namespace) -> int:
    def started(i: int, name: str) -> None:
        # stderr: announced at once (flushed), and never part of the --json document
        note(f"[{i + 1}/{len(STEPS)}] {name}: {STEP_TITLES.get(name, name)} ...")

    def finished(name: str, result: dict[str, Any]) -> None:
        if not args.json:  # the step's result as soon as it is known
            print(f"{_step_text(name, result)}\n[{name}: {result['seconds']} s]\n", flush=True)

    results = run_demo(args.source, on_step=finished, on_start=started)
    emit(args, [{"file": f"{args.source}:{k}", **v} for k, v in results.items()],
         f"total {sum(r['seconds'] for r in results.values()):.1f} s. Cite the data: litraj cite")
    return 0


def register(subparsers: Any) -> None:
    """Add ``litraj demo``."""
    p = subparsers.add_parser("demo", help="the main job on the embedded sample: load, convert, compute, score",
                              description=__doc__)
    add_source_option(p, default="sample")
    add_json_option(p)
    p.set_defaults(func=_cmd_demo)
