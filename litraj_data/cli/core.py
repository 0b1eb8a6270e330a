"""The data commands of ``litraj``: list, info, cite, export, verify, cache and build.

Each ``register_*`` function adds one command; :data:`litraj_data.cli.main.COMMANDS` names
them, so this module is imported only when one of them runs or shows its help. Every
import of the package's data code is inside the command's function for the same reason.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from litraj_data.cli.options import add_cache_dir_option, add_json_option, add_out_option, add_source_options
from litraj_data.cli.output import emit

__all__ = ["first_positional", "import_target", "unavailable", "register_build", "register_cache", "register_cite",
           "register_export", "register_info",
           "register_list", "register_verify"]


# --------------------------------------------------------------------------- lazy registration


def first_positional(argv: Sequence[str]) -> str | None:
    """The first argument that is not an option: the command name (the top level has no valued option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def import_target(module_name: str) -> tuple[Any | None, str | None]:
    """``(module, None)``, or ``(None, why)`` when importing the command's module fails."""
    try:
        return importlib.import_module(module_name), None
    except ImportError as exc:  # a missing optional dependency: the command says which
        missing = getattr(exc, "name", None)
        hint = f"; install the extra that provides {missing!r}" if missing else ""
        return None, f"cannot import {module_name} ({type(exc).__name__}: {exc}){hint}"


def unavailable(subparsers: Any, command: str, why: str) -> None:
    """A placeholder for ``command`` whose module failed to import: it explains and exits 2."""
    p = subparsers.add_parser(command, help=f"(unavailable: {why})", add_help=False)

    def explain(args: argparse.Namespace) -> int:
        print(f"litraj {command} is unavailable: {why}", file=sys.stderr)
        return 2

    p.set_defaults(func=explain, accepts_any_arguments=True)


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

    emit(args, recs, text)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from litraj_data.registry import get_config
    from litraj_data.store.layout import sample_root

    c = get_config(args.name)
    rec = c.as_dict() | {"file": c.name}
    shipped = sample_root() / c.name / c.version / "manifest.json"
    sample = None
    if shipped.is_file():  # what source="sample" gives: never to be taken for the data described above
        man = json.loads(shipped.read_text())
        sample = {"version": man["version"], "rows": {s: r["num_rows"] for s, r in man["splits"].items()},
                  "generated": man.get("generated"), "note": man.get("sample_note")}
    rec["sample"] = sample

    def text() -> str:
        lines = [f"{c.name} {c.version} — {c.license}", "", c.description, "",
                 "splits: " + ", ".join(f"{k} {v}" for k, v in c.splits.items()),
                 f"official release: {c.release.get('url')}",
                 f"row id: {c.row_id}; targets: {', '.join(c.task_targets)}"]
        if sample is None:
            lines += ["embedded sample: none"]
        else:
            lines += ["embedded sample (source='sample'): " + ", ".join(f"{k} {v}" for k, v in sample["rows"].items())
                      + " rows" + (" - GENERATED, NOT DFT: " + sample["generated"] if sample["generated"] else
                                   " - computed by litraj-data on sample crystals, not the official rows")]
        lines += ["", "columns:"]
        lines += [f"  {col.name:<18} {col.kind:<15} {col.unit or '':<7} {col.description}" for col in c.columns]
        lines += ["", "cite: litraj cite"]
        return "\n".join(lines)

    emit(args, [rec], text)
    return 0


def _cmd_cite(args: argparse.Namespace) -> int:
    from litraj_data.registry import citation_bibtex

    if args.version:  # a dataset release: its citation (with its DOI when it has one) beside the paper's
        from litraj_data.publish.citation import release_citation

        cit = release_citation(args.version, args.source)
        doi = f"doi:{cit['doi']}" if cit["doi"] else "no DOI recorded for this release"
        warning = f"% WARNING: {cit['warning']}\n" if cit.get("sample") else ""
        emit(args, [{"file": "citation", "format": "bibtex"} | cit],
             f"{warning}% LiTraj dataset release {cit['version']} ({doi})\n{cit['release_bibtex'].rstrip()}\n\n"
             f"% the LiTraj paper (cite it whenever you use the data)\n{cit['paper_bibtex'].rstrip()}")
        return 0
    if args.format == "cff":
        from importlib import resources

        text = resources.files("litraj_data").joinpath("registry/citation.cff").read_text(encoding="utf-8")
    else:
        text = citation_bibtex()
    emit(args, [{"file": "citation", "format": args.format, "text": text}], text.rstrip())
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from litraj_data.loaders.export import export_dataset

    records = export_dataset(args.name, args.out, fmt=args.format, split=args.split, source=args.source,
                             version=args.version, cache_dir=args.cache_dir)
    emit(args, records, lambda: "\n".join(f"wrote {r['file']} ({r['rows']} rows)" for r in records))
    return 0


def _shipped_sample(name: str, version: str | None) -> Any:
    """The manifest of the embedded sample of ``name`` inside the installed package."""
    from litraj_data.errors import DataFormatError
    from litraj_data.registry import get_config
    from litraj_data.store.layout import sample_root
    from litraj_data.store.manifest import read_manifest

    config = get_config(name)
    folder = sample_root() / config.name / (version or config.version)
    if not (folder / "manifest.json").is_file():
        raise DataFormatError(f"no embedded sample of {config.name} {version or config.version} in {sample_root()}",
                              reason="no_sample")
    return read_manifest(folder)


def _cached_only(name: str, version: str | None, cache_dir: Any) -> Any:
    """The cached version ``litraj verify NAME`` checks; a named error (never a download) when there is none."""
    from litraj_data.errors import DataFormatError
    from litraj_data.loaders.cache import cache_root
    from litraj_data.registry import get_config
    from litraj_data.store.layout import sample_root
    from litraj_data.store.manifest import read_manifest

    config = get_config(name)
    version = version or config.version
    root = cache_root(cache_dir)
    folder = root / config.name / version
    if (folder / "manifest.json").is_file():
        return read_manifest(folder)
    sample = (sample_root() / config.name / version / "manifest.json").is_file()
    raise DataFormatError(
        f"nothing verified: {config.name} {version} is not in the cache ({root})"
        + (f"; this installation holds only the embedded sample of {config.name} (a few rows, not the official "
           f"release): `litraj verify {config.name} --source sample` verifies it" if sample else "")
        + f". To verify the official release, load it first (load_litraj({config.name!r}) downloads it once) or "
        "pass --source ZIP|FOLDER|URL.", reason="not_cached")


def _cmd_verify(args: argparse.Namespace) -> int:
    from litraj_data.errors import DataFormatError
    from litraj_data.loaders.load import manifest_of
    from litraj_data.loaders.verify import verify_manifest
    from litraj_data.store.manifest import read_manifest

    records: list[dict[str, Any]] = []
    headers: list[dict[str, Any]] = []
    for target in args.targets:
        path = Path(target)
        if path.is_dir() and (path / "manifest.json").is_file():
            man = read_manifest(path)
        elif path.is_dir() or any(sep in target for sep in ("/", "\\")) or path.exists():
            # a folder (or a path) is never a dataset name: say what is missing, not "did you mean"
            what = "no manifest.json in" if path.is_dir() else "not a folder:" if path.exists() else "no such folder:"
            raise DataFormatError(f"{what} {target}: litraj verify takes a built version (the folder "
                                  "NAME/VERSION holding manifest.json) or a dataset name", reason="missing_manifest")
        elif args.source == "sample":
            man = _shipped_sample(target, args.version)  # the package's own copy, not a cache copy of it
        elif args.source is None:
            man = _cached_only(target, args.version, args.cache_dir)  # verify what is here; never download
        else:
            man = manifest_of(target, version=args.version, source=args.source, cache_dir=args.cache_dir)
        what = {"dataset": man.dataset, "version": man.version, "folder": str(man.root),
                "sample": bool(man.data.get("sample")), "generated": bool(man.data.get("generated"))}
        headers.append(what)
        records += [r | what for r in verify_manifest(man)]
    bad = [r for r in records if not r["ok"]]

    def text() -> str:
        lines = [f"verified {h['dataset']} {h['version']} in {h['folder']}"
                 + (" - the EMBEDDED SAMPLE" + (" (GENERATED, NOT DFT)" if h["generated"] else "")
                    + ", not the official release" if h["sample"] else "") for h in headers]
        lines += [f"{'ok ' if r['ok'] else 'BAD'} {r['file']}" + ("" if r["ok"] else f"  {r['problem']}")
                  for r in records]
        lines.append(f"{len(records) - len(bad)}/{len(records)} files match their manifest")
        return "\n".join(lines)

    emit(args, records, text)
    return 1 if bad else 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from litraj_data.loaders import cache

    root = cache.cache_root(args.cache_dir)
    if args.action == "path":
        emit(args, [{"file": str(root)}], str(root))
    elif args.action == "list":
        recs = [r | {"file": r["folder"]} for r in cache.cached_versions(root)]
        emit(args, recs, lambda: "\n".join(f"{r['dataset']:<18} {r['version']:<20} {r['num_bytes'] / 1e6:9.1f} MB  "
                                           f"{r['folder']}" + ("  [sample" + (", generated, not DFT" if r["generated"]
                                                                               else "") + "]" if r["sample"] else "")
                                           for r in recs) or f"(empty cache: {root})")
    else:
        removed = cache.clear(root, args.name, args.version)
        emit(args, [{"file": f, "removed": True} for f in removed],
             lambda: "\n".join(f"removed {f}" for f in removed) or "nothing to remove")
    return 0


# --------------------------------------------------------------------------- registration


def register_list(subparsers: Any) -> None:
    """Add ``litraj list``."""
    p = subparsers.add_parser("list", help="list the registered datasets")
    add_json_option(p)
    p.set_defaults(func=_cmd_list)


def register_info(subparsers: Any) -> None:
    """Add ``litraj info NAME``."""
    p = subparsers.add_parser("info", help="show a dataset's card: description, splits, columns, source")
    p.add_argument("name")
    add_json_option(p)
    p.set_defaults(func=_cmd_info)


def register_cite(subparsers: Any) -> None:
    """Add ``litraj cite``."""
    p = subparsers.add_parser("cite", help="print how to cite LiTraj (and a dataset release with --version)")
    p.add_argument("--format", choices=("bibtex", "cff"), default="bibtex")
    p.add_argument("--version", help="a dataset release: print its citation (DOI when known) beside the paper's")
    # not a dataset source: the folder a `litraj release --out` wrote (its release.json holds the DOI)
    p.add_argument("--source", help="a release folder (litraj release --out DIR) whose release.json gives the DOI")
    add_json_option(p)
    p.set_defaults(func=_cmd_cite)


def register_export(subparsers: Any) -> None:
    """Add ``litraj export NAME --out DIR``."""
    p = subparsers.add_parser("export", help="write a dataset (or one split) as extxyz, Parquet or Arrow")
    p.add_argument("name")
    p.add_argument("--format", choices=("extxyz", "parquet", "arrow"), default="extxyz")
    p.add_argument("--split", help="one split (default: all)")
    add_out_option(p, "output folder", required=True)
    add_source_options(p)
    add_json_option(p)
    p.set_defaults(func=_cmd_export)


def register_verify(subparsers: Any) -> None:
    """Add ``litraj verify NAME|FOLDER...``."""
    p = subparsers.add_parser("verify", help="re-hash every file of built versions against their manifests")
    p.add_argument("targets", nargs="+", metavar="NAME|FOLDER",
                   help="dataset names (resolved like load_litraj) or built folders")
    add_source_options(p)
    add_json_option(p)
    p.set_defaults(func=_cmd_verify)


def register_cache(subparsers: Any) -> None:
    """Add ``litraj cache path|list|clear``."""
    p = subparsers.add_parser("cache", help="the local cache: path, list or clear")
    p.add_argument("action", choices=("path", "list", "clear"))
    p.add_argument("name", nargs="?", help="dataset to clear (default: everything)")
    p.add_argument("--version", help="version to clear")
    add_cache_dir_option(p)
    add_json_option(p)
    p.set_defaults(func=_cmd_cache)


def register_build(subparsers: Any, argv: Sequence[str] | None = None) -> None:
    """Add ``litraj build NAME``: only the builder named in ``argv`` is imported.

    The other builders are one-line entries of :data:`litraj_data.builders.BUILDERS`, so
    ``litraj build --help`` imports no builder and ``litraj build BVEL13k`` only its own.
    """
    from litraj_data.builders import BUILDERS
    p = subparsers.add_parser("build",
                              help="build a dataset version: from the official release, structures or raw NEB runs")
    bsub = p.add_subparsers(dest="builder", metavar="NAME")
    args = list(argv or [])
    chosen = first_positional(args[args.index("build") + 1:]) if "build" in args else None
    for bname, entry in BUILDERS.items():
        if bname != chosen:
            bsub.add_parser(bname, help=entry.help, description=entry.help)
            continue
        module, why = import_target(entry.module)
        if module is None:
            unavailable(bsub, bname, why or "")
            continue
        bp = bsub.add_parser(bname, help=entry.help, description=entry.help)
        module.add_arguments(bp, bname)
        bp.set_defaults(func=module.run, dataset=bname)
