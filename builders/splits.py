"""Split tables and the paper's 8:1:1 split-by-structure rule.

Rule (paper, Methods): splits are by structure, 8:1:1, such that every element present in
the test split also appears in val, and every element in val also appears in train.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from litraj_data.errors import DataFormatError

SPLITS = ("train", "val", "test")
_SPLIT_COLUMNS = ("split", "_split")
_ALIASES = {"validation": "val", "valid": "val", "training": "train", "testing": "test"}


def read_split_table(path: str | Path) -> dict[str, str]:
    """Read a split table (CSV with ``material_id`` and ``split`` or ``_split`` columns).

    Returns
    -------
    dict
        material_id -> one of ``train``, ``val``, ``test``.

    Raises
    ------
    DataFormatError
        ``bad_splits``: missing file or columns, unknown split names, or an id listed twice
        with different splits.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: split table not found", reason="bad_splits")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        col = next((c for c in _SPLIT_COLUMNS if c in fields), None)
        if "material_id" not in fields or col is None:
            raise DataFormatError(f"{path}: needs columns material_id and split (or _split), has {fields}",
                                  reason="bad_splits")
        out: dict[str, str] = {}
        for i, row in enumerate(reader, start=2):
            mid = (row["material_id"] or "").strip()
            split = _ALIASES.get((row[col] or "").strip().lower(), (row[col] or "").strip().lower())
            if not mid:
                raise DataFormatError(f"{path}:{i}: empty material_id", reason="bad_splits")
            if split not in SPLITS:
                raise DataFormatError(f"{path}:{i}: unknown split {row[col]!r} (use train/val/test)",
                                      reason="bad_splits")
            if out.get(mid, split) != split:
                raise DataFormatError(f"{path}:{i}: {mid} listed in both {out[mid]} and {split}", reason="bad_splits")
            out[mid] = split
    return out


def _missing(elements: set[str], present: Mapping[str, int]) -> bool:
    return any(present.get(e, 0) == 0 for e in elements)


def assign_splits(
    ids_to_elements: Mapping[str, Iterable[str]],
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> dict[str, str]:
    """Deterministic 8:1:1 split by structure with the element-coverage rule.

    Structures are shuffled with ``seed`` (order of the input does not matter: ids are
    sorted first), cut by ``fractions``, then repaired: a test structure with an element
    absent from val moves to val, and a val structure with an element absent from train
    moves to train, until both rules hold (moves only go towards train, so this ends).

    Parameters
    ----------
    ids_to_elements : mapping
        material_id -> its elements.
    fractions : (train, val, test)
        Target fractions (normalised).
    seed : int
        Shuffle seed.

    Returns
    -------
    dict
        material_id -> ``train`` / ``val`` / ``test``.
    """
    if len(fractions) != 3 or min(fractions) < 0 or sum(fractions) <= 0:
        raise ValueError("fractions must be three non-negative numbers")
    ids = sorted(ids_to_elements)
    elements = {i: set(ids_to_elements[i]) for i in ids}
    order = [ids[j] for j in np.random.default_rng(seed).permutation(len(ids))]
    frac = np.array(fractions, dtype=float) / sum(fractions)
    n_train = int(round(frac[0] * len(ids)))
    n_val = int(round(frac[1] * len(ids)))
    split = {i: ("train" if k < n_train else "val" if k < n_train + n_val else "test") for k, i in enumerate(order)}

    def counts(name: str) -> dict[str, int]:
        c: dict[str, int] = {}
        for i, s in split.items():
            if s == name:
                for e in elements[i]:
                    c[e] = c.get(e, 0) + 1
        return c

    changed = True
    while changed:
        changed = False
        val_c = counts("val")
        for i in order:  # test -> val, in shuffled order so the repair is deterministic
            if split[i] == "test" and _missing(elements[i], val_c):
                split[i] = "val"
                for e in elements[i]:
                    val_c[e] = val_c.get(e, 0) + 1
                changed = True
        train_c = counts("train")
        for i in order:
            if split[i] == "val" and _missing(elements[i], train_c):
                split[i] = "train"
                for e in elements[i]:
                    train_c[e] = train_c.get(e, 0) + 1
                changed = True
    return split
