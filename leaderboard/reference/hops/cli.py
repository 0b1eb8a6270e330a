"""``litraj hops FILE... [--cutoff --bottleneck] [--neb bvse] [--json]``."""
from __future__ import annotations

import argparse
import math
from typing import Any

from litraj_data.errors import LitrajError
from litraj_data.io import dumps_json


def register(subparsers: Any) -> None:
    """Add the ``hops`` command to an argparse sub-parser collection."""
    p = subparsers.add_parser("hops", help="Li hop graph (and BVSE-NEB barriers) of structures",
                              description="Symmetry-inequivalent Li hops of the percolating network; "
                                          "with --neb bvse their BVSE-NEB barriers and 1D/2D/3D "
                                          "percolation barriers.")
    p.add_argument("files", nargs="+", help="structure files or folders (CIF, POSCAR, extxyz, JSON)")
    p.add_argument("--cutoff", type=float, default=8.0, help="longest hop searched, A (default 8)")
    p.add_argument("--bottleneck", type=float, default=0.5, help="min segment-atom distance, A (default 0.5)")
    p.add_argument("--neb", choices=["bvse"], default=None, help="also compute BVSE-NEB barriers")
    p.add_argument("--protocol", choices=["paper", "ions-legacy"], default="paper", help="NEB protocol")
    p.add_argument("--seed", type=int, default=None, help="seed of the ions-legacy displacement")
    p.add_argument("--break-symmetry", type=float, default=0.0, metavar="A",
                   help="restart a band that is stationary by symmetry at the start from a seeded "
                   "perpendicular push of up to A angstrom (default 0: flag it as stationary_start only)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)


def _num(v: float | None) -> float | None:
    # rounded for the record; inf ("does not percolate") stays inf and is written as null
    # by dumps_json, so the text output can still say inf
    if v is None:
        return None
    return round(float(v), 6) if math.isfinite(v) else float(v)


def _record(file: str, name: str, structure, args) -> dict:
    from litraj_data.leaderboard.reference.hops.api import hop_barriers, hop_graph

    rec: dict[str, Any] = {"file": file, "material_id": name}
    try:
        if args.neb:
            protocol: Any = args.protocol
            if getattr(args, "break_symmetry", 0.0):
                from dataclasses import replace

                from litraj_data.leaderboard.reference.hops.bvse_band_neb import PROTOCOLS

                protocol = replace(PROTOCOLS[args.protocol], break_symmetry=float(args.break_symmetry))
            res = hop_barriers(structure, name, args.cutoff, args.bottleneck, protocol, args.seed)
            graph = res.graph
            hops = []
            for h, r in zip(res.hops, res.results):
                d = h.as_dict()
                # stationary_start: the straight start could not leave the line by symmetry, so
                # em may be a maximum across the path (an upper bound), converged or not
                d.update(em=_num(r.barrier) if r else None, converged=r.converged if r else None,
                         neb_steps=r.steps if r else None,
                         stationary_start=r.stationary_start if r else None,
                         symmetry_broken=r.symmetry_broken if r else None)
                hops.append(d)
            rec["percolation_barriers"] = dict(zip(("E_1D", "E_2D", "E_3D"), map(_num, res.percolation)))
            rec["failures"] = [{"edge_id": e, "reason": r, "message": m} for e, r, m in res.failures]
        else:
            graph = hop_graph(structure, name, args.cutoff, args.bottleneck)
            hops = [h.as_dict() for h in graph.hops]
        rec.update(ok=True, max_dim=graph.max_dim, percolation_cutoff=_num(graph.cutoff), hops=hops)
    except LitrajError as exc:
        rec.update(ok=False, reason=exc.reason, error=str(exc))
    return rec


def run(args: argparse.Namespace) -> int:
    """Run the command; exit code 0 when every structure worked, 1 otherwise."""
    from litraj_data.structures import iter_structure_files, read_structures

    records = []
    for path in iter_structure_files(args.files):
        try:
            items = read_structures(path)
        except LitrajError as exc:
            records.append({"file": str(path), "ok": False, "reason": exc.reason, "error": str(exc)})
            continue
        for name, structure in items:
            records.append(_record(str(path), name, structure, args))
    if args.json:
        print(dumps_json({"records": records}))
    else:
        for r in records:
            if not r.get("ok"):
                print(f"{r['file']}: FAILED ({r['reason']}): {r['error']}")
                continue
            print(f"{r['file']} [{r['material_id']}]: {r['max_dim']}D at {r['percolation_cutoff']} A, "
                  f"{len(r['hops'])} inequivalent hops")
            for h in r["hops"]:
                flags = ("" if h["converged"] else " (not converged)") if "em" in h else ""
                if h.get("stationary_start"):
                    flags += " (restarted off a symmetric straight start)" if h.get("symmetry_broken") else \
                        " (stationary start by symmetry: upper bound)"
                extra = f"  em {h['em']} eV{flags}" if "em" in h else ""
                print(f"  {h['edge_id']:<32} L {h['length']:.3f} A  bottleneck {h['bottleneck']:.3f} A{extra}")
            if "percolation_barriers" in r:
                # None (JSON null) means "does not percolate in that dimension"
                print("  percolation barriers: " + ", ".join(
                    f"{k} {'does not percolate' if v is None else f'{v:.3f} eV'}"
                    for k, v in r["percolation_barriers"].items()))
    return 0 if all(r.get("ok") for r in records) else 1
