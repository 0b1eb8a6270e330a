"""Li hop graph, BVSE-NEB barriers and centroid supercells (the nebBVSE122k reference).

Public entry points live in :mod:`.api` (``find_hops``, ``bvse_neb``, ``hop_barriers``) and
:mod:`.calculator` (``BVSECalculator``, an ASE calculator for raw NEB runs). See
``docs/hops.md`` for the physics and the choices made.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Hop": ".graph",
    "HopsResult": ".api",
    "NEBResult": ".bvse_band_neb",
    "BVSECalculator": ".calculator",
    "find_hops": ".api",
    "bvse_neb": ".api",
    "hop_barriers": ".api",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    # lazy: importing the package must not pull spglib/scipy for the CLI's --help
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
