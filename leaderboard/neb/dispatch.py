"""Where hops run: this process, a pool of local processes, or a Dask cluster.

Every backend yields ``(record, frames)`` as hops finish, so the caller streams them to the
output folder; a crashed worker process becomes a failure record of the hops it held.
"""
from __future__ import annotations

import os
from typing import Any, Iterator, Sequence

from litraj_data.leaderboard.neb.config import NEBConfig
from litraj_data.leaderboard.neb.harness import run_hop
from litraj_data.leaderboard.neb.hops import HopInput
from litraj_data.leaderboard.neb.provider import CalculatorProvider

Result = tuple[dict[str, Any], Any]


def _init_worker(threads: int) -> None:
    # share the cores between workers instead of oversubscribing them
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _crash_record(hop: HopInput, provider: CalculatorProvider, exc: BaseException) -> Result:
    return ({"edge_id": hop.edge_id, "model": getattr(provider, "key", None), "barrier": None,
             "converged": False, "steps": None, "fmax": None, "energies": None, "wall_time": None,
             "n_images": len(hop.images), "n_atoms": len(hop.images[0]) if hop.images else 0, **hop.meta,
             "error": {"reason": "worker_crashed", "message": f"{type(exc).__name__}: {exc}"}}, None)


def run_serial(hops: Sequence[HopInput], provider: CalculatorProvider, config: NEBConfig) -> Iterator[Result]:
    """Hops one after the other in this process."""
    for hop in hops:
        yield run_hop(hop, provider, config)


def run_local(hops: Sequence[HopInput], provider: CalculatorProvider, config: NEBConfig, workers: int,
              threads: int | None = None) -> Iterator[Result]:
    """Hops on ``workers`` spawned local processes (one hop per task)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    pending = list(hops)
    while pending:
        ctx = mp.get_context("spawn")  # fork after torch has started its thread pools can deadlock
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(run_hop, hop, provider, config): hop for hop in pending}
            finished: set[str] = set()
            broken = False
            try:
                for fut in as_completed(futures):
                    hop = futures[fut]
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        break
                    except Exception as exc:  # pickling problems and the like: record, go on
                        result = _crash_record(hop, provider, exc)
                    finished.add(hop.edge_id)
                    yield result
            finally:
                if broken:
                    pool.shutdown(wait=False, cancel_futures=True)
        if not broken:
            return
        # a worker died (segfault, OOM): the hops it held are recorded once, the rest rerun
        rest = [h for h in pending if h.edge_id not in finished]
        crashed = [h for h, f in ((futures[f], f) for f in futures) if h.edge_id not in finished and f.done()
                   and f.exception() is not None]
        for hop in crashed[:1] or rest[:1]:
            yield _crash_record(hop, provider, BrokenProcessPool("worker process died during this hop"))
            finished.add(hop.edge_id)
        pending = [h for h in rest if h.edge_id not in finished]


def run_dask(hops: Sequence[HopInput], provider: CalculatorProvider, config: NEBConfig,
             scheduler: str | Any) -> Iterator[Result]:
    """One Dask task per hop on the cluster at ``scheduler`` (address or Client)."""
    from litraj_data.executors import dask_client

    client, own = dask_client(scheduler)  # clear errors: dask missing, scheduler unreachable
    from distributed import as_completed

    try:
        futures = {}
        for hop in hops:
            fut = client.submit(run_hop, hop, provider, config, pure=False, key=f"neb-{hop.edge_id}-{id(hop)}")
            futures[fut.key] = (fut, hop)
        for fut in as_completed([f for f, _ in futures.values()]):
            hop = futures[fut.key][1]
            try:
                result = fut.result()
            except Exception as exc:  # worker killed / task lost: a record, not a lost run
                result = _crash_record(hop, provider, exc)
            fut.release()
            yield result
    finally:
        if own:
            client.close()


def dispatch(hops: Sequence[HopInput], provider: CalculatorProvider, config: NEBConfig, workers: int = 1,
             scheduler: str | Any | None = None) -> Iterator[Result]:
    """Pick the backend: Dask when ``scheduler`` is given, else local processes."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not hops:
        return iter(())
    if scheduler is not None:
        return run_dask(hops, provider, config, scheduler)
    if workers == 1:
        return run_serial(hops, provider, config)
    return run_local(hops, provider, config, workers)
