"""Write a dataset version as bounded Arrow shards, atomically and resumably.

Layout of a finished version::

    OUT/NAME/VERSION/
        NAME-SPLIT-00000-of-00002.arrow   # Arrow IPC stream: what `datasets` memory-maps
        ...
        README.md                         # dataset card (Hugging Face front matter)
        failures.csv                      # optional extra files, checksummed too
        manifest.json                     # written last

Safety (docs/formats.md): a writer holds the version's lock (``OUT/NAME/.VERSION.lock``)
from start to finish, so two builds of one version never mix; a second writer waits, then
reuses the finished version when it was built from the same sources, or is refused.
Everything is staged in ``OUT/NAME/.VERSION.partial-FP/``, named by the fingerprint FP of the
inputs (schema, sources, code version, splits, shard size); each shard is written by the one
atomic Arrow writer (:mod:`.arrow_io`: temporary name, fsync, rename); ``progress.json``
records the closed shards, so an interrupted build resumes at the first unfinished shard
only from the staging folder of the same inputs that holds exactly those shards, and starts
afresh (saying so) otherwise. The finished folder appears through the one folder-publish
primitive (:func:`~litraj_data.store.layout.publish_folder`: an old version is swapped out
atomically and leaves under a unique trash name), so no reader ever sees half a version. A
full disk removes the staging folder and raises :class:`~litraj_data.errors.DiskFullError`.
"""
from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import json
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from litraj_data._version import __version__
from litraj_data.errors import DataFormatError, DiskFullError
from litraj_data.io import atomic_write_text, sha256_file
from litraj_data.registry import DatasetConfig, citation_bibtex, get_config
from litraj_data.schema import arrow_schema, rows_to_table, schema_fingerprint
from litraj_data.store.arrow_io import AtomicArrowWriter
from litraj_data.store.layout import lock_path, new_staging, publish_folder, recover_version
from litraj_data.store.locks import exclusive
from litraj_data.store.manifest import Manifest, read_manifest, write_manifest
from litraj_data.store.names import safe_component, safe_version

DEFAULT_MAX_SHARD_BYTES = 256 * 1024 * 1024
BATCH_ROWS = 1024
SPLIT_ORDER = ("train", "val", "test")

RowSource = Iterable[Mapping[str, Any]] | Callable[[int], Iterable[Mapping[str, Any]]]


def shard_name(dataset: str, split: str, index: int, total: int, fmt: str = "arrow") -> str:
    """``{dataset}-{split}-{i:05d}-of-{n:05d}.{fmt}``."""
    return f"{dataset}-{split}-{index:05d}-of-{total:05d}.{fmt}"


def _ordered_splits(splits: Mapping[str, Any]) -> list[str]:
    known = [s for s in SPLIT_ORDER if s in splits]
    return known + sorted(s for s in splits if s not in SPLIT_ORDER)


def _rows_from(source: RowSource, skip: int) -> Iterator[Mapping[str, Any]]:
    """Rows of a split after the first ``skip`` (a callable source skips them itself, cheaply)."""
    if callable(source):
        yield from source(skip)
        return
    for i, row in enumerate(source):
        if i >= skip:
            yield row


class _Progress:
    """progress.json of a staging folder: the closed shards of each split."""

    def __init__(self, staging: Path, fingerprint: str) -> None:
        self.path = staging / "progress.json"
        self.data: dict[str, Any] = {"fingerprint": fingerprint, "splits": {}}
        if self.path.is_file():  # :func:`_staging_for` kept it: same fingerprint, exactly its shards
            self.data = json.loads(self.path.read_text())

    def split(self, name: str) -> dict[str, Any]:
        return self.data["splits"].setdefault(name, {"shards": [], "rows_done": 0, "complete": False})

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=1))


def _write_split(name: str, split: str, rows: Iterator[Mapping[str, Any]], config: DatasetConfig,
                 schema: pa.Schema, staging: Path, progress: _Progress, max_bytes: int,
                 on_rows: Callable[[int], None]) -> None:
    state = progress.split(split)
    shard_idx = len(state["shards"])
    writer: AtomicArrowWriter | None = None
    shard_rows = 0

    def close_shard() -> None:
        nonlocal writer, shard_rows, shard_idx
        assert writer is not None
        final = writer.commit()
        state["shards"].append({"file": final.name, "num_rows": shard_rows})
        state["rows_done"] += shard_rows
        progress.save()
        writer, shard_rows = None, 0
        shard_idx += 1

    def open_shard() -> None:
        nonlocal writer
        writer = AtomicArrowWriter(staging / f"{split}-{shard_idx:05d}.arrow", schema)

    batch: list[Mapping[str, Any]] = []

    def flush() -> None:
        nonlocal shard_rows
        if writer is None:
            open_shard()
        table = rows_to_table(batch, config, schema)
        assert writer is not None
        writer.write_table(table)
        shard_rows += table.num_rows
        on_rows(table.num_rows)
        batch.clear()
        if writer.tell() >= max_bytes:
            close_shard()

    try:
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                flush()
        if batch:
            flush()
        if writer is not None:
            close_shard()
        if not state["shards"]:  # an empty split still gets one (empty) shard carrying the schema
            open_shard()
            close_shard()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    state["complete"] = True
    progress.save()


