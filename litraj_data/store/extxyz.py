"""The one extxyz reader and writer of the package.

Reading: :func:`iter_extxyz` streams frames one at a time from any text stream (zip
members included), with clear errors on cut-off or malformed frames; ASE parses each frame.
Writing: :func:`write_extxyz` writes frames that ASE reads back to identical Atoms.

ASE's own writer rounds per-atom columns to 8 decimals; this writer prints every float
with 17 significant digits (exact round trip of float64) and otherwise follows the
extended XYZ conventions ASE reads: ``Lattice``, ``Properties``, ``pbc``, calculator
results (``energy``, ``stress`` on the comment line; ``forces`` as a per-atom column)
and ``atoms.info`` keys.
"""
from __future__ import annotations

import io
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO

import numpy as np
from ase.io.extxyz import key_val_dict_to_str, read_xyz

from litraj_data.errors import DataFormatError
from litraj_data.io import atomic_writer
from litraj_data.store.atoms_codec import loads

_FLOAT = "%.17g"


#: the shortest line an atom can have in extxyz ("X 0 0 0" plus a newline): bounds atom counts
MIN_ATOM_LINE = 8


@dataclass(frozen=True)
class ReadLimits:
    """Caps that keep reading an untrusted extxyz stream bounded in memory.

    A frame is held in memory while ASE parses it, and a line is held whole while it is
    read, so these two numbers bound what one hostile file can cost (about ten times
    ``max_frame_chars`` at the peak of ASE's parse), whatever its size.

    Attributes
    ----------
    max_line_chars : int
        Longest line (characters, newline included). The official files' longest lines
        are the comment lines, well under 4 KiB; the default, 1 MiB, leaves room for large
        ``atoms.info`` values.
    max_frame_chars : int
        Largest frame (characters). 64 MiB is about 500,000 atoms: the release's largest
        frames hold a few hundred.
    """

    max_line_chars: int = 1 << 20
    max_frame_chars: int = 64 << 20


DEFAULT_READ_LIMITS = ReadLimits()

# what a damaged compressed stream raises besides BadZipFile: zlib (deflate), lzma, and bz2's OSError
_CORRUPT_STREAM = (zlib.error, lzma.LZMAError)


_READ_ERRORS = (UnicodeDecodeError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, EOFError, OSError)


def _read_error(exc: BaseException, label: str, line_no: int) -> DataFormatError:
    """The named reason for what a text stream raised while reading line ``line_no``."""
    if isinstance(exc, UnicodeDecodeError):
        # the decoder reads ahead in blocks: the bad byte is at or shortly after this line
        return DataFormatError(f"{label}: not UTF-8 text at or after line {line_no} ({exc.reason}: byte "
                               f"0x{exc.object[exc.start]:02x})", reason="not_utf8")
    if isinstance(exc, _CORRUPT_STREAM):
        return DataFormatError(f"{label}:{line_no}: the compressed data are corrupted ({exc})",
                               reason="corrupt_member")
    return DataFormatError(f"{label}:{line_no}: cannot be read ({exc}); the archive is corrupted or truncated",
                           reason="truncated")


def _too_long(label: str, line_no: int, limit: int) -> DataFormatError:
    return DataFormatError(f"{label}:{line_no}: line longer than {limit:,} characters (the cap of "
                           "ReadLimits.max_line_chars); not an extxyz frame of this release", reason="line_too_long")


def read_line(stream: io.TextIOBase, label: str, line_no: int, limit: int = DEFAULT_READ_LIMITS.max_line_chars) -> str:
    """One line of at most ``limit`` characters (a longer one is refused before it is read whole).

    Raises
    ------
    DataFormatError
        ``line_too_long``, ``not_utf8``, ``corrupt_member``, ``truncated``; the message names
        ``label:line_no``.
    """
    try:
        line = stream.readline(limit)
    except _READ_ERRORS as exc:
        raise _read_error(exc, label, line_no) from exc
    if len(line) >= limit and not line.endswith("\n"):
        raise _too_long(label, line_no, limit)
    return line


