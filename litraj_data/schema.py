"""Arrow types of the registry's column kinds, and rows from ASE / pymatgen structures.

Shards are Arrow tables whose schema follows a dataset card. Vectors are fixed-size
lists so that positions of one row are one contiguous ``float64`` buffer: converting a
row to numpy is a reshape, not a Python loop.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

import numpy as np
import pyarrow as pa

from litraj_data.registry import ColumnSpec, DatasetConfig

VEC3 = pa.list_(pa.float64(), 3)

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "float64": pa.float64(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "bool": pa.bool_(),
    "int32_list": pa.list_(pa.int32()),
    "float64_list": pa.list_(pa.float64()),
    "vec3_list": pa.list_(VEC3),
    "vec3_list_list": pa.list_(pa.list_(VEC3)),
    "mat3": pa.list_(VEC3, 3),
    "bool3": pa.list_(pa.bool_(), 3),
    "voigt6": pa.list_(pa.float64(), 6),
}

# numpy shapes of one value of each array kind (None = ragged axis)
ARRAY_SHAPES: dict[str, tuple[int | None, ...]] = {
    "int32_list": (None,),
    "float64_list": (None,),
    "vec3_list": (None, 3),
    "vec3_list_list": (None, None, 3),
    "mat3": (3, 3),
    "bool3": (3,),
    "voigt6": (6,),
}


def arrow_schema(config: DatasetConfig) -> pa.Schema:
    """Arrow schema of a dataset, with the Hugging Face ``datasets`` features in its metadata.

    The metadata lets ``datasets.Dataset.from_file`` memory-map a shard without inferring
    (or converting) anything.
    """
    import datasets

    fields = [pa.field(c.name, ARROW_TYPES[c.kind], nullable=True) for c in config.columns]
    schema = pa.schema(fields)
    features = datasets.Features.from_arrow_schema(schema)
    schema = features.arrow_schema
    meta = dict(schema.metadata or {})
    meta[b"litraj"] = json.dumps({"dataset": config.name, "version": config.version}).encode()
    return schema.with_metadata(meta)


def schema_fingerprint(schema: pa.Schema) -> str:
    """sha256 of the column names and types (metadata excluded): equal iff layouts are equal."""
    text = ";".join(f"{f.name}:{f.type}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- rows


def atoms_to_row(atoms: Any) -> dict[str, Any]:
    """The structure block of a row from an ASE ``Atoms`` (dummy ``X`` has number 0)."""
    return {
        "numbers": np.asarray(atoms.numbers, dtype=np.int32),
        "positions": np.asarray(atoms.positions, dtype=np.float64),
        "cell": np.asarray(atoms.cell[:], dtype=np.float64),
        "pbc": np.asarray(atoms.pbc, dtype=bool),
    }


def structure_to_row(structure: Any) -> dict[str, Any]:
    """The structure block of a row from a pymatgen ``Structure`` (DummySpecies X -> 0)."""
    numbers = []
    for site in structure:
        sp = site.specie
        z = getattr(sp, "Z", 0)
        numbers.append(0 if getattr(sp, "symbol", "") in ("X", "X0+") or type(sp).__name__ == "DummySpecies" else z)
    return {
        "numbers": np.asarray(numbers, dtype=np.int32),
        "positions": np.asarray(structure.cart_coords, dtype=np.float64),
        "cell": np.asarray(structure.lattice.matrix, dtype=np.float64),
        "pbc": np.asarray(getattr(structure.lattice, "pbc", (True, True, True)), dtype=bool),
    }


def _ragged_list(values: list[Any], dtype: type, tail: tuple[int, ...], value_type: pa.DataType) -> pa.Array:
    """list<...> array from per-row numpy arrays without a Python loop over elements."""
    arrays = [np.asarray(v, dtype=dtype).reshape((-1,) + tail) for v in values]
    lengths = np.fromiter((a.shape[0] for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(arrays).reshape(-1) if arrays else np.zeros(0, dtype=dtype)
    inner: pa.Array = pa.array(flat, type=pa.float64() if dtype is np.float64 else value_type)
    if tail:
        inner = pa.FixedSizeListArray.from_arrays(inner, tail[-1])
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), inner)


def column_array(spec: ColumnSpec, values: list[Any]) -> pa.Array:
    """One Arrow column of kind ``spec.kind`` from per-row Python / numpy values.

    Raises
    ------
    DataFormatError
        When a value has the wrong shape or a non-nullable column gets a null.
    """
    from litraj_data.errors import DataFormatError

    typ = ARROW_TYPES[spec.kind]
    nulls = [v is None for v in values]
    if any(nulls) and not spec.nullable:
        raise DataFormatError(f"column {spec.name!r} is required but {sum(nulls)} row(s) have no value",
                              reason="missing_column")
    try:
        if spec.kind == "json":
            return pa.array([None if v is None else (v if isinstance(v, str) else json.dumps(v, sort_keys=True))
                             for v in values], type=typ)
        if spec.kind in ("string", "float64", "int32", "int64", "bool"):
            if spec.kind == "float64":
                values = [None if v is None else float(v) for v in values]
            return pa.array(values, type=typ)
        if not any(nulls):
            if spec.kind == "int32_list":
                return _ragged_list(values, np.int32, (), pa.int32())
            if spec.kind == "float64_list":
                return _ragged_list(values, np.float64, (), pa.float64())
            if spec.kind == "vec3_list":
                return _ragged_list(values, np.float64, (3,), pa.float64())
            if spec.kind in ("mat3", "bool3", "voigt6"):
                shape = ARRAY_SHAPES[spec.kind]
                dtype = bool if spec.kind == "bool3" else np.float64
                flat = np.asarray(values, dtype=dtype).reshape((len(values),) + shape).reshape(-1)
                inner = pa.array(flat)
                if spec.kind == "mat3":
                    return pa.FixedSizeListArray.from_arrays(pa.FixedSizeListArray.from_arrays(inner, 3), 3)
                return pa.FixedSizeListArray.from_arrays(inner, shape[0])
        # ragged-of-ragged or with nulls: let Arrow walk nested lists
        def as_list(v: Any) -> Any:
            if v is None:
                return None
            if spec.kind == "vec3_list_list":
                return [np.asarray(img, dtype=np.float64).reshape(-1, 3).tolist() for img in v]
            shape = ARRAY_SHAPES[spec.kind]
            return np.asarray(v).reshape(tuple(-1 if s is None else s for s in shape)).tolist()
        return pa.array([as_list(v) for v in values], type=typ)
    except (ValueError, TypeError, pa.ArrowInvalid) as exc:
        raise DataFormatError(f"column {spec.name!r} ({spec.kind}): {exc}", reason="bad_column") from exc


def rows_to_table(rows: Iterable[Mapping[str, Any]], config: DatasetConfig,
                  schema: pa.Schema | None = None) -> pa.Table:
    """An Arrow table in the dataset's schema from row dicts (missing nullable keys -> null).

    Raises
    ------
    DataFormatError
        On unknown keys (a typo would otherwise silently drop data) or bad values.
    """
    from litraj_data.errors import DataFormatError

    rows = list(rows)
    known = set(config.column_names)
    for i, row in enumerate(rows):
        unknown = set(row) - known
        if unknown:
            raise DataFormatError(f"row {i} of {config.name} has columns not in its card: {sorted(unknown)}",
                                  reason="unknown_column")
    schema = schema or arrow_schema(config)
    arrays = [column_array(spec, [row.get(spec.name) for row in rows]) for spec in config.columns]
    return pa.Table.from_arrays(arrays, schema=schema)
