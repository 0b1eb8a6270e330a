"""nebDFT2k/umlip_neb scored both ways: failed hops dropped (paper) and all hops (a failure is a miss)."""
from __future__ import annotations

import numpy as np
import pytest

from litraj_data.leaderboard.scoring.metrics import success_rates
from litraj_data.leaderboard.scoring.score import score_submission
from litraj_data.leaderboard.scoring.submission import read_submission
from tests.test_scoring_support import band_truth, write_band_files


def test_success_rates_count_failures_as_misses():
    y = np.array([0.3, 0.5, 0.4, 0.2])
    yhat = np.array([0.32, 0.58, 0.40, np.nan])
    ok = np.array([True, True, False, False])
    assert success_rates(y, yhat, ok) == {"success_0.05": 0.25, "success_0.1": 0.5}
    with pytest.raises(ValueError):
        success_rates(y, yhat[:2], ok)


def test_umlip_neb_scored_both_ways(tmp_path):
    truth = band_truth(n_test=6)
    ids = list(truth.table["edge_id"])
    folder = write_band_files(truth, tmp_path / "bands", shift=0.0, scale=1.05, failed=(ids[0],))
    (folder / f"{ids[1]}.xyz").unlink()  # a hop with no band at all: failed too
    (folder / "failed.txt").write_text(f"{ids[1]}\n")
    sub = read_submission(folder, truth.task)
    rec = score_submission(sub, truth, n_boot=0)
    # the paper's way: failed hops dropped
    assert rec["subsets"]["all"]["n"] == 4
    allh = rec["all_hops"]["all"]
    assert allh["n"] == 6 and allh["n_failed"] == 2
    assert allh["convergence_rate"] == pytest.approx(4 / 6)
    err = 0.05 * truth.table["em_dft"].to_numpy()  # barriers scaled by 1.05
    kept = np.ones(6, bool)
    kept[:2] = False
    assert allh["success_0.05"] == pytest.approx(np.mean(kept & (err < 0.05)))
    assert allh["success_0.1"] == pytest.approx(np.mean(kept & (err < 0.1)))
    assert allh["n_bands"] == 5  # the unconverged band is scored here (not in the paper's view)
    assert allh["mae_all_bands"] == pytest.approx(np.delete(err, 1).mean())
    assert rec["all_hops"]["w/o TM"]["n"] + rec["all_hops"]["with TM"]["n"] == 6
    assert any("convergence rate 66.7 %" in n for n in rec["notes"])
