"""The ``litraj`` command.

Grammar shared by every subcommand: commands that read a dataset take ``--source`` with
the meaning of ``load_litraj(source=)``; commands that report take ``--json`` and then
print exactly one JSON document on stdout (``{"records": [...]}``, a record per input
naming its ``file``). Subcommands of other parts of the package plug in through
``COMMANDS`` (modules with ``register(subparsers)``) and ``litraj build NAME`` through
:data:`litraj_data.builders.BUILDERS` (the builder protocol: ``add_arguments(parser, dataset)``
and ``run(args)``).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from litraj_data._version import __version__
from litraj_data.errors import DataFormatError, LitrajError
from litraj_data.io import dumps_json

# Modules that add top-level commands: module -> the commands its register(subparsers) adds.
# The names are declared here so that a command whose module cannot be imported (a missing
# optional dependency, a broken install) is still listed and says why instead of vanishing.
COMMANDS: dict[str, tuple[str, ...]] = {
    "litraj_data.demo": ("demo",),
    "litraj_data.builders.sample_structures": ("sample-structures",),
    "litraj_data.leaderboard.reference.bvse.cli": ("bvel",),
    "litraj_data.leaderboard.reference.hops.cli": ("hops",),
    "litraj_data.leaderboard.page.cli": ("submit", "score", "leaderboard"),
    "litraj_data.leaderboard.models.features.cli": ("features",),
    "litraj_data.leaderboard.models.baselines.cli": ("baseline",),
    "litraj_data.leaderboard.models.gnn.cli": ("train",),
    "litraj_data.leaderboard.models.finetune.cli": ("finetune",),
    "litraj_data.leaderboard.reference.umlip.cli": ("bench", "screen"),
    "litraj_data.leaderboard.reference.umlip.models_cli": ("models",),
    "litraj_data.builders.leakage": ("check-leakage",),
    "litraj_data.publish.cli": ("release",),
}


def _import_plugin(name: str) -> tuple[Any | None, str | None]:
    """``(module, None)``, or ``(None, why)`` when importing the plug-in module fails."""
    try:
        return importlib.import_module(name), None
    except ImportError as exc:  # a missing optional dependency: the command says which
        missing = getattr(exc, "name", None)
        hint = f"; install the extra that provides {missing!r}" if missing else ""
        return None, f"cannot import {name} ({type(exc).__name__}: {exc}){hint}"


def _unavailable(subparsers: Any, command: str, why: str) -> None:
    """A placeholder for ``command`` whose module failed to import: it explains and exits 2."""
    p = subparsers.add_parser(command, help=f"(unavailable: {why})", add_help=False)

    def explain(args: argparse.Namespace) -> int:
        print(f"litraj {command} is unavailable: {why}", file=sys.stderr)
        return 2

    p.set_defaults(func=explain, accepts_any_arguments=True)


def _emit(args: argparse.Namespace, records: list[dict[str, Any]], text: Callable[[], str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"records": records}, default=str))
    else:
        print(text())


# --------------------------------------------------------------------------- commands


def _cmd_list(args: argparse.Namespace) -> int:
    from litraj_data.registry import get_config, list_datasets

    recs = []
    for name in list_datasets():
        c = get_config(name)
        recs.append({"file": name, "name": name, "version": c.version, "splits": c.splits,
                     "rows": sum(c.splits.values()), "targets": list(c.task_targets)})

    def text() -> str:
        lines = [f"{'dataset':<18} {'version':<8} {'rows':>9}  targets"]
        lines += [f"{r['name']:<18} {r['version']:<8} {r['rows']:>9}  {', '.join(r['targets'])}" for r in recs]
        return "\n".join(lines)

    _emit(args, recs, text)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from litraj_data.registry import get_config

    c = get_config(args.name)
    rec = c.as_dict() | {"file": c.name}

    def text() -> str:
        lines = [f"{c.name} {c.version} — {c.license}", "", c.description, "",
                 "splits: " + ", ".join(f"{k} {v}" for k, v in c.splits.items()),
                 f"official release: {c.release.get('url')}", f"row id: {c.row_id}; targets: {', '.join(c.task_targets)}",
                 "", "columns:"]
        lines += [f"  {col.name:<18} {col.kind:<15} {col.unit or '':<7} {col.description}" for col in c.columns]
        lines += ["", "cite: litraj cite"]
        return "\n".join(lines)

    _emit(args, [rec], text)
    return 0


def _cmd_cite(args: argparse.Namespace) -> int:
    from litraj_data.registry import citation_bibtex

    if args.version:  # a dataset release: its citation (with its DOI when it has one) beside the paper's
        from litraj_data.publish.citation import release_citation

        cit = release_citation(args.version, args.source)
        doi = f"doi:{cit['doi']}" if cit["doi"] else "no DOI recorded for this release"
        text = (f"% LiTraj dataset release {cit['version']} ({doi})\n{cit['release_bibtex'].rstrip()}\n\n"
                f"% the LiTraj paper (cite it whenever you use the data)\n{cit['paper_bibtex'].rstrip()}")
        if args.json:
            print(dumps_json({"records": [{"file": "citation", "format": "bibtex"} | cit]}))
        else:
            print(text)
        return 0
    if args.format == "cff":
        from importlib import resources

        text = resources.files("litraj_data").joinpath("registry/citation.cff").read_text(encoding="utf-8")
    else:
        text = citation_bibtex()
    if args.json:
        print(json.dumps({"records": [{"file": "citation", "format": args.format, "text": text}]}))
    else:
        print(text.rstrip())
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from litraj_data.loaders.export import export_dataset

    records = export_dataset(args.name, args.out, fmt=args.format, split=args.split, source=args.source,
                             version=args.version, cache_dir=args.cache_dir)
    _emit(args, records, lambda: "\n".join(f"wrote {r['file']} ({r['rows']} rows)" for r in records))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from litraj_data.store.manifest import read_manifest
    from litraj_data.loaders.load import manifest_of
    from litraj_data.loaders.verify import verify_manifest

    records: list[dict[str, Any]] = []
    for target in args.targets:
        path = Path(target)
        if path.is_dir() and (path / "manifest.json").is_file():
            man = read_manifest(path)
        elif path.is_dir() or any(sep in target for sep in ("/", "\\")) or path.exists():
            # a folder (or a path) is never a dataset name: say what is missing, not "did you mean"
            what = "no manifest.json in" if path.is_dir() else "not a folder:" if path.exists() else "no such folder:"
            raise DataFormatError(f"{what} {target}: litraj verify takes a built version (the folder "
                                  "NAME/VERSION holding manifest.json) or a dataset name", reason="missing_manifest")
        else:
            man = manifest_of(target, version=args.version, source=args.source, cache_dir=args.cache_dir)
        records += verify_manifest(man)
    bad = [r for r in records if not r["ok"]]

    def text() -> str:
        lines = [f"{'ok ' if r['ok'] else 'BAD'} {r['file']}" + ("" if r["ok"] else f"  {r['problem']}") for r in records]
        lines.append(f"{len(records) - len(bad)}/{len(records)} files match their manifest")
        return "\n".join(lines)

    _emit(args, records, text)
    return 1 if bad else 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from litraj_data.loaders import cache

    root = cache.cache_root(args.cache_dir)
    if args.action == "path":
        _emit(args, [{"file": str(root)}], lambda: str(root))
    elif args.action == "list":
        recs = [r | {"file": r["folder"]} for r in cache.cached_versions(root)]
        _emit(args, recs, lambda: "\n".join(f"{r['dataset']:<18} {r['version']:<20} {r['num_bytes'] / 1e6:9.1f} MB  "
                                            f"{r['folder']}" for r in recs) or f"(empty cache: {root})")
    else:
        removed = cache.clear(root, args.name, args.version)
        _emit(args, [{"file": f, "removed": True} for f in removed],
              lambda: "\n".join(f"removed {f}" for f in removed) or "nothing to remove")
    return 0


# --------------------------------------------------------------------------- parser


def add_source_argument(parser: argparse.ArgumentParser) -> None:
    """``--source``/``--version``/``--cache-dir`` with the meaning of ``load_litraj``."""
    parser.add_argument("--source", help="where the data come from, as load_litraj(source=): 'sample', a built folder, "
                        "a release zip/folder, a file:// or https:// mirror, hf://OWNER/REPO[@REV]; default: the cache, "
                        "else the official release")
    parser.add_argument("--version", help="dataset version (default: the card's)")
    parser.add_argument("--cache-dir", help="cache folder (default: $LITRAJ_CACHE or ~/.cache/litraj)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="litraj", description="LiTraj Li-ion migration datasets: load, build, verify, export, benchmark, cite.",
        epilog="Every reporting command takes --json; every command that reads a dataset takes --source. "
               "Cite the data with `litraj cite`.")
    parser.add_argument("-V", "--version", action="version", version=f"litraj-data {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list the registered datasets")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="show a dataset's card: description, splits, columns, source")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("cite", help="print how to cite LiTraj (and a dataset release with --version)")
    p.add_argument("--format", choices=("bibtex", "cff"), default="bibtex")
    p.add_argument("--version", help="a dataset release: print its citation (DOI when known) beside the paper's")
    p.add_argument("--source", help="a release folder (litraj release --out DIR) whose release.json gives the DOI")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_cite)

    p = sub.add_parser("export", help="write a dataset (or one split) as extxyz, Parquet or Arrow")
    p.add_argument("name")
    p.add_argument("--format", choices=("extxyz", "parquet", "arrow"), default="extxyz")
    p.add_argument("--split", help="one split (default: all)")
    p.add_argument("--out", required=True, help="output folder")
    add_source_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("verify", help="re-hash every file of built versions against their manifests")
    p.add_argument("targets", nargs="+", metavar="NAME|FOLDER", help="dataset names (resolved like load_litraj) or built folders")
    add_source_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("cache", help="the local cache: path, list or clear")
    p.add_argument("action", choices=("path", "list", "clear"))
    p.add_argument("name", nargs="?", help="dataset to clear (default: everything)")
    p.add_argument("--version", help="version to clear")
    p.add_argument("--cache-dir", help="cache folder (default: $LITRAJ_CACHE or ~/.cache/litraj)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_cache)

    from litraj_data.builders import BUILDERS

    p = sub.add_parser("build", help="build a dataset version: from the official release, structures or raw NEB runs")
    bsub = p.add_subparsers(dest="builder", metavar="NAME")
    for bname, entry in BUILDERS.items():
        module, why = _import_plugin(entry.module)
        if module is None:
            _unavailable(bsub, bname, why or "")
            continue
        bp = bsub.add_parser(bname, help=entry.help, description=entry.help)
        module.add_arguments(bp, bname)
        bp.set_defaults(func=module.run, dataset=bname)

    for module_name, commands in COMMANDS.items():
        module, why = _import_plugin(module_name)
        if module is None:
            for command in commands:
                _unavailable(sub, command, why or "")
        else:
            module.register(sub)
    return parser


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except LitrajError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"records": [], "error": {"reason": exc.reason, "message": str(exc)}}))
        print(f"litraj: error ({exc.reason}): {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, FileExistsError) as exc:
        print(f"litraj: error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Run the ``litraj`` command; the exit status (141 when the reader of stdout went away)."""
    parser = build_parser()
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
