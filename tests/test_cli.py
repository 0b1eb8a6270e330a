"""The `litraj` command: grammar, --json documents, exit codes."""
from __future__ import annotations

import json

import pytest

from litraj_data.cli import main



def run_json(capsys, *argv):
    code = main(list(argv) + ["--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_list_info_cite(capsys):
    code, doc = run_json(capsys, "list")
    assert code == 0 and {r["name"] for r in doc["records"]} >= {"BVEL13k", "nebDFT2k", "MPLiTrj"}
    code, doc = run_json(capsys, "info", "nebdft2k")
    rec = doc["records"][0]
    assert rec["splits"] == {"train": 1220, "val": 241, "test": 220} and rec["file"] == "nebDFT2k"
    assert main(["cite", "--format", "cff"]) == 0
    assert "preferred-citation" in capsys.readouterr().out
    assert main(["cite"]) == 0
    assert "10.1038/s41524-025-01571-z" in capsys.readouterr().out


def test_unknown_dataset_exit_code_and_hint(capsys):
    assert main(["info", "BVEL13"]) == 1
    assert "Did you mean 'BVEL13k'" in capsys.readouterr().err


def test_build_verify_export_cache(release_archives, tmp_path, capsys):
    with pytest.warns(UserWarning):
        code = main(["build", "from-release", "BVEL13k", "--source", str(release_archives["BVEL13k"]),
                     "--out", str(tmp_path / "out"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["records"][0]["splits"] == {"train": 6, "val": 3, "test": 2}
    folder = tmp_path / "out" / "BVEL13k" / "1.0.0"
    code, doc = run_json(capsys, "verify", str(folder))
    assert code == 0 and all(r["ok"] for r in doc["records"]) and len(doc["records"]) == 4  # 3 shards + card
    assert doc["records"][-1]["file"].endswith("README.md")
    code, doc = run_json(capsys, "export", "BVEL13k", "--split", "val", "--out", str(tmp_path / "x"),
                         "--source", str(folder))
    assert code == 0 and doc["records"] == [{"file": str(tmp_path / "x" / "BVEL13k" / "BVEL13k_val.xyz"), "rows": 3},
                                            {"file": str(tmp_path / "x" / "BVEL13k" / "BVEL13k_index.csv"), "rows": 3}]
    shard = sorted(folder.glob("*test*.arrow"))[0]
    data = shard.read_bytes()
    shard.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    code, doc = run_json(capsys, "verify", str(folder))
    assert code == 1 and [r["ok"] for r in doc["records"] if not r["ok"]] == [False]
    code, doc = run_json(capsys, "cache", "path")
    assert code == 0 and doc["records"][0]["file"].endswith("litraj-cache")


def test_every_declared_command_is_registered_and_nothing_else():
    import argparse

    from litraj_data import cli
    from litraj_data.builders import BUILDERS

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    core = {"list", "info", "cite", "export", "verify", "cache", "build"}
    declared = {c for names in cli.COMMANDS.values() for c in names}
    assert set(sub.choices) == core | declared
    build = next(a for a in sub.choices["build"]._actions if isinstance(a, argparse._SubParsersAction))
    assert set(build.choices) == set(BUILDERS)
    for name in BUILDERS:  # no placeholder: every builder module imports here
        assert "unavailable" not in (build.choices[name].description or "")


def test_a_command_whose_module_fails_to_import_says_why(monkeypatch, capsys):
    from litraj_data import cli

    monkeypatch.setitem(cli.COMMANDS, "litraj_data.no_such_plugin", ("ghost",))
    assert main(["ghost", "--anything", "x"]) == 2
    err = capsys.readouterr().err
    assert "litraj ghost is unavailable" in err and "No module named 'litraj_data.no_such_plugin'" in err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "ghost" in capsys.readouterr().out
