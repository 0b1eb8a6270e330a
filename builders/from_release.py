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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from litraj_data.cli.options import add_json_option
from litraj_data.download import fetch, is_remote, url_to_path
from litraj_data.errors import DataFormatError, UnsafeNameError
from litraj_data.io import sha256_file
from litraj_data.registry import DatasetConfig, get_config
from litraj_data.store.atoms_codec import STRUCTURE_ARRAYS, atoms_to_card_row, calc_results, dumps
from litraj_data.store.extxyz import ReadLimits, iter_extxyz, iter_extxyz_frames, read_line
from litraj_data.store.names import safe_component
from litraj_data.store.shards import write_dataset
from litraj_data.structures import check_row as _check_row

# --------------------------------------------------------------------------- archives


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what one release archive may cost to read (memory, time), whatever it holds.

    The importer never extracts: members are streamed line by line (see
    :class:`~litraj_data.store.extxyz.ReadLimits` for the line and frame caps), so memory is
    bounded by a frame, not by a member. Files read whole (the index CSV, the centroid file,
    one hop's two band files) are bounded by ``max_whole_member_bytes``.

    Attributes
    ----------
    max_members : int
        Files in the archive (nebDFT2k, the largest count, has 3,365 entries).
    max_member_bytes : int
        Uncompressed bytes of one member (64 GiB: MPLiTrj's train split is the largest file
        of the release, well below). The declared size is binding: zipfile never
        decompresses past it, and a member whose data disagree fails its CRC.
    max_total_bytes : int
        Uncompressed bytes of all members (256 GiB).
    max_ratio : float
        Uncompressed / compressed size of a member over 16 MiB: extxyz deflates about 3:1,
        a zip bomb 1,000:1.
    max_whole_member_bytes : int
        Members parsed as a whole: the index CSV, the centroids, band trajectories (512 MiB;
        the official ones are a few MB).
    read : ReadLimits
        Longest line and largest extxyz frame.
    """

    max_members: int = 100_000
    max_member_bytes: int = 64 << 30
    max_total_bytes: int = 256 << 30
    max_ratio: float = 200.0
    max_whole_member_bytes: int = 512 << 20
    read: ReadLimits = field(default_factory=ReadLimits)


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()
_RATIO_FLOOR = 16 << 20  # below this a high compression ratio costs nothing worth refusing
# what zipfile can decompress here (bz2 and lzma are optional modules of CPython)
_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
for _mod, _method, _label in (("bz2", zipfile.ZIP_BZIP2, "bzip2"), ("lzma", zipfile.ZIP_LZMA, "lzma")):
    try:
        __import__(_mod)
        _COMPRESSIONS[_method] = _label
    except ImportError:  # pragma: no cover - a Python built without the module
        pass


def _member_parts(name: str, where: Path) -> list[str] | None:
    """The path components of an archive member's name, each through the store's name check.

    Returns None for a member that is never read: hidden files (``.DS_Store``, macOS'
    ``._NAME`` resource forks) and anything under ``__MACOSX/``.

    Raises
    ------
    UnsafeNameError
        A component that is not one plain file name (``..``, an absolute path, a drive, a
        control character...): the archive is refused, although nothing is ever extracted.
    """
    parts = name.split("/")
    if ".." not in parts and "" not in parts and (
            parts[0] == "__MACOSX" or any(p.startswith(".") and p != "." for p in parts)):
        return None
    for part in parts:
        safe_component(part, f"archive member name {name[:200]!r} of {where.name}")
    return parts


class ReleaseArchive:
    """Files of one official release, whether zipped or unpacked, found by base name.

    Opening checks the whole listing before anything is read: member names (the store's
    one name check), duplicates, count, sizes, compression ratio, encryption and
    compression method. Every refusal is a :class:`DataFormatError` with a ``reason``.
    """

    def __init__(self, path: str | Path, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> None:
        self.path = Path(path)
        self.limits = limits
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            members = self._folder_members()
        elif self.path.is_file():
            members = self._zip_members()
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

    def _refuse(self, message: str, reason: str) -> DataFormatError:
        if self._zip is not None:
            self._zip.close()
        return DataFormatError(f"{self.path}: {message}", reason=reason)

    def _check_count_and_total(self, count: int, total: int) -> None:
        lim = self.limits
        if count > lim.max_members:
            raise self._refuse(f"{count:,} files, more than any release ({lim.max_members:,}, "
                               "ArchiveLimits.max_members)", "too_many_members")
        if total > lim.max_total_bytes:
            raise self._refuse(f"{total:,} bytes uncompressed, more than ArchiveLimits.max_total_bytes "
                               f"({lim.max_total_bytes:,})", "archive_too_large")

    def _folder_members(self) -> list[tuple[str, Any]]:
        root = self.path.resolve()
        members: list[tuple[str, Any]] = []
        self._sizes: dict[str, int] = {}
        total = 0
        for p in sorted(self.path.rglob("*")):
            if not p.is_file():
                continue
            if _member_parts(p.relative_to(self.path).as_posix(), self.path) is None:
                continue
            if not p.resolve().is_relative_to(root):  # a link that leaves the folder is not part of it
                raise UnsafeNameError(f"{p} resolves outside {self.path} (a symbolic link?); refused")
            size = p.stat().st_size
            if size > self.limits.max_member_bytes:
                raise DataFormatError(f"{p}: {size:,} bytes, more than ArchiveLimits.max_member_bytes "
                                      f"({self.limits.max_member_bytes:,})", reason="archive_member_too_large")
            members.append((p.name, p))
            self._sizes[str(p)] = size
            total += size
            self._check_count_and_total(len(members), total)
        return members

    def _zip_members(self) -> list[tuple[str, Any]]:
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
            raise DataFormatError(f"{self.path} is not a readable zip archive ({exc}); it may be truncated: "
                                  "download it again", reason="bad_zip") from exc
        lim = self.limits
        self._check_count_and_total(len(infos), sum(i.file_size for i in infos))
        seen: set[str] = set()
        members: list[tuple[str, Any]] = []
        self._sizes = {}
        for info in infos:
            name = info.filename
            if name in seen:
                raise self._refuse(f"holds two members named {name!r}; which one is the release's is unknown",
                                   "duplicate_member")
            seen.add(name)
            parts = _member_parts(name.rstrip("/") if info.is_dir() else name, self.path)
            if parts is None or info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise self._refuse(f"member {name} is encrypted; the official release is not", "encrypted_member")
            if info.compress_type not in _COMPRESSIONS:
                raise self._refuse(f"member {name} uses compression method {info.compress_type}, which cannot be "
                                   f"read here (supported: {', '.join(sorted(_COMPRESSIONS.values()))})",
                                   "unsupported_compression")
            if info.file_size > lim.max_member_bytes:
                raise self._refuse(f"member {name} holds {info.file_size:,} bytes, more than "
                                   f"ArchiveLimits.max_member_bytes ({lim.max_member_bytes:,})",
                                   "archive_member_too_large")
            if info.file_size > _RATIO_FLOOR and info.file_size > lim.max_ratio * max(info.compress_size, 1):
                raise self._refuse(f"member {name} expands {info.file_size / max(info.compress_size, 1):,.0f} times "
                                   f"(limit {lim.max_ratio:g}, ArchiveLimits.max_ratio): a zip bomb, not extxyz",
                                   "compression_ratio")
            members.append((parts[-1], name))
            self._sizes[name] = info.file_size
        return members

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

    def require_whole(self, name: str, what: str) -> None:
        """``require`` for a member that is parsed as a whole: it must fit ``max_whole_member_bytes``."""
        self.require(name, what)
        cap = self.limits.max_whole_member_bytes
        if self.size(name) > cap:
            raise DataFormatError(f"{self.path}: {name} ({what}) holds {self.size(name):,} bytes; it is read whole, "
                                  f"and the cap is {cap:,} (ArchiveLimits.max_whole_member_bytes)",
                                  reason="archive_member_too_large")

    def open_text(self, name: str) -> io.TextIOBase:
        self.require(name, "file")
        if self._zip is not None:
            try:
                raw = self._zip.open(self._files[name])
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError) as exc:
                # a local header that disagrees with the central directory, overlapping members,
                # a method or password the listing did not show
                raise DataFormatError(f"{self.path}: member {self._files[name]} cannot be opened ({exc})",
                                      reason="bad_zip") from exc
            return io.TextIOWrapper(raw, encoding="utf-8", newline="")
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
    archive.require_whole(name, "index")
    # read line by line under the line cap before pandas sees it: pandas' parser would hold
    # a 400 MB line (and its fields) whole
    limit = archive.limits.read.max_line_chars
    lines: list[str] = []
    with archive.open_text(name) as fh:
        while True:
            line = read_line(fh, name, len(lines) + 1, limit)
            if not line:
                break
            lines.append(line)
    try:
        frame = pd.read_csv(io.StringIO("".join(lines)), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFormatError(f"{name}: not a readable CSV ({exc})", reason="bad_index") from exc
    del lines
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.columns[0].startswith("Unnamed") or frame.columns[0] == "":
        frame = frame.drop(columns=frame.columns[0])
    key = config.release.get("index_key")
    if key and key not in frame.columns:
        raise DataFormatError(f"{name} has no {key!r} column (columns: {', '.join(frame.columns)[:300]})",
                              reason="missing_column")
    if key:
        dup = frame[key][frame[key].duplicated()].tolist()
        if dup:
            raise DataFormatError(f"{name}: {len(dup)} duplicate {key} values, e.g. {dup[:3]}", reason="duplicate_id")
    # the row's line in the file, for messages (header is line 1; quoted multi-line fields,
    # which the release never has, would shift it)
    frame["__line__"] = [f"{name}:{i + 2}" for i in range(len(frame))]
    return frame


def check_row(row: Mapping[str, Any], config: DatasetConfig, where: str) -> None:
    """Refuse a row that breaks its card: see :func:`litraj_data.structures.check_row`.

    Non-finite numbers, per-atom arrays of another length than the atom count, and the
    card's physics rules (dummy atoms, cell volume, barriers >= 0, chemsys of the frames).

    Raises
    ------
    DataFormatError
        With a ``reason`` and a message that starts with ``where`` (file:line).
    """
    _check_row(row, config, where)


def _card_row(atoms: Any, config: DatasetConfig, where: str, *, check: bool = True, **kwargs: Any) -> dict[str, Any]:
    try:
        row = atoms_to_card_row(atoms, config, **kwargs)
    except (ValueError, TypeError) as exc:  # coerce() of a non-numeric info or index value
        raise DataFormatError(f"{where}: {exc}", reason="bad_value") from exc
    if check:
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
                raise DataFormatError(f"{where}: {key} = {a} in the frame but {b} in the index",
                                      reason="index_mismatch")


def _split_rows(archive: ReleaseArchive, config: DatasetConfig, split: str,
                index: Mapping[str, Mapping[str, Any]] | None) -> Any:
    fname = config.release["split_file"].format(split=split)

    def rows(skip: int) -> Iterator[dict[str, Any]]:
        key = config.release.get("index_key")
        id_col = config.row_id
        seen: set[str] = set()
        n = 0
        with archive.open_text(fname) as fh:
            for i, (line, atoms) in enumerate(iter_extxyz_frames(fh, skip=skip, label=fname, size=archive.size(fname),
                                                                 limits=archive.limits.read), start=skip):
                where = f"{fname}:{line}"
                idx_row = None
                if index is not None and key:
                    idx_row = index.get(str(atoms.info.get(key)))
                    if idx_row is None:
                        raise DataFormatError(f"{where}: {key} {str(atoms.info.get(key))[:80]!r} is not in the index",
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
            found = centroids.get(edge)
            if found is None:
                raise DataFormatError(f"{rel['centroids']} has no centroid for {edge}", reason="missing_centroid")
            line, atoms = found
            where = f"{idx_row['__line__']} ({edge}; centroid {rel['centroids']}:{line})"
            row = _card_row(atoms, config, where, check=False, index_row=idx_row)
            bands = {}
            for part, pattern in (("init", rel["init_file"]), ("relaxed", rel["relaxed_file"])):
                fname = pattern.format(edge_id=edge)
                archive.require_whole(fname, f"{part} trajectory of {edge}")
                with archive.open_text(fname) as fh:
                    bands[part] = _band_block(list(iter_extxyz(fh, label=fname, size=archive.size(fname),
                                                               limits=archive.limits.read)), fname)
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
            check_row(row, config, where)
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
        cname = config.release["centroids"]
        archive.require_whole(cname, "centroid supercells")
        centroids: dict[str, tuple[int, Any]] = {}
        with archive.open_text(cname) as fh:
            for line, atoms in iter_extxyz_frames(fh, label=cname, size=archive.size(cname),
                                                  limits=archive.limits.read):
                edge = str(atoms.info.get("edge_id"))
                if edge in centroids:
                    raise DataFormatError(f"{cname}:{line}: a second centroid for {edge[:80]!r} (first at line "
                                          f"{centroids[edge][0]})", reason="duplicate_id")
                centroids[edge] = (line, atoms)
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
    if (path.is_dir() and not any(path.rglob(config.release.get("index") or "*.xyz"))
            and (path / config.release["folder"]).is_dir()):
        path = path / config.release["folder"]
    if not path.exists():
        raise FileNotFoundError(f"release source not found: {path}")
    return path


def import_release(name: str, source: str | Path | None, out: str | Path, *, version: str | None = None,
                   overwrite: bool = False, progress: bool | None = None,
                   max_shard_bytes: int | None = None, check_counts: bool = True,
                   limits: ArchiveLimits | None = None) -> Path:
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
    limits : ArchiveLimits, optional
        Caps on members, sizes, compression ratio, lines and frames (default
        :data:`DEFAULT_ARCHIVE_LIMITS`).

    Returns
    -------
    Path
        The version folder. Split counts are checked against the card: a smaller archive
        imports with a warning recorded in the manifest, a larger one is an error.

    Raises
    ------
    DataFormatError
        The whole release is refused at the first bad member or row, naming it
        (``file:line``) and a ``reason``; nothing is published (the build is staged).
    """
    config = get_config(name)
    out = Path(out)
    path = resolve_release_source(config, source, out / ".downloads")
    archive = ReleaseArchive(path, limits or DEFAULT_ARCHIVE_LIMITS)
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
    add_json_option(parser)
    d = DEFAULT_ARCHIVE_LIMITS
    parser.add_argument("--max-member-bytes", type=int, default=None, metavar="N",
                        help="refuse archive members larger than N bytes uncompressed "
                        f"(default {d.max_member_bytes:,})")
    parser.add_argument("--max-line-chars", type=int, default=None, metavar="N",
                        help=f"refuse lines longer than N characters (default {d.read.max_line_chars:,})")
    parser.add_argument("--max-ratio", type=float, default=None, metavar="R",
                        help=f"refuse members that expand more than R times (default {d.max_ratio:g})")


def limits_from_args(args: argparse.Namespace) -> ArchiveLimits:
    """:class:`ArchiveLimits` with the CLI's ``--max-*`` options applied."""
    lim = DEFAULT_ARCHIVE_LIMITS
    if getattr(args, "max_line_chars", None):
        lim = replace(lim, read=replace(lim.read, max_line_chars=args.max_line_chars))
    if getattr(args, "max_member_bytes", None):
        lim = replace(lim, max_member_bytes=args.max_member_bytes)
    if getattr(args, "max_ratio", None):
        lim = replace(lim, max_ratio=args.max_ratio)
    return lim


def run(args: argparse.Namespace) -> int:
    folder = import_release(args.name, args.source, args.out, version=args.version, overwrite=args.overwrite,
                            limits=limits_from_args(args))
    man = json.loads((folder / "manifest.json").read_text())
    counts = {s: r["num_rows"] for s, r in man["splits"].items()}
    if args.json:
        print(json.dumps({"records": [{"file": str(args.source or "official"), "dataset": man["dataset"],
                                       "version": man["version"], "path": str(folder), "splits": counts,
                                       "notes": man["notes"]}]}))
    else:
        print(f"built {man['dataset']} {man['version']} in {folder}: "
              + ", ".join(f"{s} {n}" for s, n in counts.items()))
    return 0
