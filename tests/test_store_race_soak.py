"""A bounded run of ``benchmarks/soak_store.py``'s race in CI: loaders racing ``--overwrite``.

Real processes (two writers rebuilding a multi-shard version with ``overwrite=True`` in a
loop, three loaders loading every split in a loop), real ``kill -9`` at random moments. No
load may be mixed (a split or a DatasetDict from two builds), no stale shard may be
published, nothing may be written outside the trial's folder. The full soak (more trials,
longer) and its figures are in ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak_store.py"


@pytest.mark.slow
def test_loaders_racing_overwrite_with_kill_9_never_get_mixed_or_stale_data(tmp_path):
    spec = importlib.util.spec_from_file_location("soak_store", SOAK)
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    stats = soak.race(trials=1, seed=11, work=tmp_path / "race", seconds=35.0)
    assert stats["loads"] > 0 and stats["overwrites"] > 0, stats  # the race happened
    assert stats["shards_per_version"] > 3  # several shards per version, several per split
    for figure in ("mixed_loads", "stale_shards", "writes_outside", "verify_failures"):
        assert stats[figure] == 0, stats
    assert stats["errors"] == [], stats["errors"]
