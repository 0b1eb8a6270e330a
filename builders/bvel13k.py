"""``litraj build BVEL13k``: 1D/2D/3D BVSE percolation barriers of crystal structures -> shards.

Structures (files or folders: CIF, POSCAR, extxyz, pymatgen JSON) go through the reference
calculator (:func:`litraj_data.leaderboard.bvse.bvse_barriers`, paper settings by default:
cutoff 10 Å, grid 0.2 Å, k = 200) in local processes, checkpointed per structure so that a
rerun resumes; structures that cannot be computed are listed in ``failures.csv``; splits
come from a table or from the paper's 8:1:1 rule.
"""
from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import io
import math
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from litraj_data.errors import DataFormatError

from .splits import assign_splits, read_split_table
from .structure_jobs import failures_table, run_structure_jobs

DATASET = "BVEL13k"
DEFAULT_SETTINGS = {"resolution": 0.2, "cutoff": 10.0, "k": 200, "connectivity": 26, "max_barrier": 10.0}


def _bvel_job(settings: dict[str, Any], name: str, structure: Any) -> dict[str, Any]:
    """One structure -> its barriers (module level so that worker processes can pickle it)."""
    from litraj_data.leaderboard.bvse import bvse_barriers

    r = bvse_barriers(structure, **settings)
    return {"E_1D": r.E_1D, "E_2D": r.E_2D, "E_3D": r.E_3D, "dims": list(r.dims)}


def _chemsys(structure: Any) -> str:
    return "-".join(sorted({site.specie.symbol for site in structure}))


def _elements(structure: Any) -> set[str]:
    return {site.specie.symbol for site in structure}


def structures_digest(structures: Sequence[tuple[str, Any]]) -> str:
    """sha256 over ids, cells, numbers and positions (rounded to 1e-8 Å): the build's input."""
    from litraj_data.schema import structure_to_row

    h = hashlib.sha256()
    for name, s in structures:
        row = structure_to_row(s)
        h.update(name.encode() + b"\0")
        for key in ("numbers", "cell", "positions"):
            h.update(np.ascontiguousarray(np.round(np.asarray(row[key], dtype=float), 8)).tobytes())
    return "sha256:" + h.hexdigest()


def _value(x: Any) -> float:
    # checkpoints store inf as null; the dataset keeps the release's meaning: inf = no percolation
    return math.inf if x is None else float(x)


