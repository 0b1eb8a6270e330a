"""The local cache of built dataset versions (``~/.cache/litraj``; ``LITRAJ_CACHE`` overrides).

Layout::

    CACHE/NAME/VERSION/             # a built version (manifest.json + shards)
    CACHE/NAME/VERSION+SOURCEKEY/   # a version imported from a user's own archive or mirror
    CACHE/downloads/                # release zips and mirror files while downloading
    CACHE/verified/                 # stamps (size, mtime) of folders whose sha256 were checked
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from litraj_data.errors import LitrajError


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache folder, created if needed.

    Raises
    ------
    LitrajError
        (reason ``unwritable_cache``) when the folder cannot be created or written.
    """
    root = Path(cache_dir or os.environ.get("LITRAJ_CACHE") or Path.home() / ".cache" / "litraj").expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise LitrajError(f"cache folder {root} is not writable ({exc.strerror or exc}); set LITRAJ_CACHE or pass "
                          "cache_dir= (--cache-dir) to a writable folder", reason="unwritable_cache") from exc
    return root


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
        if folder.is_dir() and folder.parent.name not in ("downloads", "verified"):
            shutil.rmtree(folder)
            removed.append(str(folder))
    if name is None and version is None:
        for extra in ("downloads", "verified"):
            shutil.rmtree(root / extra, ignore_errors=True)
    return removed
