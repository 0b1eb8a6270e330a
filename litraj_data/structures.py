"""Read crystal structures from the files users have: CIF, POSCAR/CONTCAR, extxyz, pymatgen JSON.

Every reader returns ``(name, Structure)`` pairs so that multi-frame files (extxyz) and
single-structure files are handled alike by the CLI and the builders.

This module also holds the package's one set of structure checks:

* :func:`check_structure` -- what a calculator (``litraj bvel``, ``hops``, ``features``,
  ``screen``, the structure builders) accepts: atoms present, ordered, finite, a
  non-degenerate cell, and caps on atom count, cell volume and grid points
  (:class:`StructureLimits`, raised with ``--max-atoms`` ... or ``LITRAJ_MAX_*``);
* :func:`check_row` -- what a dataset row must satisfy before it is written: finite
  numbers, per-atom arrays of the atom count, and the physics rules of the dataset's card
  (``rules:`` in ``registry/datasets/NAME.yaml``), on import and on builds alike.
"""
from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import numpy as np

from litraj_data.errors import DataFormatError, StructureError

if TYPE_CHECKING:  # pymatgen is imported where it is used: the importer never needs it
    from pymatgen.core import Structure

    from litraj_data.registry import DatasetConfig

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


def _cif_site_rows(path: Path) -> int:
    """Rows of the largest ``_atom_site_`` loop of a CIF: a lower bound of its atom count (symmetry adds more)."""
    best = rows = 0
    state = "out"  # out -> header (inside a loop_'s tags) -> rows (its values)
    atom_loop = False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.lower().startswith("loop_"):
                state, atom_loop, rows = "header", False, 0
            elif line.startswith("_"):
                if state == "header":
                    tag = line.lower()
                    atom_loop |= tag.startswith("_atom_site_") and not tag.startswith("_atom_site_aniso")
                else:
                    state = "out"
            elif line.lower().startswith("data_"):
                state = "out"
            elif state in ("header", "rows"):
                state = "rows"
                if atom_loop:
                    rows += 1
                    best = max(best, rows)
    return best


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
        from pymatgen.core import Structure

        if suffix == ".json":
            data = json.loads(path.read_text())
            items = data if isinstance(data, list) else [data]
            return [
                (path.stem if len(items) == 1 else f"{path.stem}#{i}", Structure.from_dict(d))
                for i, d in enumerate(items)
            ]
        if suffix == ".cif":
            # pymatgen's CIF parser merges sites pairwise: a 10,000-atom P1 cell takes minutes,
            # so the atom cap is applied to the file's site rows before it parses
            sites = _cif_site_rows(path)
            limits = current_limits()
            if sites > limits.max_atoms:
                raise StructureError(f"{path}: {sites:,} atom sites, more than the cap of {limits.max_atoms:,} "
                                     "(raise it with --max-atoms or LITRAJ_MAX_ATOMS)", reason="too_many_atoms")
        return [(path.stem, Structure.from_file(path))]
    except StructureError:
        raise
    except DataFormatError as exc:  # the extxyz reader's named reasons (truncated, not_utf8, ...)
        raise StructureError(str(exc), reason="read_error") from exc
    except Exception as exc:  # parsers raise anything from ValueError to IndexError
        raise StructureError(f"{path}: cannot read structure ({exc})", reason="read_error") from exc


# --------------------------------------------------------------------------- calculator inputs


@dataclass(frozen=True)
class StructureLimits:
    """Caps on the structures a calculator accepts (time and memory grow with each).

    The defaults cover every structure of the LiTraj datasets with a wide margin (BVEL13k:
    at most 160 atoms and 1,500 A^3; hop supercells: a few hundred atoms) and refuse, at
    once and with a reason, inputs that would run for hours or allocate more memory than a
    workstation has. Raise them with ``--max-atoms`` / ``--max-volume`` /
    ``--max-grid-points`` or the environment variables ``LITRAJ_MAX_ATOMS``,
    ``LITRAJ_MAX_VOLUME``, ``LITRAJ_MAX_GRID_POINTS`` (which worker processes inherit).

    Attributes
    ----------
    max_atoms : int
        Atoms of one structure (2,000).
    max_volume : float
        Cell volume in A^3 (50,000: a 37 A cube).
    max_grid_points : int
        Points of a BVSE grid (10,000,000: 80 MB per float64 field; 50,000 A^3 at 0.2 A
        is 6.25 million).
    """

    max_atoms: int = 2000
    max_volume: float = 50_000.0
    max_grid_points: int = 10_000_000


