"""Start-up time of every ``litraj`` command: before (a worktree of an older commit) and now.

Start-up = wall time of ``python -c "from litraj_data.cli import main; main([CMD, '--help'])"``:
the command's parser is built (its module imported) and its own code is reached. Both trees
are measured side by side in one run, alternating, so that the load of a shared box hits both.

Usage::

    git worktree add /tmp/litraj-old <commit before the CLI layer>
    python benchmarks/bench_cli_startup.py --old /tmp/litraj-old [--repeats 3]
    python benchmarks/bench_cli_startup.py --old /tmp/litraj-old --first-output [--limit 300]

``--first-output`` measures instead the seconds until ``litraj demo`` and ``litraj screen``
(a sample crystal, CHGNet) print their first line on stdout or stderr (each run is stopped
there, or after ``--limit`` seconds).

``--old`` is put first on ``PYTHONPATH`` through a mirror of the installed layout (builders/,
loaders/ and leaderboard/ under litraj_data/, as setup.py installs them), so no install is needed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["-V", "--help", "list", "info BVEL13k", "cite", "export", "verify", "cache", "build", "build BVEL13k",
            "demo", "sample-structures", "bvel", "hops", "submit validate", "score", "leaderboard table",
            "features", "baseline train", "train gnn", "finetune", "bench umlip", "screen", "models",
            "check-leakage", "release"]
HEAVY = ("torch", "pandas", "matgl")


def mirror(tree: Path, dest: Path) -> Path:
    """``dest/litraj_data`` laid out as installed from source ``tree``."""
    pkg = dest / "litraj_data"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(tree / "litraj_data", pkg, ignore=ignore)
    for sub in ("builders", "loaders", "leaderboard"):
        shutil.copytree(tree / sub, pkg / sub, ignore=ignore)
    return dest


def one(path: Path, command: str) -> tuple[float, list[str]]:
    argv = command.split()
    if command not in ("-V", "--help", "list", "info BVEL13k", "cite"):  # cheap ones run; the others show help
        argv.append("--help")
    code = ("import sys\nfrom litraj_data.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "sys.__stderr__.write('\\nHEAVY ' + ' '.join(m for m in %r if m in sys.modules))\n") % (argv, HEAVY)
    env = dict(os.environ, PYTHONPATH=str(path))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=path)
    wall = time.perf_counter() - t0
    heavy = res.stderr.strip().splitlines()[-1].split()[1:] if res.stderr.strip() else ["?"]
    return wall, heavy


def first_output(path: Path, argv: list[str], limit: float) -> float | None:
    """Seconds until the command prints its first line (stdout or stderr); ``None`` after ``limit``."""
    import selectors

    code = "import sys\nfrom litraj_data.cli import main\nsys.exit(main(%r))\n" % (argv,)
    env = dict(os.environ, PYTHONPATH=str(path), PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=path)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    try:
        while time.perf_counter() - t0 < limit:
            for key, _ in sel.select(timeout=1.0):
                if key.fileobj.read1(65536).strip():
                    return time.perf_counter() - t0
            if proc.poll() is not None:
                return None
        return None
    finally:
        proc.kill()  # the child this function started, and only it
        proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="source tree of the baseline (a git worktree)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--first-output", action="store_true", help="time to the first line of demo and screen")
    ap.add_argument("--limit", type=float, default=300.0, help="--first-output: give up after this many seconds")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old, new = mirror(Path(args.old), Path(tmp) / "old"), mirror(ROOT, Path(tmp) / "new")
        if args.first_output:
            sys.path.insert(0, str(new))
            from litraj_data.builders.sample_structures import get_sample_structure

            cif = Path(tmp) / "LiCl.cif"
            get_sample_structure("sample-LiCl-225").to(filename=str(cif))
            print("| command | first line before (s) | after (s) |\n|---|---|---|")
            for argv in (["demo"], ["screen", str(cif), "--model", "chgnet", "--min-width", "5"]):
                t_old, t_new = first_output(old, argv, args.limit), first_output(new, argv, args.limit)
                show = [f"> {args.limit:.0f} (nothing yet)" if t is None else f"{t:.1f}" for t in (t_old, t_new)]
                print(f"| `litraj {' '.join(argv[:1])}` | {show[0]} | {show[1]} |", flush=True)
            return 0
        print("| command | before (s) | after (s) | heavy imports before | after |")
        print("|---|---|---|---|---|")
        for cmd in COMMANDS:
            times: dict[str, list[float]] = {"old": [], "new": []}
            heavy: dict[str, list[str]] = {}
            for _ in range(args.repeats):
                for key, tree in (("old", old), ("new", new)):
                    wall, h = one(tree, cmd)
                    times[key].append(wall)
                    heavy[key] = h
            print(f"| `litraj {cmd}` | {statistics.median(times['old']):.2f} | {statistics.median(times['new']):.2f} "
                  f"| {', '.join(heavy['old']) or '-'} | {', '.join(heavy['new']) or '-'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
