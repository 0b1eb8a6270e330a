"""``litraj export``: a loaded dataset written as extxyz (official layout), Parquet or Arrow."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from litraj_data.errors import DataFormatError
from litraj_data.io import atomic_write_text, atomic_writer
from litraj_data.loaders.convert import iter_atoms
from litraj_data.loaders.load import load_litraj, manifest_of
from litraj_data.registry import DatasetConfig, get_config
from litraj_data.store.extxyz import band_frames, write_extxyz
from litraj_data.store.layout import new_staging, publish_folder
from litraj_data.store.manifest import read_manifest, read_snapshot
from litraj_data.store.names import inside, safe_component, safe_version


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

    An export writes only into a folder it made (:class:`ExportFolder`, marked by
    ``OUT/.NAME.litraj-export.json``); Parquet/Arrow go to a new ``out/NAME/VERSION`` folder, published
    in one step from one snapshot of the version.

    Returns
    -------
    list of dict
        One record per written file: ``file``, ``rows``.

    Raises
    ------
    DataFormatError
        ``not_ours``: the extxyz folder is not empty and was not made by an export, or a file
        there was not written by one; ``exists``: the Parquet/Arrow version folder exists.
    UnsafeNameError
        A name from the data (an ``edge_id``) is not a plain file name.
    """
    config = get_config(name)
    out = Path(out)
    if fmt in ("parquet", "arrow"):
        man = manifest_of(name, version=version, source=source, cache_dir=cache_dir)
        target = out / config.name / safe_version(man.version)
        if os.path.lexists(target) and not (target.is_dir() and not any(target.iterdir())):
            raise DataFormatError(f"{target} exists; an export never replaces a folder (remove it or choose another "
                                  "--out)", reason="exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = new_staging(target.parent, target.name)
        try:
            # one snapshot of the version: a concurrent --overwrite makes the conversion start again
            converted = read_snapshot(man.root, lambda m: _convert(m, staging, fmt), first=man,
                                      trusted_roots=man.trusted_roots)
            publish_folder(converted, target, replace=target.is_dir())  # only an empty folder is replaced
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return [{"file": str(target / f["name"]), "rows": f["num_rows"]} for f in read_manifest(target).files()]
    if fmt != "extxyz":
        raise ValueError(f"unknown export format {fmt!r}")
    dd = load_litraj(name, split=split, version=version, source=source, cache_dir=cache_dir)
    splits = {split: dd} if split else dict(dd)
    records = []
    out = out / safe_component(config.release.get("folder", config.name), "release folder name")
    claim = ExportFolder(out)
    if config.release.get("layout") == "index_trajectories":
        index_rows = []
        centroids = []
        for sname, ds in splits.items():
            for row, atoms in zip(ds, export_rows_atoms(ds, config)):
                edge = safe_component(row["edge_id"], f"edge_id of a {config.name} row")  # data: untrusted
                for part in ("init", "relaxed"):
                    path = claim.file(config.release[f"{part}_file"].format(edge_id=edge))
                    n = write_extxyz(path, band_frames(row, part))
                    records.append({"file": str(path), "rows": n})
                centroids.append(atoms)
                index_rows.append({c.source[6:]: row[c.name] for c in config.columns if c.source.startswith("index.")}
                                  | {config.release.get("split_column", "_split"): sname})
        path = claim.file(config.release["centroids"])
        records.append({"file": str(path), "rows": write_extxyz(path, centroids)})
        path = claim.file(config.release["index"])
        with atomic_writer(path, "w", newline="") as fh:
            pd.DataFrame(index_rows).to_csv(fh, index=False)
        records.append({"file": str(path), "rows": len(index_rows)})
        claim.save()
        return records
    index_rows: list[dict[str, Any]] = []
    for sname, ds in splits.items():
        path = claim.file(config.release["split_file"].format(split=sname))
        n = write_extxyz(path, export_rows_atoms(ds, config))
        records.append({"file": str(path), "rows": n})
        if config.release.get("index"):
            index_rows += _index_rows(ds, config, sname)
    if config.release.get("index"):
        path = claim.file(config.release["index"])
        with atomic_writer(path, "w", newline="") as fh:
            pd.DataFrame(index_rows).to_csv(fh, index=False)
        records.append({"file": str(path), "rows": len(index_rows)})
    claim.save()
    return records


def _convert(man: Any, staging: Path, fmt: str) -> Path:
    """Convert one manifest snapshot into a new folder inside ``staging`` (emptied first: a retry starts clean)."""
    from litraj_data.store.shards import convert_manifest

    target = staging / "version"
    shutil.rmtree(target, ignore_errors=True)
    return convert_manifest(man, target, fmt)


class ExportFolder:
    """The folder an extxyz export writes into, marked as made by ``litraj export``.

    ``litraj export`` writes only into a folder it made: a new or empty folder ``OUT/NAME``
    gets the marker ``OUT/.NAME.litraj-export.json`` (beside it, so that the folder holds
    exactly the official layout) listing the files written; a folder with the marker may
    be written again (the files it lists are replaced, others are added and listed). A
    non-empty folder without the marker, or a file the marker does not list, is refused
    (``not_ours``): an export never replaces what a user put there.
    """

    MARKER = ".litraj-export.json"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.marker = folder.parent / f".{folder.name}{self.MARKER}"
        self.files: set[str] = set()
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise DataFormatError(f"{folder} is not a folder; refused", reason="not_ours")
        if folder.is_dir() and any(folder.iterdir()):
            try:
                doc = json.loads(self.marker.read_text(encoding="utf-8"))
                self.files = {safe_component(f, f"file name in {self.marker}") for f in doc["files"]}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise DataFormatError(f"{folder} is not empty and was not made by `litraj export` (no readable "
                                      f"{self.MARKER}: {exc}); an export never writes into a folder it did not "
                                      "make. Choose another --out.", reason="not_ours") from None
        folder.mkdir(parents=True, exist_ok=True)
        self.save()

    def file(self, name: str) -> Path:
        """The path to write ``name`` to, refused when a file of that name is not ours."""
        path = inside(self.folder, name, "export file name")
        if os.path.lexists(path) and name not in self.files:
            raise DataFormatError(f"{path} exists and was not written by `litraj export`; refused (an export never "
                                  "replaces a user's file)", reason="not_ours")
        self.files.add(name)
        self.save()  # listed before it is written: a crash leaves no file the marker does not own
        return path

    def save(self) -> None:
        atomic_write_text(self.marker, json.dumps({"made_by": "litraj export", "files": sorted(self.files)},
                                                  indent=1) + "\n")



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