_ENV = {"max_atoms": "LITRAJ_MAX_ATOMS", "max_volume": "LITRAJ_MAX_VOLUME", "max_grid_points": "LITRAJ_MAX_GRID_POINTS"}


def current_limits() -> StructureLimits:
    """The defaults, overridden by ``LITRAJ_MAX_ATOMS`` / ``LITRAJ_MAX_VOLUME`` / ``LITRAJ_MAX_GRID_POINTS``.

    Raises
    ------
    DataFormatError
        ``bad_limit`` for a value that is not a positive number.
    """
    values: dict[str, Any] = {}
    for f in fields(StructureLimits):
        text = os.environ.get(_ENV[f.name])
        if text is None:
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise DataFormatError(f"{_ENV[f.name]}={text!r}: expected a positive number", reason="bad_limit")
        values[f.name] = int(value) if f.type in ("int", int) else value
    return replace(StructureLimits(), **values)


@contextmanager
def structure_limits(max_atoms: int | None = None, max_volume: float | None = None,
                     max_grid_points: int | None = None) -> Iterator[StructureLimits]:
    """Raise (or lower) the caps of :func:`check_structure` inside a ``with`` block.

    The values travel in the environment (``LITRAJ_MAX_*``), so worker processes started
    inside the block apply them too; the previous values are restored on exit. ``None``
    keeps a cap as it is. The CLI's ``--max-atoms`` ... options use this.
    """
    given = {"max_atoms": max_atoms, "max_volume": max_volume, "max_grid_points": max_grid_points}
    saved = {k: os.environ.get(_ENV[k]) for k in given}
    try:
        for key, value in given.items():
            if value is not None:
                os.environ[_ENV[key]] = repr(value)
        yield current_limits()
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(_ENV[key], None)
            else:
                os.environ[_ENV[key]] = old


def add_limit_options(parser: Any) -> None:
    """``--max-atoms``, ``--max-volume``, ``--max-grid-points`` on a calculator command."""
    d = StructureLimits()
    parser.add_argument("--max-atoms", type=int, default=None, metavar="N",
                        help=f"refuse structures with more atoms (default {d.max_atoms:,}; LITRAJ_MAX_ATOMS)")
    parser.add_argument("--max-volume", type=float, default=None, metavar="A3",
                        help=f"refuse cells larger than this, in A^3 (default {d.max_volume:,.0f}; LITRAJ_MAX_VOLUME)")
    parser.add_argument("--max-grid-points", type=int, default=None, metavar="N",
                        help=f"refuse BVSE grids with more points (default {d.max_grid_points:,}; "
                        "LITRAJ_MAX_GRID_POINTS)")


def limits_from_args(args: Any):  # -> contextmanager of StructureLimits
    """:func:`structure_limits` with the values of :func:`add_limit_options` (absent options: unchanged)."""
    return structure_limits(getattr(args, "max_atoms", None), getattr(args, "max_volume", None),
                            getattr(args, "max_grid_points", None))


def with_limits(command: Any) -> Any:
    """Wrap a CLI command ``func(args) -> int`` so that it runs under :func:`limits_from_args`."""
    import functools

    @functools.wraps(command)
    def run(args: Any) -> Any:
        with limits_from_args(args):
            return command(args)

    return run


#: a cell whose volume is below this fraction of a*b*c has (nearly) coplanar lattice vectors:
#: real crystals are far above it (a triclinic cell with 20 degree angles is at 0.04)
DEGENERACY = 1e-3


