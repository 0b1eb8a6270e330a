"""Run the uMLIP-NEB protocol on hops: one record + one optimised band per hop.

Output folder layout::

    OUT/results.jsonl       one JSON record per finished hop (appended as hops finish)
    OUT/bands/{edge_id}.xyz optimised band (full-precision extxyz, energies + forces)
    OUT/bands/failed.txt    edge ids of hops whose optimisation failed or did not converge

A rerun with the same folder skips every hop that already has a record. A hop that raises,
gives NaN energies or forces, or exceeds ``force_limit`` gets a record with ``error`` and
the run goes on.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from ase import Atoms

from litraj_data.io import JsonlCheckpoint, atomic_write_text
from litraj_data.leaderboard.reference.neb.batch import attach_batched
from litraj_data.leaderboard.reference.neb.config import NEBConfig
from litraj_data.leaderboard.reference.neb.hops import HopInput
from litraj_data.leaderboard.reference.neb.protocol import OptimisationDiverged, guard, hop_protocol, optimise, together
from litraj_data.leaderboard.reference.neb.provider import CalculatorProvider

RESULTS = "results.jsonl"
BANDS = "bands"
FAILED = "failed.txt"


#: former name, kept for importers (it clashed with the raw-run reader's HopFailure record)
HopFailure = OptimisationDiverged


def drive(program: Any) -> Any:
    """Run a protocol generator to its end with nothing shared (its reads evaluate on demand)."""
    while True:
        try:
            next(program)
        except StopIteration as stop:
            return stop.value


def _relax_together(structures: list[Atoms], fmax: float, steps: int, limit: float,
                    stages: list[str]) -> list[tuple[int, bool]]:
    """Relax each structure with its own FIRE, all advanced in lock step.

    Each optimiser follows exactly the path of ``FIRE(atoms).run(fmax, steps)``; when the
    structures share a batched group, the group evaluates all of them in one model call per
    step. Returns ``(steps, converged)`` per structure.
    """
    from ase.optimize import FIRE

    def reader(atoms: Atoms, name: str):
        return lambda: guard(np.array([atoms.get_potential_energy()]), atoms.get_forces(), limit, name)

    return drive(together([optimise(FIRE(a, logfile=None), fmax, steps, reader(a, s))
                           for a, s in zip(structures, stages)]))


def optimise_band(images: list[Atoms], provider: CalculatorProvider, config: NEBConfig) -> dict[str, Any]:
    """End-point relaxation then CI-NEB (and the configured options), in place on ``images``.

    Returns
    -------
    dict
        As :func:`~.protocol.hop_protocol`, plus ``evaluations`` (batched path).
    """
    evaluator = provider.evaluator() if config.batched else None
    group = attach_batched(images, evaluator) if evaluator is not None else None
    if group is None:
        for img in images:
            img.calc = provider.calculator()
    res = drive(hop_protocol(images, config))
    res["evaluations"] = None if group is None else group.evaluated
    return res


def run_hop(hop: HopInput, provider: CalculatorProvider, config: NEBConfig = NEBConfig()
            ) -> tuple[dict[str, Any], list[Atoms] | None]:
    """Optimise one hop; never raises for problems of the hop itself.

    Parameters
    ----------
    hop : HopInput
    provider : CalculatorProvider
    config : NEBConfig

    Returns
    -------
    record : dict
        ``edge_id``, ``barrier`` (max - min of the band energies, eV; ``None`` on error),
        ``converged``, ``neb_converged``, ``endpoints_converged``, ``steps``,
        ``endpoint_steps``, ``fmax`` (largest NEB force, eV/A), ``wall_time`` (s),
        ``model_calls``, ``evaluations``, ``stages``, ``energies``, ``n_images``, ``n_atoms``,
        ``model``, ``batched``, ``optimizer``, ``error`` (``None`` or ``{"reason", "message"}``)
        and the hop's ``meta``.
    frames : list of Atoms or None
        The optimised band (``None`` on error).
    """
    from litraj_data.leaderboard.reference.neb.lockstep import LockstepRunner

    return next(iter(LockstepRunner(provider, config).run([hop])))


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
        from litraj_data.store.extxyz import write_extxyz

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
    from litraj_data.leaderboard.reference.neb.dispatch import dispatch
    from litraj_data.leaderboard.reference.neb.lockstep import run_lockstep
    from litraj_data.leaderboard.reference.neb.metrics import run_metrics

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
        results = run_lockstep(todo, provider, config)
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
