"""``litraj hops FILE... [--cutoff --bottleneck] [--neb bvse] [--json]``."""
from __future__ import annotations

import argparse
import math
from typing import Any

from litraj_data.cli.options import add_json_option
from litraj_data.cli.output import emit
from litraj_data.errors import LitrajError
from litraj_data.structures import add_limit_options, with_limits


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
                   help="also optimise a band that may never have left a symmetric straight start from seeded "
                   "perpendicular pushes of up to A angstrom and keep the lower barrier (default 0: flag it "
                   "as upper_bound only)")
    add_json_option(p)
    add_limit_options(p)  # --max-atoms, --max-volume, --max-grid-points
    p.set_defaults(func=with_limits(run))


def _num(v: float | None) -> float | None:
    # rounded for the record; inf ("does not percolate") stays inf and is written as null
    # by dumps_json, so the text output can still say inf
    if v is None:
        return None
    return round(float(v), 6) if math.isfinite(v) else float(v)


def start_flags(r) -> dict[str, Any]:
    """The straight-start fields of one hop's NEB result (docs/hops.md, "Symmetric straight starts").

    ``upper_bound``: em may be a maximum across the path (the band never left a symmetric or
    already-converged straight start, and no symmetry-breaking restart was run);
    ``symmetric_start``: the structure's symmetry operations force the perpendicular force on
    the straight path to zero (``symmetry_elements`` names them); ``stationary_start``: its
    forces do (exact symmetry); ``symmetry_broken``: seeded restarts off the line were run,
    ``em_straight`` is the straight-start barrier and ``barrier_dropped`` whether em is lower.
    """
    if r is None:
        return dict.fromkeys(("upper_bound", "symmetric_start", "stationary_start", "symmetry_broken",
                              "symmetry_elements", "em_straight", "barrier_dropped"))
    sym = r.extras.get("path_symmetry") or {}
    straight = r.straight_barrier
    return {"upper_bound": bool(r.upper_bound), "symmetric_start": bool(r.symmetric_start),
            "stationary_start": bool(r.stationary_start), "symmetry_broken": bool(r.symmetry_broken),
            "symmetry_elements": list(sym.get("elements", [])) if r.symmetric_start else [],
            "em_straight": _num(straight) if straight is not None else None,
            "barrier_dropped": None if straight is None else bool(r.barrier < straight)}


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
                         neb_steps=r.steps if r else None, **start_flags(r))
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
    import sys

    from litraj_data.structures import iter_structure_files, read_structures

    bs = getattr(args, "break_symmetry", 0.0)
    if not (math.isfinite(bs) and 0.0 <= bs <= 1.0):
        # a push beyond ~1 A is no longer a perturbation of the straight path but another path
        print(f"error: --break-symmetry must be between 0 and 1 A, got {bs}", file=sys.stderr)
        return 2
    records = []
    for path in iter_structure_files(args.files):
        try:
            items = read_structures(path)
        except LitrajError as exc:
            records.append({"file": str(path), "ok": False, "reason": exc.reason, "error": str(exc)})
            continue
        for name, structure in items:
            records.append(_record(str(path), name, structure, args))
    emit(args, records, lambda: _text(records))
    return 0 if all(r.get("ok") for r in records) else 1


def _text(records: list[dict[str, Any]]) -> str:
    lines = []
    for r in records:
        if not r.get("ok"):
            lines.append(f"{r['file']}: FAILED ({r['reason']}): {r['error']}")
            continue
        lines.append(f"{r['file']} [{r['material_id']}]: {r['max_dim']}D at {r['percolation_cutoff']} A, "
                     f"{len(r['hops'])} inequivalent hops")
        neb = any("em" in h for h in r["hops"])
        # with --neb: converged and steps columns say how far each em can be trusted
        lines.append(f"  {'edge_id':<32} {'L/A':>6} {'neck/A':>6}"
                     + (f" {'em/eV':>7} {'conv':>4} {'steps':>5}" if neb else ""))
        for h in r["hops"]:
            line = f"  {h['edge_id']:<32} {h['length']:6.3f} {h['bottleneck']:6.3f}"
            if "em" in h:
                em = "-" if h["em"] is None else f"{h['em']:.3f}"
                conv = "-" if h["converged"] is None else ("yes" if h["converged"] else "no")
                steps = "-" if h.get("neb_steps") is None else str(h["neb_steps"])
                line += f" {em:>7} {conv:>4} {steps:>5}"
                if h.get("upper_bound"):
                    line += "  (upper bound: the band never left its straight start" + (
                        f"; {', '.join(h['symmetry_elements'])}" if h.get("symmetry_elements") else "") + ")"
                elif h.get("symmetry_broken"):
                    line += (f"  (restarted off the straight start: {h['em_straight']} eV straight, "
                             f"{'dropped' if h['barrier_dropped'] else 'same saddle'})")
            lines.append(line)
        if "percolation_barriers" in r:
            # None (JSON null) means "does not percolate in that dimension"
            lines.append("  percolation barriers: " + ", ".join(
                f"{k} {'does not percolate' if v is None else f'{v:.3f} eV'}"
                for k, v in r["percolation_barriers"].items()))
    return "\n".join(lines)
