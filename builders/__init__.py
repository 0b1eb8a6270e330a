"""Builders: raw inputs -> dataset versions in the store.

Every builder module follows one protocol, so ``litraj build NAME`` needs no special cases:

* ``add_arguments(parser: argparse.ArgumentParser, dataset: str) -> None`` adds its options
  (``dataset`` is the NAME the builder is registered under: one module may build several);
* ``run(args: argparse.Namespace) -> int`` builds, reports (``--json``: one document) and
  returns an exit code; ``args.dataset`` holds NAME.

:data:`BUILDERS` is the table of registered builders (NAME -> module, help). Builders use the
store (:mod:`litraj_data.store`) and the reference calculators; they never import loaders.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuilderEntry:
    """One ``litraj build NAME`` entry: the module following the builder protocol, and a help line."""

    module: str
    help: str


BUILDERS: dict[str, BuilderEntry] = {
    "from-release": BuilderEntry("litraj_data.builders.from_release",
                                 "import an official release zip/folder/URL into shards"),
    "BVEL13k": BuilderEntry("litraj_data.builders.bvel13k", "BVSE percolation barriers from crystal structures"),
    "nebBVSE122k": BuilderEntry("litraj_data.builders.nebbvse122k",
                                "BVSE-NEB hop barriers and centroid supercells from structures"),
    "nebDFT2k": BuilderEntry("litraj_data.builders.raw_neb", "DFT-NEB hops from raw VASP / ASE NEB runs (--raw DIR)"),
    "MPLiTrj": BuilderEntry("litraj_data.builders.raw_neb", "energies/forces/stresses from raw NEB runs (--raw DIR)"),
    "sample": BuilderEntry("litraj_data.builders.sample", "rebuild the embedded sample shipped in the package"),
}

__all__ = ["BUILDERS", "BuilderEntry"]