def cell_problem(cell: Any) -> str | None:
    """Why ``cell`` (3x3, lattice vectors as rows) is not a usable periodic cell, or None.

    Zero, non-finite or (nearly) coplanar lattice vectors; the message gives the volume.
    Plain float arithmetic: it runs once per imported row, where numpy's per-call
    overhead would cost more than the 30 multiplications.
    """
    try:
        (ax, ay, az), (bx, by, bz), (cx, cy, cz) = np.asarray(cell, dtype=float).reshape(3, 3).tolist()
    except (TypeError, ValueError):
        return "the cell is not a 3x3 matrix"
    values = (ax, ay, az, bx, by, bz, cx, cy, cz)
    if not all(math.isfinite(v) for v in values):
        return "the cell holds non-finite numbers"
    volume = abs(ax * (by * cz - bz * cy) - ay * (bx * cz - bz * cx) + az * (bx * cy - by * cx))
    lengths = (math.sqrt(ax * ax + ay * ay + az * az), math.sqrt(bx * bx + by * by + bz * bz),
               math.sqrt(cx * cx + cy * cy + cz * cz))
    if not (min(lengths) > 0 and math.isfinite(volume) and volume > DEGENERACY * lengths[0] * lengths[1] * lengths[2]):
        return (f"the cell is degenerate (volume {volume:.3g} A^3, lattice lengths "
                f"{[round(x, 4) for x in lengths]} A)")
    return None


