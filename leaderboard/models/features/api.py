"""``featurize`` one structure or hop, ``featurize_table`` over dataset rows, with a per-structure cache."""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from litraj_data.errors import LitrajError, StructureError
from litraj_data.lazy import lazy_import
from litraj_data.structures import check_structure

__all__ = ["FEATURE_SETS", "KINDS", "FEATURES_VERSION", "featurize", "featurize_table", "as_arrays",
           "feature_cache_dir"]

FEATURE_SETS = ("voronoi", "ward")
KINDS = ("structure", "hop")
FEATURES_VERSION = "1"  # bump when a definition changes: cached values of other versions are not reused


def as_arrays(obj: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(numbers, positions, cell, given oxidation states or None)`` of Atoms, Structure or a row.

    The dummy atom X (hop centroid) has atomic number 0 in every form.
    """
    if hasattr(obj, "get_atomic_numbers"):  # ASE Atoms
        oxi = obj.arrays.get("oxi_states")
        return (np.asarray(obj.numbers, int), np.asarray(obj.positions, float), np.asarray(obj.cell[:], float),
                None if oxi is None else np.asarray(oxi, float))
    if hasattr(obj, "lattice") and hasattr(obj, "sites"):  # pymatgen Structure
        if not obj.is_ordered:  # partial occupancies have no one species per site
            check_structure(obj)  # raises StructureError(reason="disordered")
        numbers = np.array([max(0, int(getattr(s.specie, "Z", 0))) if getattr(s.specie, "symbol", "") != "X"
                            else 0 for s in obj], dtype=int)
        oxi = [getattr(s.specie, "oxi_state", None) for s in obj]
        given = None if any(o is None for o in oxi) else np.asarray(oxi, float)
        return numbers, np.asarray(obj.cart_coords, float), np.asarray(obj.lattice.matrix, float), given
    if isinstance(obj, Mapping):
        try:
            numbers = np.asarray(obj["numbers"], dtype=int)
            positions = np.stack(list(obj["positions"])).astype(float).reshape(-1, 3)
            cell = np.stack(list(obj["cell"])).astype(float).reshape(3, 3)
        except (KeyError, ValueError, TypeError) as exc:
            raise StructureError(f"a row needs numbers, positions and cell ({exc})", reason="read_error") from exc
        return numbers, positions, cell, None
    raise StructureError(f"cannot featurize a {type(obj).__name__}: pass ASE Atoms, a pymatgen Structure "
                         "or a row with numbers/positions/cell", reason="read_error")


def _check(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray) -> None:
    if len(numbers) == 0 or positions.shape != (len(numbers), 3):
        raise StructureError("empty structure or positions of the wrong shape", reason="read_error")
    if not np.isfinite(positions).all() or not np.isfinite(cell).all() or abs(np.linalg.det(cell)) < 1e-6:
        raise StructureError("non-finite coordinates or a singular cell", reason="read_error")


_OXI_MEMO: dict[str, np.ndarray] = {}  # framework digest -> states: the hops of one supercell share them


def _oxidation(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, given: np.ndarray | None) -> np.ndarray:
    """Oxidation states from the project's oxidation module, memoised per exact framework.

    Every hop row of a structure carries the same supercell (only X moves), and BVAnalyzer
    on a supercell costs far more than the features; one assignment serves them all.
    """
    from ase import Atoms

    from litraj_data.leaderboard.reference.physics.oxidation import oxidation_states

    if given is None:
        h = hashlib.sha256()
        for a in (numbers.astype(np.int64), positions.astype(np.float64), cell.astype(np.float64)):
            h.update(np.ascontiguousarray(a).tobytes())
        key = h.hexdigest()
        if key in _OXI_MEMO:
            return _OXI_MEMO[key]
    atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=True)
    if given is not None:
        atoms.set_array("oxi_states", np.asarray(given, float))
    oxi = oxidation_states(atoms, mobile="Li")
    if given is None:
        if len(_OXI_MEMO) > 256:
            _OXI_MEMO.clear()
        _OXI_MEMO[key] = oxi
    return oxi


def feature_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``<litraj cache>/features``: the cache folder of ``litraj_data.loaders.cache`` + ``features``."""
    from litraj_data.loaders.cache import cache_root

    return cache_root(cache_dir) / "features"


def _edge_id(obj: Any) -> str | None:
    """The hop's ``edge_id`` from a row or ``atoms.info`` (it disambiguates hops sharing a midpoint)."""
    if isinstance(obj, Mapping):
        value = obj.get("edge_id")
    else:
        value = getattr(obj, "info", {}).get("edge_id") if hasattr(obj, "info") else None
    return None if value is None else str(value)


def _digest(feature_set: str, kind: str, numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray,
            oxi: np.ndarray | None, edge_id: str | None = None) -> str:
    h = hashlib.sha256(f"{FEATURES_VERSION}|{feature_set}|{kind}|{edge_id or ''}|".encode())
    for a in (numbers.astype(np.int64), positions.astype(np.float64), cell.astype(np.float64)):
        h.update(np.ascontiguousarray(a).tobytes())
    if oxi is not None:
        h.update(np.ascontiguousarray(oxi, dtype=np.float64).tobytes())
    return h.hexdigest()


def _compute(feature_set: str, kind: str, numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray,
             given: np.ndarray | None, edge_id: str | None = None) -> dict[str, float]:
    if kind == "hop":
        from litraj_data.leaderboard.models.features.voronoi import hop_endpoints

        source, target, offset = hop_endpoints(numbers, positions, cell, edge_id=edge_id)
        keep = numbers != 0
        # indices of the Li end points among the atoms without X
        remap = np.cumsum(keep) - 1
        source, target = int(remap[source]), int(remap[target])
        numbers, positions = numbers[keep], positions[keep]
        given = None if given is None else given[keep]
    elif (numbers == 0).any():
        raise StructureError("a structure with a dummy atom X is a hop: use kind='hop'", reason="read_error")
    if feature_set == "ward":
        from pymatgen.core import Lattice, Structure

        from litraj_data.leaderboard.models.features.ward import ward_features

        return ward_features(Structure(Lattice(cell), numbers.tolist(), positions, coords_are_cartesian=True))
    oxi = _oxidation(numbers, positions, cell, given)
    from litraj_data.leaderboard.models.features import voronoi

    if kind == "hop":
        return voronoi.hop_features(numbers, positions, cell, oxi, source, target, offset)
    return voronoi.structure_features(numbers, positions, cell, oxi)


def featurize(structure: Any, set: str = "voronoi", kind: str = "structure", *, cache: bool = True,
              cache_dir: str | os.PathLike | None = None) -> dict[str, float]:
    """Features of one structure (BVEL13k) or one hop centroid supercell (nebBVSE122k, nebDFT2k).

    Parameters
    ----------
    structure
        ASE ``Atoms``, pymatgen ``Structure`` or a dataset row (``numbers``/``positions``/
        ``cell``). For ``kind="hop"`` it carries the dummy atom X (Z = 0) at the hop midpoint,
        and an ``edge_id`` (row column or ``atoms.info``) when known: it names the hop where
        several Li pairs share the midpoint.
    set
        ``voronoi`` (the paper's SI S1 descriptors) or ``ward`` (Ward et al. 2017, matminer).
    kind
        ``structure`` or ``hop``.
    cache
        Reuse / store the result under :func:`feature_cache_dir` keyed by a digest of the
        feature set, kind, definition version and the exact structure.

    Returns
    -------
    dict
        Column name -> float (NaN where a value is undefined, e.g. an ion without Shannon radius).

    Raises
    ------
    StructureError
        With a ``reason`` (``read_error``, ``disordered``, ``too_many_atoms``, ``cell_too_large``,
        ``degenerate_cell`` (:func:`litraj_data.structures.check_structure`), ``no_mobile_ion``,
        ``no_centroid``, ``no_hop``, ``oxidation_states``, ``voronoi_unbounded``...).
    ValueError
        For an unknown ``set`` or ``kind``.
    """
    if set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {set!r}; choose from {', '.join(FEATURE_SETS)}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    numbers, positions, cell, given = as_arrays(structure)
    _check(numbers, positions, cell)
    # atom count, cell volume and shape caps before any work (a 10^12 A cell or 10^4 atoms
    # would otherwise run for minutes or allocate without bound)
    check_structure({"numbers": numbers, "positions": positions, "cell": cell})
    edge_id = _edge_id(structure) if kind == "hop" else None
    path = None
    if cache:
        key = _digest(set, kind, numbers, positions, cell, given, edge_id)
        path = feature_cache_dir(cache_dir) / set / key[:2] / f"{key}.json"
        try:
            stored = json.loads(path.read_text())
            return {k: (math.nan if v is None else float(v)) for k, v in stored["features"].items()}
        except FileNotFoundError:
            pass
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            pass  # a damaged entry is recomputed and overwritten
    feats = _compute(set, kind, numbers, positions, cell, given, edge_id)
    if path is not None:
        from litraj_data.io import atomic_write_json

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, {"version": FEATURES_VERSION, "set": set, "kind": kind, "features": feats},
                              indent=None)
        except OSError as exc:  # a read-only cache never fails featurisation
            print(f"features: cache not written ({exc})", file=sys.stderr)
    return feats


