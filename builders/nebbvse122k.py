"""``litraj build nebBVSE122k``: BVSE-NEB barrier of every inequivalent Li hop -> shards.

Per structure (in local processes, checkpointed and resumable through
:func:`structure_jobs.run_structure_jobs`): the percolating Li hop graph, its
symmetry-inequivalent hops and one BVSE-NEB per hop (paper protocol by default, see
:mod:`litraj_data.leaderboard.reference.hops`). One row per hop: ``edge_id``, ``material_id``,
``chemsys``, ``em`` (max - min of the final profile), ``converged``, ``neb_steps``,
``em_upper_bound`` (the band never left a symmetric or already-converged straight start) and
the centroid supercell (supercell with a dummy ``X`` at the hop midpoint, last atom).

Failures go to ``failures.csv`` (``material_id, edge_id, reason, message``): whole structures
(``no_mobile_ion``, ``no_percolating_hop``, ``overlapping_atoms``, ``oxidation_states``,
``missing_parameters``, ``disordered``...) with an empty ``edge_id``, single hops
(``overlapping_atoms``, ``nan_energy``) with theirs. A hop that hits the step limit is *kept*
as a row with ``converged = False`` (the release has such hops too; ions stops at 100 steps
without saying so) and is also listed in failures.csv with reason ``not_converged``. A hop whose
band that never left a symmetric or already-converged straight start (docs/hops.md, "Symmetric
straight starts") is kept too and listed with reason ``upper_bound``; with ``--break-symmetry A``
such bands are also relaxed from seeded pushes off the line, the lower barrier is kept and the
hop is listed with reason ``symmetry_broken`` (straight-start barrier in the message).
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from litraj_data.builders.failures import HOP_FIELDS, write_failures
from litraj_data.builders.structure_builds import (
    ENERGY_DECIMALS,
    LENGTH_DECIMALS,
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
from litraj_data.errors import DataFormatError, LitrajError
from litraj_data.leaderboard.reference.hops.api import HopSystem, as_atoms, bvse_neb
from litraj_data.leaderboard.reference.hops.bvse_band_neb import PROTOCOLS
from litraj_data.leaderboard.reference.hops.centroid import centroid_supercell
from litraj_data.leaderboard.reference.hops.graph import build_hop_graph
from litraj_data.leaderboard.reference.hops.supercell import hop_geometry
from litraj_data.schema import atoms_to_row
from litraj_data.store.shards import write_dataset

DATASET = "nebBVSE122k"
DEFAULT_SETTINGS: dict[str, Any] = {"cutoff": 8.0, "bottleneck": 0.5, "protocol": "paper", "seed": None,
                                    "keep_bands": False}


def _hops_job(settings: dict[str, Any], name: str, structure: Any) -> dict[str, Any]:
    """One structure -> its hops and barriers (module level: picklable for worker processes)."""
    system = HopSystem.from_structure(structure, name)
    graph = build_hop_graph(system.cell, system.frac, system.atoms.numbers, name,
                            settings["cutoff"], settings["bottleneck"])
    hops = []
    for h in graph.hops:
        rec: dict[str, Any] = {**h.as_dict(), "ok": True}
        try:
            protocol: Any = settings["protocol"]
            if settings.get("break_symmetry"):
                protocol = replace(PROTOCOLS[protocol], break_symmetry=float(settings["break_symmetry"]))
            r = bvse_neb(system, h, protocol, seed=settings["seed"])
            rec.update(em=r.barrier, converged=r.converged, neb_steps=r.steps, fmax=r.fmax,
                       stationary_start=r.stationary_start, symmetric_start=r.symmetric_start,
                       upper_bound=r.upper_bound, symmetry_broken=r.symmetry_broken,
                       em_straight=r.straight_barrier,
                       # the elements only where they force the perpendicular force to zero
                       symmetry_elements=((r.extras.get("path_symmetry") or {}).get("elements", [])
                                          if r.symmetric_start else []))
            if settings["keep_bands"]:
                rec.update(band_positions=r.positions.tolist(), band_energies=r.energies.tolist())
        except LitrajError as exc:
            rec.update(ok=False, reason=exc.reason, message=str(exc))
        hops.append(rec)
    return {"max_dim": graph.max_dim, "percolation_cutoff": graph.cutoff, "hops": hops}


def hop_failures(records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Failure rows: whole structures (empty edge_id), failed hops, hops not converged, stationary starts."""
    rows = [{**r, "edge_id": ""} for r in failures_table(records)]
    for rec in records:
        if not rec["ok"]:
            continue
        for h in rec["result"]["hops"]:
            if not h["ok"]:
                rows.append({"material_id": rec["material_id"], "edge_id": h["edge_id"],
                             "reason": h["reason"], "message": h["message"]})
            elif not h["converged"]:
                rows.append({"material_id": rec["material_id"], "edge_id": h["edge_id"], "reason": "not_converged",
                             "message": f"fmax {h['fmax']:.3f} eV/A after {h['neb_steps']} steps (row kept)"})
            # a band that never left a symmetric (or already converged) straight start "converges"
            # on the line: its em may be a maximum across the path (an upper bound), so the row is
            # kept but flagged here; .get: checkpoints written before the flags existed lack them
            # (there stationary_start, the force test, is all there is)
            flagged = h.get("upper_bound", h.get("stationary_start"))
            if flagged:
                elements = (", ".join(h.get("symmetry_elements") or [])
                            or "converged before its first step; no symmetry element forces it")
                rows.append({"material_id": rec["material_id"], "edge_id": h["edge_id"],
                             "reason": "upper_bound",
                             "message": f"the band never left its straight start ({h['neb_steps']} steps; "
                                        f"{elements}); em {h['em']:.3f} eV is an upper bound (row kept)"})
            elif h.get("symmetry_broken") and h.get("em_straight") is not None:
                rows.append({"material_id": rec["material_id"], "edge_id": h["edge_id"],
                             "reason": "symmetry_broken",
                             "message": f"restarted off a symmetric straight start: em {h['em']:.3f} eV "
                                        f"(straight start {h['em_straight']:.3f} eV; row kept)"})
    return rows


