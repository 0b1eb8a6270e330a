"""Low-level file access for raw NEB runs: find, sniff, check completeness, read with ASE.

Every parser here is ASE's (``ase.io.read`` / ``ase.io.iread``); this module only adds what
ASE does not do for us: telling a truncated OUTCAR / vasprun.xml / trajectory apart from a
complete one (ASE happily returns the frames it managed to read) and recognising ASE
trajectories that were written under an ``.xyz`` name (the authors' FIRE optimisers were
given ``trajectory='source.xyz'``, which ASE writes as a binary ULM trajectory).
"""
from __future__ import annotations

import gzip
import io
import json
import math
import re
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import ase.io
import numpy as np
from ase import Atoms
from ase.calculators.calculator import all_properties
from ase.cell import Cell
from ase.io.jsonio import decode

from litraj_data.errors import DataFormatError

#: the last lines VASP writes into OUTCAR when a run ends normally
OUTCAR_FOOTER = b"General timing and accounting informations for this job"
#: the closing tag of a complete vasprun.xml
VASPRUN_FOOTER = b"</modeling>"
#: magic bytes of ASE's ULM trajectory format (``*.traj``)
ULM_MAGIC = b"- of Ulm"

_TAIL_BYTES = 64 * 1024


def _is_gz(path: Path) -> bool:
    return path.suffix == ".gz"


def head_bytes(path: Path, n: int = 16) -> bytes:
    """The first ``n`` (decompressed) bytes of a file."""
    opener = gzip.open if _is_gz(path) else open
    with opener(path, "rb") as fh:
        return fh.read(n)


def tail_bytes(path: Path, n: int = _TAIL_BYTES) -> bytes:
    """The last ``n`` decompressed bytes of a file (streams through a .gz once).

    Raises
    ------
    DataFormatError
        reason ``truncated`` when a gzip stream ends early.
    """
    if not _is_gz(path):
        with open(path, "rb") as fh:
            size = fh.seek(0, io.SEEK_END)
            fh.seek(max(0, size - n))
            return fh.read()
    tail = b""
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                tail = (tail + chunk)[-n:]
    except (EOFError, gzip.BadGzipFile, OSError) as exc:  # cut-off or corrupt .gz
        raise DataFormatError(f"{path}: gzip stream ends early ({exc})", reason="truncated") from exc
    return tail


def _gunzip(path: Path) -> bytes:
    """The whole decompressed content of a .gz file (``truncated`` when the stream ends early)."""
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (EOFError, gzip.BadGzipFile, OSError) as exc:  # cut-off or corrupt .gz
        raise DataFormatError(f"{path}: gzip stream ends early ({exc})", reason="truncated") from exc


def is_ulm(path: Path) -> bool:
    """True when ``path`` is an ASE ULM trajectory whatever its suffix."""
    try:
        return head_bytes(path, len(ULM_MAGIC)) == ULM_MAGIC
    except OSError:
        return False


