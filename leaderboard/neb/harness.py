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

import math
import os
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from litraj_data.bands import check_band
from litraj_data.errors import DataFormatError, LitrajError
from litraj_data.io import JsonlCheckpoint, atomic_write_text
from litraj_data.leaderboard.neb.batch import attach_batched
from litraj_data.leaderboard.neb.config import NEBConfig
from litraj_data.leaderboard.neb.hops import HopInput
from litraj_data.leaderboard.neb.provider import CalculatorProvider

RESULTS = "results.jsonl"
BANDS = "bands"
FAILED = "failed.txt"


class OptimisationDiverged(LitrajError):
    """The model's energies or forces broke down during a hop's optimisation.

    ``reason``: ``nan`` (NaN/inf energy or forces) or ``exploding_force`` (a force above
    ``NEBConfig.force_limit``). Not to be confused with
    :class:`litraj_data.builders.raw_runs.HopFailure`, the record of a raw DFT run that
    could not be read.
    """

    reason = "diverged"


#: former name, kept for importers (it clashed with the raw-run reader's HopFailure record)
HopFailure = OptimisationDiverged


def _guard(energies: np.ndarray, forces: np.ndarray, limit: float, stage: str) -> None:
    if not (np.isfinite(energies).all() and np.isfinite(forces).all()):
        raise OptimisationDiverged(f"{stage}: model returned NaN/inf energy or forces", reason="nan")
    fmax = float(np.sqrt((forces ** 2).sum(-1)).max()) if forces.size else 0.0
    if fmax > limit:
        raise OptimisationDiverged(f"{stage}: force {fmax:.3g} eV/A exceeds force_limit {limit:g} eV/A "
                         "(exploding forces)", reason="exploding_force")


def _results_of(images: list[Atoms]) -> tuple[np.ndarray, np.ndarray]:
    e = np.array([img.get_potential_energy() for img in images], dtype=float)
    f = np.stack([img.get_forces(apply_constraint=False) for img in images])
    return e, f


def _assign_calculators(images: list[Atoms], provider: CalculatorProvider, batched: bool):
    evaluator = provider.evaluator() if batched else None
    if evaluator is not None:
        return attach_batched(images, evaluator)
    for img in images:
        img.calc = provider.calculator()
    return None


def _relax_together(structures: list[Atoms], fmax: float, steps: int, limit: float,
                    stages: list[str]) -> list[tuple[int, bool]]:
    """Relax each structure with its own FIRE, all advanced in lock step.

    Each optimiser follows exactly the path of ``FIRE(atoms).run(fmax, steps)``; stepping
    them together means that, when the structures share a batched group (the two end points
    of a band), the group evaluates all of them in one model call per step.

    Returns
    -------
    list of (steps, converged)
        One per structure, as ``Optimizer.nsteps`` and ``Optimizer.run`` report them.
    """
    from ase.optimize import FIRE

    opts = [FIRE(atoms, logfile=None) for atoms in structures]
    for opt in opts:
        opt.fmax = fmax  # what run(fmax=...) sets: converged() is then ASE's own criterion
    nsteps = [0] * len(structures)
    converged = [False] * len(structures)
    active = list(range(len(structures)))
    while True:
        still = []
        for i in active:  # the first force request evaluates every moved structure of a group
            atoms = structures[i]
            forces = atoms.get_forces()
            _guard(np.array([atoms.get_potential_energy()]), forces, limit, stages[i])
            converged[i] = bool(opts[i].converged())
            if not converged[i] and nsteps[i] < steps:
                still.append(i)
        if not still:
            return list(zip(nsteps, converged))
        for i in still:
            opts[i].step()  # forces of the current positions are cached: moves, evaluates nothing
            nsteps[i] += 1
        active = still


def optimise_band(images: list[Atoms], provider: CalculatorProvider, config: NEBConfig) -> dict[str, Any]:
    """End-point relaxation then CI-NEB, in place on ``images``.

    Returns
    -------
    dict
        ``converged``, ``steps``, ``endpoint_steps``, ``endpoints_converged``, ``fmax``,
        ``energies``, ``forces`` (real forces per image), ``evaluations``.
    """
    from ase.mep import NEB
    from ase.optimize import FIRE

    group = _assign_calculators(images, provider, config.batched)
    ep_steps, ep_conv = 0, True
    if config.relax_endpoints:
        ends = [0, len(images) - 1]
        for n, ok in _relax_together([images[k] for k in ends], config.endpoint_fmax, config.endpoint_steps,
                                     config.force_limit, [f"end point {k} relaxation" for k in ends]):
            ep_steps += n
            ep_conv &= ok
    neb = NEB(images, k=config.k, climb=config.climb, method=config.method)
    opt = FIRE(neb, logfile=None)

    def check() -> None:
        e, f = _results_of(images)
        _guard(e, f, config.force_limit, "NEB")

    opt.attach(check)
    converged = bool(opt.run(fmax=config.fmax, steps=config.steps))
    neb_f = neb.get_forces()
    fmax = float(np.sqrt((neb_f ** 2).sum(-1)).max()) if neb_f.size else 0.0
    e, f = _results_of(images)
    _guard(e, f, config.force_limit, "final band")
    return {"converged": converged and ep_conv, "neb_converged": converged, "steps": int(opt.nsteps),
            "endpoint_steps": ep_steps, "endpoints_converged": bool(ep_conv), "fmax": fmax,
            "energies": e, "forces": f, "evaluations": None if group is None else group.evaluated}