def iter_extxyz_frames(stream: io.TextIOBase, *, skip: int = 0, label: str = "extxyz",
                       size: int | None = None,
                       limits: ReadLimits = DEFAULT_READ_LIMITS) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, Atoms)`` from an extxyz text stream, one frame at a time.

    ``line`` is the 1-based line number of the frame's atom-count line, for messages that
    point at the file and line.

    Parameters
    ----------
    stream : text stream
        Read sequentially (works on zip members: no seeking).
    skip : int
        Frames to pass over first, by counting lines only.
    label : str
        Name used in error messages.
    size : int, optional
        Bytes in the stream (file or zip member size): an atom count that these bytes
        cannot hold is refused before anything is read.
    limits : ReadLimits
        Longest line and largest frame (memory stays bounded by them).

    Raises
    ------
    DataFormatError
        ``bad_frame`` (no atom count, a negative one, a malformed frame), ``bad_atom_count``
        (more atoms than the remaining bytes can hold), ``truncated`` (cut short),
        ``not_utf8``, ``line_too_long``, ``frame_too_large``, ``corrupt_member`` (damaged
        compressed data); each message names ``label:line``.
    """
    index, line_no, consumed = 0, 0, 0
    max_line = limits.max_line_chars
    while True:
        header = read_line(stream, label, line_no + 1, max_line)
        if not header:
            return
        line_no += 1
        consumed += len(header)
        if not header.strip():
            continue
        start = line_no
        try:
            natoms = int(header.split()[0])
        except ValueError as exc:
            raise DataFormatError(f"{label}:{start}: frame {index} starts with {header.strip()[:40]!r}, "
                                  "expected the atom count", reason="bad_frame") from exc
        if natoms < 0:
            raise DataFormatError(f"{label}:{start}: frame {index} announces {natoms} atoms", reason="bad_frame")
        if size is not None and natoms * MIN_ATOM_LINE > size - consumed:
            raise DataFormatError(f"{label}:{start}: frame {index} announces {natoms} atoms but only "
                                  f"{max(size - consumed, 0)} bytes follow", reason="bad_atom_count")
        if natoms * MIN_ATOM_LINE > limits.max_frame_chars:
            raise DataFormatError(f"{label}:{start}: frame {index} announces {natoms:,} atoms, more than a frame of "
                                  f"{limits.max_frame_chars:,} characters can hold (ReadLimits.max_frame_chars)",
                                  reason="frame_too_large")
        lines = []
        frame_chars = len(header)
        readline = stream.readline
        for _ in range(natoms + 1):  # one at a time: a huge count on a short file stops at its end
            # read_line() inlined: this loop runs once per atom of the release
            try:
                line = readline(max_line)
            except _READ_ERRORS as exc:
                raise _read_error(exc, label, line_no + 1) from exc
            if len(line) >= max_line and line[-1:] != "\n":
                raise _too_long(label, line_no + 1, max_line)
            if line == "":
                raise DataFormatError(f"{label}:{start}: frame {index} is cut short ({natoms} atoms announced, "
                                      f"{max(len(lines) - 1, 0)} found); the file is truncated", reason="truncated")
            line_no += 1
            consumed += len(line)
            frame_chars += len(line)
            if frame_chars > limits.max_frame_chars:
                raise DataFormatError(f"{label}:{start}: frame {index} is longer than {limits.max_frame_chars:,} "
                                      "characters (ReadLimits.max_frame_chars)", reason="frame_too_large")
            lines.append(line)
        if not lines[-1].endswith("\n") and len(lines[-1].split()) < 4:
            raise DataFormatError(f"{label}:{start}: frame {index} is cut short ({natoms} atoms announced); the "
                                  "file is truncated", reason="truncated")
        if index >= skip:
            _check_columns(lines, label, start, index)
            text = header + "".join(lines)
            try:
                atoms = next(read_xyz(io.StringIO(text), 0))
            except (ValueError, IndexError, KeyError, TypeError, StopIteration) as exc:  # what ASE raises on bad text
                raise DataFormatError(f"{label}:{start}: frame {index} is malformed ({type(exc).__name__}: {exc})",
                                      reason="bad_frame") from exc
            yield start, atoms
        index += 1


_PROPERTIES_RE = re.compile(r'(?i)(?:^|\s)properties=("?)([A-Za-z0-9_:]+)\1(?:\s|$)')


def _check_columns(lines: list[str], label: str, start: int, index: int) -> None:
    """Every atom line has exactly the columns its ``Properties=`` declares.

    ASE's reader silently drops a line's extra columns, so a column declared with the wrong
    width (``forces:R:2`` over three force values) shifts or loses values without an error.
    ``lines`` is the comment line then the atom lines of one frame.
    """
    match = _PROPERTIES_RE.search(lines[0])
    if match is None:  # plain XYZ: ASE's default columns, extra columns ignored as ASE does
        return
    fields = match.group(2).split(":")
    if len(fields) % 3:
        return  # malformed declaration: ASE's own parser names it
    try:
        width = sum(int(n) for n in fields[2::3])
    except ValueError:
        return
    for k, line in enumerate(lines[1:]):
        if len(line.split()) != width:
            raise DataFormatError(f"{label}:{start + 2 + k}: frame {index} atom {k} has {len(line.split())} columns, "
                                  f"its Properties declare {width} ({':'.join(fields)})", reason="bad_frame")


def iter_extxyz(stream: io.TextIOBase, *, skip: int = 0, label: str = "extxyz",
                size: int | None = None, limits: ReadLimits = DEFAULT_READ_LIMITS) -> Iterator[Any]:
    """Yield ASE Atoms from an extxyz text stream one frame at a time (see :func:`iter_extxyz_frames`)."""
    for _, atoms in iter_extxyz_frames(stream, skip=skip, label=label, size=size, limits=limits):
        yield atoms


def _fmt_float(x: float) -> str:
    return _FLOAT % x


def _prop_type(arr: np.ndarray) -> str:
    if arr.dtype.kind == "b":
        return "L"
    if arr.dtype.kind in "iu":
        return "I"
    if arr.dtype.kind == "f":
        return "R"
    return "S"


def _cell_str(cell: np.ndarray) -> str:
    return " ".join(_fmt_float(x) for x in np.asarray(cell, dtype=float).reshape(-1))


def write_frame(fh: TextIO, atoms: Any) -> None:
    """Write one frame (ASE ``Atoms``) at full float precision."""
    from ase.data import chemical_symbols

    n = len(atoms)
    symbols = [chemical_symbols[z] for z in atoms.numbers]
    columns: list[tuple[str, np.ndarray]] = [("pos", np.asarray(atoms.positions, dtype=float))]
    results = dict(atoms.calc.results) if atoms.calc is not None else {}
    per_atom = {k: v for k, v in atoms.arrays.items() if k not in ("numbers", "positions")}
    for key, value in per_atom.items():
        columns.append((key, np.asarray(value)))
    comment: dict[str, Any] = {}
    for key, value in results.items():
        value = np.asarray(value) if not np.isscalar(value) else value
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n and key in ("forces",):
            columns.append((key, value))
        elif key == "stress" and np.asarray(value).shape == (6,):
            from ase.stress import voigt_6_to_full_3x3_stress

            comment[key] = voigt_6_to_full_3x3_stress(np.asarray(value, dtype=float)).reshape(-1)
        else:
            comment[key] = value
    props = ["species:S:1"]
    for key, arr in columns:
        width = 1 if arr.ndim == 1 else int(np.prod(arr.shape[1:]))
        props.append(f"{key}:{_prop_type(arr)}:{width}")
    head = [f'Lattice="{_cell_str(atoms.cell[:])}"', "Properties=" + ":".join(props)]
    info = dict(comment)
    info.update(atoms.info)
    extra = key_val_dict_to_str({k: _exact(v) for k, v in info.items()}) if info else ""
    pbc = " ".join("T" if p else "F" for p in atoms.pbc)
    line = " ".join(head + ([extra] if extra else []) + [f'pbc="{pbc}"'])
    out = io.StringIO()
    out.write(f"{n}\n{line}\n")
    flat_cols = [arr.reshape(n, -1) for _, arr in columns]
    kinds = [_prop_type(arr) for _, arr in columns]
    for i in range(n):
        parts = [symbols[i]]
        for arr, kind in zip(flat_cols, kinds):
            for x in arr[i]:
                if kind == "R":
                    parts.append(_fmt_float(x))
                elif kind == "L":
                    parts.append("T" if x else "F")
                else:
                    parts.append(str(x))
        out.write(" ".join(parts) + "\n")
    fh.write(out.getvalue())


class _Exact(float):
    """A float whose str() is exact (ASE formats info values with str())."""

    def __str__(self) -> str:
        return repr(float(self))

    __repr__ = __str__


def _exact(value: Any) -> Any:
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return _Exact(value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size > 1:
        return _ExactArray(" ".join(_fmt_float(x) for x in value.reshape(-1)))
    return value


class _ExactArray(str):
    """Pre-formatted float vector; ASE quotes it and reads it back as a float array."""


def write_extxyz(path: str | Path, frames: Iterable[Any]) -> int:
    """Write frames to ``path`` atomically; returns the number of frames."""
    n = 0
    with atomic_writer(path, "w") as fh:
        for atoms in frames:
            write_frame(fh, atoms)
            n += 1
    return n


def band_frames(row: dict[str, Any], part: str) -> list[Any]:
    """Images of the ``init`` or ``relaxed`` band of a nebDFT2k row as ASE Atoms."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    positions = row[f"{part}_positions"]
    energies = row.get(f"{part}_energies")
    forces = row.get(f"{part}_forces")
    extras = loads(row.get("band_extras")).get(part) or [{}] * len(positions)
    frames = []
    for k, pos in enumerate(positions):
        ext = extras[k] if k < len(extras) else {}
        cell = ext.get("cell") if ext.get("cell") is not None else row[f"{part}_cell"]
        atoms = Atoms(numbers=row["band_numbers"], positions=np.asarray(pos, dtype=float), cell=np.asarray(cell),
                      pbc=row["band_pbc"])
        atoms.info.update(ext.get("info", {}))
        for key, value in ext.get("arrays", {}).items():
            atoms.arrays[key] = np.asarray(value)
        results = dict(ext.get("calc", {}))
        if energies is not None:
            results["energy"] = energies[k]
        if forces is not None:
            results["forces"] = np.asarray(forces[k], dtype=float)
        if results:
            atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    return frames
