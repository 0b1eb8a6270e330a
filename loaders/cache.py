"""The local cache of built dataset versions (``~/.cache/litraj``; ``LITRAJ_CACHE`` overrides).

Layout::

    CACHE/NAME/VERSION/             # a built version (manifest.json + shards)
    CACHE/NAME/VERSION+SOURCEKEY/   # a version imported from a user's own archive or mirror
    CACHE/downloads/                # release zips and mirror files while downloading
    CACHE/verified/                 # stamps (size, mtime) of folders whose sha256 were checked
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from litraj_data.errors import DiskFullError, LitrajError
from litraj_data.store.locks import exclusive
from litraj_data.store.names import safe_component


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache folder (created when possible; a read-only cache still serves what it holds).

    Writing into it goes through :func:`require_writable`, which raises the clear error.
    """
    root = Path(cache_dir or os.environ.get("LITRAJ_CACHE") or Path.home() / ".cache" / "litraj").expanduser()
    with contextlib.suppress(OSError):
        root.mkdir(parents=True, exist_ok=True)
    return root


def require_writable(root: Path) -> None:
    """Check that the cache can take new files before writing into it.

    Raises
    ------
    LitrajError
        ``unwritable_cache``: the folder cannot be created or written (read-only, a file in
        the way, no permission).
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=root)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise LitrajError(f"cache folder {root} is not writable ({exc.strerror or exc}); set LITRAJ_CACHE or pass "
                          "cache_dir= (--cache-dir) to a writable folder", reason="unwritable_cache") from exc


@contextlib.contextmanager
def cache_entry(root: Path, dataset: str, entry: str) -> Iterator[Path | None]:
    """Hold the lock of cache entry ``root/dataset/entry``; yield a private staging folder.

    Yields ``None`` when the entry is already complete (another process made it while this
    one waited); otherwise a fresh staging folder unique to this process, beside the entry,
    which the caller fills and hands to :func:`publish`. The staging folder is removed
    whatever happens, so a crash or a full disk never leaves a half entry behind.
    """
    safe_component(dataset, "dataset name")
    safe_component(entry, "cache entry")
    target = root / dataset / entry
    if (target / "manifest.json").is_file():
        yield None
        return
    require_writable(root)
    with exclusive(root / ".locks" / f"{dataset}-{entry}.lock", f"cache entry {dataset}/{entry}"):
        if (target / "manifest.json").is_file():
            yield None
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry}.", suffix=".partial", dir=target.parent))
        try:
            yield staging
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFullError(f"no space left in the cache {root} while adding {dataset}/{entry}; nothing was "
                                    "kept. Free space or pass cache_dir= on a larger disk.") from exc
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, target: Path) -> None:
    """Move a filled staging folder into place (one rename; the entry's lock is held)."""
    os.replace(staging, target)


def source_key(source: str) -> str:
    """Short stable key of a user source (path, URL or Hub id) for its cache folder."""
    text = source
    path = Path(source)
    if path.exists():
        st = path.stat()
        text = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cached_versions(root: Path) -> list[dict[str, Any]]:
    """Every built version in the cache with its size on disk."""
    out = []
    for man in sorted(root.glob("*/*/manifest.json")):
        folder = man.parent
        data = json.loads(man.read_text())
        out.append({"dataset": data["dataset"], "version": data["version"], "folder": str(folder),
                    "num_bytes": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
                    "splits": {s: r["num_rows"] for s, r in data["splits"].items()}})
    return out


def clear(root: Path, name: str | None = None, version: str | None = None) -> list[str]:
    """Delete cached versions (all, one dataset, or one version); returns the removed folders."""
    removed = []
    pattern = f"{name or '*'}/{version or '*'}"
    for folder in sorted(root.glob(pattern)):
        if folder.is_dir() and folder.parent.name not in ("downloads", "verified", ".locks", ".imports"):
            shutil.rmtree(folder)
            removed.append(str(folder))
    if name is None and version is None:
        for extra in ("downloads", "verified"):
            shutil.rmtree(root / extra, ignore_errors=True)
    return removed
