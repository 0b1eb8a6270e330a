"""Import the authors' official release (zip, unpacked folder or URL) into shards.

The official layouts (``docs/formats.md``, and the ``release:`` block of each
card) are of two kinds:

``split_files``
    one extxyz per split (``BVEL13k_train.xyz`` ...), optionally an index CSV keyed by
    ``material_id`` or ``edge_id`` with extra columns (``chemsys`` ...).
``index_trajectories``
    (nebDFT2k) an index CSV with a split column, two trajectory files per hop
    (``{edge_id}_init.xyz``, ``{edge_id}_relaxed.xyz``) and one file of centroid supercells.

Splits are kept exactly as released. Frames are streamed one at a time, so even the
3.8 GB MPLiTrj never sits in memory; a resumed build skips already written frames by
counting lines, without parsing them.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from litraj_data.download import fetch, is_remote, url_to_path
from litraj_data.errors import DataFormatError
from litraj_data.registry import DatasetConfig, get_config
from litraj_data.store.atoms_codec import STRUCTURE_ARRAYS, atoms_to_card_row, calc_results, dumps
from litraj_data.io import sha256_file
from litraj_data.store.extxyz import iter_extxyz, iter_extxyz_frames
from litraj_data.store.shards import write_dataset


# --------------------------------------------------------------------------- archives


class ReleaseArchive:
    """Files of one official release, whether zipped or unpacked, found by base name."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            members = [(p.name, p) for p in sorted(self.path.rglob("*")) if p.is_file()]
            self._sizes = {str(p): p.stat().st_size for _, p in members}
        elif self.path.is_file():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except zipfile.BadZipFile as exc:
                raise DataFormatError(f"{self.path} is not a readable zip archive ({exc}); it may be truncated: "
                                      "download it again", reason="bad_archive") from exc
            infos = [i for i in self._zip.infolist() if not i.is_dir()]
            members = [(Path(i.filename).name, i.filename) for i in infos]
            self._sizes = {i.filename: i.file_size for i in infos}
        else:
            raise FileNotFoundError(f"release source not found: {self.path}")
        # files are found by base name (the release's folder layout varies); two members with one
        # base name would silently shadow each other, so remember them and refuse to pick one
        self._files: dict[str, Any] = {}
        self._shadowed: dict[str, list[str]] = {}
        for base, member in members:
            if base in self._files:
                self._shadowed.setdefault(base, [str(self._files[base])]).append(str(member))
            else:
                self._files[base] = member

    def has(self, name: str) -> bool:
        return name in self._files

    def names(self) -> list[str]:
        return sorted(self._files)

    def require(self, name: str, what: str) -> None:
        if name not in self._files:
            raise DataFormatError(f"{self.path} has no {name} ({what}); is this the right archive?",
                                  reason="missing_file")
        if name in self._shadowed:
            raise DataFormatError(f"{self.path} holds {len(self._shadowed[name])} files named {name}: "
                                  f"{', '.join(self._shadowed[name])}; keep only the release's own",
                                  reason="member_shadowing")

    def size(self, name: str) -> int:
        """Bytes of member ``name`` (uncompressed)."""
        return self._sizes[str(self._files[name])]

    def open_text(self, name: str) -> io.TextIOBase:
        self.require(name, "file")
        if self._zip is not None:
            return io.TextIOWrapper(self._zip.open(self._files[name]), encoding="utf-8", newline="")
        return open(self._files[name], encoding="utf-8", newline="")

    def checksums(self) -> dict[str, str]:
        """sha256 of the archive (zip) or of every file (folder), for the manifest."""
        if self._zip is not None:
            return {self.path.name: "sha256:" + sha256_file(self.path)}
        h = hashlib.sha256()
        for name in sorted(self._files):
            h.update(f"{name}\0{sha256_file(self._files[name])}\n".encode())
        return {self.path.name + "/": "sha256-tree:" + h.hexdigest()}

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


# --------------------------------------------------------------------------- rows


