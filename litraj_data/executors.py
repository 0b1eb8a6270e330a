"""Where independent tasks run: this process, local processes, or a Dask cluster.

Builders and the NEB harness share one rule: ``workers`` local processes by default, and a
Dask cluster when a ``scheduler`` address (``tcp://host:8786``) or a ``distributed.Client``
is given, with one task per item. Results stream back as tasks finish, with at most a
bounded number of tasks in flight, so a caller can checkpoint each result at once and
memory stays bounded on any input size.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator, TypeVar

from litraj_data.errors import SchedulerError

T = TypeVar("T")
R = TypeVar("R")


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
                  in_flight: int | None = None) -> Iterator[tuple[int, R]]:
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

    Notes
    -----
    An exception raised by ``func`` propagates (callers that must survive per-item
    failures catch them inside ``func``).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if scheduler is not None:
        yield from _dask(func, items, scheduler, in_flight)
    elif workers == 1:
        for i, item in enumerate(items):
            yield i, func(item)
    else:
        yield from _local(func, items, workers, in_flight or 2 * workers)


def _local(func, items, workers: int, in_flight: int):
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: dict[Any, int] = {}
        for i, item in enumerate(items):
            pending[pool.submit(func, item)] = i
            if len(pending) >= in_flight:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield pending.pop(fut), fut.result()
        for fut in wait(pending).done:
            yield pending.pop(fut), fut.result()


def _dask(func, items, scheduler, in_flight: int | None):
    from distributed import as_completed

    client, owned = dask_client(scheduler)
    try:
        if in_flight is None:
            in_flight = max(2, 2 * sum(client.nthreads().values()))
        index: dict[str, int] = {}
        queue = as_completed()
        for i, item in enumerate(items):
            fut = client.submit(func, item, pure=False)
            index[fut.key] = i
            queue.add(fut)
            if queue.count() >= in_flight:
                fut = next(queue)
                yield index.pop(fut.key), fut.result()
                fut.release()
        for fut in queue:
            yield index.pop(fut.key), fut.result()
            fut.release()
    finally:
        if owned:
            client.close()
