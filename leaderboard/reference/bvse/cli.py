"""``litraj bvel FILE...``: 1D/2D/3D BVSE percolation barriers of crystal structures."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from litraj_data.cli.options import add_json_option, add_threads_option
from litraj_data.cli.output import emit
from litraj_data.errors import LitrajError
from litraj_data.leaderboard.reference.bvse.settings import add_bvse_options, bvse_kwargs
from litraj_data.structures import add_limit_options, with_limits


def _fmt(x: float | None) -> str:
    return "inf" if x is None or not math.isfinite(x) else f"{x:.4f}"


def _threads(requested: int | None) -> int:
    import os

    import numba

    # one structure at a time in this process: its landscape may use every core
    return requested if requested is not None else min(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS)


def _cmd_bvel(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.reference.bvse.api import bvse_barriers, bvse_barriers_converged
    from litraj_data.structures import iter_structure_files, read_structures

    records: list[dict[str, Any]] = []
    failed = 0
    for path in iter_structure_files(args.files):
        try:
            items = read_structures(path)
        except LitrajError as exc:
            records.append({"file": str(path), "name": None, "ok": False, "reason": exc.reason, "message": str(exc)})
            failed += 1
            continue
        for name, structure in items:
            rec: dict[str, Any] = {"file": str(path), "name": name}
            try:
                extra = {}
                if args.grd_dir:
                    Path(args.grd_dir).mkdir(parents=True, exist_ok=True)
                    extra["grd"] = Path(args.grd_dir) / f"{name}.grd"
                    extra["cube"] = Path(args.grd_dir) / f"{name}.cube"
                if args.converge is not None:
                    kw = bvse_kwargs(args)
                    res = bvse_barriers_converged(structure, args.converge, kw.pop("resolution"),
                                                  min_resolution=args.min_resolution, **kw, **extra,
                                                  threads=_threads(args.threads))
                else:
                    res = bvse_barriers(structure, **bvse_kwargs(args), **extra, threads=_threads(args.threads))
                rec.update({"ok": True, **res.as_dict()})
            except LitrajError as exc:
                rec.update({"ok": False, "reason": exc.reason, "message": str(exc)})
                failed += 1
            records.append(rec)
    # strict JSON: a barrier that never percolates (inf) is written as null
    emit(args, records, lambda: _text(records, args.converge is not None))
    if not records:
        print("no structure files found", file=sys.stderr)
        return 2
    return 1 if failed == len(records) else 0


def _text(records: list[dict[str, Any]], converge: bool) -> str:
    lines = [f"{'name':30s} {'E_1D':>8s} {'E_2D':>8s} {'E_3D':>8s}"
             + ("  grid uncertainty (eV), finest grid" if converge else "")]
    for r in records:
        if r["ok"]:
            line = f"{r['name']:30s} {_fmt(r['E_1D']):>8s} {_fmt(r['E_2D']):>8s} {_fmt(r['E_3D']):>8s}"
            if converge:
                u = r["grid_uncertainty"]
                line += "  " + "/".join(_fmt(u[n]) for n in ("E_1D", "E_2D", "E_3D"))
                line += f" at {r['resolutions'][-1]:.3f} A" + ("" if r["grid_converged"] else " (NOT converged)")
            lines.append(line)
        else:
            lines.append(f"{str(r['name'] or r['file']):30s} failed: {r['reason']} ({r['message']})")
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    """Add ``bvel`` to the ``litraj`` command."""
    p = subparsers.add_parser(
        "bvel", help="1D/2D/3D BVSE percolation barriers (eV) of Li in crystal structures",
        description="BVSE landscape of Li+ (softBV, cutoff, grid) and its exact 1D/2D/3D "
        "percolation barriers for CIF / POSCAR / extxyz / pymatgen JSON files or folders.",
    )
    p.add_argument("files", nargs="+", help="structure files or folders")
    add_bvse_options(p)
    p.add_argument("--converge", type=float, default=None, metavar="TOL",
                   help="refine the grid (x0.8 per step from --resolution) until every barrier changes by "
                   "less than TOL eV; reports each result's grid uncertainty (change over the last two grids)")
    p.add_argument("--min-resolution", type=float, default=0.05,
                   help="finest grid spacing --converge tries (default 0.05 A)")
    # not a calculator setting (results do not depend on it), so not in add_bvse_options
    add_threads_option(p, "threads of the compiled landscape loop (default: all cores, at most NUMBA_NUM_THREADS)")
    p.add_argument("--grd-dir", default=None, help="also write NAME.grd and NAME.cube (VESTA) here")
    add_json_option(p)
    add_limit_options(p)  # --max-atoms, --max-volume, --max-grid-points
    p.set_defaults(func=with_limits(_cmd_bvel))
