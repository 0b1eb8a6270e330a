"""The one set of file helpers every layer uses: atomic writes, sha256, JSON, jsonl checkpoints, names.

Why one module: copies of these helpers drifted apart (one kept ``mkstemp``'s 0600 mode so a
web server could not read the page it wrote; two checkpoint formats repaired torn lines
differently). Everything here is plain standard library and imports nothing of the package
except :mod:`litraj_data.errors`.
"""
from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping

_CHUNK = 1 << 20


def _umask() -> int:
    # os.umask can only be read by setting it; set it back at once (no thread writes files meanwhile here)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename is durable only once its folder is synced)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8",
                  newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one rename.

    The temporary name is unique per process and call (``mkstemp``), so concurrent writers
    never share one; it gets the umask's mode (0644 under the usual umask) instead of
    ``mkstemp``'s 0600, so published files stay world-readable. On any error the
    temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : path
        Destination; its folder must exist.
    mode : {"w", "wb"}
        Text or binary.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_writer mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_table(table: Any, path: str | os.PathLike) -> Path:
    """Write a pandas DataFrame atomically as Parquet (``.parquet``/``.pq``) or CSV (else).

    Predictions, feature tables and training tables all go through here, so a crash never
    leaves half a file and every table file is written the same way (no index column).

    Parameters
    ----------
    table : pandas.DataFrame
    path : path
        Destination; its folder is created.

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        with atomic_writer(path, "wb") as fh:
            table.to_parquet(fh, index=False)
    else:
        with atomic_writer(path, "w", newline="") as fh:
            table.to_csv(fh, index=False)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, "w") as fh:
        fh.write(text)
    return Path(path)


def to_jsonable(value: Any) -> Any:
    """``value`` made of JSON types: numpy scalars/arrays to Python, non-finite floats to ``None``.

    JSON has no infinity: the package's one meaning of a non-finite number in JSON is
    ``null`` (for a barrier: "does not percolate"), whatever the Python value was.
    """
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    dtype = getattr(value, "dtype", None)
    if getattr(dtype, "kind", None) == "f" and dtype.itemsize < 8:
        # float32/float16 widened to a Python float print 17 digits of noise (0.12300000339746475):
        # write each value's own shortest repr instead (str of a numpy float32 is shortest)
        if getattr(value, "ndim", 0):
            return [to_jsonable(v) for v in value]
        return to_jsonable(float(str(value)))
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return to_jsonable(tolist())
    raise TypeError(f"cannot write {type(value).__name__} as JSON: {value!r}")


def dumps_json(value: Any, **kwargs: Any) -> str:
    """Strict JSON text of ``value`` after :func:`to_jsonable` (never NaN/Infinity tokens)."""
    return json.dumps(to_jsonable(value), allow_nan=False, **kwargs)


def atomic_write_json(path: str | os.PathLike, value: Any, indent: int | None = 2) -> Path:
    """Write ``value`` as strict JSON (sorted keys) atomically."""
    return atomic_write_text(path, dumps_json(value, indent=indent, sort_keys=True) + "\n")


class JsonlCheckpoint:
    """An append-only file of JSON records, one per line, that survives being killed.

    Each record is written with one ``write`` call and fsynced, so a line is whole or torn;
    a torn last line (a run killed mid-write) is cut off when the file is opened again, so
    later appends stay parseable and the torn record is simply recomputed.

    Parameters
    ----------
    path : path
        The ``.jsonl`` file (created on the first append).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._repaired = False

    def repair(self) -> int:
        """Cut a torn last line off; returns the number of bytes removed."""
        self._repaired = True
        if not self.path.is_file():
            return 0
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if not data or data.endswith(b"\n"):
                return 0
            keep = data.rfind(b"\n") + 1
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
            return len(data) - keep

    def records(self) -> list[dict[str, Any]]:
        """Every whole record, in file order (lines that do not parse are skipped)."""
        if not self.path.is_file():
            return []
        out = []
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # torn tail
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
        return out

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one record durably (a torn tail is repaired before the first append)."""
        if not self._repaired:
            self.repair()
        line = dumps_json(record) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def extend(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append several records (each fsynced)."""
        for rec in records:
            self.append(rec)

    def clear(self) -> None:
        """Remove the file."""
        self.path.unlink(missing_ok=True)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" Did you mean 'X'?"`` for the closest of ``choices`` (case-insensitive), else ``""``."""
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.5)
    return f" Did you mean {by_lower[close[0]]!r}?" if close else ""


#: first characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: formula-looking strings get a leading ``'``.

    Messages in failures tables quote file names and parser output, which are untrusted:
    ``=HYPERLINK(...)`` in a file name must not become a live formula. Numbers are kept.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)  # "-0.5" is a number, not a formula
            return value
        except ValueError:
            return "'" + value
    return value


def write_csv_atomic(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], fields: Iterable[str]) -> Path:
    """Write ``rows`` (dicts) as CSV with header ``fields``, cells escaped by :func:`csv_cell`, atomically."""
    import csv

    fields = list(fields)
    with atomic_writer(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: csv_cell(row.get(k, "")) for k in fields})
    return Path(path)
