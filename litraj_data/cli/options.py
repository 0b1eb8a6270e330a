"""The options every ``litraj`` command shares, declared once.

Each function adds one option (or one group) with the one help text of the package, so that
``--source`` means ``load_litraj(source=)`` everywhere and ``--json`` always promises one
document ``{"records": [...]}``. A command passes only what differs (``required=True``, a
default, a sentence about what its ``--out`` holds). Plain :mod:`argparse`, nothing heavy:
the per-package ``cli.py`` modules import this at registration time, which ``litraj CMD
--help`` pays for.
"""
from __future__ import annotations

import argparse
from typing import Any

__all__ = ["SOURCE_HELP", "add_cache_dir_option", "add_device_option", "add_json_option", "add_out_option",
           "add_source_option", "add_source_options", "add_threads_option", "add_verbose_option"]

#: The one meaning of ``--source`` (the README's table of ``load_litraj(source=)``).
SOURCE_HELP = ("where the data come from, as load_litraj(source=): 'sample', a built folder, a release zip or "
               "folder, a file:// or https:// mirror, hf://OWNER/REPO[@REV]; default: the cache, else the "
               "official release")
CACHE_DIR_HELP = "cache folder (default: $LITRAJ_CACHE or ~/.cache/litraj)"
JSON_HELP = 'print one JSON document {"records": [...]} on stdout (progress and notes go to stderr)'


def add_source_option(parser: Any, help: str | None = None, default: str | None = None) -> None:
    """``--source`` with the meaning of ``load_litraj(source=)``.

    Parameters
    ----------
    parser
        An :class:`argparse.ArgumentParser` or argument group.
    help
        A command-specific sentence put before the shared meaning (e.g. what is read from it).
    default
        The default source (``None``: the cache, else the official release).
    """
    text = SOURCE_HELP if help is None else f"{help}; {SOURCE_HELP}"
    if default is not None:
        text = text.replace("default: the cache, else the official release", f"default: {default}")
    parser.add_argument("--source", default=default, help=text)


def add_cache_dir_option(parser: Any, help: str | None = None) -> None:
    """``--cache-dir``: the dataset cache (``$LITRAJ_CACHE``, ``~/.cache/litraj``)."""
    parser.add_argument("--cache-dir", default=None,
                        help=CACHE_DIR_HELP if help is None else f"{help}; {CACHE_DIR_HELP}")


def add_source_options(parser: Any, version: bool = True) -> None:
    """``--source``, ``--version`` and ``--cache-dir``: the ``load_litraj`` arguments of a dataset reader."""
    add_source_option(parser)
    if version:
        parser.add_argument("--version", default=None, help="dataset version (default: the card's)")
    add_cache_dir_option(parser)


def add_json_option(parser: Any) -> None:
    """``--json``: one JSON document ``{"records": [...]}`` on stdout instead of text."""
    parser.add_argument("--json", action="store_true", help=JSON_HELP)


def add_out_option(parser: Any, help: str, required: bool = False) -> None:
    """``--out``: where the command writes (``help`` says what: a folder, a submission file...)."""
    parser.add_argument("--out", required=required, default=None, help=help)


def add_threads_option(parser: Any, help: str | None = None) -> None:
    """``--threads N``: CPU threads of the command's compute (default: the library's choice)."""
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help=help or "CPU threads of the computation (default: the library's choice)")


def add_device_option(parser: Any) -> None:
    """``--device cpu|cuda`` for torch models."""
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="torch device (default cpu)")


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    """``--verbose``: also show third-party banners and warnings (see :func:`.progress.third_party_noise`).

    The ``litraj`` command adds it to every command; a parser that has it already is left alone.
    """
    if "--verbose" not in parser._option_string_actions:  # argparse has no public "has option"
        parser.add_argument("--verbose", action="store_true",
                            help="also show third-party banners and warnings (Lightning, matgl, CHGNet, pymatgen CIF)")
