"""The README's CLI grammar, command by command: one table of every command x the shared options.

* every command (and sub-command) shows its ``--help`` and exits 0;
* every command takes ``--json`` (one document ``{"records": [...]}``) and ``--verbose``;
* every command that reads a dataset takes ``--source`` with the one help text of ``load_litraj``;
* ``litraj --help`` and ``litraj bvel --help`` import neither torch, pandas nor matgl (a fresh
  interpreter, checked through ``sys.modules``), and no command's ``--help`` imports torch or matgl.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from litraj_data.builders import BUILDERS
from litraj_data.cli import main
from litraj_data.cli.main import COMMANDS, build_parser
from litraj_data.cli.options import SOURCE_HELP

#: Commands that read a dataset (README: "Every command that reads a dataset takes --source").
READS_DATASET = {"export", "verify", "build from-release", "demo", "features", "baseline train",
                 "baseline predict", "baseline importance", "train gnn", "finetune", "bench umlip", "bench efs",
                 "submit validate", "score", "release"}


def _subs(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser] | None:
    a = [x for x in parser._actions if isinstance(x, argparse._SubParsersAction)]
    return dict(a[0].choices) if a else None


def _leaves(parser: argparse.ArgumentParser, path: list[str]):
    subs = _subs(parser)
    if subs is None:
        yield path, parser
        return
    for name, p in subs.items():
        yield from _leaves(p, path + [name])


def _all_commands() -> list[tuple[str, argparse.ArgumentParser]]:
    out = []
    for name in COMMANDS:
        if name == "build":
            for b in BUILDERS:
                out.append((f"build {b}", _subs(_subs(build_parser(["build", b]))["build"])[b]))
            continue
        out += [(" ".join(path), p) for path, p in _leaves(_subs(build_parser([name]))[name], [name])]
    return out


COMMAND_TABLE = _all_commands()


def test_the_table_covers_the_readme_commands():
    names = {n for n, _ in COMMAND_TABLE}
    for cmd in ("list", "info", "cite", "export", "verify", "cache", "bvel", "hops", "score", "submit validate",
                "leaderboard render", "features", "baseline train", "baseline predict", "baseline importance",
                "train gnn", "models", "bench umlip", "bench efs", "screen", "finetune", "check-leakage",
                "release", "demo", *(f"build {b}" for b in ("from-release", "BVEL13k", "nebBVSE122k", "nebDFT2k",
                                                            "MPLiTrj"))):
        assert cmd in names, cmd
    assert READS_DATASET <= names


@pytest.mark.parametrize("command, parser", COMMAND_TABLE, ids=[n for n, _ in COMMAND_TABLE])
def test_shared_options(command, parser):
    opts = parser._option_string_actions
    assert parser.add_help, f"litraj {command}: its module did not import"
    assert "--json" in opts and opts["--json"].nargs == 0, command
    assert "--verbose" in opts, command
    if command in READS_DATASET:
        assert "--source" in opts, command
        if command not in ("build from-release", "release"):  # these read a release / built versions
            meaning = SOURCE_HELP.split("; default")[0]  # the default may differ (demo: the sample)
            assert meaning in (opts["--source"].help or ""), f"{command}: --source must say what load_litraj says"


@pytest.mark.parametrize("command", [n for n, _ in COMMAND_TABLE])
def test_help_of_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command.split(), "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: litraj " + command.split()[0]) and "--json" in out


@pytest.mark.parametrize("argv", [["list"], ["info", "BVEL13k"], ["cite"], ["cache", "path"], ["models"],
                                  ["leaderboard", "tasks"], ["sample-structures"]])
def test_json_is_one_document_of_records(argv, capsys, tmp_path):
    extra = ["--cache-dir", str(tmp_path)] if argv[0] == "cache" else []
    assert main([*argv, *extra, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # one document: json.loads refuses anything after it
    assert list(doc)[0] == "records" and doc["records"] and all("file" in r for r in doc["records"])


def test_an_error_with_json_is_still_one_document(capsys):
    assert main(["info", "no-such-dataset", "--json"]) == 1
    cap = capsys.readouterr()
    (rec,) = json.loads(cap.out)["records"]
    assert rec["ok"] is False and rec["reason"] == "unknown_dataset" and rec["file"] == "no-such-dataset"
    assert "litraj info failed (unknown_dataset)" in cap.err and "Traceback" not in cap.err


def _modules_after(argv: list[str]) -> set[str]:
    code = ("import sys\nfrom litraj_data.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "sys.__stderr__.write('\\n' + ' '.join(sorted(sys.modules)))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    return set(res.stderr.strip().splitlines()[-1].split())


HEAVY = ("torch", "pandas", "matgl")


@pytest.mark.parametrize("argv", [["--help"], ["bvel", "--help"], ["-V"], ["list"], ["build", "--help"]])
def test_help_imports_no_heavy_library(argv):
    mods = _modules_after(argv)
    assert "litraj_data.cli.main" in mods  # the probe ran
    assert not [m for m in HEAVY if m in mods], argv
    if argv == ["--help"]:  # the command table only: no command module at all
        assert not any(m.endswith(".cli") and m != "litraj_data.cli" for m in mods)
        assert not any(m.startswith("litraj_data.builders.") for m in mods)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_command_help_imports_torch_or_matgl(command):
    mods = _modules_after([command, "--help"])
    assert "torch" not in mods and "matgl" not in mods, command


def test_build_imports_only_the_named_builder():
    mods = _modules_after(["build", "BVEL13k", "--help"])
    assert "litraj_data.builders.bvel13k" in mods
    assert "litraj_data.builders.raw_neb" not in mods and "litraj_data.builders.from_release" not in mods


def test_noise_filter_is_targeted(capsys):
    """Third-party lines and warnings are hidden; ours are not; --verbose shows everything."""
    import warnings

    from litraj_data.cli.progress import third_party_noise

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with third_party_noise():
            print("Processing...", file=sys.stderr)
            print("Done!", file=sys.stderr)
            print("our line: Processing... 3 hops")
            warnings.warn("Converting a tensor with requires_grad=True to a scalar may lead to", UserWarning,
                          stacklevel=1)
            warnings.warn("a litraj warning of our own", UserWarning, stacklevel=1)
        with third_party_noise(verbose=True):
            print("Done!", file=sys.stderr)
    cap = capsys.readouterr()
    assert cap.err == "Done!\n"  # only the verbose one
    assert "our line: Processing... 3 hops" in cap.out
    assert [str(w.message) for w in caught] == ["a litraj warning of our own"]
    assert not isinstance(sys.stderr, type(None)) and type(sys.stderr).__name__ != "_LineFilter"