def dataset_card(config: DatasetConfig, manifest: dict[str, Any]) -> str:
    """A Hugging Face style dataset card (README.md) for a built version."""
    fmt = manifest["format"]
    lines = ["---", f"pretty_name: {config.name}", "license: mit", "configs:", "- config_name: default",
             "  data_files:"]
    for split in manifest["splits"]:
        lines += [f"  - split: {split}", f"    path: \"{config.name}-{split}-*.{fmt}\""]
    lines += ["---", ""]
    if manifest.get("sample"):  # builders/sample.py stamps the embedded sample: it must never pass for the data
        lines += [f"# {config.name} {manifest['version']} - EMBEDDED SAMPLE, not the official release", "",
                  f"> **Sample ({manifest.get('origin', 'embedded-sample')}).** {manifest.get('sample_note', '')}"
                  .rstrip(), ""]
        if manifest.get("generated"):
            lines += [f"> **GENERATED, NOT DFT.** {manifest['generated']}", ""]
        lines += ["The official dataset (not these rows) is described as:", ""]
    else:
        lines += [f"# {config.name} {manifest['version']}", ""]
    lines += [config.description, "", "| split | rows |", "|---|---|"]
    for split, rec in manifest["splits"].items():
        lines.append(f"| {split} | {rec['num_rows']} |")
    lines += ["", "## Columns", "", "| name | kind | unit | description |", "|---|---|---|---|"]
    for c in config.columns:
        lines.append(f"| {c.name} | {c.kind} | {c.unit or ''} | {c.description} |")
    if manifest.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in manifest["notes"]]
    lines += ["", "## Citation", "", "```bibtex", citation_bibtex().strip(), "```", ""]
    return "\n".join(lines)


def write_dataset(
    name: str,
    splits: Mapping[str, RowSource],
    out: str | Path,
    *,
    version: str | None = None,
    sources: Mapping[str, Any] | None = None,
    extra_files: Mapping[str, str | Path] | None = None,
    notes: Iterable[str] = (),
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    check_counts: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    lock_timeout: float | None = None,
) -> Path:
    """Write one version of dataset ``name`` as Arrow shards with a manifest.

    Parameters
    ----------
    name : str
        Registered dataset name (its card fixes the columns).
    splits : mapping of str to iterable of row dicts, or to callable ``skip -> iterable``
        Rows of each split in a deterministic order. A callable source is given the number
        of rows already written when a build resumes, so it can skip them cheaply.
    out : path
        Root folder; the version lands in ``out/NAME/VERSION``.
    version : str, optional
        Semantic version; the card's version by default.
    sources : mapping, optional
        Provenance recorded in the manifest (e.g. ``{"BVEL13k.zip": "sha256:..."}``).
    extra_files : mapping of str to path, optional
        Files copied into the version and checksummed (e.g. ``failures.csv``).
    notes : iterable of str
        Free-text notes for the manifest and the dataset card (warnings, settings).
    max_shard_bytes : int
        A shard is closed once it grows past this size.
    check_counts : bool
        Compare row counts with the card's split counts: fewer rows give a warning (and a
        note), more rows an error.
    overwrite : bool
        Replace an existing finished version (swapped atomically). Without it, an existing
        version built from the same ``sources`` is returned as is, and one built from other
        sources is an error.
    progress : bool, optional
        Show a tqdm bar (default: when stderr is a terminal).
    lock_timeout : float, optional
        Seconds to wait for another writer of the same version (default: as long as it works).

    Returns
    -------
    Path
        The finished version folder (holding ``manifest.json``).

    Raises
    ------
    LockedError
        ``lock_timeout`` ran out while another process wrote this version.
    DiskFullError
        The disk filled up; the staging folder was removed.
    FileExistsError
        The version exists, built from other sources, and ``overwrite`` is False.
    """
    config = get_config(name)
    version = safe_version(version or config.version)
    out = Path(out)
    root = out / config.name
    final = root / version
    root.mkdir(parents=True, exist_ok=True)
    for split in splits:
        safe_component(split, "split name")
    schema = arrow_schema(config)
    fingerprint = inputs_fingerprint(schema_fingerprint(schema), sources, _ordered_splits(splits), max_shard_bytes)
    with exclusive(lock_path(out, config.name, version), f"{config.name} {version} in {out}", lock_timeout):
        recover_version(final)
        if final.exists():
            if not overwrite and _same_sources(final, sources):
                return final  # a concurrent or earlier writer already built exactly this
            if not overwrite:
                raise FileExistsError(f"{final} exists (built from other sources); pass overwrite=True "
                                      "(--overwrite) to rebuild it")
        staging = _staging_for(root, version, fingerprint)
        try:
            return _write_locked(config, version, splits, final, staging, schema=schema, fingerprint=fingerprint,
                                 sources=sources, extra_files=extra_files, notes=list(notes),
                                 max_shard_bytes=max_shard_bytes, check_counts=check_counts, progress=progress)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            shutil.rmtree(staging, ignore_errors=True)
            raise DiskFullError(f"no space left on the device of {out} while writing {config.name} {version}; "
                                "the staged files were removed and nothing else changed. Free space and rerun.") \
                from exc


