"""``litraj export``: a loaded dataset written as extxyz (official layout), Parquet or Arrow."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from litraj_data.registry import get_config

from litraj_data.io import atomic_writer
from litraj_data.loaders.convert import iter_atoms
from litraj_data.loaders.load import load_litraj, manifest_of
from litraj_data.registry import DatasetConfig
from litraj_data.store.extxyz import band_frames, write_extxyz


def export_rows_atoms(ds: Any, config: DatasetConfig) -> Iterable[Any]:
    """Atoms of a split as the official release had them: only ``info.*`` columns in ``info``."""
    info_columns = [c.name for c in config.columns if c.source.startswith("info.")]
    return iter_atoms(ds, info_columns=info_columns)


def export_dataset(name: str, out: str | Path, *, fmt: str = "extxyz", split: str | None = None,
                   source: str | Path | None = None, version: str | None = None,
                   cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Write a dataset in the official release layout (extxyz) or as Parquet / Arrow shards.

    extxyz reproduces the authors' files: ``NAME_SPLIT.xyz`` per split (``info`` holds the
    keys the release had, e.g. ``material_id``, ``E_1D``; calculators hold energies, forces,
    stresses at full precision); for nebDFT2k, ``{edge_id}_init.xyz``,
    ``{edge_id}_relaxed.xyz``, ``nebDFT2k_centroids.xyz`` and ``nebDFT2k_index.csv``.

    Returns
    -------
    list of dict
        One record per written file: ``file``, ``rows``.
    """
    config = get_config(name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fmt in ("parquet", "arrow"):
        from litraj_data.store.manifest import read_manifest
        from litraj_data.store.shards import convert_version

        man = manifest_of(name, version=version, source=source, cache_dir=cache_dir)
        target = convert_version(man.root, out / config.name / man.version, fmt)
        return [{"file": str(target / f["name"]), "rows": f["num_rows"]} for f in
                read_manifest(target).files()]
    if fmt != "extxyz":
        raise ValueError(f"unknown export format {fmt!r}")
    dd = load_litraj(name, split=split, version=version, source=source, cache_dir=cache_dir)
    splits = {split: dd} if split else dict(dd)
    records = []
    if config.release.get("layout") == "index_trajectories":
        index_rows = []
        centroids = []
        for sname, ds in splits.items():
            for row, atoms in zip(ds, export_rows_atoms(ds, config)):
                edge = row["edge_id"]
                for part in ("init", "relaxed"):
                    path = out / config.release[f"{part}_file"].format(edge_id=edge)
                    n = write_extxyz(path, band_frames(row, part))
                    records.append({"file": str(path), "rows": n})
                centroids.append(atoms)
                index_rows.append({c.source[6:]: row[c.name] for c in config.columns if c.source.startswith("index.")}
                                  | {config.release.get("split_column", "_split"): sname})
        path = out / config.release["centroids"]
        records.append({"file": str(path), "rows": write_extxyz(path, centroids)})
        path = out / config.release["index"]
        with atomic_writer(path, "w", newline="") as fh:
            pd.DataFrame(index_rows).to_csv(fh, index=False)
        records.append({"file": str(path), "rows": len(index_rows)})
        return records
    for sname, ds in splits.items():
        path = out / config.release["split_file"].format(split=sname)
        n = write_extxyz(path, export_rows_atoms(ds, config))
        records.append({"file": str(path), "rows": n})
    return records