def _read_index(archive: ReleaseArchive, config: DatasetConfig) -> pd.DataFrame | None:
    name = config.release.get("index")
    if not name:
        return None
    if not archive.has(name):
        if config.release.get("layout") == "index_trajectories":
            archive.require(name, "index of hops and splits")
        return None
    archive.require(name, "index")
    try:
        with archive.open_text(name) as fh:
            frame = pd.read_csv(fh, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{name}: not UTF-8 text ({exc.reason})", reason="not_utf8") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFormatError(f"{name}: not a readable CSV ({exc})", reason="bad_index") from exc
    frame.columns = [c.strip() for c in frame.columns]
    if frame.columns[0].startswith("Unnamed") or frame.columns[0] == "":
        frame = frame.drop(columns=frame.columns[0])
    key = config.release.get("index_key")
    if key and key not in frame.columns:
        raise DataFormatError(f"{name} has no {key!r} column (columns: {', '.join(frame.columns)})",
                              reason="missing_column")
    if key:
        dup = frame[key][frame[key].duplicated()].tolist()
        if dup:
            raise DataFormatError(f"{name}: {len(dup)} duplicate {key} values, e.g. {dup[:3]}", reason="duplicate_id")
    return frame


def _flat(value: Any) -> np.ndarray:
    """Every number of a (possibly ragged) nested list/array, as one float vector."""
    if isinstance(value, np.ndarray):
        return value.astype(float).ravel()
    if isinstance(value, (list, tuple)):
        parts = [_flat(v) for v in value]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.asarray([value], dtype=float)


def check_row(row: Mapping[str, Any], config: DatasetConfig, where: str) -> None:
    """Refuse a row with non-finite numbers where the card does not allow them.

    Positions, cells, energies, forces and stresses must be finite; a float target may be
    ``+inf`` only where its card column says ``allow_inf`` (BVEL13k: "does not percolate");
    NaN is never a value.

    Raises
    ------
    DataFormatError
        ``non_finite``, naming ``where`` (file:line) and the column.
    """
    for col in config.columns:
        value = row.get(col.name)
        if value is None or col.kind in ("string", "json", "bool", "bool3", "int32", "int64", "int32_list"):
            continue
        if col.kind == "float64":
            v = float(value)
            if math.isnan(v) or (math.isinf(v) and not (col.allow_inf and v > 0)):
                raise DataFormatError(f"{where}: {col.name} is {v} (not a finite number)", reason="non_finite")
            continue
        try:
            arr = _flat(value)
        except (TypeError, ValueError) as exc:
            raise DataFormatError(f"{where}: {col.name} is not numeric ({exc})", reason="bad_value") from exc
        if not np.all(np.isfinite(arr)):
            raise DataFormatError(f"{where}: {col.name} holds non-finite values", reason="non_finite")


def _card_row(atoms: Any, config: DatasetConfig, where: str, **kwargs: Any) -> dict[str, Any]:
    try:
        row = atoms_to_card_row(atoms, config, **kwargs)
    except (ValueError, TypeError) as exc:  # coerce() of a non-numeric info or index value
        raise DataFormatError(f"{where}: {exc}", reason="bad_value") from exc
    check_row(row, config, where)
    return row


def _check_against_index(atoms: Any, idx_row: Mapping[str, Any], config: DatasetConfig, where: str) -> None:
    """Values a frame and its index row both carry must agree (a mixed-up index is not data)."""
    for col in config.columns:
        if not col.source.startswith("info.") or col.kind != "float64":
            continue
        key = col.source[5:]
        if key in atoms.info and str(idx_row.get(key, "")).strip() not in ("", "nan"):
            try:
                a, b = float(atoms.info[key]), float(idx_row[key])
            except (TypeError, ValueError) as exc:
                raise DataFormatError(f"{where}: {key} is not numeric ({exc})", reason="bad_value") from exc
            close = math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-9 * max(1.0, abs(a))
            if not (a == b or close):
                raise DataFormatError(f"{where}: {key} = {a} in the frame but {b} in the index", reason="index_mismatch")


def _split_rows(archive: ReleaseArchive, config: DatasetConfig, split: str,
                index: Mapping[str, Mapping[str, Any]] | None) -> Any:
    fname = config.release["split_file"].format(split=split)

    def rows(skip: int) -> Iterator[dict[str, Any]]:
        key = config.release.get("index_key")
        id_col = config.row_id
        seen: set[str] = set()
        n = 0
        with archive.open_text(fname) as fh:
            for i, (line, atoms) in enumerate(iter_extxyz_frames(fh, skip=skip, label=fname,
                                                                 size=archive.size(fname)), start=skip):
                where = f"{fname}:{line}"
                idx_row = None
                if index is not None and key:
                    idx_row = index.get(str(atoms.info.get(key)))
                    if idx_row is None:
                        raise DataFormatError(f"{where}: {key} {atoms.info.get(key)!r} is not in the index",
                                              reason="index_mismatch")
                row = _card_row(atoms, config, where, index_row=idx_row, row_id=f"{split}-{i}")
                if idx_row is not None:
                    _check_against_index(atoms, idx_row, config, where)
                rid = row.get(id_col)
                if rid is not None:
                    if rid in seen:
                        raise DataFormatError(f"{where}: duplicate {id_col} {rid!r}", reason="duplicate_id")
                    seen.add(rid)
                n += 1
                yield row
        if n == 0 and skip == 0:
            raise DataFormatError(f"{fname}: the {split} split holds no frames", reason="empty_split")

    return rows


def _band_block(frames: list[Any], label: str) -> dict[str, Any]:
    if not frames:
        raise DataFormatError(f"{label} holds no images", reason="bad_band")
    numbers = frames[0].numbers
    for k, f in enumerate(frames):
        if len(f) != len(numbers) or not np.array_equal(f.numbers, numbers):
            raise DataFormatError(f"{label}: image {k} has other atoms than image 0", reason="bad_band")
    results = [calc_results(f) for f in frames]
    energies = [r.get("energy") for r in results]
    forces = [r.get("forces") for r in results]
    extras = []
    for f, r in zip(frames, results):
        extras.append({
            "info": dict(f.info),
            "arrays": {k: v for k, v in f.arrays.items() if k not in STRUCTURE_ARRAYS},
            "calc": {k: v for k, v in r.items() if k not in ("energy", "forces")},
            "cell": None if np.allclose(f.cell[:], frames[0].cell[:]) else np.asarray(f.cell[:]),
        })
    return {
        "numbers": numbers, "pbc": frames[0].pbc, "cell": np.asarray(frames[0].cell[:]),
        "positions": [f.positions for f in frames],
        "energies": None if any(e is None for e in energies) else [float(e) for e in energies],
        "forces": None if any(x is None for x in forces) else [np.asarray(x) for x in forces],
        "extras": extras,
    }


def _trajectory_rows(archive: ReleaseArchive, config: DatasetConfig, edges: list[dict[str, Any]],
                     centroids: Mapping[str, Any]) -> Any:
    rel = config.release

    def rows(skip: int) -> Iterator[dict[str, Any]]:
        for idx_row in edges[skip:]:
            edge = idx_row["edge_id"]
            atoms = centroids.get(edge)
            if atoms is None:
                raise DataFormatError(f"{rel['centroids']} has no centroid for {edge}", reason="missing_centroid")
            row = _card_row(atoms, config, f"{rel['centroids']} ({edge})", index_row=idx_row)
            bands = {}
            for part, pattern in (("init", rel["init_file"]), ("relaxed", rel["relaxed_file"])):
                fname = pattern.format(edge_id=edge)
                archive.require(fname, f"{part} trajectory of {edge}")
                with archive.open_text(fname) as fh:
                    bands[part] = _band_block(list(iter_extxyz(fh, label=fname, size=archive.size(fname))), fname)
            init, relaxed = bands["init"], bands["relaxed"]
            if not np.array_equal(init["numbers"], relaxed["numbers"]):
                raise DataFormatError(f"{edge}: init and relaxed bands hold different atoms", reason="bad_band")
            row.update(
                band_numbers=init["numbers"], band_pbc=init["pbc"],
                init_cell=init["cell"], init_positions=init["positions"], init_energies=init["energies"],
                relaxed_cell=relaxed["cell"], relaxed_positions=relaxed["positions"],
                relaxed_energies=relaxed["energies"], relaxed_forces=relaxed["forces"],
                band_extras=dumps({"init": init["extras"], "relaxed": relaxed["extras"]}),
            )
            check_row(row, config, f"{edge} bands")
            yield row

    return rows


def plan_release(archive: ReleaseArchive, config: DatasetConfig) -> tuple[dict[str, Any], list[str]]:
    """Row sources per split for ``config`` read from ``archive``, and notes for the manifest."""
    layout = config.release["layout"]
    notes: list[str] = []
    index = _read_index(archive, config)
    if layout == "split_files":
        lookup = None
        if index is not None:
            key = config.release["index_key"]
            lookup = {r[key]: r for r in index.to_dict("records")}
        sources = {}
        for split in config.splits:
            fname = config.release["split_file"].format(split=split)
            archive.require(fname, f"{split} split")
            sources[split] = _split_rows(archive, config, split, lookup)
        return sources, notes
    if layout == "index_trajectories":
        assert index is not None
        split_col = config.release.get("split_column", "_split")
        if split_col not in index.columns:
            raise DataFormatError(f"{config.release['index']} has no {split_col!r} column", reason="missing_column")
        archive.require(config.release["centroids"], "centroid supercells")
        with archive.open_text(config.release["centroids"]) as fh:
            centroids = {str(a.info.get("edge_id")): a for a in iter_extxyz(fh, label=config.release["centroids"],
                                                                             size=archive.size(config.release["centroids"]))}
        unknown = sorted(set(index[split_col]) - set(config.splits))
        if unknown:
            raise DataFormatError(f"{config.release['index']}: unknown split values {unknown}", reason="bad_split")
        missing = sorted(set(index[config.release["index_key"]]) - set(centroids))
        if missing:
            raise DataFormatError(f"{config.release['centroids']} has no centroid for {len(missing)} hops of the "
                                  f"index, e.g. {missing[:3]}", reason="index_mismatch")
        sources = {}
        for split in config.splits:
            edges = [r for r in index.to_dict("records") if r[split_col] == split]
            if not edges:
                raise DataFormatError(f"{config.release['index']}: no hop in the {split} split", reason="empty_split")
            sources[split] = _trajectory_rows(archive, config, edges, centroids)
        return sources, notes
    raise ValueError(f"unknown release layout {layout!r} in the card of {config.name}")


def resolve_release_source(config: DatasetConfig, source: str | Path | None, download_dir: Path) -> Path:
    """A local zip or folder for ``source``: a path, a file:// or https:// URL, or the official URL."""
    src = str(source) if source is not None else config.release["url"]
    local = url_to_path(src)
    if local is not None:
        if not local.exists():
            raise FileNotFoundError(f"release source not found: {src}")
        return local
    if is_remote(src):
        dest = download_dir / Path(src).name
        if not dest.exists():
            fetch(src, dest, what=f"the official {config.name} release", progress=True)
        return dest
    path = Path(src)
    if path.is_dir() and not any(path.rglob(config.release.get("index") or "*.xyz")) and (path / config.release["folder"]).is_dir():
        path = path / config.release["folder"]
    if not path.exists():
        raise FileNotFoundError(f"release source not found: {path}")
    return path


def import_release(name: str, source: str | Path | None, out: str | Path, *, version: str | None = None,
                   overwrite: bool = False, progress: bool | None = None,
                   max_shard_bytes: int | None = None, check_counts: bool = True) -> Path:
    """Turn an official release archive into a built, verified dataset version.

    Parameters
    ----------
    name : str
        Dataset name (BVEL13k, nebBVSE122k, nebDFT2k, MPLiTrj, MPLiTrj_subsample).
    source : path or URL, optional
        The release zip, its unpacked folder, a ``file://``/``https://`` URL; the official
        URL when None.
    out : path
        Root output folder; the version lands in ``out/NAME/VERSION``.
    version, overwrite, progress, max_shard_bytes
        Passed to :func:`litraj_data.store.shards.write_dataset`.
    check_counts : bool
        Compare split sizes with the card (turn off only for synthetic benchmark data).

    Returns
    -------
    Path
        The version folder. Split counts are checked against the card: a smaller archive
        imports with a warning recorded in the manifest, a larger one is an error.
    """
    config = get_config(name)
    out = Path(out)
    path = resolve_release_source(config, source, out / ".downloads")
    archive = ReleaseArchive(path)
    try:
        sources, notes = plan_release(archive, config)
        kwargs: dict[str, Any] = {}
        if max_shard_bytes:
            kwargs["max_shard_bytes"] = max_shard_bytes
        return write_dataset(config.name, sources, out, version=version, sources=archive.checksums(),
                             notes=notes + [f"imported from the official release layout ({path.name})"],
                             check_counts=check_counts, overwrite=overwrite, progress=progress, **kwargs)
    finally:
        archive.close()


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser, dataset: str = "from-release") -> None:
    parser.add_argument("name", help="dataset: BVEL13k, nebBVSE122k, nebDFT2k, MPLiTrj, MPLiTrj_subsample")
    parser.add_argument("--source", help="release zip, unpacked folder, or file:// / https:// URL "
                        "(default: the official download URL)")
    parser.add_argument("--out", required=True, help="output root; the version lands in OUT/NAME/VERSION")
    parser.add_argument("--version", help="version to write (default: the card's)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing built version")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    folder = import_release(args.name, args.source, args.out, version=args.version, overwrite=args.overwrite)
    man = json.loads((folder / "manifest.json").read_text())
    counts = {s: r["num_rows"] for s, r in man["splits"].items()}
    if args.json:
        print(json.dumps({"records": [{"file": str(args.source or "official"), "dataset": man["dataset"],
                                       "version": man["version"], "path": str(folder), "splits": counts,
                                       "notes": man["notes"]}]}))
    else:
        print(f"built {man['dataset']} {man['version']} in {folder}: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
    return 0