def _one(args: tuple[Any, str, str, bool, Any]) -> tuple[dict[str, float] | None, tuple[str, str] | None]:
    row, feature_set, kind, cache, cache_dir = args
    try:
        return featurize(row, feature_set, kind, cache=cache, cache_dir=cache_dir), None
    except LitrajError as exc:  # a per-structure failure is a record, never fatal
        return None, (exc.reason, str(exc))
    except (ValueError, RuntimeError, ArithmeticError) as exc:  # qhull / numerical trouble on one structure
        return None, (type(exc).__name__, str(exc))


def featurize_table(rows: Iterable[Mapping[str, Any]] | Any, set: str = "voronoi", kind: str = "structure", *,
                    jobs: int = 1, cache: bool = True, cache_dir: str | os.PathLike | None = None,
                    progress: bool = False) -> tuple[Any, list[dict[str, str]]]:
    """Feature table of dataset rows (one row per input row, NaN rows where featurisation failed).

    Parameters
    ----------
    rows
        A pandas DataFrame or an iterable of row dicts with the structure block.
    set, kind
        As :func:`featurize`.
    jobs
        Worker processes.
    progress
        A tqdm bar on stderr.

    Returns
    -------
    tuple
        ``(DataFrame of features with sorted column names, failures)``; a failure is
        ``{"row", "reason", "message"}``.
    """
    pd = lazy_import("pandas")

    if set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {set!r}; choose from {', '.join(FEATURE_SETS)}")
    if hasattr(rows, "to_dict"):
        cols = [c for c in ("edge_id", "numbers", "positions", "cell") if c in rows.columns]
        rows = rows[cols].to_dict("records")
    work = [(r, set, kind, cache, cache_dir) for r in rows]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(work), desc=f"features {set}", unit=kind, file=sys.stderr)
    results = []
    if jobs > 1 and len(work) >= 2 * jobs:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for res in pool.map(_one, work, chunksize=max(1, len(work) // (8 * jobs))):
                results.append(res)
                if bar is not None:
                    bar.update()
    else:
        for w in work:
            results.append(_one(w))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    names = sorted({k for f, _ in results if f for k in f})
    table = pd.DataFrame([[f.get(n, np.nan) for n in names] if f else [np.nan] * len(names) for f, _ in results],
                         columns=names, dtype=float)
    failures = [{"row": str(i), "reason": err[0], "message": err[1]} for i, (_, err) in enumerate(results) if err]
    return table, failures
