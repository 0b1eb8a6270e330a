"""The one boundary for names that come from outside: manifests, cards, archives, indexes, folders.

A manifest, a dataset card, a mirror, a Hub snapshot or a release folder is data from whoever
published it. A file name of ``../../.bashrc``, a version of ``1.0.0\\n`` or a shard that is a
symbolic link to ``/etc/passwd`` must never make the store read, write, move or delete
anything outside the folder it works in. Every name taken from such a document goes through
this module, on every route (local folder, Parquet conversion, Hub, mirror, ``verify``,
``export``, ``release``):

* :func:`safe_component` -- one plain file name from a conservative ASCII alphabet (no
  separators, no ``..``, no NUL or control characters, no Unicode look-alikes, no leading
  dot or dash, bounded length);
* :func:`safe_version` -- a semantic version, matched in full (``re.fullmatch``: a trailing
  newline is refused, ASCII digits only);
* :func:`inside` -- ``folder / name`` with the real path resolved and proven to stay in the
  folder (a symbolic link pointing outside is refused), or in a trusted root the caller names
  (the Hugging Face cache keeps snapshot files as links into its ``blobs/`` folder);
* :func:`unique_names` -- the names of one document are distinct, also case-insensitively
  (two names that one filesystem folds together would overwrite each other).

Everything refused raises :class:`~litraj_data.errors.UnsafeNameError` (reason
``unsafe_name``) naming what was refused and where it came from.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from litraj_data.errors import UnsafeNameError

#: semver with optional pre-release / build parts; the cache adds ``+SOURCEKEY`` build tags.
#: ASCII digits only (``\d`` would accept other scripts' digits); used with ``fullmatch``.
VERSION_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
#: one plain file name: ASCII letters, digits and ``_ . + - @ = ,``; it starts with a letter,
#: a digit or ``_`` (no hidden files, no names a shell tool would read as an option)
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+@=,-]*")
MAX_NAME_BYTES = 200
MAX_VERSION_CHARS = 64


def _shown(name: object) -> str:
    """``name`` for a message: repr, shortened (a hostile name may be megabytes long)."""
    text = repr(name)
    return text if len(text) <= 80 else text[:77] + "..."


def safe_component(name: object, what: str = "file name") -> str:
    """``name`` if it is one plain path component, else :class:`UnsafeNameError`.

    Parameters
    ----------
    name : object
        The untrusted value (anything a JSON or YAML document may hold).
    what : str
        What it names and where it came from, for the message (``"file name in X/manifest.json"``).

    Returns
    -------
    str
        ``name`` unchanged.

    Raises
    ------
    UnsafeNameError
        Not a string; empty; ``.``/``..`` or any name with ``..`` as a part; a path
        separator, a drive colon, NUL, a control or non-ASCII character; a leading dot,
        dash or ``~``; longer than 200 bytes.
    """
    if not isinstance(name, str):
        raise UnsafeNameError(f"unsafe {what} {_shown(name)}: expected a string")
    if len(name) > MAX_NAME_BYTES or not NAME_RE.fullmatch(name) or ".." in name:
        raise UnsafeNameError(f"unsafe {what} {_shown(name)}: expected one plain file name (ASCII letters, digits, "
                              "'_.+-@=,'; no folders, no '..', at most 200 characters)")
    return name


def safe_version(version: object, what: str = "version") -> str:
    """``version`` if it is a semantic version (``1.0.0``, ``1.0.0+abc``), else :class:`UnsafeNameError`.

    The whole string must match (``re.fullmatch``): ``"1.0.0\\n"`` and ``"1.0.0/../x"`` are refused.
    """
    if not isinstance(version, str) or len(version) > MAX_VERSION_CHARS or not VERSION_RE.fullmatch(version):
        raise UnsafeNameError(f"unsafe or malformed {what} {_shown(version)}: expected MAJOR.MINOR.PATCH")
    return version


def is_safe_version(version: object) -> bool:
    """Whether :func:`safe_version` accepts ``version`` (for skipping foreign folders while listing)."""
    return isinstance(version, str) and len(version) <= MAX_VERSION_CHARS and VERSION_RE.fullmatch(version) is not None


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def inside(folder: str | os.PathLike, name: object, what: str = "file name",
           trusted_roots: Iterable[str | os.PathLike] = (), real_folder: str | None = None) -> Path:
    """``folder / name`` after checking ``name``, with its real path proven to stay in ``folder``.

    Parameters
    ----------
    folder : path
        The folder the name must stay in.
    name : object
        The untrusted name (checked by :func:`safe_component`).
    what : str
        For the message.
    trusted_roots : iterable of path
        Further folders a symbolic link may point into (the Hugging Face cache's ``blobs/``).
    real_folder : str, optional
        ``os.path.realpath(folder)`` when the caller already knows it (a manifest resolves its
        folder once, not once per file).

    Returns
    -------
    Path
        ``folder / name`` (not resolved: callers keep the path the user knows).

    Raises
    ------
    UnsafeNameError
        The name is unsafe, or the path (through a symbolic link) resolves outside
        ``folder`` and every trusted root.
    """
    path = Path(folder) / safe_component(name, what)
    real = os.path.realpath(path)
    roots = [real_folder or os.path.realpath(folder)] + [os.path.realpath(r) for r in trusted_roots]
    if os.path.dirname(real) != roots[0] and not any(_within(real, r) for r in roots[1:]):
        raise UnsafeNameError(f"{what} {_shown(name)} in {folder} resolves outside it, to {real} (a symbolic link?); "
                              "refused")
    return path


def unique_names(names: Iterable[str], where: str) -> None:
    """Refuse two equal names in one document, also when they differ only in letter case.

    Raises
    ------
    UnsafeNameError
        Naming the repeated name and ``where``.
    """
    seen: dict[str, str] = {}
    for name in names:
        key = name.casefold()
        if key in seen:
            raise UnsafeNameError(f"{where} names {seen[key]!r} twice (as {name!r}); a file would overwrite another")
        seen[key] = name