def first_existing(folder: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` that exists in ``folder`` (non-empty files only)."""
    for name in names:
        p = folder / name
        if p.is_file() and p.stat().st_size > 0:
            return p
    return None


def outcar_in(folder: Path) -> Path | None:
    """OUTCAR of an image folder (plain or gzipped)."""
    return first_existing(folder, ("OUTCAR", "OUTCAR.gz"))


def vasprun_in(folder: Path) -> Path | None:
    """vasprun.xml of an image folder (plain or gzipped)."""
    return first_existing(folder, ("vasprun.xml", "vasprun.xml.gz"))


def check_vasp_complete(path: Path) -> None:
    """Raise ``truncated`` unless a VASP OUTCAR / vasprun.xml was written to its end.

    A run killed mid-way (wall time, node failure, disk full) leaves no timing footer in
    OUTCAR and no closing ``</modeling>`` tag in vasprun.xml; ASE would still return the
    ionic steps it could read, so the check has to be explicit.
    """
    footer = VASPRUN_FOOTER if "vasprun" in path.name else OUTCAR_FOOTER
    if footer not in tail_bytes(path):
        raise DataFormatError(f"{path}: no {footer.decode()!r} at the end (run cut off or file truncated)",
                              reason="truncated")


def vasp_format(path: Path) -> str:
    """ASE format name of a VASP output file."""
    return "vasp-xml" if "vasprun" in path.name else "vasp-out"


def traj_format(path: Path) -> str:
    """ASE format of an ASE-written trajectory: ``traj`` (ULM) or ``extxyz``, sniffed."""
    return "traj" if is_ulm(path) else "extxyz"


def read_frames(path: Path, fmt: str | None = None) -> list[Atoms]:
    """All frames of a file, with a named reason when that fails.

    Parameters
    ----------
    path : Path
        OUTCAR(.gz), vasprun.xml(.gz), ``*.traj`` or extxyz file.
    fmt : str, optional
        ASE format; sniffed from the name/content by default.

    Raises
    ------
    DataFormatError
        ``missing_file`` (absent), ``truncated`` (VASP file without its footer, a trajectory
        or extxyz cut mid-frame), ``read_error`` (anything else ASE rejects), ``empty``.
    """
    return list(iter_frames(path, fmt))


def iter_frames(path: Path, fmt: str | None = None) -> Iterator[Atoms]:
    """Like :func:`read_frames` but one frame at a time (bounded memory)."""
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file", reason="missing_file")
    if fmt is None:
        fmt = vasp_format(path) if re.search(r"OUTCAR|vasprun", path.name) else traj_format(path)
    source: str | io.TextIOBase = str(path)
    if fmt in ("vasp-out", "vasp-xml"):
        if _is_gz(path):
            # one decompression serves both the footer check and ASE (which would otherwise
            # stream through the .gz a second time)
            data = _gunzip(path)
            footer = VASPRUN_FOOTER if fmt == "vasp-xml" else OUTCAR_FOOTER
            if footer not in data[-_TAIL_BYTES:]:
                raise DataFormatError(f"{path}: no {footer.decode()!r} at the end (run cut off or file truncated)",
                                      reason="truncated")
            buffer = io.BytesIO(data)
            buffer.name = str(path)  # ASE looks for constraints (POSCAR/CONTCAR) beside fd.name
            source = io.TextIOWrapper(buffer)
        else:
            check_vasp_complete(path)  # a seek to the end: no second pass
    n = 0
    try:
        for atoms in ase.io.iread(source, index=":", format=fmt):
            n += 1
            yield atoms
    except DataFormatError:
        raise
    except (EOFError, gzip.BadGzipFile) as exc:
        raise DataFormatError(f"{path}: file ends early ({exc})", reason="truncated") from exc
    except Exception as exc:  # ASE raises many kinds on cut-off files: name them all 'truncated'/'read_error'
        # a ULM file with the right magic that ASE cannot decode was cut off while being written
        cut = fmt == "traj" or (fmt == "extxyz" and n > 0) or "ncomplete" in str(exc)
        reason = "truncated" if cut else "read_error"
        raise DataFormatError(f"{path}: ASE cannot read frame {n} ({type(exc).__name__}: {exc})",
                              reason=reason) from exc
    if n == 0:
        raise DataFormatError(f"{path}: no frames", reason="empty")


class TrajFrame(NamedTuple):
    """One frame of an ASE ULM trajectory as plain arrays (what :class:`ase.io.Trajectory` would build an
    :class:`~ase.Atoms` and a ``SinglePointCalculator`` from, without building them).

    ``numbers`` is shared by the frames of a file that stores it once (ASE writes it with the
    first frame only when it does not change), so a same-system check can run once per file.
    ``constraints`` is ASE's encoded constraint list (``'[]'`` when there is none).
    """

    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    results: dict[str, Any]
    constraints: str


#: a JSON object key that ``ase.io.jsonio.fix_int_keys_in_dicts`` would turn into an int ("1", " -2 ", "1_0")
_INT_KEY = re.compile(r'"[\s+\-]*\d[\d_\s]*"\s*:')


def _decode_item(text: str) -> Any:
    """``ase.io.jsonio.decode(text, False)`` of a ULM item, by ``json.loads`` when nothing in it needs ASE.

    ASE's decoder adds an ``object_hook`` (``__ndarray__``, ``__datetime__``, ``__complex__``,
    ``__ase_objtype__`` objects) and a recursive pass that turns digit keys into ints; an item
    with neither (no string starting with ``__``, no digit key) decodes to the same dicts and
    lists through ``json.loads`` alone, at a fraction of the cost.
    """
    if '"__' in text or _INT_KEY.search(text):
        return decode(text, False)
    return json.loads(text)


class _NotPlain(Exception):
    """A ULM item the fast path does not decode itself (ASE then reads the rest of the file)."""


def _ulm_value(data: bytes, value: Any) -> Any:
    if isinstance(value, dict) and "ndarray" in value:
        shape, dtype, offset = value["ndarray"]
        count = math.prod(shape)  # np.prod costs microseconds per call on a 1-3 item shape
        return np.frombuffer(data, np.dtype(dtype), count, offset).reshape(shape)
    return value


def _ulm_item(data: bytes, item: dict) -> dict[str, Any]:
    # keys ending in '.' hold an array descriptor or a nested item (``calculator.``), as in ase.io.ulm.Reader
    out = {}
    for name, value in item.items():
        if name.endswith("."):
            name = name[:-1]
            value = _ulm_item(data, value) if "ndarray" not in value else _ulm_value(data, value)
        out[name] = value
    return out


def _read_ulm_items(path: Path) -> tuple[bytes, np.ndarray]:
    data = path.read_bytes()  # one read; a band step is ~10 kB, so slicing beats ASE's seek per array
    if data[:8] not in (ULM_MAGIC, b"AFFormat") or data[8:24].decode("ascii", "replace").rstrip() != "ASE-Trajectory":
        raise _NotPlain("header")
    version, nitems, pos0 = np.frombuffer(data, "<i8", 3, 24)
    offsets = np.frombuffer(data, "<i8", int(nitems), int(pos0))
    return data, offsets


def iter_traj_frames(path: Path) -> Iterator[TrajFrame | Atoms]:
    """Frames of an ASE-written trajectory; a ULM one decoded straight from the bytes (one read per file).

    Gives what :func:`iter_frames` gives through ``ase.io.Trajectory`` — same arrays, same
    calculator results — as :class:`TrajFrame` records, at a fraction of the cost (no
    ``Atoms``, no ``SinglePointCalculator`` with its copy of the atoms, no seek per array).
    Anything outside the plain case (not ULM, e.g. a real extxyz; another tag, big-endian data, a frame without
    calculator results, a cut-off or malformed item) is handed to :func:`iter_frames` from
    that frame on, so errors and unusual frames are ASE's exactly as before.

    Raises
    ------
    DataFormatError
        As :func:`iter_frames`.
    """
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file", reason="missing_file")
    n = 0
    try:
        data, offsets = _read_ulm_items(path)
        header: tuple[np.ndarray, np.ndarray, str] | None = None
        for off in offsets.tolist():
            size = int.from_bytes(data[off:off + 8], "little")
            if off + 8 + size > len(data):
                raise _NotPlain("cut")
            item = _decode_item(data[off + 8:off + 8 + size].decode())
            if not item.pop("_little_endian", True):
                raise _NotPlain("big-endian")
            b = _ulm_item(data, item)
            calc = b.get("calculator")
            if not isinstance(calc, dict) or "energy" not in calc or "forces" not in calc:
                raise _NotPlain("no results")  # energy from info, or none: ASE's Atoms path decides
            if "numbers" in b:  # ASE's TrajectoryReader: numbers with the frame, else the first frame's header
                numbers = np.array(b["numbers"], dtype=int)
                if header is not None and np.array_equal(numbers, header[0]):
                    # ASE rewrites the header whenever it cannot prove it unchanged (constraints compare
                    # by identity): keep one array so the same-system check still runs once per file
                    numbers = header[0]
                pbc = np.zeros(3, dtype=bool)
                pbc[:] = b["pbc"]
                constraints = b.get("constraints", "[]")
                header = (numbers, pbc, constraints)
            elif header is None:
                raise _NotPlain("no header")
            numbers, pbc, constraints = header
            positions = np.array(b["positions"], dtype=float)
            if positions.shape != (numbers.size, 3):
                raise _NotPlain("shape")
            results = {}
            for prop in all_properties:  # as SinglePointCalculator stores them
                value = calc.get(prop)
                if value is None:
                    continue
                results[prop] = value if prop in ("energy", "magmom", "free_energy") else np.array(value, dtype=float)
            if "energy" not in results or "forces" not in results:
                raise _NotPlain("null results")
            yield TrajFrame(numbers=numbers, positions=positions, cell=np.array(Cell.new(b["cell"]).array),
                            pbc=pbc, results=results, constraints=constraints)
            n += 1
    except _NotPlain:
        pass
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):  # malformed: ASE names it
        pass
    else:
        if n:
            return
    for k, atoms in enumerate(iter_frames(path)):  # sniffed: an extxyz under a .xyz name is read by ASE
        if k >= n:
            yield atoms
