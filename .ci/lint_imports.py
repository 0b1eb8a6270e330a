"""Check the layering contracts of pyproject.toml ([tool.importlinter]) with import-linter.

Why a wrapper: builders/, loaders/ and leaderboard/ are top-level folders that install as
litraj_data.builders etc. (setup.py's package_dir). import-linter (grimp) finds a package's
modules by walking its folder, so it would see only litraj_data/. This script lays the
sources out as they are imported (a copy of the .py files under one litraj_data/ folder in a
temporary directory) and runs ``lint-imports`` on that copy.

Usage: ``python .ci/lint_imports.py [--keep DIR]``; exit code of lint-imports.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAPPED = {"builders": "builders", "loaders": "loaders", "leaderboard": "leaderboard"}


def mirror(dest: Path) -> Path:
    """Copy every .py file as it is imported: ``dest/litraj_data/...``; returns ``dest``."""
    pkg = dest / "litraj_data"
    ignore = shutil.ignore_patterns("__pycache__", "sample", "*.arrow", "*.json", "*.csv")
    shutil.copytree(ROOT / "litraj_data", pkg, ignore=ignore)
    for sub, folder in MAPPED.items():
        shutil.copytree(ROOT / folder, pkg / sub, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="lay the copy out in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(args.keep) if args.keep else Path(tmp)
        if args.keep:
            shutil.rmtree(dest, ignore_errors=True)
        mirror(dest)
        return run_lint(dest)


def run_lint(dest: Path) -> int:
    """``lint-imports`` on a mirror laid out by :func:`mirror`; returns its exit code."""
    env = dict(os.environ, PYTHONPATH=str(dest))  # the copy shadows the editable install
    lint = shutil.which("lint-imports") or "lint-imports"
    return subprocess.call([lint, str(dest / "pyproject.toml"), "--no-cache"], cwd=dest, env=env)


if __name__ == "__main__":
    sys.exit(main())
