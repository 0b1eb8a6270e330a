"""`litraj build nebDFT2k --raw DIR --out DIR`: nebDFT2k from raw NEB hop runs (see :mod:`.raw_neb`)."""
from __future__ import annotations

import argparse

from litraj_data.builders import raw_neb

DATASET = "nebDFT2k"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the nebDFT2k raw builder."""
    raw_neb.add_arguments(parser, DATASET)


def run(args: argparse.Namespace) -> int:
    """Build nebDFT2k from raw runs; returns an exit code."""
    return raw_neb.run(args, DATASET)
