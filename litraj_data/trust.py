"""The one place that decides whether a model file a user points at may be loaded.

Weights come from strangers: a "fine-tuned model" folder someone sent, a checkpoint
downloaded from a paper's page, a previous run folder. PyTorch checkpoints are pickles, and
``torch.load(..., weights_only=False)`` -- what CHGNet's ``from_file``, sevenn's checkpoint
reader and MACE's calculator call -- runs whatever code the pickle names. So every path a
user can point at (``--weights`` of ``screen``, ``bench umlip``, ``bench efs`` and
``finetune``, fine-tuned model folders, ``--init-from`` of ``train gnn``) goes through this
module first:

* :func:`load_torch` reads a checkpoint with ``torch.load(weights_only=True)``: PyTorch's
  restricted unpickler, which builds tensors, containers, numbers and strings and refuses
  every other global *before* calling it. Plain numpy arrays and scalars (SevenNet's
  checkpoints hold some in their config) are added to its allow-list; nothing that can run
  code is.
* :func:`check_weights` does the same for a file or a folder that a library loads itself
  (MACE, matgl, MatterSim, Orb): every file a loader may unpickle must pass the restricted
  load first. A file that needs other globals -- a pickled ``nn.Module`` (a MACE ``.model``),
  a pickle whose ``__reduce__`` calls ``os.system`` -- is refused with
  :class:`UnsafeWeightsError` (``reason`` ``unsafe_weights``), the globals named.
* ``trust=True`` (the ``--trust`` option of the commands) skips both checks: the user says
  the file comes from a source they trust, and the library's own loader runs as it would
  without litraj-data. It is never the default.

Files shipped inside an installed package (CHGNet's and SevenNet-0's wheel weights) are as
trusted as the package's own code and are loaded by the package.
"""
from __future__ import annotations

import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

from litraj_data.errors import DataFormatError, LitrajError
from litraj_data.lazy import lazy_import

__all__ = ["TRUST_HELP", "UnsafeWeightsError", "load_torch", "check_weights", "unsafe_globals"]

#: help text of every ``--trust`` option (``baseline predict --trust`` says the same)
TRUST_HELP = ("load a model file that needs untrusted types or is a pickle (can run code: only for files "
              "from a source you trust)")

#: files in a model folder that no loader unpickles (read as text/JSON/Parquet by the libraries)
_INERT_SUFFIXES = frozenset({".json", ".yaml", ".yml", ".txt", ".md", ".csv", ".log", ".parquet", ".cff",
                             ".xyz", ".extxyz", ".png", ".svg", ".html"})
#: files checked in one folder at most (a model folder holds a handful)
MAX_FOLDER_FILES = 200


class UnsafeWeightsError(LitrajError):
    """A model file that cannot be loaded without running code from it (``--trust`` loads it anyway)."""

    reason = "unsafe_weights"


