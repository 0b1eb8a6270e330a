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
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)


def _num(v: float | None) -> float | None:
    # rounded for the record; inf ("does not percolate") stays inf and is written as null
    # by dumps_json, so the text output can still say inf
    if v is None:
        return None
    return round(float(v), 6) if math.isfinite(v) else float(v)


def _record(file: str, name: str, structure, args) -> dict:
    from litraj_data.leaderboard.hops.api import hop_barriers, hop_graph

    rec: dict[str, Any] = {"file": file, "material_id": name}
    try:
        if args.neb:
            res = hop_barriers(structure, name, args.cutoff, args.bottleneck, args.protocol, args.seed)
            graph = res.graph
            hops = []
            for h, r in zip(res.hops, res.results):
                d = h.as_dict()
                d.update(em=_num(r.barrier) if r else None, converged=r.converged if r else None,
                         neb_steps=r.steps if r else None)
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
                extra = f"  em {h['em']} eV{'' if h['converged'] else ' (not converged)'}" if "em" in h else ""
                print(f"  {h['edge_id']:<32} L {h['length']:.3f} A  bottleneck {h['bottleneck']:.3f} A{extra}")
            if "percolation_barriers" in r:
                print("  percolation barriers (eV):", r["percolation_barriers"])
    return 0 if all(r.get("ok") for r in records) else 1
