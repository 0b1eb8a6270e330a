"""Where built versions live: ``ROOT/NAME/VERSION/`` folders, and the embedded sample's root.

A build root (``--out`` of ``litraj build``, the cache, the package's sample folder) holds
one folder per dataset and in it one folder per semver version; a version folder is
complete exactly when it holds ``manifest.json`` (written last).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_root() -> Path:
    """Folder of the embedded sample shipped in the package (``NAME/VERSION/`` inside)."""
    return Path(str(resources.files("litraj_data").joinpath("sample")))


def version_dir(root: str | Path, name: str, version: str) -> Path:
    """``root/name/version``: the folder of one built version."""
    return Path(root) / name / version