def _geometry(obj: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(numbers, positions, cell)`` of ASE Atoms, a pymatgen Structure or a row mapping."""
    if hasattr(obj, "get_atomic_numbers"):  # ASE Atoms
        return np.asarray(obj.numbers), np.asarray(obj.positions, dtype=float), np.asarray(obj.cell[:], dtype=float)
    if hasattr(obj, "lattice") and hasattr(obj, "sites"):  # pymatgen Structure
        if not obj.is_ordered:
            raise StructureError("partially occupied sites (a disordered structure): order it first, e.g. with "
                                 "pymatgen's OrderDisorderedStructureTransformation", reason="disordered")
        numbers = np.array([getattr(site.specie, "Z", 0) for site in obj], dtype=int)
        return numbers, np.asarray(obj.cart_coords, dtype=float).reshape(-1, 3), np.asarray(obj.lattice.matrix, float)
    if isinstance(obj, Mapping):
        try:
            return (np.asarray(obj["numbers"]), np.asarray(obj["positions"], dtype=float).reshape(-1, 3),
                    np.asarray(obj["cell"], dtype=float))
        except (KeyError, TypeError, ValueError) as exc:
            raise StructureError(f"a row needs numbers, positions and cell ({exc})", reason="read_error") from exc
    raise StructureError(f"expected ASE Atoms, a pymatgen Structure or a row, got {type(obj).__name__}",
                         reason="read_error")


def check_structure(structure: Any, what: str = "structure", *, resolution: float | None = None,
                    grid_shape: tuple[int, int, int] | None = None,
                    limits: StructureLimits | None = None) -> None:
    """Refuse a structure that a calculator cannot or should not handle, with a reason.

    The one check of calculator inputs: ``litraj bvel``, ``hops``, ``features``,
    ``screen`` and the structure builders call it before any work.

    Parameters
    ----------
    structure
        ASE ``Atoms``, pymatgen ``Structure`` or a row (``numbers``, ``positions``, ``cell``).
    what
        Its name, for the message.
    resolution, grid_shape
        The grid a BVSE calculation will sample (spacing in A, or the explicit shape):
        its points are counted against ``max_grid_points``.
    limits
        Caps (default :func:`current_limits`).

    Raises
    ------
    StructureError
        ``disordered`` (partial occupancies), ``no_atoms``, ``too_many_atoms``,
        ``non_finite`` (positions), ``degenerate_cell`` (zero, non-finite or coplanar
        lattice vectors), ``cell_too_large`` (volume), ``grid_too_large``.
    """
    limits = limits or current_limits()
    numbers, positions, cell = _geometry(structure)
    n = len(numbers)
    if n == 0:
        raise StructureError(f"{what}: no atoms", reason="no_atoms")
    if n > limits.max_atoms:
        raise StructureError(f"{what}: {n:,} atoms, more than the cap of {limits.max_atoms:,} (raise it with "
                             "--max-atoms or LITRAJ_MAX_ATOMS)", reason="too_many_atoms")
    if positions.shape != (n, 3) or not np.isfinite(positions).all():
        raise StructureError(f"{what}: positions are not {n} finite 3-vectors", reason="non_finite")
    problem = cell_problem(cell)
    if problem:
        raise StructureError(f"{what}: {problem}", reason="degenerate_cell")
    volume = abs(float(np.linalg.det(np.asarray(cell, float).reshape(3, 3))))
    if volume > limits.max_volume:
        raise StructureError(f"{what}: cell volume {volume:.4g} A^3, more than the cap of {limits.max_volume:,.0f} "
                             "A^3 (raise it with --max-volume or LITRAJ_MAX_VOLUME)", reason="cell_too_large")
    if grid_shape is not None or resolution is not None:
        if grid_shape is not None:
            shape = [int(x) for x in grid_shape]
        else:
            lengths = np.linalg.norm(np.asarray(cell, float).reshape(3, 3), axis=1)
            shape = [max(3, math.ceil(x / resolution - 1e-9)) for x in lengths]
        points = math.prod(shape)
        if points > limits.max_grid_points:
            raise StructureError(f"{what}: a grid of {'x'.join(map(str, shape))} = {points:,} points, more than the "
                                 f"cap of {limits.max_grid_points:,} (a coarser resolution, or --max-grid-points / "
                                 "LITRAJ_MAX_GRID_POINTS)", reason="grid_too_large")


# --------------------------------------------------------------------------- dataset rows


def _row_fail(where: str, message: str, reason: str) -> DataFormatError:
    return DataFormatError(f"{where}: {message}", reason=reason)


def _flat(value: Any) -> np.ndarray:
    """Every number of a (possibly ragged) nested list/array, as one float vector."""
    if isinstance(value, np.ndarray):
        return value.astype(float).ravel()
    if isinstance(value, (list, tuple)):
        parts = [_flat(v) for v in value]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.asarray([value], dtype=float)


def _check_finite(row: Mapping[str, Any], config: "DatasetConfig", where: str) -> None:
    for col in config.columns:
        value = row.get(col.name)
        if value is None and not col.nullable:
            raise _row_fail(where, f"{col.name} is missing (from {col.source}); every row of {config.name} has one",
                            "missing_value")
        if value is None or col.kind in ("string", "json", "bool", "bool3", "int32", "int64", "int32_list"):
            continue
        if col.kind == "float64":
            try:
                v = float(value)
            except (TypeError, ValueError) as exc:
                raise _row_fail(where, f"{col.name} is not a number ({value!r})", "bad_value") from exc
            if math.isnan(v) or (math.isinf(v) and not (col.allow_inf and v > 0)):
                raise _row_fail(where, f"{col.name} is {v} (not a finite number)", "non_finite")
            continue
        try:
            arr = _flat(value)
        except (TypeError, ValueError) as exc:
            raise _row_fail(where, f"{col.name} is not numeric ({exc})", "bad_value") from exc
        if not np.all(np.isfinite(arr)):
            raise _row_fail(where, f"{col.name} holds non-finite values", "non_finite")


def _shaped(row: Mapping[str, Any], key: str, shape: tuple[int, ...], where: str) -> np.ndarray | None:
    """``row[key]`` as a float array of exactly ``shape`` (None when the row has no value)."""
    value = row.get(key)
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise _row_fail(where, f"{key} is ragged, expected shape {shape} ({exc})", "bad_shape") from exc
    if arr.shape != shape:
        raise _row_fail(where, f"{key} has shape {arr.shape}, expected {shape} (one row per atom)", "bad_shape")
    return arr


def _check_dummies(numbers: np.ndarray, expected: int | None, where: str, what: str) -> None:
    if expected is None:
        return
    found = int(np.count_nonzero(numbers == 0))
    if found != expected:
        raise _row_fail(where, f"{what} holds {found} dummy atoms X (atomic number 0); this dataset's frames hold "
                        f"exactly {expected}", "dummy_count")


def _elements(numbers: np.ndarray) -> set[str]:
    from ase.data import chemical_symbols

    return {chemical_symbols[z] for z in set(np.asarray(numbers).tolist()) if 0 < z < len(chemical_symbols)}


def _check_band(row: Mapping[str, Any], rules: Mapping[str, Any], where: str) -> None:
    numbers = np.asarray(row["band_numbers"])
    m = len(numbers)
    if m < rules["min_atoms"]:
        raise _row_fail(where, f"the band images hold {m} atoms", "no_atoms")
    _check_dummies(numbers, rules.get("band_dummy_atoms"), where, "the band")
    for part in ("init", "relaxed"):
        positions = row.get(f"{part}_positions")
        if positions is None:
            continue
        k = len(positions)
        if k < rules["min_band_images"]:
            raise _row_fail(where, f"the {part} band has {k} images; a band has at least {rules['min_band_images']} "
                            "(two end points and one image between)", "bad_band")
        _shaped(row, f"{part}_positions", (k, m, 3), where)
        energies = row.get(f"{part}_energies")
        if energies is not None:
            _shaped(row, f"{part}_energies", (k,), where)
        forces = row.get(f"{part}_forces")
        if forces is not None:
            _shaped(row, f"{part}_forces", (k, m, 3), where)
        cell = row.get(f"{part}_cell")
        if cell is not None and rules["positive_volume"]:
            problem = cell_problem(cell)
            if problem:
                raise _row_fail(where, f"{part} band: {problem}", "degenerate_cell")


def check_row(row: Mapping[str, Any], config: "DatasetConfig", where: str) -> None:
    """Refuse a dataset row that breaks its card: the one check of rows, on import and on builds.

    Always: floats finite (a column may hold ``+inf`` only where it says ``allow_inf``;
    NaN never), per-atom arrays of the atom count (``positions``, ``forces``: N x 3,
    ``stress``: 6, band images: images x N x 3, one energy per image). Then the card's
    ``rules`` (``registry/datasets/NAME.yaml``): ``min_atoms``, ``periodic``,
    ``positive_volume`` (finite, non-degenerate cell), ``dummy_atoms`` /
    ``band_dummy_atoms`` (the exact count of dummy X), ``min_band_images``,
    ``non_negative`` (barriers >= -``barrier_tolerance`` eV), ``chemsys_from_frames`` (the
    row's ``chemsys`` names the elements of its atoms).

    Parameters
    ----------
    row : mapping
        Column name -> value, as a builder yields it.
    config : DatasetConfig
        The dataset's card.
    where : str
        ``file:line`` (or another pointer at the input) for the message.

    Raises
    ------
    DataFormatError
        ``missing_value`` (a column the card does not make nullable), ``non_finite``,
        ``bad_value``, ``bad_shape``, ``no_atoms``, ``not_periodic``,
        ``degenerate_cell``, ``dummy_count``, ``bad_band``, ``negative_barrier``,
        ``chemsys_mismatch``; the message starts with ``where``.
    """
    _check_finite(row, config, where)
    rules = config.rules
    numbers = row.get("numbers")
    if numbers is not None:
        numbers = np.asarray(numbers)
        n = len(numbers)
        if n < rules["min_atoms"]:
            raise _row_fail(where, f"the frame holds {n} atoms (at least {rules['min_atoms']} expected)", "no_atoms")
        _shaped(row, "positions", (n, 3), where)
        if row.get("forces") is not None:
            _shaped(row, "forces", (n, 3), where)
        stress = row.get("stress")
        if stress is not None and np.size(stress) != 6:
            raise _row_fail(where, f"stress has {np.size(stress)} components, expected 6 (Voigt)", "bad_shape")
        pbc = row.get("pbc")
        if rules["periodic"] and pbc is not None and not bool(np.all(np.asarray(pbc, dtype=bool))):
            raise _row_fail(where, f"pbc is {np.asarray(pbc, dtype=bool).tolist()}; this dataset holds 3D-periodic "
                            "crystals", "not_periodic")
        cell = row.get("cell")
        if cell is not None and rules["positive_volume"]:
            problem = cell_problem(cell)
            if problem:
                raise _row_fail(where, problem, "degenerate_cell")
        _check_dummies(numbers, rules.get("dummy_atoms"), where, "the frame")
        chemsys = row.get("chemsys")
        if chemsys is not None and rules["chemsys_from_frames"]:
            given = {e.strip() for e in str(chemsys).split("-") if e.strip()}
            derived = _elements(numbers)
            if given != derived:
                raise _row_fail(where, f"chemsys {str(chemsys)[:80]!r} (index) but the frame holds "
                                f"{'-'.join(sorted(derived))}", "chemsys_mismatch")
    if row.get("band_numbers") is not None:
        _check_band(row, rules, where)
    tol = rules["barrier_tolerance"]
    for name in rules["non_negative"]:
        value = row.get(name)
        if value is not None and float(value) < -tol:
            raise _row_fail(where, f"{name} = {float(value)!r} eV: a barrier is max - min of an energy profile, "
                            f"never below 0 (tolerance {tol:g} eV)", "negative_barrier")
