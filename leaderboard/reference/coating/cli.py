"""``litraj coating ENTRIES.json``: the paper's coating funnel on entries the user supplies.

Exit codes: 0 the funnel ran (whatever survived), 2 unusable input (entries file, options).
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from litraj_data.errors import LitrajError
from litraj_data.io import dumps_json
from litraj_data.trust import TRUST_HELP


def register(subparsers: Any) -> None:
    """Add ``coating`` to an argparse sub-parser collection."""
    p = subparsers.add_parser(
        "coating", help="coating funnel: band gap, E_hull, inactive elements, stability window, SE/CAM interfaces, "
                        "then Li percolation barriers of the survivors",
        description="The LiTraj paper's coating screen on pymatgen entries you supply (a JSON list of "
                    "ComputedEntry/ComputedStructureEntry documents, or a PhaseDiagram document); offline.")
    p.add_argument("entries", help="pymatgen entries JSON: the candidates and the chemical systems of the SE and CAM")
    p.add_argument("--candidates", nargs="+", metavar="ENTRY_ID", help="screen only these entry ids")
    p.add_argument("--min-band-gap", type=float, default=4.0, help="eV, strictly greater passes (4.0)")
    p.add_argument("--max-e-hull", type=float, default=0.05, help="eV/atom, strictly smaller passes (0.05)")
    p.add_argument("--window", type=float, nargs=2, default=(3.0, 4.5), metavar=("LOW", "HIGH"),
                   help="voltages vs Li/Li+ the stability window must cover (3.0 4.5)")
    p.add_argument("--electrolyte", default="Li10GeP2S12", help="solid electrolyte formula (LGPS)")
    p.add_argument("--cathode", default="LiCoO2", help="cathode active material formula (LiCoO2)")
    p.add_argument("--interface-tolerance", type=float, default=0.05,
                   help="eV/atom: an interface passes when its reaction energy is above minus this (0.05)")
    p.add_argument("--barriers", default="none", metavar="none|bvse|MODEL",
                   help="percolation barriers of the survivors: none, bvse (BVSE-NEB), or a uMLIP of `litraj models`")
    p.add_argument("--weights", default=None, metavar="PATH", help="weights of the uMLIP (see `litraj screen`)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--trust", action="store_true", help=TRUST_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run_coating)


def _barrier_function(args: argparse.Namespace) -> Any:
    if args.barriers == "none":
        return None
    if args.barriers == "bvse":
        from litraj_data.leaderboard.reference.hops.api import hop_barriers

        def bvse(structure: Any, material_id: str) -> dict[str, float | None]:
            perc = hop_barriers(structure, material_id).percolation
            return {k: (float(v) if math.isfinite(v) else None) for k, v in zip(("E_1D", "E_2D", "E_3D"), perc)}
        return bvse
    from litraj_data.leaderboard.reference.neb.progress import HopProgress
    from litraj_data.leaderboard.reference.umlip.runners import get_provider
    from litraj_data.leaderboard.reference.umlip.screen import screen_structure

    provider = get_provider(args.barriers, args.weights, args.device, trust=args.trust)

    def umlip(structure: Any, material_id: str) -> dict[str, float | None]:
        progress = HopProgress(f"{material_id} ({args.barriers})")
        rec = screen_structure(structure, material_id, provider, progress=progress)
        return dict(rec["percolation"])
    return umlip


def run_coating(args: argparse.Namespace) -> int:
    """``litraj coating``."""
    from litraj_data.leaderboard.reference.coating.entries import read_entries
    from litraj_data.leaderboard.reference.coating.funnel import CoatingCriteria, funnel_counts, screen_coatings

    try:
        criteria = CoatingCriteria(args.min_band_gap, args.max_e_hull, tuple(args.window), args.electrolyte,
                                   args.cathode, args.interface_tolerance)
        entries = read_entries(args.entries)
        barriers = _barrier_function(args)
        records = screen_coatings(entries, criteria, args.candidates, barriers,
                                  progress=lambda line: print(f"coating: {line}", file=sys.stderr, flush=True))
    except LitrajError as exc:
        if args.json:
            print(dumps_json({"records": [{"file": args.entries, "ok": False, "reason": exc.reason,
                                           "error": str(exc)}]}))
        print(f"litraj coating: error ({exc.reason}): {exc}", file=sys.stderr)
        return 2
    counts = funnel_counts(records)
    if args.json:
        print(dumps_json({"records": [{"file": args.entries, **r.as_dict()} for r in records], "funnel": counts}))
        return 0
    print("funnel: " + " -> ".join(f"{k} {v}" for k, v in counts.items()))
    for r in records:
        perc = r.percolation or {}
        tail = ("survived" + (f", E_1D {perc['E_1D']:.3f} eV" if perc.get("E_1D") is not None else "")
                if r.survived else f"out at {r.failed_at}: {r.stages[r.failed_at]['value']}")
        print(f"  {r.material_id:<24} {r.formula:<14} {tail}")
    return 0