def _staging_for(root: Path, version: str, fingerprint: str) -> Path:
    """The staging folder of a build: the one of these exact inputs when it is resumable, else a new one.

    A staging folder is named by the fingerprint of its inputs (``.VERSION.partial-FP``), so a
    build resumes only from the folder of the same inputs, and only when that folder holds
    exactly what its ``progress.json`` lists (the closed shards). Anything else beside the
    version -- staging folders of other inputs, a folder a killed process left in any state,
    the old fixed name ``.VERSION.partial`` -- is deleted (we hold the version's lock), so a
    leftover is never mistaken for part of this build.
    """
    staging = root / f".{version}.partial-{fingerprint[:16]}"
    for other in root.glob(f".{version}.partial*"):
        if other != staging:
            print(f"litraj: removing {other}, a partial build from other inputs (archive, structures, settings or "
                  "code version)", file=sys.stderr, flush=True)
            shutil.rmtree(other, ignore_errors=True)
    if staging.is_dir() and not _resumable(staging, fingerprint):
        print(f"litraj: {staging} does not hold a resumable build of these inputs; starting this version afresh",
              file=sys.stderr, flush=True)
        shutil.rmtree(staging)
    staging.mkdir(exist_ok=True)
    return staging


def _resumable(staging: Path, fingerprint: str) -> bool:
    """Whether ``staging`` holds exactly the closed shards its progress.json records, for ``fingerprint``."""
    try:
        data = json.loads((staging / "progress.json").read_text())
        listed = {s["file"] for split in data["splits"].values() for s in split["shards"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    if data.get("fingerprint") != fingerprint:
        return False
    present = {p.name for p in staging.iterdir() if not p.name.endswith(".tmp")} - {"progress.json"}
    return present == listed


def _same_sources(final: Path, sources: Mapping[str, Any] | None) -> bool:
    """Whether the finished version at ``final`` was built from ``sources`` (and is complete)."""
    try:
        man = read_manifest(final)
    except (DataFormatError, OSError, ValueError):
        return False
    return json.loads(json.dumps(dict(sources or {}), default=str)) == man.data.get("sources")


def inputs_fingerprint(schema_fp: str, sources: Mapping[str, Any] | None, split_names: Iterable[str],
                       max_shard_bytes: int) -> str:
    """What a staging folder's shards depend on: schema, sources (archive/structure digests and
    settings), the code version, the splits and the shard size."""
    doc = json.dumps({"schema": schema_fp, "sources": dict(sources or {}), "code": __version__,
                      "splits": list(split_names), "max_shard_bytes": max_shard_bytes}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()


def _write_locked(config: DatasetConfig, version: str, splits: Mapping[str, RowSource], final: Path, staging: Path, *,
                  schema: pa.Schema, fingerprint: str, sources: Mapping[str, Any] | None,
                  extra_files: Mapping[str, str | Path] | None, notes: list[str], max_shard_bytes: int,
                  check_counts: bool, progress: bool | None) -> Path:
    """The body of :func:`write_dataset`, run while holding the version's lock."""
    state = _Progress(staging, fingerprint)
    for stale in staging.glob("*.tmp"):  # a shard that was open when the build stopped (we hold the lock)
        stale.unlink()

    show = sys.stderr.isatty() if progress is None else progress
    from tqdm.auto import tqdm

    for split in _ordered_splits(splits):
        st = state.split(split)
        if st["complete"]:
            continue
        expected = config.splits.get(split)
        bar = tqdm(total=expected if check_counts else None, initial=st["rows_done"], unit="row",
                   desc=f"{config.name}/{split}", disable=not show)
        try:
            _write_split(config.name, split, _rows_from(splits[split], st["rows_done"]), config, schema,
                         staging, state, max_shard_bytes, bar.update)
        finally:
            bar.close()

    manifest: dict[str, Any] = {
        "manifest_format": 1,
        "dataset": config.name,
        "version": version,
        "format": "arrow",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "code_version": f"litraj-data {__version__}",
        "sources": json.loads(json.dumps(dict(sources or {}), default=str)),
        "schema": {"fingerprint": schema_fingerprint(schema),
                   "columns": [{"name": f.name, "type": str(f.type)} for f in schema]},
        "splits": {},
        "extra_files": [],
        "notes": notes,
    }
    for split in _ordered_splits(splits):
        shards = state.split(split)["shards"]
        total_rows = sum(s["num_rows"] for s in shards)
        expected = config.splits.get(split)
        if check_counts and expected is not None and total_rows != expected:
            msg = f"{config.name}/{split}: {total_rows} rows, the official release has {expected}"
            if total_rows > expected:
                raise DataFormatError(msg + " (more rows than the release: wrong archive?)", reason="bad_counts")
            warnings.warn(msg + " (a partial archive?)", stacklevel=3)
            notes.append(msg)
        files = []
        for i, shard in enumerate(shards):
            target = staging / shard_name(config.name, split, i, len(shards))
            src = staging / shard["file"]
            if src.exists():
                os.replace(src, target)
            files.append({"name": target.name, "sha256": sha256_file(target), "num_rows": shard["num_rows"],
                          "num_bytes": target.stat().st_size})
            shard["file"] = target.name
        state.save()
        manifest["splits"][split] = {"num_rows": total_rows, "files": files}
    for fname, path in (extra_files or {}).items():
        target = staging / safe_component(fname, "extra file name")
        shutil.copyfile(path, target)
        manifest["extra_files"].append({"name": fname, "sha256": sha256_file(target),
                                        "num_bytes": target.stat().st_size})
    atomic_write_text(staging / "README.md", dataset_card(config, manifest))
    (staging / "progress.json").unlink(missing_ok=True)
    write_manifest(staging, manifest)
    publish_folder(staging, final, replace=True)
    return final


def convert_version(folder: str | Path, out: str | Path, fmt: str) -> Path:
    """Losslessly convert a built version between Arrow IPC and Parquet shards.

    Parquet is the transport format (Hub, mirrors); Arrow IPC the local store. The schema
    (with its Hugging Face metadata) is kept, so converting back gives equal tables. The
    converted version is written in a new staging folder and published in one step; only
    the files the manifest lists are read (through :meth:`Manifest.path`, so a name or a
    link pointing outside ``folder`` is refused).

    Parameters
    ----------
    folder : path
        A built version (with manifest.json).
    out : path
        Destination folder; it must not exist (an empty folder is taken).
    fmt : {"arrow", "parquet"}

    Raises
    ------
    FileExistsError
        ``out`` exists and is not empty.
    UnsafeNameError
        The manifest names a file outside ``folder``.
    """
    if fmt not in ("arrow", "parquet"):
        raise ValueError(f"format must be 'arrow' or 'parquet', not {fmt!r}")
    man = read_manifest(folder)
    return convert_manifest(man, out, fmt)


def convert_manifest(man: Manifest, out: str | Path, fmt: str) -> Path:
    """:func:`convert_version` of an already read (checked) manifest snapshot."""
    out = Path(out)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if os.path.lexists(out):
        raise FileExistsError(f"{out} already exists and is not empty; a converted version goes to a new folder")
    staging = new_staging(out.parent, out.name)
    try:
        data = json.loads(json.dumps(man.data))
        data["format"] = fmt
        for rec in data["splits"].values():
            for f in rec["files"]:
                table = read_shard(man.path(f["name"]))
                stem = f["name"].rsplit(".", 1)[0]
                target = staging / safe_component(f"{stem}.{fmt}", "converted shard name")
                with AtomicArrowWriter(target, table.schema, fmt) as w:
                    w.write_table(table)
                f.update(name=target.name, sha256=sha256_file(target), num_bytes=target.stat().st_size)
        for extra in man.extra_files():
            shutil.copyfile(man.path(extra["name"]), staging / extra["name"])
        if (man.root / "README.md").exists():
            man.path("README.md")
            config = get_config(man.dataset)
            atomic_write_text(staging / "README.md", dataset_card(config, data))
        write_manifest(staging, data)
        publish_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def read_shard(path: str | Path) -> pa.Table:
    """Read one shard (Arrow IPC stream or file, or Parquet) as a table."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pq.read_table(path)
    with pa.memory_map(str(path)) as source:
        try:
            return pa.ipc.open_stream(source).read_all()
        except pa.ArrowInvalid:
            source.seek(0)
            return pa.ipc.open_file(source).read_all()
