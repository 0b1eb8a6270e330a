"""litraj_data.yamlsafe: the one bounded YAML reader, and every route that reads a user's YAML through it."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litraj_data.errors import LitrajError, RegistryError
from litraj_data.yamlsafe import MAX_DEPTH, YamlError, load_yaml, read_yaml


def alias_bomb(levels: int = 9) -> str:
    """The classic "billion laughs": each level lists the previous one nine times (9**levels strings)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_its_first_anchor():
    bomb = alias_bomb()
    assert len(bomb.encode()) < 2048
    with pytest.raises(YamlError) as exc:
        load_yaml(bomb, "bomb.yaml")
    assert exc.value.reason == "yaml_alias" and "bomb.yaml:1" in str(exc.value)
    assert isinstance(exc.value, RegistryError)  # callers that catch registry errors catch this too


@pytest.mark.parametrize("text, reason", [
    ("a: &x 1\nb: *x\n", "yaml_alias"),
    ("base: &b {k: 1}\nderived:\n  <<: *b\n", "yaml_alias"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "yaml_too_deep"),
    ("[" * 200_000, "yaml_too_deep"),
    ("a:\n" + "".join(" " * i + "b:\n" for i in range(1, MAX_DEPTH + 2)), "yaml_too_deep"),
    ("wall_time_s: .inf\n", "yaml_non_finite"),
    ("x: [1, {y: .NaN}]\n", "yaml_non_finite"),
    ("x: 1.0e+999\n", "yaml_non_finite"),  # overflows to inf
    ("model: A\nmodel: B\n", "yaml_duplicate_key"),
    ("a: 1\n---\nb: 2\n", "bad_yaml"),
    ("!!python/object/apply:os.system ['true']\n", "bad_yaml"),
    ("key: [unclosed\n", "bad_yaml"),
])
def test_bounds_have_named_reasons(text, reason):
    with pytest.raises(YamlError) as exc:
        load_yaml(text, "card.yaml")
    assert exc.value.reason == reason


def test_size_cap_reads_no_more_than_the_cap(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"x: " + b"a" * 5_000_000)
    with pytest.raises(YamlError) as exc:
        read_yaml(big, max_bytes=1000)
    assert exc.value.reason == "yaml_too_large"
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(YamlError) as exc:
        read_yaml(tmp_path / "bin.yaml")
    assert exc.value.reason == "bad_yaml"
    with pytest.raises(YamlError) as exc:
        read_yaml(tmp_path / "absent.yaml")
    assert exc.value.reason == "bad_yaml"


def test_plain_documents_read_as_safe_load_reads_them():
    text = "a: 1\nb: [x, 2.5, null, true]\nc: {d: 2026-01-01}\n"
    assert load_yaml(text) == yaml.safe_load(text)
    assert load_yaml("") is None
    assert load_yaml("w: .inf", allow_non_finite=True) == {"w": float("inf")}


# ----------------------------------------------------------------------- every route


def test_routes_refuse_the_bomb(tmp_path):
    from litraj_data.leaderboard.reference.umlip.finetuned import resolve_finetuned
    from litraj_data.leaderboard.reference.umlip.models import parse_card
    from litraj_data.leaderboard.scoring.submission import SubmissionInvalid, read_metadata
    from litraj_data.leaderboard.scoring.tasks import load_tasks_file
    from litraj_data.registry import parse_card as parse_dataset_card  # noqa: F401  (cards come parsed)

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    with pytest.raises(SubmissionInvalid) as exc:  # submit card / submit validate / score --metadata
        read_metadata(bomb)
    issue = exc.value.issues[0]
    assert issue.reason == "metadata" and issue.details["check"] == "yaml_alias"
    with pytest.raises(LitrajError) as exc:
        load_tasks_file(bomb)
    assert "yaml_alias" in str(exc.value)
    with pytest.raises(RegistryError) as exc:
        parse_card(alias_bomb(), "umlip/models/bomb.yaml")
    assert exc.value.reason == "yaml_alias"
    folder = tmp_path / "ft"
    folder.mkdir()
    (folder / "model_card.yaml").write_text(alias_bomb())
    with pytest.raises(RegistryError) as exc:
        resolve_finetuned(folder, "chgnet")
    assert exc.value.reason == "yaml_alias"


def test_submit_card_cli_names_the_reason(tmp_path, capsys):
    import json

    from litraj_data.cli import main

    main = getattr(main, "main", main)  # litraj_data.cli may be a package with a main module
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    inf = tmp_path / "inf.yaml"
    inf.write_text("model: M\nmodel_version: '1'\nauthors: [A]\nurl: null\ntraining_data: x\n"
                   "fine_tuned_on_litraj: false\nhyperparameters: {}\ndate: '2025-01-01'\nwall_time_s: .inf\n")
    assert main(["submit", "card", str(bomb), str(inf), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    checks = [r["issues"][0].get("check") for r in out["records"]]
    assert checks == ["yaml_alias", "yaml_non_finite"] and not any(r["valid"] for r in out["records"])


# ----------------------------------------------------------------------- property tests

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
_docs = st.recursive(_scalars, lambda c: st.one_of(st.lists(c, max_size=4),
                                                   st.dictionaries(st.text(max_size=8), c, max_size=4)),
                     max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_data_or_a_named_reason(data):
    try:
        load_yaml(data, "fuzz.yaml")
    except YamlError as exc:
        assert exc.reason in {"bad_yaml", "yaml_alias", "yaml_too_deep", "yaml_duplicate_key", "yaml_non_finite",
                              "yaml_too_large"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_docs)
def test_card_readers_never_raise_anything_but_a_litraj_error(doc):
    """Any YAML document given as a model card, legacy metadata, uMLIP or fine-tune card."""
    from litraj_data.leaderboard.reference.umlip.models import parse_card
    from litraj_data.leaderboard.scoring.modelcard import parse_metadata

    text = yaml.safe_dump(doc)
    for read in (lambda: parse_metadata(load_yaml(text, "m.yaml"), "m.yaml"),
                 lambda: parse_metadata(load_yaml(text, "m.yaml") if not isinstance(doc, dict) else
                                        {"model_name": "x", **doc}, "m.yaml"),
                 lambda: parse_card(text, "umlip/models/x.yaml")):
        try:
            read()
        except LitrajError as exc:
            assert exc.reason
