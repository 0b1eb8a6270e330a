"""Write a dataset version as bounded Arrow shards, atomically and resumably.

Layout of a finished version::

    OUT/NAME/VERSION/
        NAME-SPLIT-00000-of-00002.arrow   # Arrow IPC stream: what `datasets` memory-maps
        ...
        README.md                         # dataset card (Hugging Face front matter)
        failures.csv                      # optional extra files, checksummed too
        manifest.json                     # written last

While building, everything lives in ``OUT/NAME/.VERSION.partial/``. Each shard is
written as ``*.tmp`` and renamed when closed; ``progress.json`` records the closed shards
so that an interrupted build resumes at the first unfinished shard. The finished folder
appears with one atomic rename, so no reader ever sees half a version.
"""
from __future__ import annotations

import datetime as _dt
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
from litraj_data.errors import DataFormatError
from litraj_data.registry import DatasetConfig, get_config, citation_bibtex
from litraj_data.schema import arrow_schema, rows_to_table, schema_fingerprint

from litraj_data.io import atomic_write_text, sha256_file
from litraj_data.store.manifest import write_manifest

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
        if self.path.is_file():
            old = json.loads(self.path.read_text())
            if old.get("fingerprint") == fingerprint:
                self.data = old

    def split(self, name: str) -> dict[str, Any]:
        return self.data["splits"].setdefault(name, {"shards": [], "rows_done": 0, "complete": False})

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=1))


def _write_split(name: str, split: str, rows: Iterator[Mapping[str, Any]], config: DatasetConfig,
                 schema: pa.Schema, staging: Path, progress: _Progress, max_bytes: int,
                 on_rows: Callable[[int], None]) -> None:
    state = progress.split(split)
    shard_idx = len(state["shards"])
    writer: pa.ipc.RecordBatchStreamWriter | None = None
    sink = None
    tmp_path: Path | None = None
    shard_rows = 0

    def close_shard() -> None:
        nonlocal writer, sink, tmp_path, shard_rows, shard_idx
        assert writer is not None and sink is not None and tmp_path is not None
        writer.close()
        sink.close()
        final = staging / f"{split}-{shard_idx:05d}.arrow"
        os.replace(tmp_path, final)
        state["shards"].append({"file": final.name, "num_rows": shard_rows})
        state["rows_done"] += shard_rows
        progress.save()
        writer, sink, tmp_path, shard_rows = None, None, None, 0
        shard_idx += 1

    def open_shard() -> None:
        nonlocal writer, sink, tmp_path
        tmp_path = staging / f"{split}-{shard_idx:05d}.arrow.tmp"
        sink = pa.OSFile(str(tmp_path), "wb")
        writer = pa.ipc.new_stream(sink, schema)

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
        if sink.tell() >= max_bytes:  # type: ignore[union-attr]
            close_shard()

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
    state["complete"] = True
    progress.save()


def dataset_card(config: DatasetConfig, manifest: dict[str, Any]) -> str:
    """A Hugging Face style dataset card (README.md) for a built version."""
    fmt = manifest["format"]
    lines = ["---", f"pretty_name: {config.name}", "license: mit", "configs:", "- config_name: default",
             "  data_files:"]
    for split in manifest["splits"]:
        lines += [f"  - split: {split}", f"    path: \"{config.name}-{split}-*.{fmt}\""]
    lines += ["---", "", f"# {config.name} {manifest['version']}", "", config.description, "",
              "| split | rows |", "|---|---|"]
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
        Replace an existing finished version (otherwise that is an error).
    progress : bool, optional
        Show a tqdm bar (default: when stderr is a terminal).

    Returns
    -------
    Path
        The finished version folder (holding ``manifest.json``).
    """
    config = get_config(name)
    version = version or config.version
    root = Path(out) / config.name
    final = root / version
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} exists; pass overwrite=True (--overwrite) to rebuild it")
    staging = root / f".{version}.partial"
    staging.mkdir(parents=True, exist_ok=True)
    schema = arrow_schema(config)
    fingerprint = schema_fingerprint(schema)
    state = _Progress(staging, fingerprint)
    for stale in staging.glob("*.tmp"):  # a shard that was open when the build stopped
        stale.unlink()

    show = sys.stderr.isatty() if progress is None else progress
    from tqdm.auto import tqdm

    notes = list(notes)
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
        "sources": dict(sources or {}),
        "schema": {"fingerprint": fingerprint, "columns": [{"name": f.name, "type": str(f.type)} for f in schema]},
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
            warnings.warn(msg + " (a partial archive?)", stacklevel=2)
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
        target = staging / fname
        shutil.copyfile(path, target)
        manifest["extra_files"].append({"name": fname, "sha256": sha256_file(target),
                                        "num_bytes": target.stat().st_size})
    atomic_write_text(staging / "README.md", dataset_card(config, manifest))
    (staging / "progress.json").unlink(missing_ok=True)
    write_manifest(staging, manifest)
    if final.exists():
        trash = root / f".{version}.old"
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(final, trash)
        shutil.rmtree(trash)
    os.replace(staging, final)
    return final


def convert_version(folder: str | Path, out: str | Path, fmt: str) -> Path:
    """Losslessly convert a built version between Arrow IPC and Parquet shards.

    Parquet is the transport format (Hub, mirrors); Arrow IPC the local store. The schema
    (with its Hugging Face metadata) is kept, so converting back gives equal tables.

    Parameters
    ----------
    folder : path
        A built version (with manifest.json).
    out : path
        Destination folder (created; must not hold a manifest already).
    fmt : {"arrow", "parquet"}
    """
    from litraj_data.store.manifest import read_manifest

    if fmt not in ("arrow", "parquet"):
        raise ValueError(f"format must be 'arrow' or 'parquet', not {fmt!r}")
    man = read_manifest(folder)
    out = Path(out)
    if (out / "manifest.json").exists():
        raise FileExistsError(f"{out} already holds a dataset version")
    out.mkdir(parents=True, exist_ok=True)
    data = json.loads(json.dumps(man.data))
    data["format"] = fmt
    for split, rec in data["splits"].items():
        for f in rec["files"]:
            table = read_shard(Path(folder) / f["name"])
            stem = f["name"].rsplit(".", 1)[0]
            target = out / f"{stem}.{fmt}"
            tmp = out / f".{target.name}.tmp"
            if fmt == "parquet":
                pq.write_table(table, tmp, compression="zstd", use_compliant_nested_type=False)
            else:
                with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
                    w.write_table(table)
            os.replace(tmp, target)
            f.update(name=target.name, sha256=sha256_file(target), num_bytes=target.stat().st_size)
    for extra in man.extra_files():
        shutil.copyfile(Path(folder) / extra["name"], out / extra["name"])
    if (Path(folder) / "README.md").exists():
        config = get_config(man.dataset)
        atomic_write_text(out / "README.md", dataset_card(config, data))
    write_manifest(out, data)
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
