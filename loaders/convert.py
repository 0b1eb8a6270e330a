"""Rows of a loaded split as ASE ``Atoms``, pymatgen ``Structure``, PyG ``Data`` or numpy batches.

Conversions read the Arrow buffers directly (positions of a batch are one contiguous
float64 array), so converting is a reshape and a slice per row rather than a walk over
Python lists. Each converter takes a row dict, or a ``datasets.Dataset`` (then it returns
a lazy iterator). The centroid dummy atom (atomic number 0) survives every conversion:
ASE symbol ``X``, pymatgen ``DummySpecies('X')``, and ``is_dummy`` in PyG.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa

from litraj_data.lazy import lazy_import
from litraj_data.store.atoms_codec import loads

ID_COLUMNS = ("material_id", "edge_id", "config_id", "chemsys")


# --------------------------------------------------------------------------- arrow -> numpy


def _list_values(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, flat values) of a list<...> array, zero-copy where Arrow allows."""
    if isinstance(arr, pa.ChunkedArray):
        arr = pa.concat_arrays(arr.chunks) if arr.num_chunks != 1 else arr.chunk(0)
    offsets = arr.offsets.to_numpy()
    offsets = offsets - offsets[0]  # a sliced batch does not start at offset 0
    values = arr.flatten()  # flatten() honours the slice; .values would not
    while isinstance(values, (pa.FixedSizeListArray, pa.ListArray)):
        values = values.flatten()
    return offsets, values.to_numpy(zero_copy_only=False)


