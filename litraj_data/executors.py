"""Where independent tasks run: this process, local processes, or a Dask cluster.

Builders and the NEB harness share one rule: ``workers`` local processes by default, and a
Dask cluster when a ``scheduler`` address (``tcp://host:8786``) or a ``distributed.Client``
is given, with one task per item. Results stream back as tasks finish, with at most a
bounded number of tasks in flight, so a caller can checkpoint each result at once and
memory stays bounded on any input size.

With ``on_error`` a failed item becomes a result instead of an exception: a task that
raises, cannot be pickled, or whose worker process dies (segfault, out of memory). When a
local worker dies, Python cannot say which task killed it (every pending task of the pool
fails alike), so the tasks that were in flight are rerun one per fresh single-worker pool:
the task that dies again alone is the one that held the dead worker, every other task gets
its real result, and the remaining items go on in a new pool.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, TypeVar

from litraj_data.errors import SchedulerError

T = TypeVar("T")
R = TypeVar("R")

#: environment variables that size the thread pools of numpy/BLAS/torch in a worker
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def dask_client(scheduler: Any):
    """``(client, owned)`` for a scheduler address or an existing ``distributed.Client``.

    Raises
    ------
    SchedulerError
        ``dask_not_installed`` (names the extra to install) or ``scheduler_unreachable``
        (nothing answers at the address within 20 s).
    """
    try:
        from distributed import Client
    except ImportError as exc:
        raise SchedulerError("--scheduler needs dask.distributed: pip install 'litraj-data[dask]'",
                             reason="dask_not_installed") from exc
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout="20s"), True
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from exc


def map_unordered(func: Callable[[T], R], items: Iterable[T], workers: int = 1, scheduler: Any = None,
                  in_flight: int | None = None, *, on_error: Callable[[T, BaseException], R] | None = None,
                  start_method: str | None = None, threads_per_worker: int | None = None
                  ) -> Iterator[tuple[int, R]]:
    """Yield ``(index, func(item))`` as tasks finish.

    Parameters
    ----------
    func : callable
        Picklable (module-level function or ``functools.partial`` of one) when
        ``workers > 1`` or ``scheduler`` is given.
    items : iterable
        Consumed lazily.
    workers : int
        Local processes; 1 runs everything in this process, in order.
    scheduler : str or distributed.Client, optional
        Run one Dask task per item on this cluster instead of local processes.
    in_flight : int, optional
        Largest number of submitted, unfinished tasks (default: twice the workers, or
        twice the cluster's threads).
    on_error : callable, optional
        ``on_error(item, exc) -> result``: what a failed item yields instead of raising
        (``exc`` is the task's exception, :class:`BrokenProcessPool` for a worker process
        that died, or the cluster's error for a lost task).
    start_method : {"spawn", "fork", "forkserver"}, optional
        Start method of local worker processes (default: the platform's). ``spawn`` is
        safe after libraries such as torch have started thread pools.
    threads_per_worker : int, optional
        Threads each local worker may use (sets OMP/MKL/OpenBLAS thread counts where the
        environment does not already), so workers share the cores instead of
        oversubscribing them.

    Notes
    -----
    Without ``on_error`` an exception raised by ``func`` propagates (callers that must
    survive per-item failures catch them inside ``func`` or pass ``on_error``).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if threads_per_worker is not None and threads_per_worker < 1:
        raise ValueError(f"threads_per_worker must be >= 1, got {threads_per_worker}")
    if scheduler is not None:
        yield from _dask(func, items, scheduler, in_flight, on_error)
    elif workers == 1:
        for i, item in enumerate(items):
            if on_error is None:
                yield i, func(item)
                continue
            try:
                result = func(item)
            except Exception as exc:  # the caller asked for per-item failures as results (on_error)
                result = on_error(item, exc)
            yield i, result
    else:
        ctx = mp.get_context(start_method) if start_method else None
        yield from _local(func, items, workers, in_flight or 2 * workers, on_error, ctx, threads_per_worker)


def _init_worker(threads: int | None) -> None:
    # share the cores between workers; a value the user set in the environment wins
    if threads is None:
        return
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    torch = sys.modules.get("torch")  # only a forked worker has torch already: spawned ones read the env
    if torch is not None:
        torch.set_num_threads(threads)


def _outcome(fut: Future, item: Any, on_error: Callable[[Any, BaseException], Any] | None) -> Any:
    exc = fut.exception()
    if exc is None:
        return fut.result()
    if on_error is None:
        raise exc
    return on_error(item, exc)


def _pool(workers: int, ctx: Any, threads: int | None) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,))


def _local(func, items, workers: int, in_flight: int, on_error, ctx, threads: int | None):
    source = enumerate(items)
    exhausted = False
    while not exhausted:
        suspects: list[tuple[int, Any]] = []  # in flight when a worker died
        with _pool(workers, ctx, threads) as pool:
            pending: dict[Future, tuple[int, Any]] = {}
            broken = False
            while not broken:
                while not exhausted and len(pending) < in_flight:
                    nxt = next(source, None)
                    if nxt is None:
                        exhausted = True
                        break
                    try:
                        pending[pool.submit(func, nxt[1])] = nxt
                    except BrokenProcessPool:  # a worker died since the last wait
                        if on_error is None:
                            raise
                        suspects.append(nxt)
                        broken = True
                        break
                if broken or not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i, item = pending.pop(fut)
                    if isinstance(fut.exception(), BrokenProcessPool) and on_error is not None:
                        suspects.append((i, item))
                        broken = True
                        continue
                    yield i, _outcome(fut, item, on_error)
            if broken:
                # every other pending task now fails the same way (or finished just before)
                for fut in wait(pending).done:
                    i, item = pending.pop(fut)
                    if isinstance(fut.exception(), BrokenProcessPool):
                        suspects.append((i, item))
                    else:
                        yield i, _outcome(fut, item, on_error)
        if not suspects:
            return
        yield from _isolated(func, sorted(suspects, key=lambda s: s[0]), workers, on_error, ctx, threads)


def _isolated(func, suspects: list[tuple[int, Any]], workers: int, on_error, ctx, threads: int | None):
    """Rerun each suspect alone in its own one-process pool (``workers`` at a time)."""
    queue = list(suspects)
    running: dict[Future, tuple[int, Any, ProcessPoolExecutor]] = {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                i, item = queue.pop(0)
                pool = _pool(1, ctx, threads)
                running[pool.submit(func, item)] = (i, item, pool)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                i, item, pool = running.pop(fut)
                pool.shutdown(wait=True)
                yield i, _outcome(fut, item, on_error)  # a BrokenProcessPool here: this item killed it
    finally:
        for _, _, pool in running.values():
            pool.shutdown(wait=False, cancel_futures=True)


def _dask(func, items, scheduler, in_flight: int | None, on_error):
    from distributed import as_completed

    client, owned = dask_client(scheduler)

    def outcome(fut: Any, item: Any) -> Any:
        if on_error is None:
            return fut.result()
        try:
            return fut.result()
        except Exception as exc:  # task raised, or its worker was lost: the caller records it (on_error)
            return on_error(item, exc)

    try:
        if in_flight is None:
            in_flight = max(2, 2 * sum(client.nthreads().values()))
        index: dict[str, tuple[int, Any]] = {}
        queue = as_completed()
        for i, item in enumerate(items):
            fut = client.submit(func, item, pure=False)
            index[fut.key] = (i, item)
            queue.add(fut)
            if queue.count() >= in_flight:
                fut = next(queue)
                j, held = index.pop(fut.key)
                yield j, outcome(fut, held)
                fut.release()
        for fut in queue:
            j, held = index.pop(fut.key)
            yield j, outcome(fut, held)
            fut.release()
    finally:
        if owned:
            client.close()
