"""Names that come from outside (manifests, mirrors, archives, cards) are checked before use.

A manifest is data from whoever published it: a file name of ``../../x`` or a version of
``../../y`` must never make the store write or move anything outside its folder. Every path
taken from such a document goes through :func:`safe_component` (or :func:`safe_version`).
"""
from __future__ import annotations

import re
from pathlib import Path

from litraj_data.errors import UnsafeNameError

#: semver with optional pre-release / build parts; the cache adds ``+SOURCEKEY`` build tags
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_BAD_CHARS = set('/\\\0:')


def safe_component(name: object, what: str = "file name") -> str:
    """``name`` if it is one plain path component, else :class:`UnsafeNameError`.

    Rejected: non-strings, empty names, ``.``/``..``, names with a path separator, a drive
    colon or NUL, absolute paths, and names starting with ``~``.
    """
    if not isinstance(name, str) or not name or name in (".", "..") or name.startswith("~") \
            or any(c in _BAD_CHARS for c in name) or name != name.strip():
        raise UnsafeNameError(f"unsafe {what} {name!r}: expected one plain file name, no folders")
    return name


def safe_version(version: object) -> str:
    """``version`` if it is a semantic version (``1.0.0``, ``1.0.0+abc``), else :class:`UnsafeNameError`."""
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise UnsafeNameError(f"unsafe or malformed version {version!r}: expected MAJOR.MINOR.PATCH")
    return version


def inside(folder: Path, name: str, what: str = "file name") -> Path:
    """``folder / name`` after checking ``name``, resolved, and proven to stay in ``folder``.

    Catches a symbolic link placed in ``folder`` that points outside it.
    """
    path = folder / safe_component(name, what)
    real_folder = folder.resolve()
    if path.resolve().parent != real_folder:
        raise UnsafeNameError(f"{what} {name!r} resolves outside {folder} (a link?)")
    return path
