"""`litraj build MPLiTrj --raw DIR --out DIR`: MPLiTrj from raw NEB hop runs (see :mod:`.raw_neb`)."""
from __future__ import annotations

import argparse

from litraj_data.builders import raw_neb

DATASET = "MPLiTrj"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the MPLiTrj raw builder."""
    raw_neb.add_arguments(parser, DATASET)


def run(args: argparse.Namespace) -> int:
    """Build MPLiTrj from raw runs; returns an exit code."""
    return raw_neb.run(args, DATASET)
