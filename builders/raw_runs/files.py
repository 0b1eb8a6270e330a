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
import re
from pathlib import Path
from typing import Iterator

import ase.io
from ase import Atoms

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
