"""The local cache of built dataset versions (``~/.cache/litraj``; ``LITRAJ_CACHE`` overrides).

Layout::

    CACHE/NAME/VERSION/             # a built version (manifest.json + shards)
    CACHE/NAME/VERSION+SOURCEKEY/   # a version imported from a user's own archive or mirror
    CACHE/downloads/                # release zips and mirror files while downloading
    CACHE/verified/                 # stamps (size, mtime, ctime, inode) of folders whose sha256 were checked
    CACHE/digests/                  # sha256 of users' release zips and folders, by (size, mtime, ctime, inode)

Entries made from a user's source are keyed on its content (the sha256 of the release zip,
the digest of a release folder's files, the sha256 of a mirror's or a Parquet version's
manifest), never on its name, size or mtime: a zip replaced in place by another with the
same size and mtime is imported again. The digest of a local file is memoized under a stat
that includes ctime and inode, which no user can set back, so a warm load does not rehash.
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
from litraj_data.io import atomic_write_text, sha256_file
from litraj_data.store.layout import new_staging, publish_folder
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
        staging = new_staging(target.parent, entry)
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
    """Move a filled staging folder into place (the entry's lock is held).

    Through the store's one folder-publish primitive; a folder at ``target`` without a
    manifest (what a crash of an older version of this code could leave) is replaced.
    """
    publish_folder(staging, target, replace=os.path.lexists(target))


def source_key(source: str) -> str:
    """Short stable key of a remote source (URL or Hub id) for its cache folder.

    Local files and folders are keyed on their content: :func:`content_key`.
    """
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def file_digest(path: Path, cache: Path) -> str:
    """sha256 of a local file, memoized in ``cache/digests`` under (size, mtime, ctime, inode, device).

    A file rewritten or replaced in place changes its ctime (and usually its inode) even when
    its size and mtime are kept, so it is hashed again. A read-only cache just rehashes.
    """
    real = os.path.realpath(path)
    memo = cache / "digests" / f"{hashlib.sha256(real.encode()).hexdigest()[:20]}.json"
    stat = _stat_key(os.stat(real))
    try:
        doc = json.loads(memo.read_text())
        if doc.get("stat") == stat and isinstance(doc.get("sha256"), str):
            return doc["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    digest = sha256_file(real)
    if _stat_key(os.stat(real)) == stat:  # not changed while hashing: the memo is true
        with contextlib.suppress(OSError):
            memo.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(memo, json.dumps({"path": real, "stat": stat, "sha256": digest}))
    return digest


def content_key(path: Path, cache: Path) -> str:
    """Key of a local release zip (its sha256) or folder (a digest of its files' paths and sha256).

    Returns the first 16 hex digits (64 bits: no collision among one user's sources).
    """
    path = Path(path)
    if path.is_dir():
        h = hashlib.sha256()
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for fname in sorted(filenames):
                full = Path(dirpath) / fname
                if full.is_file():
                    h.update(f"{full.relative_to(path).as_posix()}\0{file_digest(full, cache)}\n".encode())
        return h.hexdigest()[:16]
    return file_digest(path, cache)[:16]


def cached_versions(root: Path) -> list[dict[str, Any]]:
    """Every built version in the cache with its size on disk (folders whose manifest is unreadable are skipped)."""
    from litraj_data.errors import DataFormatError
    from litraj_data.store.manifest import read_manifest

    out = []
    for man_path in sorted(root.glob("*/*/manifest.json")):
        folder = man_path.parent
        try:
            data = read_manifest(folder).data
        except (DataFormatError, OSError):
            continue
        out.append({"dataset": data["dataset"], "version": data["version"], "folder": str(folder),
                    "num_bytes": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
                    "splits": {s: r["num_rows"] for s, r in data["splits"].items()},
                    # the embedded sample (or a copy of it) is never listed as if it were the data
                    "sample": bool(data.get("sample")), "generated": bool(data.get("generated"))})
    return out


def clear(root: Path, name: str | None = None, version: str | None = None) -> list[str]:
    """Delete cached versions (all, one dataset, or one version); returns the removed folders.

    ``name`` and ``version`` must be a plain name and a semantic version: a pattern or a path
    (``../..``) never makes ``clear`` delete anything outside the cache.
    """
    from litraj_data.store.names import safe_version

    if name is not None:
        safe_component(name, "dataset name")
    if version is not None:
        safe_version(version)
    removed = []
    pattern = f"{name or '*'}/{version or '*'}"
    real_root = os.path.realpath(root)
    for folder in sorted(root.glob(pattern)):
        if folder.is_symlink() or os.path.dirname(os.path.dirname(os.path.realpath(folder))) != real_root:
            continue  # a link in the cache is never followed out of it
        if folder.is_dir() and folder.parent.name not in ("downloads", "verified", "digests", ".locks", ".imports"):
            shutil.rmtree(folder)
            removed.append(str(folder))
    if name is None and version is None:
        for extra in ("downloads", "verified", "digests"):
            shutil.rmtree(root / extra, ignore_errors=True)
    return removed
