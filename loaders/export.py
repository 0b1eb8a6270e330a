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
from litraj_data.store.names import safe_component


def export_rows_atoms(ds: Any, config: DatasetConfig) -> Iterable[Any]:
    """Atoms of a split as the official release had them: only ``info.*`` columns in ``info``."""
    info_columns = [c.name for c in config.columns if c.source.startswith("info.")]
    return iter_atoms(ds, info_columns=info_columns)


def export_dataset(name: str, out: str | Path, *, fmt: str = "extxyz", split: str | None = None,
                   source: str | Path | None = None, version: str | None = None,
                   cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Write a dataset in the official release layout (extxyz) or as Parquet / Arrow shards.

    extxyz reproduces the authors' layout in ``out/NAME/`` (the folder their zip unpacks to):
    ``NAME_SPLIT.xyz`` per split (``info`` holds the keys the release had, e.g.
    ``material_id``, ``E_1D``; calculators hold energies, forces, stresses at full
    precision) and, for datasets whose release has one, ``NAME_index.csv`` (the index key,
    the columns the release keeps in its index, e.g. ``chemsys``, the split and the
    targets); for nebDFT2k, ``{edge_id}_init.xyz``, ``{edge_id}_relaxed.xyz``,
    ``nebDFT2k_centroids.xyz`` and ``nebDFT2k_index.csv``. ``litraj build from-release NAME
    --source out/NAME`` reads it back to the same columns.

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
    out = out / safe_component(config.release.get("folder", config.name), "release folder name")
    out.mkdir(exist_ok=True)
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
    index_rows: list[dict[str, Any]] = []
    for sname, ds in splits.items():
        path = out / config.release["split_file"].format(split=sname)
        n = write_extxyz(path, export_rows_atoms(ds, config))
        records.append({"file": str(path), "rows": n})
        if config.release.get("index"):
            index_rows += _index_rows(ds, config, sname)
    if config.release.get("index"):
        path = out / config.release["index"]
        with atomic_writer(path, "w", newline="") as fh:
            pd.DataFrame(index_rows).to_csv(fh, index=False)
        records.append({"file": str(path), "rows": len(index_rows)})
    return records


def _index_rows(ds: Any, config: DatasetConfig, split: str) -> list[dict[str, Any]]:
    """The index CSV rows of one split, as the official release has them.

    The index carries what the extxyz frames do not (``index.*`` columns such as
    ``chemsys``): without it an export -> import round trip would lose them. The key, the
    split and the targets are repeated, as in the authors' files (the importer checks that
    frame and index agree).
    """
    key = config.release["index_key"]
    index_cols = [c for c in config.columns if c.source.startswith("index.")]
    targets = [t for t in config.task_targets if t in ds.column_names and t != key]
    wanted = [key] + [c.name for c in index_cols if c.name != key] + targets
    table = ds.select_columns(list(dict.fromkeys(wanted))).to_dict()
    split_col = config.release.get("split_column", "_split")
    rows = []
    for i in range(ds.num_rows):
        row: dict[str, Any] = {key: table[key][i]}
        row.update({c.source[len("index."):]: table[c.name][i] for c in index_cols})
        row[split_col] = split
        row.update({t: table[t][i] for t in targets})
        rows.append(row)
    return rows
