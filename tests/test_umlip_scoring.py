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


# ------------------------------------------------------------------ Table 5 protocol (issue 26.1)

def _finetuned_all(tmp_path, fine_tuned=True):
    from litraj_data.leaderboard.scoring.submission import read_metadata

    from tests.test_scoring_support import write_metadata

    truth = band_truth("nebDFT2k/umlip_neb_all")
    folder = write_band_files(truth, tmp_path / "bands", shift=0.02, scale=1.2)
    meta = read_metadata(write_metadata(tmp_path / "m.yaml", fine_tuned_on_litraj=fine_tuned))
    return truth, read_submission(folder, truth.task), meta


def test_table5_protocol_scores_finetuned_models_with_the_label_and_the_test_split(tmp_path):
    from litraj_data.leaderboard.scoring.score import SCORING_PROTOCOLS
    from litraj_data.leaderboard.scoring.submission import SubmissionInvalid

    truth, sub, meta = _finetuned_all(tmp_path)
    # the default keeps the guard
    with pytest.raises(SubmissionInvalid) as err:
        score_submission(sub, truth, meta, n_boot=0)
    assert "not_allowed" in {i.reason for i in err.value.issues}
    with pytest.raises(SubmissionInvalid):
        score_submission(sub, truth, meta, n_boot=0, protocol="default")
    rec = score_submission(sub, truth, meta, n_boot=0, protocol="paper-table5")
    label = SCORING_PROTOCOLS["paper-table5"].label
    assert label == "includes hops whose trajectories were in the fine-tuning data"
    assert rec["protocol"] == "paper-table5" and rec["label"] == label
    assert any(label in n for n in rec["notes"]) and "Table 5" in rec["protocol_paper"]
    # whole set: 3 train + 6 test hops; the test split alone beside it
    split = truth.table.set_index("edge_id")["split"]
    assert rec["subsets"]["all"]["n"] == 9
    test = rec["test_split"]
    assert test["split"] == "test" and test["subsets"]["all"]["n"] == 6
    em = truth.table.set_index("edge_id")["em_dft"]
    test_ids = [e for e in em.index if split[e] == "test"]
    assert test["subsets"]["all"]["mae"] == pytest.approx(0.2 * em[test_ids].mean())
    assert rec["subsets"]["all"]["mae"] == pytest.approx(0.2 * em.mean())
    from tests.test_scoring_support import NUMBERS

    assert test["subsets"]["all"]["pa_mae"] == pytest.approx(0.02 / len(NUMBERS))  # one atom moved 0.02 A
    assert test["all_hops"]["all"]["n"] == 6
    assert sorted(set(rec["items"]["split"])) == ["test", "train"]


def test_table5_protocol_on_the_board_and_page(tmp_path):
    from litraj_data.leaderboard.page.render import markdown_board
    from litraj_data.leaderboard.scoring.board import build_board, model_label

    truth, sub, meta = _finetuned_all(tmp_path)
    rec = score_submission(sub, truth, meta, n_boot=0, protocol="paper-table5")
    assert model_label(rec).endswith("[includes hops whose trajectories were in the fine-tuning data]")
    board = build_board([rec], tasks=["nebDFT2k/umlip_neb_all"], include_reference=False)
    rows = board["nebDFT2k/umlip_neb_all"]["rows"]
    subsets = [r["subset"] for r in rows]
    assert "all" in subsets and "all (test split)" in subsets
    assert subsets.index("all") < subsets.index("all (test split)")
    assert all(r["label"] == rec["label"] and r["protocol"] == "paper-table5" for r in rows)
    test_row = next(r for r in rows if r["subset"] == "all (test split)")
    assert test_row["n"] == 6
    md = markdown_board(board)
    assert "includes hops whose trajectories were in the fine-tuning data" in md and "all (test split)" in md
    # two compared records: the common-hop rule re-scores the test-split rows too
    other = score_submission(sub, truth, meta, n_boot=0, protocol="paper-table5", exclude_ids=[])
    other["dropped"]["failed_by_this_model"] = [truth.table["edge_id"].iloc[-1]]
    rows2 = build_board([rec, other], tasks=["nebDFT2k/umlip_neb_all"], include_reference=False)[
        "nebDFT2k/umlip_neb_all"]["rows"]
    assert {r["n"] for r in rows2 if r["subset"] == "all (test split)"} == {5}


def test_table5_protocol_bad_choices(tmp_path):
    from litraj_data.errors import LitrajError

    truth, sub, meta = _finetuned_all(tmp_path)
    with pytest.raises(LitrajError) as err:
        score_submission(sub, truth, meta, n_boot=0, protocol="paper-tabel5")
    assert err.value.reason == "unknown_protocol" and "paper-table5" in str(err.value)
    test_truth = band_truth("nebDFT2k/umlip_neb")
    folder = write_band_files(test_truth, tmp_path / "b2")
    with pytest.raises(LitrajError) as err:
        score_submission(read_submission(folder, test_truth.task), test_truth, meta, n_boot=0,
                         protocol="paper-table5")
    assert err.value.reason == "protocol_task" and "nebDFT2k/umlip_neb_all" in str(err.value)
    # a card that says the model saw the test data stays refused under the protocol
    from litraj_data.leaderboard.scoring.submission import SubmissionInvalid

    seen = dict(meta, card={"training_data": {"litraj_test_data_seen": True}})
    with pytest.raises(SubmissionInvalid):
        score_submission(sub, truth, seen, n_boot=0, protocol="paper-table5")
    # a model not fine-tuned: scored, no label
    truth, sub, meta = _finetuned_all(tmp_path / "plain", fine_tuned=False)
    rec = score_submission(sub, truth, meta, n_boot=0, protocol="paper-table5")
    assert "label" not in rec and rec["test_split"]["subsets"]["all"]["n"] == 6
    # the default protocol on an all-splits task reports the test split too
    rec = score_submission(sub, truth, meta, n_boot=0)
    assert rec["protocol"] == "default" and rec["test_split"]["subsets"]["all"]["n"] == 6