def _write_failures(rows: list[dict[str, str]], path: Path) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["material_id", "reason", "message"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(buf.getvalue())
    os.replace(tmp, path)
    return path


def build_bvel13k(
    structures: Sequence[tuple[str, Any]],
    out: str | Path,
    splits: str | Path | dict[str, str] | None = None,
    workers: int = 1,
    staging: str | Path | None = None,
    seed: int = 0,
    version: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    **settings: Any,
) -> Path:
    """Compute BVEL13k rows for ``structures`` and write them as a dataset version.

    Parameters
    ----------
    structures : sequence of (material_id, Structure)
    out : path
        Root folder; the version lands in ``out/BVEL13k/<version>``.
    splits : path or dict, optional
        Split table (``material_id`` + ``split``/``_split`` CSV) or mapping; default: the
        paper's 8:1:1 rule (:func:`assign_splits` with ``seed``) over computed structures.
    workers : int
        Local processes.
    staging : path, optional
        Checkpoint folder (default ``out/.BVEL13k-jobs``); a rerun resumes from it.
    **settings
        Calculator settings (``resolution``, ``cutoff``, ``k``, ``connectivity``,
        ``max_barrier``); paper values by default.

    Returns
    -------
    Path
        The finished version folder (holding ``manifest.json``).
    """
    from litraj_data.builders.shards import write_dataset
    from litraj_data.schema import structure_to_row

    cfg = {**DEFAULT_SETTINGS, **settings}
    out = Path(out)
    staging = Path(staging) if staging is not None else out / f".{DATASET}-jobs"
    records = run_structure_jobs(
        functools.partial(_bvel_job, cfg), structures, staging, workers=workers,
        progress=progress, signature={"dataset": DATASET, **cfg},
    )
    ok = {r["material_id"]: r["result"] for r in records if r["ok"]}
    by_id = dict(structures)
    if splits is None:
        table = assign_splits({i: _elements(by_id[i]) for i in ok}, seed=seed)
    else:
        table = dict(splits) if isinstance(splits, dict) else read_split_table(splits)
        missing = [i for i in ok if i not in table]
        if missing:
            raise DataFormatError(f"{len(missing)} structures have no split in the table, e.g. {missing[:5]}")

    def rows(split: str):
        for name, s in structures:  # input order: deterministic shards
            if name in ok and table[name] == split:
                res = ok[name]
                yield {
                    "material_id": name,
                    "chemsys": _chemsys(s),
                    "E_1D": _value(res["E_1D"]),
                    "E_2D": _value(res["E_2D"]),
                    "E_3D": _value(res["E_3D"]),
                    **structure_to_row(s),
                }

    failures = _write_failures(failures_table(records), staging / "failures.csv")
    notes = [
        "BVSE settings: mobile Li+, " + ", ".join(f"{k}={v}" for k, v in cfg.items())
        + "; oxidation states by BVAnalyzer (O1-, P3- forbidden); exact percolation on the grid",
        f"{len(ok)} of {len(structures)} structures computed; failures in failures.csv",
    ]
    present = [s for s in ("train", "val", "test") if any(table.get(i) == s for i in ok)]
    return write_dataset(
        DATASET,
        {s: functools.partial(_skip, rows, s) for s in present},
        out,
        version=version,
        sources={"structures": structures_digest(structures),
                 "calculator": "litraj_data.leaderboard.bvse " + ", ".join(f"{k}={v}" for k, v in cfg.items())},
        extra_files={"failures.csv": failures},
        notes=notes,
        overwrite=overwrite,
        progress=progress,
    )


def _skip(rows, split: str, skip: int):
    for i, row in enumerate(rows(split)):
        if i >= skip:
            yield row


def read_structure_inputs(paths: Sequence[str | Path]) -> list[tuple[str, Any]]:
    """All structures in files/folders, with unique ids (duplicates are an error)."""
    from litraj_data.structures import iter_structure_files, read_structures

    out: list[tuple[str, Any]] = []
    for path in iter_structure_files(list(paths)):
        out += read_structures(path)
    if not out:
        raise DataFormatError(f"no structures found in {', '.join(map(str, paths))}")
    names = [n for n, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataFormatError(f"duplicate material ids among the inputs: {dup[:5]}")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``litraj build BVEL13k``."""
    from litraj_data.leaderboard.bvse.cli import add_bvse_options

    parser.add_argument("--structures", nargs="+", required=True, help="structure files or folders")
    parser.add_argument("--out", required=True, help="output root (writes OUT/BVEL13k/VERSION)")
    parser.add_argument("--splits", default=None, help="split table CSV (material_id, split); default: 8:1:1 rule")
    parser.add_argument("--seed", type=int, default=0, help="seed of the 8:1:1 split (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    parser.add_argument("--staging", default=None, help="checkpoint folder (default OUT/.BVEL13k-jobs)")
    parser.add_argument("--version", default=None, help="dataset version (default: the card's)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    add_bvse_options(parser, k_default=DEFAULT_SETTINGS["k"])


def run(args: argparse.Namespace) -> int:
    """Entry point of ``litraj build BVEL13k``."""
    from litraj_data.leaderboard.bvse.cli import bvse_kwargs

    structures = read_structure_inputs(args.structures)
    manifest = build_bvel13k(
        structures, args.out, splits=args.splits, workers=args.workers, staging=args.staging,
        seed=args.seed, version=args.version, overwrite=args.overwrite, **bvse_kwargs(args),
    )
    print(manifest)
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="bvel13k")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
