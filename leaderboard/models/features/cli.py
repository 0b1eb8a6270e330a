"""``litraj features FILE... --set voronoi|ward [--kind] [--json]``; ``litraj features --dataset NAME --out TABLE``.

Text mode prints the features themselves (a feature per row, a structure per column) for a
few structures; ``--json`` gives every value of any number of them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from litraj_data.cli.options import add_cache_dir_option, add_json_option, add_out_option, add_source_option
from litraj_data.cli.output import emit, fail
from litraj_data.errors import LitrajError, StructureError
from litraj_data.structures import add_limit_options, with_limits

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``features`` command to the ``litraj`` command."""
    p = subparsers.add_parser(
        "features", help="structure / hop descriptors (the paper's Voronoi set, Ward et al. 2017)",
        description="Features of structure files (a record per structure), or a feature table of a "
                    "dataset split (--dataset ... --out TABLE). Hop inputs are centroid supercells with "
                    "a dummy atom X at the hop midpoint. Results are cached per structure.")
    p.add_argument("files", nargs="*", help="structure files or folders (CIF, POSCAR, extxyz, JSON)")
    p.add_argument("--set", dest="feature_set", choices=["voronoi", "ward"], default="voronoi",
                   help="voronoi: the paper's SI S1 descriptors; ward: Ward et al. 2017 via matminer "
                        "(extra 'features')")
    p.add_argument("--kind", choices=["auto", "structure", "hop"], default="auto",
                   help="auto: hop when the structure has a dummy atom X (default)")
    p.add_argument("--dataset", help="featurise a dataset split instead of files (BVEL13k, nebBVSE122k, nebDFT2k)")
    p.add_argument("--split", default="test", help="split of --dataset (default test)")
    add_source_option(p, "the dataset of --dataset")
    add_out_option(p, "feature table of --dataset (.parquet or .csv), with the id column")
    p.add_argument("--jobs", type=int, default=1, help="worker processes for --dataset")
    add_cache_dir_option(p, "features go under <cache>/features")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write cached features")
    add_json_option(p)
    add_limit_options(p)  # --max-atoms, --max-volume, --max-grid-points
    p.set_defaults(func=with_limits(run))


def _read(path: Path) -> list[tuple[str, Any]]:
    """``(name, structure)`` pairs; extxyz frames stay ASE Atoms so a dummy X survives."""
    from litraj_data.structures import read_structures

    if path.suffix.lower() in (".xyz", ".extxyz"):
        from litraj_data.store.extxyz import iter_extxyz

        if not path.is_file():
            raise StructureError(f"{path}: no such file", reason="read_error")
        with open(path, encoding="utf-8", newline="") as fh:
            frames = list(iter_extxyz(fh, label=str(path), size=path.stat().st_size))
        return [(str(a.info.get("edge_id") or a.info.get("material_id")
                     or (path.stem if len(frames) == 1 else f"{path.stem}#{i}")), a) for i, a in enumerate(frames)]
    return read_structures(path)


def _kind(structure: Any, kind: str) -> str:
    if kind != "auto":
        return kind
    from litraj_data.leaderboard.models.features.api import as_arrays

    return "hop" if (as_arrays(structure)[0] == 0).any() else "structure"


def _files(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.models.features.api import featurize
    from litraj_data.structures import iter_structure_files

    records: list[dict[str, Any]] = []
    for path in iter_structure_files(args.files):
        try:
            items = _read(Path(path))
        except LitrajError as exc:
            records.append({"file": str(path), "ok": False, "reason": exc.reason, "error": str(exc)})
            continue
        for name, structure in items:
            rec: dict[str, Any] = {"file": str(path), "name": name, "set": args.feature_set}
            try:
                kind = _kind(structure, args.kind)
                rec["kind"] = kind
                feats = featurize(structure, args.feature_set, kind, cache=not args.no_cache,
                                  cache_dir=args.cache_dir)
                rec.update(ok=True, n_features=len(feats), features=feats)
            except LitrajError as exc:
                rec.update(ok=False, reason=exc.reason, error=str(exc))
            records.append(rec)
    if not records:
        print("features: no structure files given (pass FILE... or --dataset NAME)", file=sys.stderr)
        return 2
    emit(args, records, lambda: _text(records))
    return 0 if all(r.get("ok") for r in records) else 1


#: Up to this many structures, text mode prints every feature (a column per structure).
TABLE_COLUMNS = 4


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.6g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _text(records: list[dict[str, Any]]) -> str:
    """A line per input, then the features: a feature per row, a structure per column."""
    lines = []
    for r in records:
        if not r.get("ok"):
            lines.append(f"{r['file']}: FAILED ({r['reason']}): {r['error']}")
        else:
            lines.append(f"{r['file']} [{r['name']}]: {r['n_features']} {r['set']} features ({r['kind']})")
    ok = [r for r in records if r.get("ok")]
    if not ok:
        return "\n".join(lines)
    if len(ok) > TABLE_COLUMNS:
        lines.append(f"({len(ok)} structures: --json prints every value; --dataset NAME --out TABLE writes a table)")
        return "\n".join(lines)
    names = list(dict.fromkeys(k for r in ok for k in r["features"]))
    width = max(len(n) for n in names)
    heads = [str(r["name"])[:14] for r in ok]
    lines += ["", f"{'feature':<{width}}  " + "  ".join(f"{h:>14}" for h in heads)]
    for n in names:
        cells = [_cell(r["features"].get(n)) for r in ok]
        lines.append(f"{n:<{width}}  " + "  ".join(f"{c:>14}" for c in cells))
    return "\n".join(lines)


def _dataset(args: argparse.Namespace) -> int:
    from litraj_data.io import atomic_write_table
    from litraj_data.leaderboard.models.features.api import featurize_table
    from litraj_data.loaders import load_litraj

    if not args.out:
        print("features: --dataset needs --out TABLE (.parquet or .csv)", file=sys.stderr)
        return 2
    try:
        ds = load_litraj(args.dataset, split=args.split, source=args.source)
    except LitrajError as exc:  # the one error record: named reason, JSON document with --json
        return fail(args, args.source or args.dataset, exc, code=2)
    id_col = "material_id" if args.dataset.startswith("BVEL") else "edge_id"
    kind = "structure" if id_col == "material_id" else "hop"
    rows = ds.select_columns([c for c in (id_col, "numbers", "positions", "cell") if c in ds.column_names]).to_pandas()
    table, failures = featurize_table(rows, args.feature_set, kind, jobs=args.jobs, cache=not args.no_cache,
                                      cache_dir=args.cache_dir, progress=True)
    table.insert(0, id_col, rows[id_col].astype(str).to_numpy())
    out = atomic_write_table(table, args.out)
    rec = {"file": str(out), "dataset": args.dataset, "split": args.split, "set": args.feature_set,
           "rows": len(table), "n_features": table.shape[1] - 1,
           "failures": [{**f, id_col: rows[id_col].iloc[int(f["row"])]} for f in failures]}
    emit(args, [rec], f"wrote {rec['rows']} rows x {rec['n_features']} {args.feature_set} features to {out} "
                      f"({len(failures)} failed)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the command: 0 when every input was featurised, 1 when some failed, 2 on bad usage."""
    if args.dataset:
        return _dataset(args)
    return _files(args)
