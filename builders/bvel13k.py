"""``litraj build BVEL13k``: 1D/2D/3D BVSE percolation barriers of crystal structures -> shards.

Structures (files or folders: CIF, POSCAR, extxyz, pymatgen JSON) go through the reference
calculator (:func:`litraj_data.leaderboard.reference.bvse.bvse_barriers`, paper settings by default:
cutoff 10 Å, grid 0.2 Å, k = 200) in local processes, checkpointed per structure so that a
rerun resumes; structures that cannot be computed are listed in ``failures.csv``; splits
come from a table or from the paper's 8:1:1 rule.
"""
from __future__ import annotations

import argparse
import functools
import math
import sys
from pathlib import Path
from typing import Any, Sequence

from litraj_data.builders.failures import STRUCTURE_FIELDS, write_failures
from litraj_data.builders.structure_builds import (
    ENERGY_DECIMALS,
    add_common_arguments,
    elements,
    empty_split_notes,
    read_structure_inputs,
    report_build,
    resolve_splits,
    split_sources,
    stored,
    stored_structure,
    structures_digest,
)
from litraj_data.builders.structure_jobs import failures_table, run_structure_jobs
from litraj_data.chemistry import chemsys
from litraj_data.errors import DataFormatError
from litraj_data.leaderboard.reference.bvse import bvse_barriers
from litraj_data.leaderboard.reference.bvse.settings import GRIDS, add_bvse_options, bvse_kwargs
from litraj_data.schema import structure_to_row
from litraj_data.store.shards import write_dataset

DATASET = "BVEL13k"
DEFAULT_SETTINGS = {"resolution": 0.2, "cutoff": 10.0, "k": 200, "connectivity": 26, "max_barrier": 10.0,
                    "grid": "periodic"}


def _bvel_job(settings: dict[str, Any], name: str, structure: Any) -> dict[str, Any]:
    """One structure -> its barriers (module level so that worker processes can pickle it)."""
    r = bvse_barriers(structure, **settings)
    return {"E_1D": r.E_1D, "E_2D": r.E_2D, "E_3D": r.E_3D, "dims": list(r.dims)}


def _value(x: Any) -> float:
    # checkpoints store inf as null; the dataset keeps the release's meaning: inf = no percolation
    return math.inf if x is None else stored(x, ENERGY_DECIMALS)


def build_bvel13k(
    structures: Sequence[tuple[str, Any]],
    out: str | Path,
    splits: str | Path | dict[str, str] | None = None,
    workers: int = 1,
    scheduler: Any = None,
    staging: str | Path | None = None,
    seed: int = 0,
    version: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    input_failures: Sequence[dict[str, str]] = (),
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
    scheduler : str or distributed.Client, optional
        Dask scheduler address: one task per structure on that cluster.
    staging : path, optional
        Checkpoint folder (default ``out/.BVEL13k-jobs``); a rerun resumes from it.
    **settings
        Calculator settings (``resolution``, ``cutoff``, ``k``, ``connectivity``,
        ``max_barrier``, ``grid``); paper values by default, on the periodic grid;
        ``grid="bvlain"`` rebuilds the released values (bvlain's grid and bisection). The
        grid is recorded in the manifest's ``sources`` (``bvse_grid``) and its notes.

    Returns
    -------
    Path
        The finished version folder (holding ``manifest.json``).
    """
    cfg = {**DEFAULT_SETTINGS, **settings}
    if cfg["grid"] not in GRIDS:  # before any job: each would fail with the same reason
        raise DataFormatError(f"unknown BVSE grid {cfg['grid']!r}; choose from {', '.join(GRIDS)}", reason="bad_option")
    out = Path(out)
    staging = Path(staging) if staging is not None else out / f".{DATASET}-jobs"
    records = run_structure_jobs(
        functools.partial(_bvel_job, cfg), structures, staging, workers=workers, scheduler=scheduler,
        progress=progress, signature={"dataset": DATASET, **cfg},
    )
    ok = {r["material_id"]: r["result"] for r in records if r["ok"]}
    table = resolve_splits(splits, ok, dict(structures), seed)

    def rows(split: str):
        for name, s in structures:  # input order: deterministic shards
            if name in ok and table[name] == split:
                res = ok[name]
                yield {
                    "material_id": name,
                    "chemsys": chemsys(elements(s)),
                    "E_1D": _value(res["E_1D"]),
                    "E_2D": _value(res["E_2D"]),
                    "E_3D": _value(res["E_3D"]),
                    **stored_structure(structure_to_row(s)),
                }

    failures = write_failures(list(input_failures) + failures_table(records), staging / "failures.csv",
                              STRUCTURE_FIELDS)
    if not ok:  # every input failed: an empty version would load as a dataset of 0 rows
        raise DataFormatError(f"no structure computed ({len(structures)} read, {len(input_failures)} unreadable); "
                              f"the reasons are in {failures}", reason="no_rows")
    notes = [
        "BVSE settings: mobile Li+, " + ", ".join(f"{k}={v}" for k, v in cfg.items())
        + "; oxidation states by BVAnalyzer (O1-, P3- forbidden); "
        + ("exact percolation on the periodic grid" if cfg["grid"] == "periodic" else
           "bvlain 0.25's grid linspace(0, 1, int(a // resolution)) and its 0.01 eV bisection readout, as the "
           "released values"),
        f"{len(ok)} of {len(structures)} structures computed; failures in failures.csv",
    ]
    notes += empty_split_notes(table, ok)
    return write_dataset(
        DATASET,
        split_sources(rows, table, ok),
        out,
        version=version,
        # the grid is a build setting of its own: it enters the fingerprint and names how the values were read
        sources={"structures": structures_digest(structures), "bvse_grid": cfg["grid"],
                 "calculator": "litraj_data.leaderboard.reference.bvse "
                               + ", ".join(f"{k}={v}" for k, v in cfg.items())},
        extra_files={"failures.csv": failures},
        notes=notes,
        overwrite=overwrite,
        progress=progress,
    )


def add_arguments(parser: argparse.ArgumentParser, dataset: str = DATASET) -> None:
    """Options of ``litraj build BVEL13k``."""
    add_common_arguments(parser, DATASET)
    add_bvse_options(parser, k_default=DEFAULT_SETTINGS["k"])


def run(args: argparse.Namespace) -> int:
    """Entry point of ``litraj build BVEL13k``."""
    input_failures: list[dict[str, str]] = []  # unreadable files: failures.csv rows, not an abort
    structures = read_structure_inputs(args.structures, input_failures)
    manifest = build_bvel13k(
        structures, args.out, splits=args.splits, workers=args.workers, scheduler=args.scheduler, staging=args.staging,
        seed=args.seed, version=args.version, overwrite=args.overwrite, input_failures=input_failures,
        **bvse_kwargs(args),
    )
    return report_build(args, manifest)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="bvel13k")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
