"""manifest.json: what a built dataset version contains, with a sha256 per file.

The manifest is written last, after every shard is in place, so its presence marks a
complete version. Loaders trust nothing that the manifest does not list.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litraj_data.errors import DataFormatError
from litraj_data.io import atomic_write_text

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1


@dataclass
class Manifest:
    """A parsed manifest.json (see ``docs/formats.md`` for every field)."""

    data: dict[str, Any]
    root: Path

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


def read_manifest(folder: str | Path) -> Manifest:
    """Read ``folder/manifest.json``.

    Raises
    ------
    DataFormatError
        When the manifest is missing or not a litraj-data manifest.
    """
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise DataFormatError(f"no {MANIFEST_NAME} in {folder}: not a built litraj-data version "
                              "(an interrupted build leaves only a hidden .partial folder)",
                              reason="missing_manifest")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path} is not valid JSON ({exc})", reason="bad_manifest") from exc
    for key in ("dataset", "version", "splits"):
        if key not in data:
            raise DataFormatError(f"{path} lacks {key!r}: not a litraj-data manifest", reason="bad_manifest")
    return Manifest(data=data, root=folder)


def write_manifest(folder: str | Path, data: dict[str, Any]) -> Path:
    """Atomically write ``folder/manifest.json`` (keys sorted, stable for diffs)."""
    path = Path(folder) / MANIFEST_NAME
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
