"""Locks that make concurrent builders and loaders safe (``filelock``, as ``datasets`` uses).

One lock per version folder (``ROOT/NAME/.VERSION.lock``) and one per cache entry. The lock
is an OS lock (``fcntl``/``msvcrt``): it is released when its holder dies, so a ``kill -9``
never leaves a stale lock. Beside it, ``*.lock.holder`` says who holds it (pid, host, time,
command) so that a waiting or refused process can name the holder.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from litraj_data.errors import LockedError

#: how often a waiting process says that it waits (seconds)
_ANNOUNCE_AFTER = 2.0


def _holder_text() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
                       "command": " ".join(sys.argv)[:200]})


def holder_of(lock_path: Path) -> str:
    """Who holds ``lock_path`` (from its ``.holder`` file), as a short phrase."""
    try:
        data = json.loads(Path(f"{lock_path}.holder").read_text())
        return f"pid {data['pid']} on {data['host']} since {data['since']} ({data['command']})"
    except (OSError, ValueError, KeyError):
        return "another process"


@contextlib.contextmanager
def exclusive(lock_path: str | os.PathLike, what: str, timeout: float | None = None,
              quiet: bool = False) -> Iterator[None]:
    """Hold the lock at ``lock_path`` for the ``with`` block.

    Parameters
    ----------
    lock_path : path
        The lock file (its folder is created).
    what : str
        What the lock protects, for messages (``"BVEL13k 1.0.0 in data/"``).
    timeout : float, optional
        Seconds to wait; ``None`` waits as long as the holder works (saying so on stderr
        after a moment), ``0`` fails at once.

    Raises
    ------
    LockedError
        ``locked``, naming the holder, when ``timeout`` runs out.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=min(_ANNOUNCE_AFTER, timeout) if timeout is not None else _ANNOUNCE_AFTER)
    except Timeout:
        if timeout is not None and timeout <= _ANNOUNCE_AFTER:
            raise LockedError(f"{what} is locked by {holder_of(lock_path)}; wait for it to finish or retry "
                              "later") from None
        if not quiet:
            print(f"litraj: waiting for {what}, locked by {holder_of(lock_path)}", file=sys.stderr, flush=True)
        try:
            lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout - _ANNOUNCE_AFTER))
        except Timeout:
            raise LockedError(f"{what} is still locked by {holder_of(lock_path)} after {timeout:g} s") from None
    try:
        Path(f"{lock_path}.holder").write_text(_holder_text())
        yield
    finally:
        with contextlib.suppress(OSError):
            Path(f"{lock_path}.holder").unlink()
        lock.release()
