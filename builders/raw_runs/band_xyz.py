"""Fast reader of the authors' band files (``traj_init.xyz``, ``traj_final.xyz``), ASE for anything unusual.

These files are extended XYZ written by ``ase.io.write``: one frame per image, a comment line
of plain ``key=value`` pairs (``Lattice``, ``Properties``, ``pbc``, ``energy``, ...) and fixed
columns. ASE's reader parses the comment line one character at a time and every atom line
through a tuple of converters; for these small frames that is most of the time the raw
reader spends on a hop outside the band steps (benchmarks/RESULTS.md, issue 20). Here the
comment line is tokenised by one regular expression and the columns are converted column by
column; the :class:`~ase.Atoms` are then assembled exactly as ``ase.io.extxyz`` assembles
them (same constructor arguments, constraints from ``move_mask``, and ASE's own
``set_calc_and_arrays`` for calculator results and extra arrays).

Only the plain case is parsed here; anything else (a ULM file under the name, text that is
not UTF-8, quotes with escapes or brackets, a key without value, a ``_JSON`` value, an
unknown column type or a malformed value, ``VEC`` lines, a frame cut off, content after a
blank line, a wrong atom count) raises :class:`NotPlain` internally and the whole file is
read by :func:`~litraj_data.builders.raw_runs.files.read_frames` (ASE) instead, so that ASE
decides — and names the error — exactly as before. ``tests/test_raw_band_xyz.py`` compares
every frame with ``ase.io.read`` on generated files, and checks that the unusual ones fall back.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms, FixCartesian
from ase.io.extxyz import SPECIAL_3_3_KEYS, UNPROCESSED_KEYS, parse_properties, set_calc_and_arrays

from litraj_data.builders.raw_runs.files import ULM_MAGIC, read_frames

#: one ``key=value`` pair: a plain key, then a double-quoted value without escapes or a bare value
#: without quotes, brackets, braces, backslashes or '=' (ASE's character parser treats those specially)
_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_\-]*)=(?:"([^"\\{}\[\]\']*)"|([^\s"\'{}\[\]\\=]+))(?=\s|$)\s*')
#: how ASE splits a value into its items (``re.findall(r'[^\s,]+', value)`` in ``key_val_str_to_dict``)
_ITEMS = re.compile(r"[^\s,]+")
_STR_TO_BOOL = {"T": True, "F": False, "true": True, "false": False,
                "True": True, "False": False, "TRUE": True, "FALSE": False}
_LOGICAL = {"T": True, "F": False, "True": True, "False": False}  # ASE's parse_bool for L columns


class NotPlain(Exception):
    """The file is outside the plain case this parser handles: ASE reads it."""


def _value(key: str, value: str) -> Any:
    # the conversions of ase.io.extxyz.key_val_str_to_dict, in its order, for a value it would not
    # treat specially (no JSON, not empty)
    if key.lower() in UNPROCESSED_KEYS:
        return value
    items = _ITEMS.findall(value)
    if not items:
        raise NotPlain(f"empty value of {key}")
    converted: Any = value
    try:
        try:
            num = np.array(items, dtype=int)
        except (ValueError, OverflowError):
            num = np.array(items, dtype=float)
        converted = num[0] if len(num) == 1 else num
    except (ValueError, OverflowError):
        pass
    if key in SPECIAL_3_3_KEYS:
        if not isinstance(converted, np.ndarray) or converted.shape != (9,):
            raise NotPlain(f"{key} is not 9 numbers")  # ASE raises: let it say so
        converted = np.array(converted).reshape((3, 3), order="F")
    if isinstance(converted, str):
        try:
            flags = [_STR_TO_BOOL[v] for v in items]
            converted = flags[0] if len(flags) == 1 else flags
        except KeyError:
            if converted.startswith("_JSON "):
                raise NotPlain("JSON value") from None
    return converted


def parse_comment(line: str) -> dict[str, Any]:
    """``atoms.info`` of an extxyz comment line as ASE parses it, for plain ``key=value`` lines.

    Raises
    ------
    NotPlain
        The line is empty or uses what only ASE's parser handles (escapes, brackets, a key
        without a value, JSON, ...).
    """
    line = line.strip()
    if not line:
        raise NotPlain("empty comment line")
    info: dict[str, Any] = {}
    pos = 0
    while pos < len(line):
        m = _PAIR.match(line, pos)
        if m is None:
            raise NotPlain(f"comment line not plain at column {pos}")
        key, quoted, bare = m.groups()
        info[key] = _value(key, quoted if quoted is not None else bare)
        pos = m.end()
    return info


@functools.lru_cache(maxsize=64)
def _columns(properties: str) -> tuple[tuple[str, str, int, str], ...]:
    """(extxyz name, ASE name, number of columns, numpy kind) per property of a ``Properties`` string."""
    try:
        props, names, dtype, _ = parse_properties(properties)
    except (ValueError, IndexError) as exc:
        raise NotPlain(f"Properties={properties!r}: {exc}") from exc
    out = []
    for name in names:
        ase_name, cols = props[name]
        field = name if cols == 1 else name + "0"
        out.append((name, ase_name, cols, dtype[field].kind))
    return tuple(out)


def _convert(kind: str, tokens: tuple[str, ...]) -> np.ndarray:
    # the converters of ase.io.extxyz.parse_properties (float, int, str, parse_bool), one column at a time
    try:
        if kind == "f":
            return np.array([float(t) for t in tokens], dtype=float)
        if kind == "i":
            return np.array([int(t) for t in tokens], dtype="i")
        if kind == "b":
            return np.array([_LOGICAL[t] for t in tokens], dtype=bool)
        if kind == "O":
            return np.array(tokens, dtype=object)
    except (ValueError, KeyError, OverflowError) as exc:
        raise NotPlain(f"column value: {exc}") from exc
    raise NotPlain(f"column kind {kind}")


def _frame(comment: str, atom_lines: list[str]) -> Atoms:
    natoms = len(atom_lines)
    info = parse_comment(comment)
    pbc = info.pop("pbc") if "pbc" in info else ([True, True, True] if "Lattice" in info else None)
    cell = info.pop("Lattice").T if "Lattice" in info else None
    if "Properties" not in info:
        raise NotPlain("no Properties")
    columns = _columns(info.pop("Properties"))
    width = sum(c[2] for c in columns)
    rows = [line.split() for line in atom_lines]
    if any(len(r) != width for r in rows):
        raise NotPlain("atom line with another number of columns")  # ASE drops extra columns or fails
    by_column = list(zip(*rows))
    arrays: dict[str, np.ndarray] = {}
    j = 0
    for _, ase_name, cols, kind in columns:
        parts = [_convert(kind, by_column[j + c]) for c in range(cols)]
        arrays[ase_name] = parts[0] if cols == 1 else np.vstack(parts).T
        j += cols
    # from here on, what ase.io.extxyz._read_xyz_frame does with the parsed columns
    numbers = arrays.pop("numbers", None)
    symbols = arrays.pop("symbols", None)
    if symbols is not None:
        symbols = [s.capitalize() for s in symbols]
    try:
        atoms = Atoms(numbers if numbers is not None else symbols, positions=arrays.pop("positions", None),
                      charges=arrays.pop("initial_charges", None), cell=cell, pbc=pbc, info=info)
    except (KeyError, ValueError) as exc:  # unknown element, bad shape: ASE names it
        raise NotPlain(f"atoms: {exc}") from exc
    if "move_mask" in arrays:
        move_mask = arrays.pop("move_mask").astype(bool)
        if move_mask.ndim == 2 and move_mask.shape[1] == 3:
            atoms.set_constraint([FixCartesian(a, mask=~move_mask[a, :]) for a in range(natoms)])
        elif move_mask.ndim == 1:
            atoms.set_constraint(FixAtoms(mask=~move_mask))
        else:
            raise NotPlain("move_mask shape")
    set_calc_and_arrays(atoms, arrays)
    return atoms


def parse_band_xyz(text: str) -> list[Atoms]:
    """Frames of a plain extxyz text, as ``ase.io.read(..., index=':', format='extxyz')`` gives them.

    Raises
    ------
    NotPlain
        Anything outside the plain case (see the module docstring).
    """
    lines = text.split("\n")  # what readline() splits on (the text was read with universal newlines)
    frames = []
    i = 0
    while i < len(lines):
        head = lines[i]
        if head.strip() == "":
            if any(rest.strip() for rest in lines[i:]):
                raise NotPlain("content after a blank line")  # ASE stops at the blank line
            break
        try:
            natoms = int(head)
        except ValueError as exc:
            raise NotPlain(f"atom count line {i + 1}") from exc
        if natoms <= 0 or i + 2 + natoms > len(lines):
            raise NotPlain("frame cut off or empty")
        start = i + 2
        i = start + natoms
        if i < len(lines) and lines[i].lstrip().startswith("VEC"):
            raise NotPlain("VEC lines")
        frames.append(_frame(lines[start - 1], lines[start:i]))
    if not frames:
        raise NotPlain("no frames")
    return frames


def read_band_xyz(path: Path) -> list[Atoms]:
    """All frames of an authors' band file; ASE (:func:`read_frames`) when it is not plain extxyz.

    Raises
    ------
    DataFormatError
        As :func:`~litraj_data.builders.raw_runs.files.read_frames` (``missing_file``,
        ``truncated``, ``read_error``, ``empty``): the errors are ASE's, raised on its path.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return read_frames(path)  # names the error
    if data[:len(ULM_MAGIC)] == ULM_MAGIC:
        return read_frames(path)  # an ASE trajectory under a .xyz name
    try:
        # universal newlines, as ASE's text-mode file: \r\n and \r become \n
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        return parse_band_xyz(text)
    except (UnicodeDecodeError, NotPlain):
        return read_frames(path)
