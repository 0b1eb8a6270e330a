"""What the builders that start from crystal structures share (BVEL13k, nebBVSE122k).

Reading the inputs, the digest recorded as the build's source, split tables or the
paper's rule, resumable row sources and the common CLI options. (The failures table is
written by :mod:`litraj_data.builders.failures`, the chemsys by :mod:`litraj_data.chemistry`.)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from litraj_data.builders.splits import assign_splits, read_split_table
from litraj_data.cli.options import add_json_option
from litraj_data.errors import DataFormatError, StructureError
from litraj_data.schema import structure_to_row
from litraj_data.structures import iter_structure_files, read_structures

#: Decimals kept of computed values. Computed floats differ in the last bits between BLAS
#: builds and CPUs (summation order), so the structure builders round what they store: a
#: rebuild on any machine then gives the same bytes. 1e-9 eV and 1e-10 Å are far below any
#: physical meaning (the BVSE grid alone is 0.2 Å) and above float64 noise (~1e-15 relative).
ENERGY_DECIMALS = 9
LENGTH_DECIMALS = 10


def stored(value: Any, decimals: int) -> Any:
    """``value`` (float or array) rounded to ``decimals``, with -0.0 made 0.0 and inf/nan kept.

    Rounding alone is not enough for identical bytes: a coordinate of +1e-17 on one machine
    and -1e-17 on another round to 0.0 and -0.0, so zero's sign is normalised too.
    """
    arr = np.round(np.asarray(value, dtype=np.float64), decimals) + 0.0
    return float(arr) if arr.ndim == 0 else arr


def stored_structure(row: Mapping[str, Any]) -> dict[str, Any]:
    """A structure block (``numbers``, ``positions``, ``cell``, ``pbc``) with lengths as stored."""
    return {**row, "positions": stored(row["positions"], LENGTH_DECIMALS), "cell": stored(row["cell"], LENGTH_DECIMALS)}


def elements(structure: Any) -> set[str]:
    """Element symbols of a pymatgen structure (disordered sites count each of their elements)."""
    return {el.symbol for el in structure.composition.elements}


def structures_digest(structures: Sequence[tuple[str, Any]]) -> str:
    """sha256 over ids and contents (see :func:`structure_digest`): the build's input."""
    h = hashlib.sha256()
    for name, s in structures:
        h.update(name.encode() + b"\0" + structure_digest(s).encode())
    return "sha256:" + h.hexdigest()


