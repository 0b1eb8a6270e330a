"""``litraj models [NAME...] [--json]``: the uMLIP registry and what of it is usable here.

For every card: the package and whether it is importable here (found, not imported: some
packages take seconds to import), its version, the e3nn version its package needs against
the installed one, where the weights come from and whether they are reachable without
``--weights`` (a wheel's file present), licence, dtype, batched or not. Exit code 0, or 2 for
an unknown name.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from litraj_data.cli.options import add_json_option
from litraj_data.cli.output import emit


def model_record(name: str) -> dict[str, Any]:
    """One model's registry facts and its state here (JSON-ready)."""
    from litraj_data.leaderboard.reference.umlip.runners import UMLIPProvider, get_spec, package_folder

    spec = get_spec(name)
    card = spec.card
    installed = package_folder(spec.package) is not None
    wheel_file = UMLIPProvider(spec.name).weights_path() if card.weights.source == "wheel" else None
    e3nn = _dist("e3nn")
    e3nn_ok = None
    if card.e3nn is not None and e3nn is not None:
        from packaging.specifiers import SpecifierSet

        e3nn_ok = e3nn in SpecifierSet(card.e3nn)
    return {"file": f"umlip/models/{card.name}.yaml", "name": card.name, "title": card.title,
            "aliases": list(card.aliases), "package": card.package, "pip": card.pip, "extra": card.extra,
            "installed": installed, "version": _dist(card.pip), "e3nn_required": card.e3nn,
            "e3nn_installed": e3nn, "e3nn_ok": e3nn_ok, "weights_source": card.weights.source,
            "weights_url": card.weights.url, "weights_available": wheel_file is not None,
            "weights_file": None if wheel_file is None else str(wheel_file),
            "needs_weights_option": wheel_file is None, "licence": card.licence.model_dump(),
            "dtype": card.dtype, "batched": card.batched, "url": card.url, "training_data": card.training_data,
            "usable": installed and wheel_file is not None and e3nn_ok is not False,
            "install": None if installed else spec.install_hint()}


def _dist(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def register(subparsers: Any) -> None:
    """Add ``models`` to an argparse sub-parser collection."""
    p = subparsers.add_parser("models", help="the uMLIP registry: cards, installed here, weights reachable",
                              description="List the registered universal potentials (YAML cards), whether each "
                                          "package is installed here and whether its weights are reachable "
                                          "without --weights PATH.")
    p.add_argument("names", nargs="*", help="models to show (default: all)")
    add_json_option(p)
    p.set_defaults(func=run_models)


def run_models(args: argparse.Namespace) -> int:
    """``litraj models``."""
    from litraj_data.leaderboard.reference.umlip.errors import ModelUnavailable
    from litraj_data.leaderboard.reference.umlip.runners import list_models

    records, rc = [], 0
    for name in args.names or list_models():
        try:
            records.append(model_record(name))
        except ModelUnavailable as exc:
            records.append({"file": name, "ok": False, "reason": exc.reason, "error": str(exc)})
            rc = 2
    if args.json:
        emit(args, records, "")
        return rc
    print(f"{'model':<18} {'package':<11} {'installed':<10} {'weights':<26} {'batched':<8} {'dtype':<8} licence")
    for r in records:
        if "name" not in r:
            print(f"{r['file']}: {r['error']}", file=sys.stderr)
            continue
        weights = "in wheel" if r["weights_available"] else f"--weights PATH ({r['weights_source']})"
        inst = (r["version"] or "yes") if r["installed"] else "no"
        print(f"{r['name']:<18} {r['pip']:<11} {inst:<10} {weights:<26} {str(r['batched']).lower():<8} "
              f"{r['dtype']:<8} {r['licence']['code']}/{r['licence']['weights']}")
        if r["e3nn_ok"] is False:  # e.g. mace-torch pins e3nn 0.4.4, which sevenn and nequip cannot use
            print(f"  needs e3nn {r['e3nn_required']} (here {r['e3nn_installed']}): a virtual environment of its own")
        if not r["installed"]:
            print(f"  {r['install']}")
    return rc
