"""Find hop runs under a folder, detect their layout, read them with named failures."""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from litraj_data.builders.raw_runs.authors import is_authors_run, read_authors_run
from litraj_data.builders.raw_runs.model import HopRun, hop_id_from_folder
from litraj_data.builders.raw_runs.vasp_neb import is_vasp_neb, read_vasp_neb
from litraj_data.errors import DataFormatError, LitrajError


@dataclass(frozen=True)
class HopFailure:
    """A hop that was skipped, and why (``reason`` is a short machine-readable name)."""

    hop_id: str
    path: str
    reason: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"hop_id": self.hop_id, "path": self.path, "reason": self.reason, "message": self.message}


def detect_layout(folder: str | Path) -> str | None:
    """``'authors'``, ``'vasp'`` or None for a folder that is no hop run."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    if is_authors_run(folder):
        return "authors"
    if is_vasp_neb(folder):
        return "vasp"
    if folder.name.endswith(".neb"):  # named as a run but empty or broken: still a run (it will fail)
        return "authors"
    return None


def find_runs(root: str | Path) -> tuple[list[tuple[str, Path]], list[HopFailure]]:
    """Every hop run under ``root`` (``root`` itself may be one), sorted by hop id.

    Folders inside a run (its image folders) are not searched. A hop id found in more
    than one folder is ambiguous: every copy is reported as a ``duplicate_hop_id`` failure
    and none is read.

    Returns
    -------
    runs : list of (hop_id, Path)
    failures : list of HopFailure
    """
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(f"{root}: not a folder", reason="missing_file")
    found: list[Path] = []
    if detect_layout(root):
        found.append(root)
    else:
        for dirpath, dirnames, _ in os.walk(root):
            dirnames.sort()
            keep = []
            for d in dirnames:
                p = Path(dirpath) / d
                if detect_layout(p):
                    found.append(p)
                elif not d.startswith("."):
                    keep.append(d)
            dirnames[:] = keep
    by_id: dict[str, list[Path]] = defaultdict(list)
    for p in found:
        by_id[hop_id_from_folder(p)].append(p)
    runs, failures = [], []
    for hop_id in sorted(by_id):
        paths = by_id[hop_id]
        if len(paths) == 1:
            runs.append((hop_id, paths[0]))
        else:
            where = ", ".join(str(p) for p in paths)
            failures += [HopFailure(hop_id, str(p), "duplicate_hop_id", f"hop id {hop_id} found in {where}")
                         for p in paths]
    return runs, failures


def read_hop(folder: str | Path, **options: Any) -> HopRun:
    """Read one hop run in whichever layout it is.

    Parameters
    ----------
    folder : path
        A run folder (authors' ``{edge_id}.neb`` or native VASP NEB).
    **options
        Passed to :func:`read_authors_run` (fmax, require_finished, neb_settings) or
        :func:`read_vasp_neb` (fmax, tangent); options of the other layout are ignored.

    Raises
    ------
    DataFormatError
        with a named ``reason`` (see the layout readers); ``unknown_layout`` for a folder
        that is neither.
    """
    folder = Path(folder)
    layout = detect_layout(folder)
    if layout == "authors":
        keys = {"fmax", "require_finished", "neb_settings"}
        return read_authors_run(folder, **{k: v for k, v in options.items() if k in keys and v is not None})
    if layout == "vasp":
        keys = {"fmax", "tangent"}
        return read_vasp_neb(folder, **{k: v for k, v in options.items() if k in keys and v is not None})
    raise DataFormatError(f"{folder}: neither the authors' layout nor a VASP NEB folder", reason="unknown_layout")


def safe_read_hop(hop_id: str, folder: Path, **options: Any) -> HopRun | HopFailure:
    """:func:`read_hop` that returns a :class:`HopFailure` instead of raising on bad input."""
    try:
        return read_hop(folder, **options)
    except LitrajError as exc:
        return HopFailure(hop_id, str(folder), exc.reason, str(exc))
    except (OSError, ValueError) as exc:  # unreadable files that slipped past the named checks
        return HopFailure(hop_id, str(folder), "read_error", f"{type(exc).__name__}: {exc}")


def scan_runs(root: str | Path, **options: Any) -> Iterator[HopRun | HopFailure]:
    """Read every run under ``root`` in hop-id order; bad ones come back as failures."""
    runs, failures = find_runs(root)
    yield from failures
    for hop_id, path in runs:
        yield safe_read_hop(hop_id, path, **options)
