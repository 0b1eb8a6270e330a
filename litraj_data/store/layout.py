"""Where built versions live: ``ROOT/NAME/VERSION/`` folders, and the embedded sample's root.

A build root (``--out`` of ``litraj build``, the cache, the package's sample folder) holds
one folder per dataset and in it one folder per semver version; a version folder is
complete exactly when it holds ``manifest.json`` (written last).

Folders appear in one step only, through :func:`publish_folder` (the one folder-publish
primitive), from a staging folder that is always new (:func:`new_staging`); an old version
leaves under a unique trash name (:func:`trash_of`).
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
import tempfile
import uuid
from importlib import resources
from pathlib import Path
from typing import Callable

from litraj_data.io import fsync_dir


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
    """Where the old version waits while a rebuilt one replaces it without ``renameat2`` (``.VERSION.old``)."""
    return final.with_name(f".{final.name}.old")


def _token() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def trash_of(final: Path) -> Path:
    """A unique name beside ``final`` for an old version on its way out (``.VERSION.trash-TOKEN``).

    Never a staging name: a process killed before it deletes the trash leaves a folder that no
    later build resumes from or publishes.
    """
    return final.with_name(f".{final.name}.trash-{_token()}")


def new_staging(parent: str | os.PathLike, name: str) -> Path:
    """A new, empty staging folder in ``parent`` (``.NAME.TOKEN.partial``), unique to this call.

    Staging folders are always new: a leftover of another process (killed, or an old version
    swapped out) is never written into or published. Its mode follows the umask (``mkdtemp``
    makes 0700; published folders must stay readable).
    """
    Path(parent).mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent))
    mask = os.umask(0o022)
    os.umask(mask)
    path.chmod(0o777 & ~mask)
    return path


def publish_folder(staging: Path, final: Path, *, replace: bool = False) -> None:
    """Put the finished folder ``staging`` at ``final`` in one step: the one folder-publish primitive.

    Every writer of the store (builds, cache entries, conversions, releases, exports) hands
    its finished staging folder to this function. Readers see the old folder or the new one,
    never a mix.

    Parameters
    ----------
    staging : Path
        The complete new folder, beside ``final`` (same filesystem).
    final : Path
        Where it goes.
    replace : bool
        Replace an existing ``final``. On Linux the two folders are exchanged in one
        ``renameat2(RENAME_EXCHANGE)``; the new folder is first renamed to a unique name, so the
        old version comes out under a unique trash name (never a staging name), then is
        deleted. Elsewhere the old folder is renamed to ``.VERSION.old`` first and
        :func:`recover_version` puts it back if the process dies between the two renames.

    Raises
    ------
    FileExistsError
        ``final`` exists and ``replace`` is False.
    """
    staging, final = Path(staging), Path(final)
    if not os.path.lexists(final):
        try:
            os.rename(staging, final)
        except OSError as exc:  # someone else published first (callers hold a lock; this is a guard)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(f"{final} appeared while this folder was being published") from exc
            raise
        fsync_dir(final.parent)
        return
    if not replace:
        raise FileExistsError(f"{final} exists")
    swap = trash_of(final)
    os.rename(staging, swap)
    if _EXCHANGE is not None and _EXCHANGE(str(swap), str(final)):
        fsync_dir(final.parent)
        shutil.rmtree(swap, ignore_errors=True)  # ``swap`` now holds the old version
        return
    backup = backup_of(final)
    shutil.rmtree(backup, ignore_errors=True)
    os.rename(final, backup)
    os.rename(swap, final)
    fsync_dir(final.parent)
    shutil.rmtree(backup, ignore_errors=True)


def replace_version(new: Path, final: Path) -> None:
    """:func:`publish_folder` with ``replace=True`` (the name builders use)."""
    publish_folder(new, final, replace=True)


def clear_leftovers(final: Path) -> list[Path]:
    """Delete what killed writers left beside ``final``: trash of swapped-out versions.

    Call it holding the version's lock. Returns the removed folders.
    """
    removed = []
    for p in final.parent.glob(f".{final.name}.trash-*"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def recover_version(final: Path) -> bool:
    """After a crash between the two renames of :func:`publish_folder`: restore the old version.

    Call it holding the version's lock. Also deletes the trash of earlier swaps. Returns True
    when something was restored.
    """
    clear_leftovers(final)
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
