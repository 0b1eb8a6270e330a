"""Check built versions against their manifests: sizes always, sha256 on demand.

Opening a version checks that every file exists with its recorded size (cheap). The
sha256 of every file is checked when a version is downloaded or imported, by
``litraj verify``, and the first time a folder is opened; a stamp in the cache (size,
mtime, ctime and inode of every file) then lets later opens skip rehashing until a file
changes. ctime cannot be set back by a user, so a file rewritten in place with its mtime
restored is caught and rehashed. A read-only cache serves what it holds (it rehashes
instead of stamping). ``litraj verify`` also counts the rows of every shard and checks
the dataset card.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from litraj_data.errors import IntegrityError, UnsafeNameError
from litraj_data.io import atomic_write_text, sha256_file
from litraj_data.store.manifest import Manifest

#: a dataset card is a few kB; a bigger one is reported, not parsed
MAX_CARD_BYTES = 1 << 20


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
        path = manifest.path(rec["name"])  # refuses a name or a link leaving the version folder
        if not path.is_file():
            raise IntegrityError(f"{path} is missing (listed in its manifest); {repair_hint(manifest)}",
                                 reason="missing_shard")
        size = path.stat().st_size
        if size != rec["num_bytes"]:
            raise IntegrityError(f"{path} has {size} bytes, its manifest says {rec['num_bytes']} (truncated or "
                                 f"overwritten); {repair_hint(manifest)}", reason="truncated")
    if os.path.lexists(manifest.root / "README.md"):
        manifest.path("README.md")  # the card is read by verify and `datasets`: no link out either


def verify_manifest(manifest: Manifest) -> list[dict[str, Any]]:
    """sha256 of every file (shards and extra files) against the manifest.

    Returns
    -------
    list of dict
        One record per file: ``file``, ``ok``, and ``reason`` (``unsafe_name``, ``missing``,
        ``checksum``, ``bad_counts``, ``missing_card``, ``bad_card``) and ``problem`` when not ok.
    """
    records = []
    shard_names = {f["name"] for f in manifest.files()}
    for rec in manifest.files() + manifest.extra_files():
        try:
            path = manifest.path(rec["name"])
        except UnsafeNameError as exc:  # a link out of the folder: reported, never read
            records.append({"file": str(manifest.root / rec["name"]), "ok": False, "reason": "unsafe_name",
                            "problem": str(exc)})
            continue
        if not path.is_file():
            records.append({"file": str(path), "ok": False, "reason": "missing", "problem": "missing"})
            continue
        digest = sha256_file(path)
        ok = digest == rec["sha256"]
        item: dict[str, Any] = {"file": str(path), "ok": ok}
        if not ok:
            item.update(reason="checksum", problem=f"sha256 {digest[:16]}... != manifest {rec['sha256'][:16]}...")
        elif rec["name"] in shard_names:
            rows = _shard_rows(path)
            if rows != rec.get("num_rows"):
                item.update(ok=False, reason="bad_counts", problem=f"{rows} rows, manifest says {rec.get('num_rows')}")
        records.append(item)
    for split in manifest.splits:
        listed = sum(f.get("num_rows", 0) for f in manifest.files(split))
        if listed != manifest.num_rows(split):
            records.append({"file": f"{manifest.root}/manifest.json#{split}", "ok": False, "reason": "bad_counts",
                            "problem": f"files hold {listed} rows, split says {manifest.num_rows(split)}"})
    records.append(_card_record(manifest))
    return records


def _shard_rows(path: Path) -> int | str:
    """Rows of an Arrow/Parquet shard from its metadata (or why it cannot be read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if path.suffix == ".parquet":
            return pq.ParquetFile(path).metadata.num_rows
        with pa.memory_map(str(path)) as src:
            try:
                return sum(b.num_rows for b in pa.ipc.open_stream(src))
            except pa.ArrowInvalid:
                src.seek(0)
                return pa.ipc.open_file(src).read_all().num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        return f"unreadable ({exc})"


def _card_record(manifest: Manifest) -> dict[str, Any]:
    """The dataset card (README.md): present, its front matter names the dataset and covers every shard."""
    import fnmatch

    import yaml

    from litraj_data.yamlsafe import YamlError

    path = manifest.root / "README.md"
    item: dict[str, Any] = {"file": str(path), "ok": True}
    if not path.is_file():
        return item | {"ok": False, "reason": "missing_card", "problem": "missing dataset card"}
    try:
        manifest.path("README.md")
    except UnsafeNameError as exc:
        return item | {"ok": False, "reason": "unsafe_name", "problem": str(exc)}
    if path.stat().st_size > MAX_CARD_BYTES:
        return item | {"ok": False, "reason": "bad_card", "problem": f"dataset card larger than {MAX_CARD_BYTES} bytes"}
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        front = _front_matter(text.split("---", 2)[1], str(path)) if text.startswith("---") else None
        patterns = {d["split"]: d["path"] for c in front["configs"] for d in c["data_files"]}
        if not all(isinstance(v, str) for v in patterns.values()):
            raise TypeError("a data_files path is not a string")
    except (YamlError, yaml.YAMLError, IndexError, KeyError, TypeError) as exc:
        return item | {"ok": False, "reason": "bad_card",
                       "problem": f"no readable front matter with configs/data_files ({exc})"}
    for split in manifest.splits:
        names = [f["name"] for f in manifest.files(split)]
        if split not in patterns or not all(fnmatch.fnmatch(n, patterns[split]) for n in names):
            return item | {"ok": False, "reason": "bad_card",
                           "problem": f"data_files of split {split!r} do not match its shards"}
    return item


def _front_matter(text: str, source: str) -> Any:
    """The card's YAML front matter, bounded (no aliases, size and depth caps: :mod:`litraj_data.yamlsafe`)."""
    from litraj_data.yamlsafe import load_yaml

    return load_yaml(text, source)


def _stamp_path(cache: Path, folder: Path) -> Path:
    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache / "verified" / f"{key}.json"


def _stamps(manifest: Manifest) -> dict[str, list[int]]:
    out = {}
    for rec in manifest.files() + manifest.extra_files():
        st = manifest.path(rec["name"]).stat()
        out[rec["name"]] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    return out


def _write_stamp(stamp: Path, current: dict[str, list[int]]) -> None:
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(stamp, json.dumps(current))
    except OSError:  # a read-only cache: serve, and hash again next time
        pass


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
    unsafe = [r for r in bad if r.get("reason") == "unsafe_name"]
    if unsafe:  # a link out of the folder: named as what it is, not as a checksum failure
        raise UnsafeNameError(unsafe[0]["problem"])
    if bad:
        first = bad[0]
        raise IntegrityError(f"{first['file']}: {first['problem']} (corrupted); {len(bad)} file(s) fail their "
                             f"checksum; {repair_hint(manifest)}", reason="checksum")
    _write_stamp(stamp, current)


def mark_verified(manifest: Manifest, cache: Path) -> None:
    """Record a folder whose files were just hashed (after a download or a build)."""
    _write_stamp(_stamp_path(cache, manifest.root), _stamps(manifest))