def _fixed(arr: pa.Array, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = pa.concat_arrays(arr.chunks) if arr.num_chunks != 1 else arr.chunk(0)
    flat = arr
    while isinstance(flat, pa.FixedSizeListArray):
        flat = flat.flatten()
    return flat.to_numpy(zero_copy_only=False).reshape((len(arr),) + shape)


def iter_record_batches(ds: Any, batch_size: int = 1024,
                        columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Arrow record batches of a ``datasets.Dataset`` (honouring selections / shuffles)."""
    table = ds.data.table if hasattr(ds.data, "table") else ds.data
    if columns is not None:
        table = table.select(list(columns))
    indices = getattr(ds, "_indices", None)
    if indices is None:
        yield from table.to_batches(max_chunksize=batch_size)
        return
    # a select()/shuffle() view: gather one batch of rows at a time (flatten_indices would
    # rewrite the whole split to disk first)
    batches = table.to_batches()
    starts = np.cumsum([0] + [b.num_rows for b in batches])
    idx = indices.column(0).to_numpy().astype(np.int64)
    for start in range(0, len(idx), batch_size):
        yield _gather(batches, starts, idx[start:start + batch_size])


def _gather(batches: list[pa.RecordBatch], starts: np.ndarray, rows: np.ndarray) -> pa.RecordBatch:
    """Rows ``rows`` (global indices, any order) of a list of record batches, as one batch.

    Takes from each source batch only what it needs: ``Table.take`` on a many-chunk
    table would first concatenate every chunk, i.e. load the whole split.
    """
    which = np.searchsorted(starts, rows, side="right") - 1
    order = np.argsort(which, kind="stable")
    parts = []
    for b in np.unique(which):
        local = rows[which == b] - starts[b]
        parts.append(batches[b].take(pa.array(local)))
    gathered = pa.Table.from_batches(parts).combine_chunks().to_batches()
    merged = gathered[0] if len(gathered) == 1 else pa.Table.from_batches(gathered).combine_chunks().to_batches()[0]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return merged.take(pa.array(inverse))


def batch_arrays(batch: pa.RecordBatch) -> dict[str, Any]:
    """numpy views of one record batch: ragged columns as ``(offsets, values)``.

    Returns
    -------
    dict
        ``numbers``/``positions``/``forces``: flat arrays plus ``n_atoms`` and ``ptr``
        (offsets); ``cell`` (B, 3, 3), ``pbc`` (B, 3), ``stress`` (B, 6); scalar columns
        as 1-D arrays (strings as object arrays).
    """
    out: dict[str, Any] = {}
    names = batch.schema.names
    for name in names:
        col = batch.column(name)
        typ = col.type
        if name == "numbers":
            offsets, values = _list_values(col)
            out["numbers"] = values.astype(np.int64, copy=False)
            out["ptr"] = offsets.astype(np.int64)
            out["n_atoms"] = np.diff(out["ptr"])
        elif name in ("positions", "forces") and pa.types.is_list(typ):
            offsets, values = _list_values(col)
            out[name] = values.reshape(-1, 3)
        elif name == "cell" or name.endswith("_cell"):
            out[name] = _fixed(col, (3, 3))
        elif name in ("pbc", "band_pbc"):
            out[name] = _fixed(col, (3,))
        elif name == "stress":
            out[name] = _fixed(col, (6,)) if col.null_count == 0 else np.array(col.to_pylist(), dtype=object)
        elif pa.types.is_floating(typ) or pa.types.is_integer(typ):
            # nulls stay None (not NaN) so that "not computed" differs from a NaN value
            out[name] = (np.array(col.to_pylist(), dtype=object) if col.null_count
                         else col.to_numpy(zero_copy_only=False))
        elif pa.types.is_boolean(typ):
            out[name] = (np.array(col.to_pylist(), dtype=object) if col.null_count
                         else col.to_numpy(zero_copy_only=False))
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            out[name] = np.array(col.to_pylist(), dtype=object)
        else:  # nested band columns: keep them as Arrow for the caller
            out[name] = col
    return out


def iter_numpy_batches(ds: Any, batch_size: int = 1024,
                       columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """numpy batches of a split (see :func:`batch_arrays`), for training loops."""
    for batch in iter_record_batches(ds, batch_size, columns):
        yield batch_arrays(batch)


def iter_torch_batches(ds: Any, batch_size: int = 1024,
                       columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """torch batches: the numeric arrays of :func:`iter_numpy_batches` as tensors.

    A writable contiguous array is wrapped without a copy; an array that is a read-only view
    of the memory-mapped Arrow buffers is copied once, because a tensor has no read-only
    flag and writing into one that shares the map (an in-place normalisation, say) would be
    undefined behaviour (what torch's "NumPy array is not writable" warning is about).
    """
    torch = lazy_import("torch", extra="torch")

    def tensor(v: np.ndarray) -> Any:
        v = np.ascontiguousarray(v)
        return torch.from_numpy(v if v.flags.writeable else v.copy())

    for arrays in iter_numpy_batches(ds, batch_size, columns):
        yield {k: tensor(v) if isinstance(v, np.ndarray) and v.dtype != object else v for k, v in arrays.items()}


# --------------------------------------------------------------------------- ASE


def _info_columns(config: Any) -> list[str]:
    """Scalar columns of a card (ids, targets, flags) that go to ``atoms.info``."""
    if config is None:
        return list(ID_COLUMNS)
    return [c.name for c in config.columns if c.kind in ("string", "float64", "int32", "int64", "bool")
            and c.name not in SKIP_INFO]


def _slow_atoms(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> Any:
    from ase import Atoms

    return Atoms(numbers=numbers, positions=positions, cell=cell, pbc=pbc)


def _fast_atoms(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> Any:
    """``Atoms`` from already validated arrays, skipping ``Atoms.__init__``'s checks.

    ``Atoms.__init__`` costs ~50 µs of argument normalisation, more than the rest of a
    row's conversion. Rows from a shard are validated at build time, so the attributes
    are set directly; :func:`_pick_constructor` checks once that the result equals what
    ``Atoms.__init__`` makes and otherwise falls back to it (a future ASE).
    """
    from ase import Atoms
    from ase.cell import Cell

    atoms = Atoms.__new__(Atoms)
    atoms._cellobj = Cell(np.array(cell, dtype=float))
    atoms._pbc = np.array(pbc, dtype=bool)
    atoms.arrays = {"numbers": np.array(numbers, dtype=int), "positions": np.array(positions, dtype=float)}
    atoms._celldisp = np.zeros(3)
    atoms._constraints = []
    atoms.info = {}
    atoms._calc = None
    return atoms


def _pick_constructor() -> Any:
    probe = (np.array([3, 0, 8]), np.arange(9.0).reshape(3, 3) / 7, np.diag([3.0, 4.0, 5.0]) + 0.1,
             np.array([True, True, False]))
    slow, fast = _slow_atoms(*probe), _fast_atoms(*probe)
    same = (slow.__dict__.keys() == fast.__dict__.keys() and slow == fast
            and slow.get_chemical_symbols() == fast.get_chemical_symbols()
            and all(np.asarray(slow.__dict__[k]).dtype == np.asarray(fast.__dict__[k]).dtype
                    for k in ("_pbc", "_celldisp"))
            and all(slow.arrays[k].dtype == fast.arrays[k].dtype for k in slow.arrays))
    return _fast_atoms if same else _slow_atoms


_CONSTRUCTOR: Any = None


def _atoms_from_arrays(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray,
                       info: dict[str, Any], arrays_extra: str | None, calc: dict[str, Any] | None,
                       calc_extra: str | None) -> Any:
    from ase.calculators.singlepoint import SinglePointCalculator

    global _CONSTRUCTOR
    if _CONSTRUCTOR is None:
        _CONSTRUCTOR = _pick_constructor()
    atoms = _CONSTRUCTOR(numbers, positions, cell, pbc)
    atoms.info.update(info)
    for key, value in loads(arrays_extra).items():
        atoms.arrays[key] = np.asarray(value)
    if calc:
        results = {k: v for k, v in calc.items() if v is not None}
        results.update(loads(calc_extra))
        if results:
            atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def _config_for(ds: Any) -> Any:
    """The card whose columns are exactly those of ``ds`` (None for foreign data)."""
    from litraj_data.registry import get_config, list_datasets

    names = list(getattr(ds, "column_names", []) or [])
    for name in list_datasets():
        config = get_config(name)
        if config.column_names == names:
            return config
    return None


SKIP_INFO = {"info_extra", "arrays_extra", "calc_extra", "band_extras", "energy"}


def row_to_atoms(row: Mapping[str, Any], info_columns: Sequence[str] | None = None) -> Any:
    """ASE ``Atoms`` from one row dict (structure block, ids/targets in ``info``, calculator).

    ``info_columns`` defaults to every scalar column of the row (ids, targets, flags).
    """
    if info_columns is None:
        info_columns = [k for k, v in row.items()
                        if k not in SKIP_INFO and isinstance(v, (str, int, float, bool, np.generic))]
    info = {}
    for k in info_columns:
        if k in row and row[k] is not None:
            info[k] = row[k]
    info.update(loads(row.get("info_extra")))
    calc = {k: (np.asarray(row[k]) if k != "energy" else row[k]) for k in ("energy", "forces", "stress")
            if row.get(k) is not None}
    return _atoms_from_arrays(np.asarray(row["numbers"]), np.asarray(row["positions"], dtype=float).reshape(-1, 3),
                              np.asarray(row["cell"], dtype=float).reshape(3, 3), np.asarray(row["pbc"], dtype=bool),
                              info, row.get("arrays_extra"), calc, row.get("calc_extra"))


def iter_atoms(ds: Any, batch_size: int = 1024, info_columns: Sequence[str] | None = None) -> Iterator[Any]:
    """ASE ``Atoms`` of every row of a split, streamed batch by batch from the Arrow buffers."""
    config = _config_for(ds)
    info_columns = list(info_columns) if info_columns is not None else _info_columns(config)
    for batch in iter_record_batches(ds, batch_size):
        arr = batch_arrays(batch)
        ptr = arr["ptr"]
        scalars = {k: arr[k] for k in info_columns if k in arr}
        has_calc = "energy" in arr
        for i in range(batch.num_rows):
            a, b = ptr[i], ptr[i + 1]
            info = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in scalars.items()}
            info = {k: v for k, v in info.items() if v is not None}
            extra = arr.get("info_extra")
            if extra is not None and extra[i]:
                info.update(loads(extra[i]))
            calc = None
            if has_calc:
                stress = arr.get("stress")
                calc = {"energy": None if arr["energy"][i] is None else float(arr["energy"][i]),
                        "forces": arr["forces"][a:b] if "forces" in arr else None,
                        "stress": None if stress is None or stress[i] is None else np.asarray(stress[i], dtype=float)}
            yield _atoms_from_arrays(arr["numbers"][a:b], arr["positions"][a:b], arr["cell"][i], arr["pbc"][i], info,
                                     arr["arrays_extra"][i] if "arrays_extra" in arr else None, calc,
                                     arr["calc_extra"][i] if "calc_extra" in arr else None)


def to_ase(data: Any, batch_size: int = 1024) -> Any:
    """ASE ``Atoms`` of a row dict, or a lazy iterator over a ``Dataset`` (dummy atom -> 'X')."""
    if isinstance(data, Mapping):
        return row_to_atoms(data)
    return iter_atoms(data, batch_size)


# --------------------------------------------------------------------------- pymatgen


def atoms_to_structure(atoms: Any) -> Any:
    """pymatgen ``Structure`` of ASE atoms; atomic number 0 becomes ``DummySpecies('X')``."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.core.periodic_table import DummySpecies, Element

    species = [DummySpecies("X") if z == 0 else Element.from_Z(int(z)) for z in atoms.numbers]
    props = {k: v for k, v in atoms.info.items() if isinstance(v, (str, int, float, bool))}
    return Structure(Lattice(atoms.cell[:]), species, atoms.positions, coords_are_cartesian=True,
                     properties=props)


def to_pymatgen(data: Any, batch_size: int = 1024) -> Any:
    """pymatgen ``Structure`` of a row dict, or a lazy iterator over a ``Dataset``.

    Ids and targets go to ``Structure.properties``; the dummy centroid atom is
    ``DummySpecies('X')``.
    """
    if isinstance(data, Mapping):
        return atoms_to_structure(row_to_atoms(data))
    return (atoms_to_structure(a) for a in iter_atoms(data, batch_size))


# --------------------------------------------------------------------------- PyG


def atoms_to_pyg(atoms: Any, cutoff: float = 5.0, targets: Sequence[str] = ()) -> Any:
    """torch_geometric ``Data`` with a periodic radius graph built by ``ase.neighborlist``.

    Fields: ``z`` (0 for the dummy X), ``pos``, ``cell`` (1, 3, 3), ``is_dummy``,
    ``edge_index`` (2, E), ``edge_shift`` (E, 3, lattice offsets), ``edge_vec`` (E, 3),
    ``edge_length`` (E,), ``y`` (targets, NaN when missing), and the ids as strings.
    No compiled torch extension is needed (PyG's ``radius_graph`` would need one).
    """
    from ase.neighborlist import neighbor_list

    torch = lazy_import("torch", extra="torch")
    Data = lazy_import("torch_geometric.data", extra="torch").Data

    i, j, shift, dist, vec = neighbor_list("ijSdD", atoms, cutoff)
    y = [float(atoms.info.get(t, float("nan")) if atoms.info.get(t) is not None else float("nan")) for t in targets]
    data = Data(
        z=torch.as_tensor(atoms.numbers, dtype=torch.long),
        pos=torch.as_tensor(atoms.positions, dtype=torch.float64),
        cell=torch.as_tensor(np.asarray(atoms.cell[:]), dtype=torch.float64).unsqueeze(0),
        is_dummy=torch.as_tensor(atoms.numbers == 0),
        edge_index=torch.as_tensor(np.stack([i, j]), dtype=torch.long),
        edge_shift=torch.as_tensor(shift, dtype=torch.float64),
        edge_vec=torch.as_tensor(vec, dtype=torch.float64),
        edge_length=torch.as_tensor(dist, dtype=torch.float64),
        y=torch.as_tensor(y, dtype=torch.float64).reshape(1, -1),
    )
    for key in ID_COLUMNS:
        if key in atoms.info:
            data[key] = str(atoms.info[key])
    if atoms.calc is not None:
        res = atoms.calc.results
        if "energy" in res:
            data.energy = torch.tensor([float(res["energy"])], dtype=torch.float64)
        if "forces" in res:
            data.forces = torch.as_tensor(np.asarray(res["forces"]), dtype=torch.float64)
        if "stress" in res:
            data.stress = torch.as_tensor(np.asarray(res["stress"]), dtype=torch.float64).reshape(1, -1)
    return data


def to_pyg(data: Any, cutoff: float = 5.0, targets: Sequence[str] | None = None, batch_size: int = 1024) -> Any:
    """PyG ``Data`` of a row dict; for a ``Dataset``, a lazy generator of ``Data`` (one per row).

    ``graphs = list(to_pyg(ds))`` materialises them (e.g. for a ``torch_geometric.loader.DataLoader``).

    Parameters
    ----------
    cutoff : float
        Radius of the neighbour graph (Å).
    targets : sequence of str, optional
        Columns stacked into ``y``; the dataset's task targets by default.
    """
    if isinstance(data, Mapping):
        return atoms_to_pyg(row_to_atoms(data), cutoff, targets or ())
    config = _config_for(data)
    if targets is None:
        targets = [t for t in (config.task_targets if config else ()) if t not in ("energy", "forces", "stress")]
    return (atoms_to_pyg(a, cutoff, targets) for a in iter_atoms(data, batch_size))
