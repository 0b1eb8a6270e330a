"""Prove the paper's split rule over any set of built datasets: no structure leaks into test.

Rule (paper, Methods; docs/formats.md): splits are by structure and are
propagated from nebDFT2k, so no ``material_id`` of *any* test split may appear in *any*
train or val split of the datasets checked together (the same dataset included).

``litraj check-leakage DIR... [--json]`` reads the ``material_id`` column of every shard of
every built version found under the given folders and lists the violations; exit code 1
when there is any.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from litraj_data.cli.options import add_json_option
from litraj_data.errors import DataFormatError
from litraj_data.store.manifest import read_manifest
from litraj_data.store.shards import read_shard

TEST_SPLITS = ("test",)
TRAINING_SPLITS = ("train", "val")


def find_versions(path: str | Path) -> list[Path]:
    """Built versions under ``path``: a version folder, a dataset folder or an output root.

    Raises
    ------
    DataFormatError
        ``missing_manifest`` when nothing built is found there.
    """
    path = Path(path)
    if (path / "manifest.json").is_file():
        return [path]
    found = sorted(p.parent for p in path.glob("*/manifest.json") if not p.parent.name.startswith("."))
    found += sorted(p.parent for p in path.glob("*/*/manifest.json")
                    if not p.parent.name.startswith(".") and not p.parent.parent.name.startswith("."))
    if not found:
        raise DataFormatError(f"{path}: no built dataset (no manifest.json) found", reason="missing_manifest")
    return found


def material_splits(version: str | Path) -> tuple[dict[str, set[str]], int]:
    """material_ids of every split of one built version, and the number of rows without one.

    Raises
    ------
    DataFormatError
        ``missing_column`` when the dataset has no material_id column.
    """
    man = read_manifest(version)
    out: dict[str, set[str]] = {}
    unknown = 0
    for split in man.splits:
        ids: set[str] = set()
        for rec in man.files(split):
            path = man.path(rec["name"])  # the one name boundary: a link out of the version is refused
            try:
                table = read_shard(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataFormatError(f"{path}: unreadable shard ({exc}); `litraj verify {version}` checks every "
                                      "file against its manifest", reason="bad_shard") from exc
            if "material_id" not in table.column_names:
                raise DataFormatError(f"{version}: {man.dataset} has no material_id column", reason="missing_column")
            col = table.column("material_id")
            unknown += col.null_count
            ids.update(v for v in pc.unique(col).to_pylist() if v is not None)
        out[split] = ids
    return out, unknown


@dataclass
class LeakageReport:
    """Result of :func:`check_leakage`: one record per version, and every violation."""

    datasets: list[dict[str, Any]] = field(default_factory=list)
    leaks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.leaks

    def records(self) -> list[dict[str, Any]]:
        """JSON records (one per version) for ``--json``."""
        out = []
        for d in self.datasets:
            mine = [lk for lk in self.leaks if d["file"] in lk["train_val_in"] or d["file"] in lk["test_in"]]
            out.append(dict(d, ok=not mine, leaks=mine))
        return out


def check_leakage(dataset_dirs: Iterable[str | Path]) -> LeakageReport:
    """Check that no test structure of any given dataset is in any train/val split.

    Parameters
    ----------
    dataset_dirs : iterable of path
        Built versions, dataset folders or output roots (all versions found are checked
        together).

    Returns
    -------
    LeakageReport
        ``ok`` is True when there is no violation; ``leaks`` lists each offending
        material_id with the version folders/splits it is in.
    """
    report = LeakageReport()
    test_of: dict[str, list[str]] = {}
    train_of: dict[str, list[str]] = {}
    for d in dataset_dirs:
        for version in find_versions(d):
            man = read_manifest(version)
            splits, unknown = material_splits(version)
            key = str(version)
            report.datasets.append({"file": key, "dataset": man.dataset, "version": man.version,
                                    "materials": {s: len(v) for s, v in splits.items()},
                                    "rows_without_material_id": unknown})
            for split, ids in splits.items():
                target = test_of if split in TEST_SPLITS else train_of if split in TRAINING_SPLITS else None
                if target is None:
                    continue
                for mid in ids:
                    target.setdefault(mid, []).append(f"{key}:{split}")
    for mid in sorted(set(test_of) & set(train_of)):
        report.leaks.append({"material_id": mid,
                             "test_in": sorted({s.rsplit(':', 1)[0] for s in test_of[mid]}),
                             "train_val_in": sorted({s.rsplit(':', 1)[0] for s in train_of[mid]}),
                             "where": sorted(test_of[mid] + train_of[mid])})
    return report


def _run(args: argparse.Namespace) -> int:
    try:
        report = check_leakage(args.dirs)
    except DataFormatError as exc:
        if args.json:
            print(json.dumps({"records": [{"file": str(d), "ok": False, "reason": exc.reason, "error": str(exc)}
                                          for d in args.dirs]}))
        else:
            print(f"litraj check-leakage: error ({exc.reason}): {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"records": report.records()}))
    else:
        for d in report.datasets:
            counts = ", ".join(f"{s} {n}" for s, n in d["materials"].items())
            print(f"{d['dataset']} {d['version']} ({d['file']}): structures {counts}")
        if report.ok:
            print("no leakage: no test structure appears in any train/val split")
        for lk in report.leaks:
            print(f"LEAK {lk['material_id']}: {', '.join(lk['where'])}")
    return 0 if report.ok else 1


def register(subparsers: Any) -> None:
    """Add ``check-leakage DIR... [--json]``."""
    p = subparsers.add_parser("check-leakage", help="prove that no test structure appears in any train/val split",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("dirs", nargs="+", help="built dataset versions, dataset folders or output roots")
    add_json_option(p)
    p.set_defaults(func=_run)
