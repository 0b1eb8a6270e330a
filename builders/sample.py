"""Rebuild the embedded sample shipped in the package (``litraj build sample``).

The sample is a few dozen real, ordered Li crystals (``builders/sample_structures.yaml``:
structures pymatgen ships plus entries recorded from the literature, each with its
citation). Its BVEL13k shards hold barriers computed by the reference BVSE calculator and
its nebBVSE122k shards the hops, centroid supercells and BVSE-NEB barriers of the
reference hop calculator, at the paper's settings. Splits follow the paper's rule
(8:1:1 by structure; every test element in val, every val element in train).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from litraj_data.store.layout import replace_version, sample_root

from litraj_data.builders.sample_structures import load_sample_structures

SAMPLE_DATASETS = ("BVEL13k", "nebBVSE122k")


SAMPLE_FRACTIONS = (0.6, 0.2, 0.2)
SAMPLE_SEED = 0


def sample_splits(entries: list[Any]) -> dict[str, str]:
    """The sample's split of each material id: by structure, seeded, 60/20/20.

    The paper's element rule (every test element in val, every val element in train)
    cannot hold for a couple of dozen structures with a non-empty test split: most
    elements occur in one or two of them, and the rule's repair moves nearly everything to
    train (it leaves 19/2/0 here). The sample keeps the split *by structure*, which is
    what prevents leakage, and says so in its dataset card.
    """
    import numpy as np

    ids = sorted(e.material_id for e in entries)
    order = [ids[j] for j in np.random.default_rng(SAMPLE_SEED).permutation(len(ids))]
    n_train = int(round(SAMPLE_FRACTIONS[0] * len(ids)))
    n_val = int(round(SAMPLE_FRACTIONS[1] * len(ids)))
    return {i: "train" if k < n_train else "val" if k < n_train + n_val else "test" for k, i in enumerate(order)}


def build_sample(out: str | Path | None = None, datasets: tuple[str, ...] = SAMPLE_DATASETS, workers: int = 1,
                 scheduler: Any = None,
                 progress: bool | None = None) -> dict[str, Path]:
    """Build the sample's versions and install them in ``out`` (the package's sample folder).

    Each dataset is built in a temporary folder and swapped in with a rename, so a
    failed build leaves the shipped sample untouched.
    """
    from litraj_data.registry import get_config

    from litraj_data.builders.bvel13k import build_bvel13k
    from litraj_data.builders.nebbvse122k import build_nebbvse122k

    entries = load_sample_structures()
    structures = [(e.material_id, e.structure) for e in entries]
    splits = sample_splits(entries)
    out = Path(out) if out is not None else sample_root()
    out.mkdir(parents=True, exist_ok=True)
    builders = {"BVEL13k": build_bvel13k, "nebBVSE122k": build_nebbvse122k}
    built: dict[str, Path] = {}
    for name in datasets:
        version = get_config(name).version
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            folder = Path(builders[name](structures, tmp, splits=splits, workers=workers, scheduler=scheduler,
                                            progress=progress))
            target = out / name / version
            target.parent.mkdir(parents=True, exist_ok=True)
            replace_version(folder, target)  # the old sample or the new one is in place at every instant
            built[name] = target
    return built


def add_arguments(parser: argparse.ArgumentParser, dataset: str = "sample") -> None:
    parser.add_argument("--out", help="destination root (writes OUT/NAME/VERSION); required unless --in-place")
    parser.add_argument("--in-place", action="store_true",
                        help="rebuild the package's own embedded sample (maintainers; replaces the shipped shards)")
    parser.add_argument("--datasets", nargs="+", default=list(SAMPLE_DATASETS), choices=SAMPLE_DATASETS)
    parser.add_argument("--workers", type=int, default=1, help="local processes")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler address (tcp://host:8786): one task per structure")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _destination(args: argparse.Namespace) -> Path:
    """Where ``litraj build sample`` writes: ``--out``, or the package's sample with ``--in-place`` only.

    Raises
    ------
    DataFormatError
        Neither given, or ``--out`` inside the installed package without ``--in-place``
        (a rebuild there replaces the sample every user's ``source="sample"`` reads).
    """
    from litraj_data.errors import DataFormatError

    package = sample_root().parent.resolve()
    if args.in_place:
        if args.out and Path(args.out).resolve() != sample_root().resolve():
            raise DataFormatError("--in-place rebuilds the package's own sample; drop --out or --in-place",
                                  reason="bad_arguments")
        return sample_root()
    if not args.out:
        raise DataFormatError("litraj build sample needs --out DIR (a new folder); --in-place rebuilds the "
                              f"package's own sample in {sample_root()}", reason="missing_out")
    out = Path(args.out).resolve()
    if out == package or package in out.parents:
        raise DataFormatError(f"--out {args.out} is inside the installed package ({package}); pass --in-place to "
                              "rebuild the package's own sample, or choose another folder", reason="inside_package")
    return out


def run(args: argparse.Namespace) -> int:
    out = _destination(args)
    built = build_sample(out, tuple(args.datasets), workers=args.workers, scheduler=args.scheduler)
    records = []
    for name, folder in built.items():
        man = json.loads((folder / "manifest.json").read_text())
        records.append({"file": str(folder), "dataset": name, "splits": {s: r["num_rows"] for s, r in man["splits"].items()}})
    if args.json:
        print(json.dumps({"records": records}))
    else:
        for r in records:
            print(f"built sample {r['dataset']} in {r['file']}: " + ", ".join(f"{s} {n}" for s, n in r["splits"].items()))
    return 0
