"""Fetch a file from a URL (``https://``, ``http://`` or ``file://``) into a folder, safely.

Offline (``LITRAJ_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``) a remote URL fails at once; a
network error fails after a short connect timeout instead of hanging. Downloads go to a
temporary name and are renamed when complete (and, when a sha256 is given, verified).
"""
from __future__ import annotations

import errno
import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from litraj_data.errors import DiskFullError, IntegrityError, OfflineError
from litraj_data.io import atomic_writer

CONNECT_TIMEOUT_S = 15.0


def is_offline() -> bool:
    """True when the user asked for no network (``LITRAJ_OFFLINE`` or ``HF_HUB_OFFLINE``)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("LITRAJ_OFFLINE", "HF_HUB_OFFLINE"))


def is_remote(url: str) -> bool:
    return urllib.parse.urlparse(url).scheme in ("http", "https")


def url_to_path(url: str) -> Path | None:
    """The local path of a ``file://`` URL (or None for other schemes)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(urllib.request.url2pathname(parsed.path))


def fetch(url: str, dest: str | Path, *, sha256: str | None = None, what: str = "file",
          progress: bool = False) -> Path:
    """Download ``url`` to the file ``dest`` (atomically), optionally checking its sha256.

    Raises
    ------
    OfflineError
        Offline mode with a remote URL, or the host cannot be reached.
    IntegrityError
        The downloaded bytes do not match ``sha256``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_remote(url) and is_offline():
        raise OfflineError(f"offline (LITRAJ_OFFLINE/HF_HUB_OFFLINE set) and {what} is not cached: {url}. "
                           "Unset the variable, or pass a local copy with --source PATH.", reason="offline")
    try:
        resp = urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S)
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        if url_to_path(url) is not None:
            raise FileNotFoundError(f"{what} not found: {url} ({exc})") from exc
        raise OfflineError(f"cannot download {what} from {url}: {exc}. Check the network, or pass a local "
                           "copy with --source PATH.", reason="unreachable") from exc
    h = hashlib.sha256()
    try:
        # a temporary name unique to this writer beside dest, renamed only when complete and verified
        with resp, atomic_writer(dest, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            from tqdm.auto import tqdm

            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
            if sha256 and h.hexdigest() != sha256:
                raise IntegrityError(f"{url}: sha256 {h.hexdigest()} does not match the expected {sha256} "
                                     "(corrupted or changed upstream); nothing was kept", reason="checksum")
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(f"no space left for {dest} while downloading {what}; nothing was kept") from exc
        if isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError)):
            raise OfflineError(f"the connection broke while downloading {what} from {url}: {exc}; nothing was "
                               "kept, retry", reason="unreachable") from exc
        raise
    return dest
