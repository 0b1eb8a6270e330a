"""MACE in another interpreter: an ASE calculator backed by :mod:`.mace_server` over a pipe.

mace-torch pins e3nn 0.4.4 and lives in a venv of its own (``.ci/mace_venv.sh`` builds one;
``docs/finetune.md``). When ``mace`` cannot be imported here and ``LITRAJ_MACE_PYTHON`` names
that venv's python, the ``mace`` builder of the uMLIP registry starts one server process per
loaded model (``VENV/bin/python mace_server.py --model FILE``) and every calculator of the
band talks to it: positions, numbers, cell and pbc go out as one JSON line, energy, forces
and stress come back as one JSON line. No pickle crosses the pipe.

The server loads the ``.model`` file with MACE's own loader, which unpickles it: the caller
(:func:`~litraj_data.leaderboard.reference.umlip.builders_mlip.build_mace`) runs
:func:`litraj_data.trust.check_weights` first, so an untrusted file is refused before any
process starts, exactly as in-process.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from litraj_data.leaderboard.reference.umlip.errors import ModelUnavailable

__all__ = ["MACE_PYTHON_ENV", "SERVER", "MaceServer", "MacePipeCalculator", "mace_python", "package_version"]

#: environment variable naming the python of the mace venv
MACE_PYTHON_ENV = "LITRAJ_MACE_PYTHON"
#: the server script, run by that python (it imports nothing from litraj-data)
SERVER = Path(__file__).with_name("mace_server.py")


def mace_python() -> str | None:
    """The mace venv's python from ``LITRAJ_MACE_PYTHON`` (``None`` when unset).

    Raises
    ------
    ModelUnavailable
        ``model_not_installed`` when the variable names no executable file.
    """
    python = os.environ.get(MACE_PYTHON_ENV, "").strip()
    if not python:
        return None
    if not (Path(python).is_file() and os.access(python, os.X_OK)):
        raise ModelUnavailable(f"{MACE_PYTHON_ENV}={python} is not an executable python; point it at the mace "
                               "venv's bin/python (.ci/mace_venv.sh builds one)", reason="model_not_installed")
    return python


@functools.lru_cache(maxsize=8)
def package_version(python: str) -> str:
    """mace-torch's version in the interpreter ``python`` (``"unknown"`` when it cannot say)."""
    try:
        res = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('mace-torch'))"],
                             capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return res.stdout.strip() if res.returncode == 0 and res.stdout.strip() else "unknown"


def _stop(proc: subprocess.Popen) -> None:
    # closing stdin ends the server's loop; a server stuck in a forward pass is killed
    try:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()


class MaceServer:
    """One server process holding one MACE model; requests are serialised by a lock.

    Parameters
    ----------
    python : str
        The mace venv's interpreter.
    model : str
        The ``.model`` file (already cleared by :func:`litraj_data.trust.check_weights`).
    device, dtype : str
        MACE's ``device`` and ``default_dtype``.

    Raises
    ------
    ModelUnavailable
        ``weights_invalid`` when the server cannot load the model (its message), or
        ``model_not_installed`` when the interpreter has no mace.
    """

    def __init__(self, python: str, model: str, device: str = "cpu", dtype: str = "float64") -> None:
        self.python, self.model = python, model
        self._lock = threading.Lock()
        self._proc = subprocess.Popen([python, str(SERVER), "--model", model, "--device", device, "--dtype", dtype],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._finalizer = weakref.finalize(self, _stop, self._proc)
        hello = self._read()
        if "error" in hello:
            self.close()
            missing = "ModuleNotFoundError" in hello["error"] or "ImportError" in hello["error"]
            raise ModelUnavailable(f"mace-mp-0 via {python}: {hello['error']}",
                                   reason="model_not_installed" if missing else "weights_invalid")
        self.mace_version = str(hello.get("mace_version", "unknown"))

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.poll()
            raise ModelUnavailable(f"the MACE server ({self.python}) ended without an answer (exit {code}); "
                                   "its messages are above on stderr", reason="model_not_installed")
        return json.loads(line)

    def compute(self, numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray,
                pbc: np.ndarray) -> dict[str, Any]:
        """Energy (eV), forces (eV/A) and Voigt stress (eV/A^3 or ``None``) of one structure."""
        request = {"numbers": np.asarray(numbers, int).tolist(), "positions": np.asarray(positions, float).tolist(),
                   "cell": np.asarray(cell, float).tolist(), "pbc": [bool(b) for b in pbc]}
        with self._lock:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"MACE server: {reply['error']}")
        return reply

    def close(self) -> None:
        """Stop the server process."""
        self._finalizer()


class MacePipeCalculator(Calculator):
    """ASE calculator whose energies, forces and stress come from a :class:`MaceServer`."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, server: MaceServer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server = server

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        a = self.atoms
        reply = self.server.compute(a.numbers, a.positions, a.cell.array, a.pbc)
        self.results = {"energy": float(reply["energy"]), "free_energy": float(reply["energy"]),
                        "forces": np.asarray(reply["forces"], float).reshape(len(a), 3)}
        if reply.get("stress") is not None:
            self.results["stress"] = np.asarray(reply["stress"], float)
        elif "stress" in properties:
            raise RuntimeError("the MACE server returned no stress (a structure that is not periodic)")
