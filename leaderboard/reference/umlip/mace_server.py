"""A MACE model served over a pipe: run by the mace venv's python, read by the main environment.

mace-torch pins e3nn 0.4.4 and cannot be imported next to sevenn/nequip (e3nn >= 0.5), so
the uMLIP harness may run MACE in another interpreter. This file is that interpreter's whole
side: it needs only the standard library, numpy, ase and mace (litraj-data is *not*
installed in the venv) and is run as a script::

    VENV/bin/python mace_server.py --model FILE.model --device cpu --dtype float64

Protocol (one JSON document per line; no pickles cross the pipe, so neither side unpickles
anything the other sent):

* the server first writes ``{"ready": true, "mace_version": ..., "torch_version": ...}``
  (or ``{"error": ...}`` and exits 1 when the model cannot be loaded);
* each request ``{"numbers": [...], "positions": [[x, y, z], ...], "cell": [[...], ...],
  "pbc": [b, b, b]}`` is answered by ``{"energy": E, "forces": [[...], ...],
  "stress": [6 Voigt components] | null}`` (eV, eV/A, eV/A^3) or ``{"error": ...}``;
* end of input ends the server.

JSON writes Python floats with ``repr``: float64 values cross the pipe exactly. Loading the
``.model`` file unpickles it (MACE's own loader): the caller decides beforehand whether the
file may be loaded (:func:`litraj_data.trust.check_weights`, ``--trust``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TextIO


def _protocol_stream() -> TextIO:
    """The real stdout for the protocol; everything else printed (banners, warnings) goes to stderr."""
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


def _answer(calc: Any, request: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    from ase import Atoms

    atoms = Atoms(numbers=request["numbers"], positions=request["positions"], cell=request["cell"],
                  pbc=request["pbc"])
    atoms.calc = calc
    energy = float(atoms.get_potential_energy())
    forces = np.asarray(atoms.get_forces(), dtype=float)
    stress = None
    if all(atoms.pbc) and "stress" in calc.implemented_properties:
        stress = np.asarray(atoms.get_stress(voigt=True), dtype=float).tolist()
    return {"energy": energy, "forces": forces.tolist(), "stress": stress}


def main(argv: list[str] | None = None) -> int:
    """Serve ``--model`` until end of input (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float64")
    args = parser.parse_args(argv)
    proto = _protocol_stream()
    try:
        import mace
        import torch
        from mace.calculators import MACECalculator

        calc = MACECalculator(model_paths=args.model, device=args.device, default_dtype=args.dtype)
    except (ImportError, OSError, RuntimeError, ValueError, KeyError, AttributeError) as exc:
        proto.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 1
    proto.write(json.dumps({"ready": True, "mace_version": getattr(mace, "__version__", "unknown"),
                            "torch_version": torch.__version__}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = _answer(calc, json.loads(line))
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:  # a bad request, a model error
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        proto.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
