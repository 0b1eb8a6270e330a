"""Where hops run: one hop in this process (:func:`run_hop`), spawned local processes, or a Dask cluster.

A thin use of :func:`litraj_data.executors.map_unordered` (the one executor of the package):
every backend yields ``(record, frames)`` as hops finish, so the caller streams them to the
output folder; a hop whose worker process died, or whose task was lost or could not be
sent, becomes a ``worker_crashed`` failure record while the other hops still run.
"""
from __future__ import annotations

import os
from functools import partial
from typing import Any, Iterator, Sequence

from litraj_data.executors import map_unordered
from litraj_data.leaderboard.reference.neb.config import NEBConfig
from litraj_data.leaderboard.reference.neb.hops import HopInput
from litraj_data.leaderboard.reference.neb.lockstep import LockstepRunner
from litraj_data.leaderboard.reference.neb.provider import CalculatorProvider

Result = tuple[dict[str, Any], Any]


def run_hop(hop: HopInput, provider: CalculatorProvider, config: NEBConfig = NEBConfig()) -> Result:
    """Optimise one hop in this process; never raises for problems of the hop itself.

    The task every backend of :func:`dispatch` runs (a worker process or a Dask task gets
    one hop); the same lock-step runner as a whole in-process run, with one hop.

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
    return next(iter(LockstepRunner(provider, config).run([hop])))


def crash_record(provider: CalculatorProvider, hop: HopInput, exc: BaseException) -> Result:
    """The failure record of a hop that never returned (``run_hop`` itself never raises)."""
    return ({"edge_id": hop.edge_id, "model": getattr(provider, "key", None), "barrier": None,
             "converged": False, "steps": None, "fmax": None, "energies": None, "wall_time": None,
             "n_images": len(hop.images), "n_atoms": len(hop.images[0]) if hop.images else 0, **hop.meta,
             "error": {"reason": "worker_crashed", "message": f"{type(exc).__name__}: {exc}"}}, None)


def dispatch(hops: Sequence[HopInput], provider: CalculatorProvider, config: NEBConfig, workers: int = 1,
             scheduler: str | Any | None = None, threads: int | None = None) -> Iterator[Result]:
    """Run ``hops``: Dask when ``scheduler`` is given, else ``workers`` spawned local processes.

    Parameters
    ----------
    threads : int, optional
        Threads per local worker (default: the cores shared out between the workers).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and threads is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn: forking after torch has started its thread pools can deadlock the workers
    results = map_unordered(partial(run_hop, provider=provider, config=config), hops, workers, scheduler,
                            on_error=partial(crash_record, provider), start_method="spawn",
                            threads_per_worker=threads if workers > 1 else None)
    return (result for _, result in results)
