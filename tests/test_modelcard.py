"""Model cards of submissions: the schema (unknown key = error naming file and key), legacy metadata, CLI."""
from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

import pytest
import yaml
from test_scoring_support import predictions_for, scalar_truth, write_metadata

from litraj_data.leaderboard.scoring import read_metadata, read_submission, validate
from litraj_data.leaderboard.scoring.modelcard import CARD_ONLY_FIELDS, orcid_ok, runtime_of
from litraj_data.leaderboard.scoring.submission import SubmissionInvalid

EXAMPLE = resources.files("litraj_data.leaderboard.scoring").joinpath("data/example_model_card.yaml")


def _card(**overrides) -> dict:
    card = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    card["tasks"] = {"nebDFT2k/em": {"hardware": "2 CPU cores", "wall_time_s": 12.5}}
    for key, value in overrides.items():
        card[key] = value
    return card


def _write(tmp_path: Path, doc: dict, name: str = "card.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _error(path: Path) -> str:
    with pytest.raises(SubmissionInvalid) as info:
        read_metadata(path)
    (issue,) = info.value.issues
    assert issue.reason == "metadata"
    return issue.message


def test_example_card_is_valid_and_maps_to_the_flat_fields(tmp_path):
    meta = read_metadata(_write(tmp_path, _card()))
    assert meta["model"] == "MyNet" and meta["model_version"] == "1.2.0"
    assert meta["fine_tuned_on_litraj"] is False and meta["authors"] == ["A. Researcher"]
    assert meta["card"]["authors"][0]["orcid"] == "0000-0002-1825-0097"
    assert meta["card"]["environment"]["packages"]["torch"] == "2.3.1"
    assert meta["card_missing"] == []
    assert runtime_of(meta, "nebDFT2k/em") == (12.5, "2 CPU cores")
    assert runtime_of(meta, "BVEL13k/E_1D") == (None, None)
    # a card-carrying submission validates and scores like one with legacy metadata
    truth = scalar_truth()
    pred = tmp_path / "p.csv"
    predictions_for(truth).to_csv(pred, index=False)
    assert validate(read_submission(pred, truth.task), truth, meta) == []


@pytest.mark.parametrize("edit, expected", [
    (lambda c: c.update(modle_version="1"), "modle_version: unknown key"),
    (lambda c: c.update(licence="MIT"), "licence: unknown key ('licence': Did you mean 'license'?)"),
    (lambda c: c["authors"][0].update(orcidd="0000-0002-1825-0097"), "authors[0].orcidd: unknown key"),
    (lambda c: c["checkpoint"].update(md5="abc"), "checkpoint.md5: unknown key"),
    (lambda c: c["tasks"]["nebDFT2k/em"].update(gpu="A100"), "tasks.nebDFT2k/em.gpu: unknown key"),
    (lambda c: c["authors"][0].update(orcid="0000-0002-1825-0098"), "not an ORCID iD"),
    (lambda c: c["checkpoint"].update(sha256="abc123"), "64 hexadecimal digits"),
    (lambda c: c["checkpoint"].update(sha256=1234), "quote it"),
    (lambda c: c["environment"]["packages"].update(torch=">=2.0"), "pinned to exact versions"),
    (lambda c: c.update(paper_doi="not-a-doi"), "is not a DOI"),
    (lambda c: c.update(tasks={"nebDFT2k/emm": {"hardware": "x", "wall_time_s": 1}}),
     "unknown task 'nebDFT2k/emm'. Did you mean 'nebDFT2k/em'?"),
    (lambda c: c["tasks"]["nebDFT2k/em"].update(wall_time_s=-1), "greater than or equal to 0"),
    (lambda c: c.pop("license"), "license: Field required"),
    (lambda c: c.pop("n_parameters"), "n_parameters: Field required"),
    (lambda c: c["training_data"].pop("litraj_test_data_seen"), "training_data.litraj_test_data_seen"),
    (lambda c: c.update(authors=[]), "authors: List should have at least 1 item"),
])
def test_bad_cards_name_the_file_and_the_key(tmp_path, edit, expected):
    card = _card()
    edit(card)
    path = _write(tmp_path, card)
    message = _error(path)
    assert str(path) in message and expected in message, message


def test_every_problem_of_a_card_is_listed(tmp_path):
    card = _card(colour="red")
    card["checkpoint"]["sha256"] = "nope"
    message = _error(_write(tmp_path, card))
    assert "colour: unknown key" in message and "checkpoint.sha256" in message


def test_card_that_saw_test_data_is_not_allowed(tmp_path):
    td = {"datasets": ["MPtrj", "nebDFT2k"], "fine_tuned_on_litraj": True, "litraj_test_data_seen": True}
    meta = read_metadata(_write(tmp_path, _card(training_data=td)))
    truth = scalar_truth()
    pred = tmp_path / "p.csv"
    predictions_for(truth).to_csv(pred, index=False)
    issues = validate(read_submission(pred, truth.task), truth, meta)
    assert [i.reason for i in issues] == ["not_allowed"] and "saw LiTraj test data" in issues[0].message
    # and a card cannot claim test data seen without LiTraj training
    td["fine_tuned_on_litraj"] = False
    assert "fine_tuned_on_litraj must be true" in _error(_write(tmp_path, _card(training_data=td), "b.yaml"))


def test_orcid_check_digit():
    assert orcid_ok("0000-0002-1825-0097") and orcid_ok("https://orcid.org/0000-0002-1825-0097")
    assert orcid_ok("0000-0002-1694-233X")  # a check digit of 10 is written X
    assert not orcid_ok("0000-0002-1825-0096") and not orcid_ok("0000-0002-1825") and not orcid_ok("abc")


def test_legacy_metadata_is_accepted_but_unknown_keys_are_not(tmp_path):
    meta = read_metadata(write_metadata(tmp_path / "m.yaml"))
    assert meta["model"] == "TestModel" and meta["card"] is None
    assert meta["card_missing"] == list(CARD_ONLY_FIELDS)
    # what `litraj bench umlip` and `litraj baseline predict` write
    bench = write_metadata(tmp_path / "b.yaml", weights=None, device="cpu", package="chgnet", max_batch_atoms=None,
                           task="nebDFT2k/umlip_neb", split="test", wall_time_s=42.0, hardware="cpu (x86_64, 2 cores)",
                           dataset_version="1.0.0")
    meta = read_metadata(bench)
    assert runtime_of(meta, "nebDFT2k/umlip_neb") == (42.0, "cpu (x86_64, 2 cores)")
    assert runtime_of(meta, "nebDFT2k/em") == (None, None)  # a wall time of another task is not this one's
    path = write_metadata(tmp_path / "t.yaml", trainig_data="x")
    message = _error(path)
    assert str(path) in message and "trainig_data: unknown key" in message and "Did you mean 'training_data'?" in message
    (tmp_path / "list.yaml").write_text("- model: x\n")
    assert "must be a YAML mapping" in _error(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("model: [unclosed\n")
    assert "cannot read metadata" in _error(tmp_path / "broken.yaml")


def _cli(argv, monkeypatch=None, truth=None) -> int:
    from litraj_data.leaderboard.scoring import cli
    from litraj_data.leaderboard.scoring.tasks import Task

    if truth is not None:
        monkeypatch.setattr(Task, "load_truth", lambda self, source=None, cache_dir=None: truth)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_submit_validate_reports_the_card(tmp_path, monkeypatch, capsys):
    truth = scalar_truth()
    pred = tmp_path / "p.csv"
    predictions_for(truth).to_csv(pred, index=False)
    card = _write(tmp_path, _card())
    assert _cli(["submit", "validate", str(pred), "--task", "nebDFT2k/em", "--metadata", str(card), "--json"],
                monkeypatch, truth) == 0
    rec = json.loads(capsys.readouterr().out)["records"][0]
    assert rec["valid"] and rec["metadata"] == {"file": str(card), "model_card": "complete", "card_missing": []}
    legacy = write_metadata(tmp_path / "m.yaml")
    assert _cli(["submit", "validate", str(pred), "--task", "nebDFT2k/em", "--metadata", str(legacy)],
                monkeypatch, truth) == 0
    assert "legacy metadata, accepted; a model card would also state authors[].orcid" in capsys.readouterr().out
    bad = _write(tmp_path, _card(colour="red"), "bad.yaml")
    assert _cli(["submit", "validate", str(pred), "--task", "nebDFT2k/em", "--metadata", str(bad), "--json"],
                monkeypatch, truth) == 1
    out = capsys.readouterr()
    issue = json.loads(out.out)["records"][0]["issues"][0]
    assert issue["reason"] == "metadata" and "colour: unknown key" in issue["message"] and issue["file"] == str(bad)


def test_cli_submit_card(tmp_path, capsys):
    good, bad = _write(tmp_path, _card()), _write(tmp_path, _card(colour="red"), "bad.yaml")
    legacy = write_metadata(tmp_path / "m.yaml")
    assert _cli(["submit", "card", str(good), str(bad), str(legacy), "--json"]) == 1
    recs = json.loads(capsys.readouterr().out)["records"]
    assert [r["valid"] for r in recs] == [True, False, True]
    assert [r.get("model_card") for r in recs] == ["complete", None, "legacy"]
    assert _cli(["submit", "card", "--example"]) == 0
    example = capsys.readouterr().out
    assert example.startswith("# Example model card") and yaml.safe_load(example)["model_name"] == "MyNet"
    assert _cli(["submit", "card"]) == 2
