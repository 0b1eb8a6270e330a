"""manifest.json: what a built dataset version contains, with a sha256 per file.

The manifest is written last, after every shard is in place, so its presence marks a
complete version. Loaders trust nothing that the manifest does not list.

A manifest is untrusted input (it comes with a mirror, a Hub repository or a folder a user
was handed): :func:`read_manifest` checks its whole structure once, and every name in it
through :mod:`litraj_data.store.names`, before anything uses it. Paths of the files it
lists come only from :meth:`Manifest.path` (real path proven to stay in the folder).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from litraj_data.errors import DataFormatError, UnsafeNameError
from litraj_data.io import atomic_write_text
from litraj_data.store.names import inside, safe_component, safe_version, unique_names

MANIFEST_NAME = "manifest.json"
#: a manifest lists a few hundred shards at most; a bigger document is refused unread
MAX_MANIFEST_BYTES = 16 << 20
#: names a manifest may not list as its own files (they are the version's own documents)
RESERVED_NAMES = frozenset({MANIFEST_NAME.casefold(), "readme.md"})
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Manifest:
    """A parsed manifest.json (see ``docs/formats.md`` for every field)."""

    data: dict[str, Any]
    root: Path
    #: folders a listed file may resolve into through a symbolic link (the Hub cache's blobs)
    trusted_roots: tuple[Path, ...] = field(default=())
    #: (device, inode) of the version folder, taken before the manifest was read (see :func:`read_snapshot`)
    identity: tuple[int, int] | None = None
    _real_root: str | None = field(default=None, repr=False, compare=False)
    _checked: dict[str, Path] = field(default_factory=dict, repr=False, compare=False)

    @property
    def dataset(self) -> str:
        return self.data["dataset"]

    @property
    def version(self) -> str:
        return self.data["version"]

    @property
    def format(self) -> str:
        return self.data.get("format", "arrow")

    @property
    def splits(self) -> list[str]:
        """Split names, train/val/test first (JSON keys are stored sorted)."""
        names = list(self.data["splits"])
        order = {"train": 0, "val": 1, "test": 2}
        return sorted(names, key=lambda s: (order.get(s, 3), s))

    def files(self, split: str | None = None) -> list[dict[str, Any]]:
        """File records (name, sha256, num_rows, num_bytes) of one split or of all splits."""
        splits = [split] if split else self.splits
        out = []
        for s in splits:
            if s not in self.data["splits"]:
                raise DataFormatError(
                    f"{self.dataset} {self.version} has no split {s!r}; splits: {', '.join(self.splits)}",
                    reason="unknown_split")
            out += self.data["splits"][s]["files"]
        return out

    def num_rows(self, split: str) -> int:
        return int(self.data["splits"][split]["num_rows"])

    def extra_files(self) -> list[dict[str, Any]]:
        return list(self.data.get("extra_files", []))

    @property
    def build_id(self) -> str:
        """What identifies this build: the inputs fingerprint, else the sha256 of the shards' sha256s."""
        if isinstance(self.data.get("build_id"), str):
            return self.data["build_id"]
        return hashlib.sha256("|".join(f["sha256"] for f in self.files()).encode()).hexdigest()[:16]

    def path(self, name: str) -> Path:
        """The path of a file this manifest lists, proven to stay in the version folder.

        Raises
        ------
        UnsafeNameError
            The name is unsafe or the file is a link pointing outside the folder.
        """
        checked = self._checked.get(name)
        if checked is None:  # checked once per snapshot (a warm load asks for each file three times)
            if self._real_root is None:
                self._real_root = os.path.realpath(self.root)
            checked = self._checked[name] = inside(self.root, name, f"file name in {self.root}/{MANIFEST_NAME}",
                                                   self.trusted_roots, self._real_root)
        return checked


