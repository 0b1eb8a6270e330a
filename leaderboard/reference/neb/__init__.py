"""ASE NEB harness: end-point relaxation + CI-NEB per hop, resumable, batched, scale-out.

>>> from litraj_data.leaderboard.reference.neb import NEBConfig, run_hops, hops_from_dataset
>>> hops = hops_from_dataset("nebDFT2k", split="test", source="release.zip", limit=5)
>>> summary = run_hops(hops, provider, "out/", NEBConfig())
"""
from __future__ import annotations

from litraj_data.bands import check_band
from litraj_data.leaderboard.reference.neb.batch import BandEvaluator, CalculatorEvaluator, attach_batched
from litraj_data.leaderboard.reference.neb.config import NEBConfig
from litraj_data.leaderboard.reference.neb.dispatch import run_hop
from litraj_data.leaderboard.reference.neb.harness import HopFailure, OptimisationDiverged, read_records, run_hops
from litraj_data.leaderboard.reference.neb.hops import HopInput, hop_from_row, hops_from_dataset
from litraj_data.leaderboard.reference.neb.provider import CalculatorProvider, FactoryProvider

__all__ = ["BandEvaluator", "CalculatorEvaluator", "attach_batched", "NEBConfig", "HopFailure",
           "OptimisationDiverged", "run_hop", "run_hops", "read_records", "HopInput", "check_band", "hop_from_row",
           "hops_from_dataset",
           "CalculatorProvider", "FactoryProvider"]
