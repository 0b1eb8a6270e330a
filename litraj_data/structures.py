"""Read crystal structures from the files users have: CIF, POSCAR/CONTCAR, extxyz, pymatgen JSON.

Every reader returns ``(name, Structure)`` pairs so that multi-frame files (extxyz) and
single-structure files are handled alike by the CLI and the builders.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from pymatgen.core import Structure

from litraj_data.errors import DataFormatError, StructureError

STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json")


def _is_structure_file(path: Path) -> bool:
    name = path.name.upper()
    return (
        path.suffix.lower() in STRUCTURE_SUFFIXES
        or name.startswith("POSCAR")
        or name.startswith("CONTCAR")
    )


def iter_structure_files(paths: list[str | Path]) -> Iterator[Path]:
    """Expand files and folders (recursively, sorted) into structure files."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.is_file() and _is_structure_file(q))
        else:
            yield p


def read_structures(path: str | Path) -> list[tuple[str, Structure]]:
    """Read every structure in ``path``.

    Parameters
    ----------
    path : str or Path
        A CIF, POSCAR/CONTCAR (``*.vasp``), extxyz (``*.xyz``/``*.extxyz``, one frame per
        structure) or pymatgen ``Structure.as_dict()`` JSON file (one dict or a list).

    Returns
    -------
    list of (str, Structure)
        The name of each structure: ``atoms.info['material_id']`` for extxyz frames that
        carry it, else the file stem (with ``#i`` for the i-th frame of a multi-frame file).

    Raises
    ------
    StructureError
        With reason ``read_error`` when the file is missing or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise StructureError(f"{path}: no such file", reason="read_error")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xyz", ".extxyz"):
            from pymatgen.io.ase import AseAtomsAdaptor

            from litraj_data.store.extxyz import iter_extxyz  # the package's one extxyz reader

            with open(path, encoding="utf-8", newline="") as fh:
                frames = list(iter_extxyz(fh, label=str(path), size=path.stat().st_size))
            out = []
            for i, atoms in enumerate(frames):
                name = atoms.info.get("material_id") or (
                    path.stem if len(frames) == 1 else f"{path.stem}#{i}"
                )
                out.append((str(name), AseAtomsAdaptor.get_structure(atoms)))
            return out
        if suffix == ".json":
            data = json.loads(path.read_text())
            items = data if isinstance(data, list) else [data]
            return [
                (path.stem if len(items) == 1 else f"{path.stem}#{i}", Structure.from_dict(d))
                for i, d in enumerate(items)
            ]
        return [(path.stem, Structure.from_file(path))]
    except StructureError:
        raise
    except DataFormatError as exc:  # the extxyz reader's named reasons (truncated, not_utf8, ...)
        raise StructureError(str(exc), reason="read_error") from exc
    except Exception as exc:  # parsers raise anything from ValueError to IndexError
        raise StructureError(f"{path}: cannot read structure ({exc})", reason="read_error") from exc
