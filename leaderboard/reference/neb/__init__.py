"""ASE NEB harness: end-point relaxation + CI-NEB per hop, resumable, batched, scale-out.

>>> from litraj_data.leaderboard.reference.neb import NEBConfig, run_hops, hops_from_dataset
>>> hops = hops_from_dataset("nebDFT2k", split="test", source="release.zip", limit=5)
>>> summary = run_hops(hops, provider, "out/", NEBConfig())

The names below are served on first use (:func:`litraj_data.lazy.lazy_exports`), so importing
one light submodule (``neb.config``, ``neb.provider``) does not import the harness and ASE's I/O.
"""
from __future__ import annotations

from litraj_data.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "BandEvaluator": "batch", "CalculatorEvaluator": "batch", "attach_batched": "batch",
    "NEBConfig": "config", "run_hop": "dispatch",
    "HopFailure": "harness", "OptimisationDiverged": "harness", "read_records": "harness", "run_hops": "harness",
    "HopInput": "hops", "hop_from_row": "hops", "hops_from_dataset": "hops",
    "CalculatorProvider": "provider", "FactoryProvider": "provider",
    "check_band": "litraj_data.bands",
})

__all__ = ["BandEvaluator", "CalculatorEvaluator", "attach_batched", "NEBConfig", "HopFailure",
           "OptimisationDiverged", "run_hop", "run_hops", "read_records", "HopInput", "check_band", "hop_from_row",
           "hops_from_dataset", "CalculatorProvider", "FactoryProvider"]