def read_structure_inputs(paths: Sequence[str | Path],
                          failures: list[dict[str, str]] | None = None) -> list[tuple[str, Any]]:
    """All structures in files/folders, with unique ids (duplicates are an error).

    Parameters
    ----------
    paths : sequence of path
        Files or folders.
    failures : list, optional
        When given, a file that cannot be read becomes a row here (``material_id`` = the file
        stem, ``reason`` = ``read_error``, ``message``) and the others are still read;
        otherwise it raises.

    Raises
    ------
    DataFormatError
        No structure at all, or duplicate material ids.
    StructureError
        An unreadable file, when ``failures`` is None.
    """
    out: list[tuple[str, Any]] = []
    for path in iter_structure_files(list(paths)):
        try:
            out += read_structures(path)
        except StructureError as exc:
            if failures is None:
                raise
            failures.append({"material_id": Path(path).stem, "edge_id": "", "reason": exc.reason, "message": str(exc)})
    if not out:
        raise DataFormatError(f"no readable structures in {', '.join(map(str, paths))}", reason="no_structures")
    names = [n for n, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataFormatError(f"duplicate material ids among the inputs: {dup[:5]}", reason="duplicate_id")
    return out


def structure_digest(structure: Any) -> str:
    """sha256 of one structure's content (numbers, cell, positions rounded to 1e-8 Å, occupancies)."""
    h = hashlib.sha256()
    if structure.is_ordered:
        row = structure_to_row(structure)
        for key in ("numbers", "cell", "positions"):
            h.update(np.ascontiguousarray(np.round(np.asarray(row[key], dtype=float), 8)).tobytes())
    else:  # a disordered structure has no single species per site: hash its full description
        h.update(json.dumps(structure.as_dict(), sort_keys=True, default=str).encode())
    return h.hexdigest()


def resolve_splits(splits: str | Path | Mapping[str, str] | None, computed: Iterable[str],
                   structures: Mapping[str, Any], seed: int) -> dict[str, str]:
    """The split of every computed structure: from a table/mapping, else the paper's rule.

    Raises
    ------
    DataFormatError
        When a table is given and lacks some computed structures.
    """
    computed = list(computed)
    if splits is None:
        return assign_splits({i: elements(structures[i]) for i in computed}, seed=seed)
    table = dict(splits) if isinstance(splits, Mapping) else read_split_table(splits)
    missing = [i for i in computed if i not in table]
    if missing:
        raise DataFormatError(f"{len(missing)} structures have no split in the table, e.g. {missing[:5]}",
                              reason="missing_split")
    return table


def split_sources(rows: Callable[[str], Iterator[dict[str, Any]]], table: Mapping[str, str],
                  computed: Iterable[str]) -> dict[str, Callable[[int], Iterator[dict[str, Any]]]]:
    """Row sources of the non-empty splits for ``write_dataset`` (each skips rows on resume)."""
    computed = set(computed)

    def source(split: str) -> Callable[[int], Iterator[dict[str, Any]]]:
        def gen(skip: int) -> Iterator[dict[str, Any]]:
            for i, row in enumerate(rows(split)):
                if i >= skip:
                    yield row
        return gen

    present = [s for s in ("train", "val", "test") if any(table.get(i) == s for i in computed)]
    return {s: source(s) for s in present}


def empty_split_notes(table: Mapping[str, str], computed: Iterable[str]) -> list[str]:
    """A note (and a warning) naming the standard splits that no computed structure fell into.

    The 8:1:1 rule splits by structure, so a handful of structures leaves val and test
    empty; the build goes on (a train-only build is useful) but says so, in its manifest
    notes and dataset card, instead of silently writing fewer splits.
    """
    computed = set(computed)
    present = {table.get(i) for i in computed}
    empty = [s for s in ("train", "val", "test") if s not in present]
    if not empty:
        return []
    note = (f"empty splits: {', '.join(empty)} (no computed structure fell into them; {len(computed)} structures "
            "split 8:1:1 by structure; pass --splits TABLE to choose)")
    warnings.warn(note, stacklevel=2)
    return [note]


def add_common_arguments(parser: argparse.ArgumentParser, dataset: str) -> None:
    """Options every structure builder takes."""
    parser.add_argument("--structures", nargs="+", required=True,
                        help="structure files or folders (CIF, POSCAR, extxyz, pymatgen JSON)")
    parser.add_argument("--out", required=True, help=f"output root (writes OUT/{dataset}/VERSION)")
    parser.add_argument("--splits", default=None,
                        help="split table CSV (material_id, split); default: the paper's 8:1:1 rule")
    parser.add_argument("--seed", type=int, default=0, help="seed of the 8:1:1 split (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler address (tcp://host:8786): one task per structure on that cluster")
    parser.add_argument("--staging", default=None, help=f"checkpoint folder (default OUT/.{dataset}-jobs)")
    parser.add_argument("--version", default=None, help="dataset version (default: the card's)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    add_json_option(parser)


def report_build(args: argparse.Namespace, folder: Path) -> int:
    """Print what a build wrote (one JSON document with --json)."""
    man = json.loads((Path(folder) / "manifest.json").read_text())
    counts = {s: r["num_rows"] for s, r in man["splits"].items()}
    if getattr(args, "json", False):
        print(json.dumps({"records": [{"file": str(folder), "dataset": man["dataset"], "version": man["version"],
                                       "splits": counts, "notes": man.get("notes", []),
                                       "empty_splits": [s for s in ("train", "val", "test") if not counts.get(s)]}]}))
    else:
        print(f"built {man['dataset']} {man['version']} in {folder}: "
              + ", ".join(f"{s} {n}" for s, n in counts.items()))
    empty = [s for s in ("train", "val", "test") if not counts.get(s)]
    if empty:  # on stderr, so that --json stays one document
        print(f"litraj: warning: {man['dataset']} {man['version']} has no rows in {', '.join(empty)} "
              "(too few structures for the 8:1:1 split, or a split table without them)", file=sys.stderr)
    return 0
