"""Check built versions against their manifests: sizes always, sha256 on demand.

Opening a version checks that every file exists with its recorded size (cheap). The
sha256 of every file is checked when a version is downloaded or imported, by
``litraj verify``, and the first time a folder outside the cache is opened; a stamp
(size, mtime) in the cache then lets later opens skip rehashing until a file changes.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from litraj_data.io import atomic_write_text, sha256_file
from litraj_data.store.manifest import Manifest
from litraj_data.errors import IntegrityError


def repair_hint(manifest: Manifest) -> str:
    return (f"delete the damaged copy (`litraj cache clear {manifest.dataset} --version {manifest.version}` for the "
            f"cache) and load again, or rebuild it (`litraj build from-release {manifest.dataset} ...`)")


def check_sizes(manifest: Manifest, split: str | None = None) -> None:
    """Every file of ``split`` (or all) exists with its manifest size.

    Raises
    ------
    IntegrityError
        Naming the missing or truncated file and how to repair it.
    """
    for rec in manifest.files(split):
        path = manifest.root / rec["name"]
        if not path.is_file():
            raise IntegrityError(f"{path} is missing (listed in its manifest); {repair_hint(manifest)}",
                                 reason="missing_shard")
        size = path.stat().st_size
        if size != rec["num_bytes"]:
            raise IntegrityError(f"{path} has {size} bytes, its manifest says {rec['num_bytes']} (truncated or "
                                 f"overwritten); {repair_hint(manifest)}", reason="truncated")


def verify_manifest(manifest: Manifest) -> list[dict[str, Any]]:
    """sha256 of every file (shards and extra files) against the manifest.

    Returns
    -------
    list of dict
        One record per file: ``file``, ``ok``, and ``problem`` when not ok.
    """
    records = []
    for rec in manifest.files() + manifest.extra_files():
        path = manifest.root / rec["name"]
        if not path.is_file():
            records.append({"file": str(path), "ok": False, "problem": "missing"})
            continue
        digest = sha256_file(path)
        ok = digest == rec["sha256"]
        item: dict[str, Any] = {"file": str(path), "ok": ok}
        if not ok:
            item["problem"] = f"sha256 {digest[:16]}... != manifest {rec['sha256'][:16]}..."
        records.append(item)
    return records


def _stamp_path(cache: Path, folder: Path) -> Path:
    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache / "verified" / f"{key}.json"


def _stamps(manifest: Manifest) -> dict[str, list[int]]:
    out = {}
    for rec in manifest.files() + manifest.extra_files():
        st = (manifest.root / rec["name"]).stat()
        out[rec["name"]] = [st.st_size, st.st_mtime_ns]
    return out


def ensure_verified(manifest: Manifest, cache: Path) -> None:
    """Hash the folder once (then stamp it); later calls only compare sizes and mtimes.

    Raises
    ------
    IntegrityError
        When a file's sha256 differs from its manifest.
    """
    check_sizes(manifest)
    stamp = _stamp_path(cache, manifest.root)
    current = _stamps(manifest)
    if stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == current:
                return
        except json.JSONDecodeError:
            pass
    bad = [r for r in verify_manifest(manifest) if not r["ok"]]
    if bad:
        first = bad[0]
        raise IntegrityError(f"{first['file']}: {first['problem']} (corrupted); {len(bad)} file(s) fail their "
                             f"checksum; {repair_hint(manifest)}", reason="checksum")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stamp, json.dumps(current))


def mark_verified(manifest: Manifest, cache: Path) -> None:
    """Record a folder whose files were just hashed (after a download or a build)."""
    stamp = _stamp_path(cache, manifest.root)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stamp, json.dumps(_stamps(manifest)))