def _count(value: Any, what: str, where: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataFormatError(f"{where}: {what} is {value!r}, expected a count (integer >= 0)", reason="bad_manifest")
    return value


def _file_record(rec: Any, where: Path, fmt: str | None) -> str:
    """Check one file record (name, sha256, sizes); returns its name."""
    if not isinstance(rec, dict):
        raise DataFormatError(f"{where}: a file record is {type(rec).__name__}, expected an object",
                              reason="bad_manifest")
    name = safe_component(rec.get("name"), f"file name in {where}")
    if name.casefold() in RESERVED_NAMES:
        raise UnsafeNameError(f"{where} lists {name!r} as one of its files; that name is the version's own document")
    if fmt is not None and not name.endswith(f".{fmt}"):
        raise DataFormatError(f"{where}: shard {name!r} does not end with .{fmt} (the manifest's format)",
                              reason="bad_manifest")
    if not isinstance(rec.get("sha256"), str) or not _SHA256.fullmatch(rec["sha256"]):
        raise DataFormatError(f"{where}: {name} has no sha256 (64 lowercase hex digits)", reason="bad_manifest")
    _count(rec.get("num_bytes"), f"num_bytes of {name}", where)
    if fmt is not None:
        _count(rec.get("num_rows"), f"num_rows of {name}", where)
    return name


def check_manifest(data: Any, where: Path) -> dict[str, Any]:
    """Check a parsed manifest document: structure, counts, and every name in it.

    Parameters
    ----------
    data : object
        The parsed JSON.
    where : Path
        The manifest's path or URL, for messages.

    Returns
    -------
    dict
        ``data`` unchanged.

    Raises
    ------
    DataFormatError
        ``bad_manifest``: missing keys, wrong types, negative counts, a bad sha256.
    UnsafeNameError
        ``unsafe_name``: a dataset, split, version or file name that is not one plain name, a
        name listed twice (also case-insensitively), or a reserved name.
    """
    if not isinstance(data, dict):
        raise DataFormatError(f"{where} is not a JSON object: not a litraj-data manifest", reason="bad_manifest")
    for key in ("dataset", "version", "splits"):
        if key not in data:
            raise DataFormatError(f"{where} lacks {key!r}: not a litraj-data manifest", reason="bad_manifest")
    safe_component(data["dataset"], f"dataset name in {where}")
    safe_version(data["version"], f"version in {where}")
    fmt = data.get("format", "arrow")
    if fmt not in ("arrow", "parquet"):
        raise DataFormatError(f"{where}: format {fmt!r} is neither 'arrow' nor 'parquet'", reason="bad_manifest")
    splits = data["splits"]
    if not isinstance(splits, dict) or not splits:
        raise DataFormatError(f"{where}: 'splits' must be an object with at least one split", reason="bad_manifest")
    names: list[str] = []
    for split, rec in splits.items():
        safe_component(split, f"split name in {where}")
        if not isinstance(rec, dict) or not isinstance(rec.get("files"), list) or not rec["files"]:
            raise DataFormatError(f"{where}: split {split!r} lists no files", reason="bad_manifest")
        _count(rec.get("num_rows"), f"num_rows of split {split}", where)
        names += [_file_record(f, where, fmt) for f in rec["files"]]
    extra = data.get("extra_files", [])
    if not isinstance(extra, list):
        raise DataFormatError(f"{where}: 'extra_files' must be a list", reason="bad_manifest")
    names += [_file_record(f, where, None) for f in extra]
    unique_names(names, str(where))
    if "build_id" in data and not (isinstance(data["build_id"], str) and re.fullmatch(r"[0-9a-f]{8,64}",
                                                                                      data["build_id"])):
        raise DataFormatError(f"{where}: build_id {data['build_id']!r} is not a hex digest", reason="bad_manifest")
    return data


def parse_manifest(raw: bytes, where: Path, root: Path | None = None,
                   trusted_roots: tuple[Path, ...] = ()) -> Manifest:
    """A :class:`Manifest` from the bytes of a manifest.json, checked (see :func:`check_manifest`)."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise DataFormatError(f"{where} is {len(raw)} bytes, more than a manifest can be ({MAX_MANIFEST_BYTES}); "
                              "refused unread", reason="bad_manifest")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DataFormatError(f"{where} is not valid JSON ({str(exc)[:200]})", reason="bad_manifest") from None
    check_manifest(data, where)
    return Manifest(data=data, root=where.parent if root is None else root, trusted_roots=trusted_roots)


def read_manifest(folder: str | Path, trusted_roots: tuple[Path, ...] = ()) -> Manifest:
    """Read and check ``folder/manifest.json`` (once: callers keep the returned snapshot).

    Parameters
    ----------
    folder : path
        A built version.
    trusted_roots : tuple of Path
        Folders the listed files may resolve into through links, besides ``folder``.

    Raises
    ------
    DataFormatError
        When the manifest is missing or not a litraj-data manifest (``missing_manifest``,
        ``bad_manifest``), or names something unsafe (``unsafe_name``).
    """
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    identity = folder_identity(folder)
    if not path.is_file():
        raise DataFormatError(f"no {MANIFEST_NAME} in {folder}: not a built litraj-data version "
                              "(an interrupted build leaves only a hidden .partial folder)",
                              reason="missing_manifest")
    inside(folder, MANIFEST_NAME, "manifest", trusted_roots)
    with open(path, "rb") as fh:
        raw = fh.read(MAX_MANIFEST_BYTES + 1)
    man = parse_manifest(raw, path, folder, tuple(Path(r) for r in trusted_roots))
    man.identity = identity
    return man


def folder_identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, or None when it is missing (mid-swap)."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino


T = TypeVar("T")


def read_snapshot(folder: str | Path, use: Callable[[Manifest], T], *, first: Manifest | None = None,
                  trusted_roots: tuple[Path, ...] = (), attempts: int = 8) -> T:
    """Run ``use(manifest)`` on one snapshot of a version: every file it opens is of that build.

    A version is replaced only by swapping whole folders (the store's one publish
    primitive), which changes the inode behind ``folder``; an old folder never comes back
    (it leaves under a unique trash name and is deleted). So when the folder's inode is the
    same before the manifest was read and after ``use`` opened its files, every file came
    from the build that manifest describes. Otherwise -- a concurrent ``--overwrite`` swapped
    versions -- the snapshot is taken again from a fresh manifest; errors raised while the
    folder was being swapped (a file missing or of another size) are retried, not reported.

    Parameters
    ----------
    folder : path
        The version folder.
    use : callable
        Reads or opens what it needs through the manifest it is given (``Manifest.path``).
    first : Manifest, optional
        A manifest of ``folder`` already read (its ``identity`` is the first snapshot's).
    trusted_roots : tuple of Path
        As :func:`read_manifest`.
    attempts : int
        Snapshots tried before giving up.

    Raises
    ------
    LitrajError
        ``busy``: the folder was replaced during every attempt.
    """
    from litraj_data.errors import LitrajError

    folder = Path(folder)
    man = first if first is not None and first.identity is not None else None
    for _ in range(attempts):
        if man is None:
            man = read_manifest(folder, trusted_roots)
        before = man.identity
        try:
            result = use(man)
        except (LitrajError, OSError):
            if before is not None and folder_identity(folder) == before:
                raise  # nothing was swapped: the error is real
            man = None
            continue
        if before is not None and folder_identity(folder) == before:
            return result
        man = None
    raise LitrajError(f"{folder} was replaced {attempts} times while it was being read (a build with --overwrite "
                      "running in a loop?); retry when it is done", reason="busy")


def write_manifest(folder: str | Path, data: dict[str, Any]) -> Path:
    """Atomically write ``folder/manifest.json`` (keys sorted, stable for diffs)."""
    path = Path(folder) / MANIFEST_NAME
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
