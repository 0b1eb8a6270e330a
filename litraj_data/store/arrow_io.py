"""The one atomic writer of Arrow IPC and Parquet files.

Shards of a build, the per-hop spool files of the raw-NEB builder and converted versions
are all written through :class:`AtomicArrowWriter`: into a temporary name unique to the
writer beside the target, flushed to disk (``fsync``) when closed, renamed over the target,
and the folder's entry synced. A crash or a ``kill -9`` leaves either the old file or the
new one, never a torn file under the final name; an error removes the temporary file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from litraj_data.io import fsync_dir

#: Parquet options of the store's transport format (kept here so every Parquet file is written alike)
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_compliant_nested_type": False}


class AtomicArrowWriter:
    """Write tables to ``path`` as one Arrow IPC stream (or Parquet file), atomically.

    Parameters
    ----------
    path : path
        The final file; its folder must exist.
    schema : pyarrow.Schema
        Schema of every table written.
    fmt : {"arrow", "parquet"}
        Arrow IPC *stream* (what ``datasets`` memory-maps) or Parquet (zstd).

    Examples
    --------
    >>> with AtomicArrowWriter(folder / "x.arrow", table.schema) as w:   # doctest: +SKIP
    ...     w.write_table(table)
    """

    def __init__(self, path: str | os.PathLike, schema: pa.Schema, fmt: str = "arrow") -> None:
        if fmt not in ("arrow", "parquet"):
            raise ValueError(f"format must be 'arrow' or 'parquet', not {fmt!r}")
        self.path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(self.tmp, 0o666 & ~mask)  # mkstemp's 0600 would make published shards private
        self._sink = pa.OSFile(str(self.tmp), "wb")
        self._writer: Any = (pq.ParquetWriter(self._sink, schema, **PARQUET_OPTIONS) if fmt == "parquet"
                             else pa.ipc.new_stream(self._sink, schema))
        self._done = False

    def write_table(self, table: pa.Table) -> None:
        """Append ``table`` (same schema)."""
        self._writer.write_table(table)

    def tell(self) -> int:
        """Bytes written so far (what a shard-size limit compares with)."""
        return self._sink.tell()

    def commit(self) -> Path:
        """Close, ``fsync``, rename over the target and sync the folder; returns the target."""
        self._writer.close()
        self._sink.close()
        fd = os.open(self.tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        self._done = True
        return self.path

    def abort(self) -> None:
        """Drop what was written; the target is left as it was."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(pa.ArrowException, OSError, ValueError):  # half-closed after the error
            self._writer.close()
        with contextlib.suppress(OSError):
            self._sink.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    def __enter__(self) -> "AtomicArrowWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_table_atomic(table: pa.Table, path: str | os.PathLike, fmt: str = "arrow") -> Path:
    """Write one table to ``path`` through :class:`AtomicArrowWriter`."""
    with AtomicArrowWriter(path, table.schema, fmt) as w:
        w.write_table(table)
    return Path(path)
