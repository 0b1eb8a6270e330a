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


def _subcommands(parser):
    import argparse

    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize("name", sorted(__import__("litraj_data.cli.main", fromlist=["COMMANDS"]).COMMANDS))
def test_every_command_registers_exactly_what_the_table_declares(name):
    from litraj_data.cli.main import COMMANDS, build_parser

    parser = build_parser([name])
    sub = _subcommands(parser)
    assert set(sub) == set(COMMANDS)  # nothing added outside the table
    assert sub[name].add_help, f"{name}: its module did not import ({sub[name].format_help()})"
    assert "--verbose" in sub[name].format_help() or _subcommands(sub[name])


def test_every_builder_is_registered_lazily_and_imports():
    from litraj_data.builders import BUILDERS
    from litraj_data.cli.main import build_parser

    build = _subcommands(_subcommands(build_parser(["build"]))["build"])
    assert set(build) == set(BUILDERS)
    for name in BUILDERS:  # no placeholder: every builder module imports when named
        chosen = _subcommands(_subcommands(build_parser(["build", name]))["build"])[name]
        assert chosen.add_help and "--json" in chosen.format_help(), name


def test_a_command_whose_module_fails_to_import_says_why(monkeypatch, capsys):
    from litraj_data.cli.main import COMMANDS, Command

    monkeypatch.setitem(COMMANDS, "ghost", Command("a ghost", "litraj_data.no_such_plugin:register"))
    assert main(["ghost", "--anything", "x"]) == 2
    err = capsys.readouterr().err
    assert "litraj ghost is unavailable" in err and "No module named 'litraj_data.no_such_plugin'" in err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "ghost" in capsys.readouterr().out


def test_the_package_attribute_main_is_the_function_whatever_was_imported_first():
    """``from litraj_data.cli import main`` (the console script's target) never yields the submodule."""
    import subprocess
    import sys

    code = ("import litraj_data.cli.main, litraj_data.cli.options\n"
            "from litraj_data.cli import main\nimport sys\nsys.exit(0 if callable(main) else 3)\n")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