def _numpy_globals() -> list[Any]:
    # the numpy pieces of a plain array or scalar: constructors that build data, never call
    # user code (object arrays' items still go through the restricted unpickler)
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    out: list[Any] = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    # files written under numpy 1 name numpy.core.multiarray; numpy 2 moved it to numpy._core
    out += [(core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
            (core.multiarray.scalar, "numpy.core.multiarray.scalar")]
    out += [type(np.dtype(t)) for t in ("f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "?",
                                        "c16", "c8", "U", "S", "O")]
    return out


def unsafe_globals(path: str | os.PathLike) -> list[str]:
    """The globals a torch checkpoint needs beyond what :func:`load_torch` allows (read statically).

    A zip checkpoint is read with torch's own scanner; any other file as a plain pickle, its
    opcodes listed by :mod:`pickletools` (nothing is executed). Empty for a file that is no pickle.
    """
    torch = lazy_import("torch")

    if not zipfile.is_zipfile(path):
        found = _pickle_globals(Path(path))
    else:
        try:
            found = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        except (RuntimeError, ValueError, OSError, zipfile.BadZipFile, pickle.UnpicklingError, KeyError):
            return []
    allowed = {g[1] if isinstance(g, tuple) else f"{g.__module__}.{g.__qualname__}" for g in _numpy_globals()}
    return sorted(g for g in found if g not in allowed and g.replace("numpy._core", "numpy.core") not in allowed)


def _pickle_globals(path: Path, limit: int = 16 << 20) -> list[str]:
    # GLOBAL / STACK_GLOBAL opcodes of a plain pickle, listed without running it
    import pickletools

    try:
        with open(path, "rb") as fh:
            data = fh.read(limit)
    except OSError:
        return []
    found, strings = [], []
    try:
        for op, arg, _ in pickletools.genops(data):
            if isinstance(arg, str):
                strings.append(arg)
            if op.name == "GLOBAL":
                found.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
    except (ValueError, KeyError, IndexError, EOFError, UnicodeDecodeError, TypeError):
        pass  # a truncated or non-pickle tail: what was listed so far is the answer
    return found


def load_torch(path: str | os.PathLike, *, trust: bool = False, what: str = "weights file") -> Any:
    """``torch.load`` of a file a user pointed at, on the CPU, restricted unless ``trust``.

    Parameters
    ----------
    path : path
        A torch checkpoint (zip or legacy format).
    trust : bool
        Load with ``weights_only=False`` (can run code from the file: the user's explicit choice).
    what : str
        What the file is, for messages (``"weights file"``, ``"--init-from model.pt"``).

    Returns
    -------
    object
        What was saved: a state dict, a dict of config and state dicts, ...

    Raises
    ------
    UnsafeWeightsError
        ``unsafe_weights``: the file needs globals that could run code (named).
    DataFormatError
        ``weights_invalid``: not a torch checkpoint (truncated, another format);
        ``weights_missing``: no such file.
    """
    torch = lazy_import("torch")

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{what} {path}: no such file", reason="weights_missing")
    try:
        if trust:
            return torch.load(path, map_location="cpu", weights_only=False)
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if trust:
            raise DataFormatError(f"{what} {path}: not a torch checkpoint ({exc})", reason="weights_invalid") from None
        names = unsafe_globals(path)
        if not names and "global" not in str(exc).lower():  # no code named anywhere: just not a checkpoint
            raise DataFormatError(f"{what} {path}: not a torch checkpoint (the restricted unpickler stopped: "
                                  "no tensors or plain data)", reason="weights_invalid") from None
        named = f" (it needs {', '.join(names[:8])}{', ...' if len(names) > 8 else ''})" if names else ""
        raise UnsafeWeightsError(f"{what} {path} cannot be loaded without running code from it{named}: "
                                 "a pickled object, not tensors and plain data; pass --trust only if you "
                                 "trust where the file came from", reason="unsafe_weights") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError, AttributeError, TypeError,
            KeyError, IndexError, struct.error, UnicodeDecodeError, OverflowError, MemoryError) as exc:
        # torch's errors for a truncated zip, a wrong magic number, an unknown storage type
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise DataFormatError(f"{what} {path}: not a torch checkpoint ({type(exc).__name__}: {first})",
                              reason="weights_invalid") from None


def _candidates(folder: Path) -> list[Path]:
    files = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix.lower() not in _INERT_SUFFIXES:
            files.append(p)
            if len(files) > MAX_FOLDER_FILES:
                raise DataFormatError(f"{folder}: more than {MAX_FOLDER_FILES} files; a model folder holds a "
                                      "handful", reason="weights_invalid")
    return files


def check_weights(path: str | os.PathLike, *, trust: bool = False, what: str = "weights") -> None:
    """Refuse a weights file or folder that a library's own loader would unpickle unsafely.

    Every file of ``path`` (the file itself, or each file of the folder except plain text,
    JSON and YAML) must load with :func:`load_torch` (restricted); then the library may load
    it. With ``trust`` nothing is checked.

    Raises
    ------
    UnsafeWeightsError, DataFormatError
        As :func:`load_torch`.
    """
    if trust:
        return
    path = Path(path)
    if path.is_dir():
        for p in _candidates(path):
            load_torch(p, what=f"{what} file")
        return
    load_torch(path, what=what)
