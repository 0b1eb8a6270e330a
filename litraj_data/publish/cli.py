"""``litraj release NAME... --source S --version X --out DIR`` and ``litraj release push DIR hf://OWNER/REPO[@REV]``."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from litraj_data.cli.options import add_json_option, add_out_option, add_source_options
from litraj_data.cli.output import emit

USAGE = ("litraj release NAME [NAME ...] --out DIR [--source S] [--version X] [--doi DOI] [--overwrite] [--json]\n"
         "       litraj release push DIR hf://OWNER/REPO[@REV] [--token T] [--private] [--dry-run] [--json]")


def _emit(args: argparse.Namespace, records: list[dict[str, Any]], text: str) -> None:
    emit(args, records, text)


def _run(args: argparse.Namespace) -> int:
    if args.targets[0] == "push":
        if len(args.targets) != 3:
            print(f"usage: {USAGE.splitlines()[1].strip()}", file=sys.stderr)
            return 2
        from litraj_data.publish.hub import push_release

        records = push_release(args.targets[1], args.targets[2], token=args.token, private=args.private,
                               dry_run=args.dry_run)
        added = [r for r in records if r["action"] != "skip"]
        verb = "would upload" if args.dry_run else "uploaded"
        _emit(args, records, f"{verb} {len(added)} files, {len(records) - len(added)} unchanged: {args.targets[2]}")
        return 0
    if not args.out:
        print("litraj release: --out DIR is required (where the release folder is written)", file=sys.stderr)
        return 2
    from litraj_data.publish.release import make_release

    records = make_release(args.targets, args.out, source=args.source, version=args.version,
                           cache_dir=args.cache_dir, doi=args.doi, overwrite=args.overwrite)
    total = sum(r["num_bytes"] for r in records)
    _emit(args, records, f"wrote release {args.out}: {len(records)} files, {total / 1e6:.2f} MB\n"
                         f"load it: datasets.load_dataset({str(args.out)!r}, {args.targets[0]!r}, split='test')\n"
                         f"publish it: litraj release push {args.out} hf://OWNER/REPO")
    return 0


def register(subparsers: Any) -> None:
    """Add ``litraj release``."""
    p = subparsers.add_parser(
        "release", help="make a release folder (Hub-loadable, Croissant, Zenodo) or push one to the Hub",
        usage=USAGE, description="Make a release of built versions (Arrow shards + Parquet view, dataset card with "
        "configs for datasets.load_dataset, Croissant JSON-LD, .zenodo.json, CITATION.cff, LICENSE), or push a "
        "release folder to a Hugging Face dataset repository (only changed files are uploaded).")
    p.add_argument("targets", nargs="+", metavar="NAME|push", help="dataset names, or: push DIR hf://OWNER/REPO[@REV]")
    add_out_option(p, "release folder to write")
    add_source_options(p)
    p.add_argument("--doi", help="the release's DOI (e.g. reserved on Zenodo), written into card and metadata")
    p.add_argument("--overwrite", action="store_true", help="replace an existing release folder")
    p.add_argument("--token", help="push: Hub token (default: HF_TOKEN or the stored login)")
    p.add_argument("--private", action="store_true", help="push: create the repository private")
    p.add_argument("--dry-run", action="store_true", help="push: report what would be uploaded, upload nothing")
    add_json_option(p)
    p.set_defaults(func=_run)
