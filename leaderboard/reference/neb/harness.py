"""Run the uMLIP-NEB protocol on hops into an output folder: one record + one optimised band per hop.

Output folder layout::

    OUT/results.jsonl       one JSON record per finished hop (appended as hops finish)
    OUT/bands/{edge_id}.xyz optimised band (full-precision extxyz, energies + forces)
    OUT/bands/failed.txt    edge ids of hops whose optimisation failed or did not converge

A rerun with the same folder skips every hop that already has a record. A hop that raises,
gives NaN energies or forces, or exceeds ``force_limit`` gets a record with ``error`` and
the run goes on.

Roles: this module owns the output folder (records, bands, the failed list) and the resume
logic; :mod:`.dispatch` decides where each hop runs (and runs one, :func:`run_hop`);
:mod:`.lockstep` runs many hops in this process in lock step. Imports go one way:
harness -> dispatch -> lockstep.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from ase import Atoms

from litraj_data.io import JsonlCheckpoint, atomic_write_text
from litraj_data.leaderboard.reference.neb.config import NEBConfig
from litraj_data.leaderboard.reference.neb.dispatch import dispatch
from litraj_data.leaderboard.reference.neb.hops import HopInput
from litraj_data.leaderboard.reference.neb.lockstep import run_lockstep
from litraj_data.leaderboard.reference.neb.metrics import run_metrics
from litraj_data.leaderboard.reference.neb.protocol import OptimisationDiverged
from litraj_data.leaderboard.reference.neb.provider import CalculatorProvider
from litraj_data.store.extxyz import write_extxyz

RESULTS = "results.jsonl"
BANDS = "bands"
FAILED = "failed.txt"


#: former name, kept for importers (it clashed with the raw-run reader's HopFailure record)
HopFailure = OptimisationDiverged


# --------------------------------------------------------------------------- output folder

def read_records(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Records of ``OUT/results.jsonl`` (a torn last line from a killed run is ignored)."""
    return JsonlCheckpoint(Path(out_dir) / RESULTS).records()


class ResultSink:
    """Streams records and bands into the output folder as hops finish.

    ``results.jsonl`` is a :class:`litraj_data.io.JsonlCheckpoint`: one fsynced line per
    hop; a torn last line (a run killed mid-write) is cut off before the first new record,
    and that hop, having no record, is simply run again.
    """

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.out = Path(out_dir)
        (self.out / BANDS).mkdir(parents=True, exist_ok=True)
        self.path = self.out / RESULTS
        self.checkpoint = JsonlCheckpoint(self.path)
        self.checkpoint.repair()
        self.done = {r["edge_id"] for r in self.checkpoint.records() if "edge_id" in r}

    def write(self, record: dict[str, Any], frames: list[Atoms] | None) -> None:
        eid = record["edge_id"]
        if frames is not None:
            write_extxyz(self.out / BANDS / f"{eid}.xyz", frames)
        self.checkpoint.append(record)  # after the band: a record always has its band file
        self.done.add(eid)

    def write_failed_list(self) -> Path:
        """``bands/failed.txt``: hops the scorer must treat as failed (errors, not converged)."""
        latest = {r["edge_id"]: r for r in self.checkpoint.records() if "edge_id" in r}
        failed = sorted(e for e, r in latest.items() if r.get("error") or not r.get("converged"))
        return atomic_write_text(self.out / BANDS / FAILED, "# hops whose uMLIP-NEB failed or did not converge\n"
                                 + "".join(f"{e}\n" for e in failed))


def run_hops(hops: Iterable[HopInput], provider: CalculatorProvider, out_dir: str | os.PathLike,
             config: NEBConfig = NEBConfig(), workers: int = 1, scheduler: str | Any | None = None,
             progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run every hop not yet finished in ``out_dir``; stream results there.

    Parameters
    ----------
    hops : iterable of HopInput
    provider : CalculatorProvider
        Picklable when ``workers > 1`` or ``scheduler`` is given.
    out_dir : path
    config : NEBConfig
    workers : int
        Local worker processes (1 = in this process, many hops per model call when the model
        is batched: :mod:`.lockstep`; > 1: one hop per task, each batched on its own).
    scheduler : str or distributed.Client, optional
        Dask scheduler address (``tcp://host:8786``) or a client: one task per hop.
    progress : callable, optional
        Called with each new record; its ``start(total, skipped)``, when it has one, first
        (:class:`~.progress.HopProgress`: a tqdm bar on stderr).

    Returns
    -------
    dict
        ``done`` (new records), ``skipped`` (already finished), ``failed`` (new records with an
        error), ``out`` (folder), ``wall_time``, and the run's success metrics over every
        record of the folder (:func:`~.metrics.run_metrics`: convergence rate, success within
        0.05 / 0.1 eV of ``em_dft``, hops per hour of this run).
    """
    t0 = time.perf_counter()
    sink = ResultSink(out_dir)
    todo, skipped = [], 0
    for hop in hops:
        if hop.edge_id in sink.done:
            skipped += 1
        else:
            todo.append(hop)
    done = failed = 0
    if progress is not None and hasattr(progress, "start"):
        progress.start(len(todo), skipped)
    if workers == 1 and scheduler is None:
        results = run_lockstep(todo, provider, config, on_step=getattr(progress, "step", None))
    else:
        results = dispatch(todo, provider, config, workers, scheduler)
    for record, frames in results:
        sink.write(record, frames)
        done += 1
        failed += record.get("error") is not None
        if progress is not None:
            progress(record)
    sink.write_failed_list()
    wall = time.perf_counter() - t0
    latest = {r["edge_id"]: r for r in read_records(sink.out) if "edge_id" in r}
    return {"done": done, "skipped": skipped, "failed": failed, "out": str(sink.out), "wall_time": wall,
            **run_metrics(list(latest.values()), wall_time=wall, new_hops=done)}