def centroid_row(structure: Any, hop: dict[str, Any]) -> dict[str, Any]:
    """Structure block of the centroid supercell of one hop record."""
    atoms = as_atoms(structure)
    frac = np.linalg.solve(atoms.cell.array.T, atoms.positions.T).T
    geom = hop_geometry(atoms.cell.array, frac, hop["source"], hop["target"], hop["offset"])
    return atoms_to_row(centroid_supercell(atoms, geom))


def build_nebbvse122k(
    structures: Sequence[tuple[str, Any]],
    out: str | Path,
    splits: str | Path | dict[str, str] | None = None,
    workers: int = 1,
    scheduler: Any = None,
    keep_bands: bool = False,
    staging: str | Path | None = None,
    seed: int = 0,
    version: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    input_failures: Sequence[dict[str, str]] = (),
    **settings: Any,
) -> Path:
    """Compute nebBVSE122k rows for ``structures`` and write them as a dataset version.

    Parameters
    ----------
    structures : sequence of (material_id, Structure)
    out : path
        Root folder; the version lands in ``out/nebBVSE122k/<version>``.
    splits : path or dict, optional
        Split table by structure (``material_id`` -> split) or a CSV; default: the paper's
        8:1:1 rule over the structures that gave hops.
    workers : int
        Local processes.
    scheduler : str or distributed.Client, optional
        Dask scheduler address: one task per structure on that cluster.
    keep_bands : bool
        Also store each final band (moving-ion positions and energies) in ``info_extra``.
    staging : path, optional
        Checkpoint folder (default ``out/.nebBVSE122k-jobs``).
    seed : int
        Seed of the 8:1:1 split.
    **settings
        ``cutoff`` (8 A), ``bottleneck`` (0.5 A), ``protocol`` (``paper``/``ions-legacy``),
        ``seed`` is the split seed; the legacy displacement seed is ``neb_seed``.

    Returns
    -------
    Path
        The version folder (holding ``manifest.json``).
    """
    neb_seed = settings.pop("neb_seed", None)
    if not settings.get("break_symmetry"):
        # off (the paper's protocol) leaves the settings, and so the build's bytes, as before
        settings.pop("break_symmetry", None)
    cfg = {**DEFAULT_SETTINGS, **settings, "keep_bands": bool(keep_bands), "seed": neb_seed}
    out = Path(out)
    staging = Path(staging) if staging is not None else out / f".{DATASET}-jobs"
    records = run_structure_jobs(
        functools.partial(_hops_job, cfg), structures, staging, workers=workers, scheduler=scheduler, progress=progress,
        signature={"dataset": DATASET, **cfg},
    )
    ok = {r["material_id"]: r["result"] for r in records
          if r["ok"] and any(h["ok"] for h in r["result"]["hops"])}
    table = resolve_splits(splits, ok, dict(structures), seed)

    def rows(split: str):
        for name, s in structures:  # input order, hops by length: deterministic shards
            if name not in ok or table[name] != split:
                continue
            system = chemsys(elements(s))
            for h in ok[name]["hops"]:
                if not h["ok"]:
                    continue
                extra = None
                if keep_bands:
                    extra = json.dumps({"band_positions": stored(h["band_positions"], LENGTH_DECIMALS).tolist(),
                                        "band_energies": stored(h["band_energies"], ENERGY_DECIMALS).tolist()})
                yield {"edge_id": h["edge_id"], "material_id": name, "chemsys": system,
                       "em": stored(h["em"], ENERGY_DECIMALS), "converged": bool(h["converged"]),
                       "neb_steps": int(h["neb_steps"]),
                       # .get: checkpoints written before the flag existed only have the force test
                       "em_upper_bound": bool(h.get("upper_bound", h.get("stationary_start", False))),
                       **stored_structure(centroid_row(s, h)), "info_extra": extra}

    failures = write_failures(list(input_failures) + hop_failures(records), staging / "failures.csv",
                              HOP_FIELDS)
    if not ok:  # every input failed: an empty version would load as a dataset of 0 rows
        raise DataFormatError(f"no hop computed ({len(structures)} structures read, {len(input_failures)} "
                              f"unreadable); the reasons are in {failures}", reason="no_rows")
    n_hops = sum(sum(h["ok"] for h in r["hops"]) for r in ok.values())
    desc = ", ".join(f"{k}={v}" for k, v in cfg.items())
    notes = [
        "BVSE-NEB: " + desc + "; climbing image + improved tangent + FIRE, fmax 0.1 eV/A, 100 steps "
        "(paper protocol); Morse D0/2, screened Coulomb, Li-Li repulsion, cutoff 10 A",
        f"{n_hops} hops from {len(ok)} of {len(structures)} structures; failures in failures.csv",
    ]
    notes += empty_split_notes(table, ok)
    return write_dataset(
        DATASET,
        split_sources(rows, table, ok),
        out,
        version=version,
        sources={"structures": structures_digest(structures),
                 "calculator": "litraj_data.leaderboard.reference.hops " + desc},
        extra_files={"failures.csv": failures},
        notes=notes,
        overwrite=overwrite,
        progress=progress,
    )


