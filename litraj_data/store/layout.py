"""Where built versions live: ``ROOT/NAME/VERSION/`` folders, and the embedded sample's root.

A build root (``--out`` of ``litraj build``, the cache, the package's sample folder) holds
one folder per dataset and in it one folder per semver version; a version folder is
complete exactly when it holds ``manifest.json`` (written last).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Callable


def sample_root() -> Path:
    """Folder of the embedded sample shipped in the package (``NAME/VERSION/`` inside)."""
    return Path(str(resources.files("litraj_data").joinpath("sample")))


def version_dir(root: str | Path, name: str, version: str) -> Path:
    """``root/name/version``: the folder of one built version."""
    return Path(root) / name / version


def lock_path(root: str | Path, name: str, version: str) -> Path:
    """The lock file of one version folder: ``root/name/.version.lock``."""
    return Path(root) / name / f".{version}.lock"


def _renameat2_exchange() -> Callable[[str, str], bool] | None:
    """Linux's atomic exchange of two paths (``renameat2(..., RENAME_EXCHANGE)``), if libc has it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]

    def exchange(a: str, b: str) -> bool:
        return fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0

    return exchange


_EXCHANGE = _renameat2_exchange()


def backup_of(final: Path) -> Path:
    """Where the old version waits while a rebuilt one replaces it (``.VERSION.old``)."""
    return final.with_name(f".{final.name}.old")


def replace_version(new: Path, final: Path) -> None:
    """Put the finished folder ``new`` at ``final``, replacing an old version atomically.

    With an old version present, Linux swaps the two folders in one ``renameat2`` call, so a
    complete version is at ``final`` at every instant; elsewhere (or on filesystems without
    the call) the old folder is first renamed to ``.VERSION.old`` and :func:`recover_version`
    puts it back if the process dies before the new one is in place.
    """
    if not final.exists():
        os.replace(new, final)
        return
    if _EXCHANGE is not None and _EXCHANGE(str(new), str(final)):
        shutil.rmtree(new)  # ``new`` now holds the old version
        return
    backup = backup_of(final)
    shutil.rmtree(backup, ignore_errors=True)
    os.replace(final, backup)
    os.replace(new, final)
    shutil.rmtree(backup, ignore_errors=True)


def recover_version(final: Path) -> bool:
    """After a crash between the two renames of :func:`replace_version`: restore the old version.

    Call it holding the version's lock. Returns True when something was restored.
    """
    backup = backup_of(final)
    if not backup.exists():
        return False
    if (final / "manifest.json").is_file():
        shutil.rmtree(backup, ignore_errors=True)  # the new version made it; the backup is garbage
        return False
    if (backup / "manifest.json").is_file():
        if final.exists():
            shutil.rmtree(final)
        os.replace(backup, final)
        return True
    shutil.rmtree(backup, ignore_errors=True)
    return False
