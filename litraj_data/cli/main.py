"""The ``litraj`` command: the table of commands and their lazy registration.

Grammar shared by every command (README): commands that read a dataset take ``--source``
with the meaning of ``load_litraj(source=)``; commands that report take ``--json`` and then
print exactly one JSON document on stdout (``{"records": [...]}``, a record per input naming
its ``file``); every command takes ``--verbose`` (third-party banners and warnings, hidden
otherwise). The options are declared once in :mod:`litraj_data.cli.options`, the output and
error record in :mod:`litraj_data.cli.output`, progress and the noise filter in
:mod:`litraj_data.cli.progress`.

Commands are registered lazily (as ASE's ``ase`` command does): :data:`COMMANDS` holds each
command's name, one-line help and ``"module:function"``; the module is imported only when
its command runs or shows its own ``--help``, so ``litraj --help`` imports no command module
and ``litraj bvel --help`` imports only the BVSE command's (neither torch, pandas nor matgl).
``litraj build NAME`` is lazy the same way through :data:`litraj_data.builders.BUILDERS`.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any, Sequence

from litraj_data._version import __version__
from litraj_data.cli.core import first_positional, import_target, unavailable
from litraj_data.cli.options import add_verbose_option
from litraj_data.cli.output import fail
from litraj_data.cli.progress import third_party_noise
from litraj_data.errors import LitrajError

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


@dataclass(frozen=True)
class Command:
    """One ``litraj`` command: its one-line help and ``"module:function"`` adding it.

    The function takes the sub-parser collection (and ``argv`` when ``wants_argv``: ``build``
    imports only the builder named there). A module may add several commands with one
    function (``submit``, ``score`` and ``leaderboard``): they name the same target.
    """

    help: str
    target: str
    wants_argv: bool = False

    @property
    def module(self) -> str:
        """The module that defines the command."""
        return self.target.partition(":")[0]


_PAGE = "litraj_data.leaderboard.page.cli:register"
_UMLIP = "litraj_data.leaderboard.reference.umlip.cli:register"

#: Every command, in the order ``litraj --help`` lists them.
COMMANDS: dict[str, Command] = {
    "list": Command("list the registered datasets", "litraj_data.cli.core:register_list"),
    "info": Command("show a dataset's card: description, splits, columns, source",
                    "litraj_data.cli.core:register_info"),
    "cite": Command("print how to cite LiTraj (and a dataset release with --version)",
                    "litraj_data.cli.core:register_cite"),
    "export": Command("write a dataset (or one split) as extxyz, Parquet or Arrow",
                      "litraj_data.cli.core:register_export"),
    "verify": Command("re-hash every file of built versions against their manifests",
                      "litraj_data.cli.core:register_verify"),
    "cache": Command("the local cache: path, list or clear", "litraj_data.cli.core:register_cache"),
    "build": Command("build a dataset version: from the official release, structures or raw NEB runs",
                     "litraj_data.cli.core:register_build", wants_argv=True),
    "demo": Command("the main job on the embedded sample: load, convert, compute, score", "litraj_data.demo:register"),
    "sample-structures": Command("list, check or export the crystal structures of the embedded sample",
                                 "litraj_data.builders.sample_structures:register"),
    "bvel": Command("1D/2D/3D BVSE percolation barriers (eV) of Li in crystal structures",
                    "litraj_data.leaderboard.reference.bvse.cli:register"),
    "hops": Command("Li hop graph (and BVSE-NEB barriers) of structures",
                    "litraj_data.leaderboard.reference.hops.cli:register"),
    "coating": Command("coating funnel: band gap, E_hull, inactive elements, stability window, SE/CAM interfaces, "
                       "then Li percolation barriers of the survivors",
                       "litraj_data.leaderboard.reference.coating.cli:register"),
    "submit": Command("check a leaderboard submission", _PAGE),
    "score": Command("validate and score a submission", _PAGE),
    "leaderboard": Command("leaderboard tables and page", _PAGE),
    "features": Command("structure / hop descriptors (the paper's Voronoi set, Ward et al. 2017)",
                        "litraj_data.leaderboard.models.features.cli:register"),
    "baseline": Command("classical baselines on the paper's feature sets",
                        "litraj_data.leaderboard.models.baselines.cli:register"),
    "train": Command("train a model on a LiTraj task", "litraj_data.leaderboard.models.gnn.cli:register"),
    "finetune": Command("fine-tune a uMLIP on MPLiTrj with the model's own training code",
                        "litraj_data.leaderboard.models.finetune.cli:register"),
    "bench": Command("benchmark runs that produce leaderboard submissions", _UMLIP),
    "screen": Command("uMLIP percolation barriers of structures", _UMLIP),
    "models": Command("the uMLIP registry: cards, installed here, weights reachable",
                      "litraj_data.leaderboard.reference.umlip.models_cli:register"),
    "check-leakage": Command("prove that no test structure appears in any train/val split",
                             "litraj_data.builders.leakage:register"),
    "release": Command("make a release folder (Hub-loadable, Croissant, Zenodo) or push one to the Hub",
                       "litraj_data.publish.cli:register"),
}


def _register(subparsers: Any, name: str, argv: Sequence[str]) -> None:
    """Import the module of command ``name`` and let it add its command(s)."""
    cmd = COMMANDS[name]
    module, why = import_target(cmd.module)
    func = getattr(module, cmd.target.partition(":")[2], None) if module is not None else None
    if func is None:
        why = why or f"{cmd.target} does not exist"
        for other, c in COMMANDS.items():
            if c.target == cmd.target:
                unavailable(subparsers, other, why)
        return
    if cmd.wants_argv:
        func(subparsers, argv)
    else:
        func(subparsers)


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run something: those without sub-commands of their own."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for a in subs for p in dict.fromkeys(a.choices.values()) for leaf in _leaf_parsers(p)]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``litraj`` parser for ``argv``.

    The command named in ``argv`` is registered by its module; every other command is a
    one-line entry of :data:`COMMANDS` (no import). Without ``argv`` (``litraj --help``)
    nothing is imported.
    """
    argv = list(argv or [])
    parser = argparse.ArgumentParser(
        prog="litraj", description="LiTraj Li-ion migration datasets: load, build, verify, export, benchmark, cite.",
        epilog="Every reporting command takes --json; every command that reads a dataset takes --source; "
               "every command takes --verbose. Cite the data with `litraj cite`.")
    parser.add_argument("-V", "--version", action="version", version=f"litraj-data {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = first_positional(argv)
    if chosen in COMMANDS:
        _register(sub, chosen, argv)
    for name, cmd in COMMANDS.items():
        if name not in sub.choices:  # a stub: listed in --help, its module not imported
            sub.add_parser(name, help=cmd.help, description=cmd.help)
    if chosen in sub.choices:
        for leaf in _leaf_parsers(sub.choices[chosen]):
            if leaf.add_help:  # not an "unavailable" placeholder, which takes anything
                add_verbose_option(leaf)
    return parser


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        with third_party_noise(verbose=getattr(args, "verbose", False)):
            return int(args.func(args) or 0)
    except (LitrajError, FileNotFoundError, FileExistsError) as exc:
        file = getattr(exc, "filename", None) or getattr(args, "name", None) or args.command
        return fail(args, file, exc, code=1)


def main(argv: list[str] | None = None) -> int:
    """Run the ``litraj`` command; the exit status (141 when the reader of stdout went away)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    try:
        rc = _run(parser, argv)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return rc
    except BrokenPipeError:
        # `litraj info X | head`: the reader closed the pipe, so stop quietly as Unix tools do.
        # stdout is pointed at /dev/null so that the interpreter's own final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141  # 128 + SIGPIPE, the status of a tool killed by SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