def add_arguments(parser: argparse.ArgumentParser, dataset: str = DATASET) -> None:
    """Options of ``litraj build nebBVSE122k``."""
    add_common_arguments(parser, DATASET)
    parser.add_argument("--cutoff", type=float, default=8.0, help="longest hop searched, A (default 8)")
    parser.add_argument("--bottleneck", type=float, default=0.5, help="min segment-atom distance, A (default 0.5)")
    parser.add_argument("--protocol", choices=["paper", "ions-legacy"], default="paper", help="NEB protocol")
    parser.add_argument("--neb-seed", type=int, default=None, help="seed of the ions-legacy displacement")
    parser.add_argument("--keep-bands", action="store_true", help="store final bands in info_extra")
    parser.add_argument("--break-symmetry", type=float, default=0.0, metavar="A",
                        help="relax bands that never left a symmetric straight start from seeded pushes of up "
                             "to A angstrom and keep the lower barrier (default 0: keep em, flag upper_bound)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``litraj build nebBVSE122k``."""
    input_failures: list[dict[str, str]] = []  # unreadable files: failures.csv rows, not an abort
    bs = float(getattr(args, "break_symmetry", 0.0))
    if not 0.0 <= bs <= 1.0:  # beyond ~1 A a push is another path, not a perturbation of the line
        raise LitrajError(f"--break-symmetry must be between 0 and 1 A, got {bs}", reason="bad_option")
    structures = read_structure_inputs(args.structures, input_failures)
    manifest = build_nebbvse122k(
        structures, args.out, splits=args.splits, workers=args.workers, scheduler=args.scheduler,
        keep_bands=args.keep_bands, staging=args.staging, seed=args.seed, version=args.version,
        overwrite=args.overwrite, input_failures=input_failures,
        cutoff=args.cutoff, bottleneck=args.bottleneck, protocol=args.protocol, neb_seed=args.neb_seed,
        break_symmetry=getattr(args, "break_symmetry", 0.0),
    )
    return report_build(args, manifest)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="nebbvse122k")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
