"""Inputs of the harness: one initial band per hop (nebDFT2k rows or hops-code bands)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from ase import Atoms

from litraj_data.errors import StructureError
from litraj_data.io import to_jsonable


@dataclass
class HopInput:
    """The initial band of one hop.

    Attributes
    ----------
    edge_id : str
        LiTraj edge id (also the output file name).
    images : list of Atoms
        Initial band including both end points.
    meta : dict
        JSON-friendly facts carried into the result record (material_id, em_dft, ...).
    """

    edge_id: str
    images: list[Atoms]
    meta: dict[str, Any] = field(default_factory=dict)


def hop_from_row(row: dict[str, Any]) -> HopInput:
    """HopInput of a nebDFT2k row (its ``init`` band: the BVSE-NEB optimised path)."""
    from litraj_data.store.extxyz import band_frames

    images = []
    for img in band_frames(row, "init"):
        img.calc = None  # the stored (DFT or BVSE) results are not ours
        img.info = {}
        images.append(img)
    meta = {k: to_jsonable(row.get(k)) for k in ("material_id", "em_dft", "em_bvse", "has_specific_TM") if k in row}
    return HopInput(str(row["edge_id"]), images, meta)


def hops_from_dataset(name: str = "nebDFT2k", split: str | None = "test", source: Any = None,
                      limit: int | None = None, edge_ids: Sequence[str] | None = None,
                      cache_dir: Any = None) -> Iterator[HopInput]:
    """Initial bands of a band dataset split (lazily, one row at a time).

    Parameters
    ----------
    name : str
        A dataset with ``init_positions`` bands (nebDFT2k).
    split : str
        ``train``, ``val``, ``test`` or ``all``.
    source : str or path, optional
        As ``load_litraj(source=)``.
    limit : int, optional
        First ``limit`` hops only.
    edge_ids : sequence of str, optional
        Only these hops.
    """
    from litraj_data import load_litraj

    if split in (None, "all"):
        dd = load_litraj(name, source=source, cache_dir=cache_dir)
        parts = [dd[s] for s in dd]
    else:
        parts = [load_litraj(name, split=split, source=source, cache_dir=cache_dir)]
    if parts and "init_positions" not in parts[0].column_names:
        raise StructureError(f"{name} has no initial bands (init_positions)", reason="bad_band")
    wanted = set(edge_ids) if edge_ids is not None else None
    n = 0
    for ds in parts:
        for row in ds:
            if wanted is not None and row["edge_id"] not in wanted:
                continue
            if limit is not None and n >= limit:
                return
            n += 1
            yield hop_from_row(row)