def _band_frames(hop: HopInput, images: list[Atoms], energies: np.ndarray, forces: np.ndarray,
                 converged: bool) -> list[Atoms]:
    frames = []
    for k, (img, e, f) in enumerate(zip(images, energies, forces)):
        out = Atoms(numbers=img.numbers, positions=img.positions, cell=img.cell, pbc=img.pbc)
        out.calc = SinglePointCalculator(out, energy=float(e), forces=np.asarray(f))
        out.info.update(edge_id=hop.edge_id, image=k, converged=bool(converged))
        frames.append(out)
    return frames


def _num(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


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
        ``converged``, ``steps``, ``endpoint_steps``, ``fmax`` (largest NEB force, eV/A),
        ``wall_time`` (s), ``energies``, ``n_images``, ``n_atoms``, ``model``, ``batched``,
        ``error`` (``None`` or ``{"reason", "message"}``) and the hop's ``meta``.
    frames : list of Atoms or None
        The optimised band (``None`` on error).
    """
    t0 = time.perf_counter()
    record: dict[str, Any] = {"edge_id": hop.edge_id, "model": getattr(provider, "key", None),
                              "n_images": len(hop.images), "n_atoms": len(hop.images[0]) if hop.images else 0,
                              "batched": bool(config.batched and provider.evaluator() is not None), **hop.meta}
    frames = None
    try:
        check_band(hop.images, hop.edge_id, energies="ignore")  # the input band's own energies are not used
    except DataFormatError as exc:  # the band itself is broken: record which check failed
        record.update(barrier=None, converged=False, steps=None, fmax=None, energies=None,
                      error={"reason": "bad_band", "check": exc.reason, "message": f"{type(exc).__name__}: {exc}"})
        record["wall_time"] = time.perf_counter() - t0
        return record, None
    try:
        images = [img.copy() for img in hop.images]
        for img in images:
            img.set_constraint()  # uMLIP-NEB relaxes every atom
        res = optimise_band(images, provider, config)
        e = res["energies"]
        record.update(barrier=float(e.max() - e.min()), converged=res["converged"],
                      neb_converged=res["neb_converged"], endpoints_converged=res["endpoints_converged"],
                      steps=res["steps"], endpoint_steps=res["endpoint_steps"], fmax=_num(res["fmax"]),
                      energies=[float(v) for v in e], evaluations=res["evaluations"], error=None)
        frames = _band_frames(hop, images, e, res["forces"], res["converged"])
    except Exception as exc:  # per-hop record: a model may raise anything; one bad hop never loses the run
        reason = getattr(exc, "reason", None) or ("model_error" if not isinstance(exc, LitrajError) else "error")
        record.update(barrier=None, converged=False, steps=None, fmax=None, energies=None,
                      error={"reason": reason, "message": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc(limit=4)})
    record["wall_time"] = time.perf_counter() - t0
    return record, frames


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
        Local worker processes (1 = in this process).
    scheduler : str or distributed.Client, optional
        Dask scheduler address (``tcp://host:8786``) or a client: one task per hop.
    progress : callable, optional
        Called with each new record.

    Returns
    -------
    dict
        ``done`` (new records), ``skipped`` (already finished), ``failed`` (new records with an
        error), ``out`` (folder), ``wall_time``.
    """
    from litraj_data.leaderboard.neb.dispatch import dispatch

    t0 = time.perf_counter()
    sink = ResultSink(out_dir)
    todo, skipped = [], 0
    for hop in hops:
        if hop.edge_id in sink.done:
            skipped += 1
        else:
            todo.append(hop)
    done = failed = 0
    for record, frames in dispatch(todo, provider, config, workers, scheduler):
        sink.write(record, frames)
        done += 1
        failed += record.get("error") is not None
        if progress is not None:
            progress(record)
    sink.write_failed_list()
    return {"done": done, "skipped": skipped, "failed": failed, "out": str(sink.out),
            "wall_time": time.perf_counter() - t0}
