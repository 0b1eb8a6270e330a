"""ASE ``Atoms`` <-> row dicts, losslessly (the columns of a dataset card plus JSON extras).

Used by the release importer (Atoms -> row) and by the exporters and converters
(row -> Atoms). Keys of ``atoms.info``, per-atom arrays and calculator results that the
card has no column for go to the JSON ``info_extra`` / ``arrays_extra`` / ``calc_extra``
columns, so nothing in the official files is dropped.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping

import numpy as np

from litraj_data.registry import DatasetConfig
from litraj_data.schema import atoms_to_row

STRUCTURE_ARRAYS = {"numbers", "positions"}


def encode_value(value: Any) -> Any:
    """Lossless JSON form of an info / result value: arrays keep dtype and shape, floats keep inf/nan.

    Unlike :func:`litraj_data.io.to_jsonable` (reports: non-finite -> null) this is a codec:
    :func:`decode_value` gives the value back exactly.
    """
    if isinstance(value, np.ndarray):
        return {"__ndarray__": encode_value(value.tolist()), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isfinite(v):
            return v
        return {"__float__": repr(v)}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    return value


def decode_value(value: Any) -> Any:
    """Inverse of :func:`encode_value`."""
    if isinstance(value, dict):
        if "__ndarray__" in value:
            arr = np.asarray(decode_value(value["__ndarray__"]), dtype=value["dtype"])
            return arr.reshape(value["shape"])
        if "__float__" in value:
            return float(value["__float__"])
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def dumps(value: Any) -> str | None:
    """JSON text of a non-empty mapping, else None (keeps extras columns sparse)."""
    if not value:
        return None
    return json.dumps(encode_value(value), sort_keys=True)


def loads(text: str | None) -> dict[str, Any]:
    return {} if not text else decode_value(json.loads(text))


def calc_results(atoms: Any) -> dict[str, Any]:
    """Results stored on the atoms' (single-point) calculator, or {}."""
    calc = getattr(atoms, "calc", None)
    return dict(getattr(calc, "results", {}) or {}) if calc is not None else {}


def atoms_to_card_row(atoms: Any, config: DatasetConfig, *, index_row: Mapping[str, Any] | None = None,
                      row_id: str | None = None) -> dict[str, Any]:
    """A row of ``config`` from one extxyz frame (and its index-CSV row, if any).

    Columns read ``info.KEY`` from ``atoms.info``, ``index.KEY`` from ``index_row``,
    ``calc.KEY`` from the calculator results and the structure block from the atoms.
    """
    row: dict[str, Any] = atoms_to_row(atoms)
    info = dict(atoms.info)
    results = calc_results(atoms)
    used_info: set[str] = set()
    used_calc: set[str] = set()
    for col in config.columns:
        src = col.source
        if src.startswith("info."):
            key = src[5:]
            if key in info:
                row[col.name] = coerce(col.kind, info[key])
                used_info.add(key)
            elif index_row is not None and key in index_row:
                row[col.name] = coerce(col.kind, index_row[key])
        elif src.startswith("index."):
            key = src[6:]
            if index_row is not None and key in index_row:
                row[col.name] = coerce(col.kind, index_row[key])
        elif src.startswith("calc."):
            key = src[5:]
            if key in results:
                row[col.name] = np.asarray(results[key]) if key in ("forces", "stress") else float(results[key])
                used_calc.add(key)
        elif src == "row_id":
            row[col.name] = row_id
    names = set(config.column_names)
    if "info_extra" in names:
        row["info_extra"] = dumps({k: v for k, v in info.items() if k not in used_info})
    if "arrays_extra" in names:
        row["arrays_extra"] = dumps({k: v for k, v in atoms.arrays.items() if k not in STRUCTURE_ARRAYS})
    if "calc_extra" in names:
        row["calc_extra"] = dumps({k: v for k, v in results.items() if k not in used_calc})
    return row


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def coerce(kind: str, value: Any) -> Any:
    """A scalar from extxyz info or an index CSV cell in the column's kind ('' -> null)."""
    value = _plain(value)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if kind == "float64":
        return float(value)
    if kind in ("int32", "int64"):
        if isinstance(value, float) and math.isnan(value):
            return None
        return int(value)
    if kind == "bool":
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("true", "t", "1", "yes"):
                return True
            if low in ("false", "f", "0", "no"):
                return False
            raise ValueError(f"not a boolean: {value!r}")
        return bool(value)
    if kind == "string":
        if isinstance(value, float) and math.isnan(value):
            return None
        return str(value)
    return value
