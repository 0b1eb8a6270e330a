"""Cost of the importer's caps and physics checks, side by side with the code before them.

Two measurements:

1. **Time.** Import of official-layout archives the size of the embedded sample (BVEL13k
   14/3/4 structures, nebBVSE122k 30/9/8 hops; written by :mod:`litraj_data.testing`),
   alternating between the current importer and the baseline importer of commit ``--base``
   (``builders/from_release.py`` and ``litraj_data/store/extxyz.py`` read from git and loaded
   as modules; everything else — the shard writer, the codec — is shared), ``--repeats``
   times each, median and interquartile range.
2. **Peak memory** of importing a 400 KB zip holding one 400 MB line, in a fresh process
   (``ru_maxrss``), with the compression-ratio cap lifted so that the line cap is what
   bounds it, and with the default caps (refused at open as a zip bomb).

Usage::

    python benchmarks/bench_import.py [--repeats 15] [--base f60eeb3] [--baseline-memory]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_baseline(rev: str) -> types.ModuleType:
    """The importer of ``rev`` (its from_release and extxyz), as a module."""
    def source(path: str) -> str:
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, check=True, capture_output=True,
                              text=True).stdout

    ext = types.ModuleType("_base_extxyz")
    exec(compile(source("litraj_data/store/extxyz.py"), "base:extxyz.py", "exec"), ext.__dict__)
    sys.modules["_base_extxyz"] = ext
    text = source("builders/from_release.py").replace("from litraj_data.store.extxyz import",
                                                      "from _base_extxyz import")
    mod = types.ModuleType("_base_from_release")
    sys.modules["_base_from_release"] = mod
    exec(compile(text, "base:from_release.py", "exec"), mod.__dict__)
    return mod


def time_imports(repeats: int, base_rev: str) -> dict:
    from litraj_data.builders import from_release as current
    from litraj_data.testing import write_release

    base = load_baseline(base_rev)
    work = Path(tempfile.mkdtemp(prefix="bench_import_"))
    archives = {
        "BVEL13k": write_release("BVEL13k", work / "src", {"train": 14, "val": 3, "test": 4}, seed=1),
        "nebBVSE122k": write_release("nebBVSE122k", work / "src", {"train": 30, "val": 9, "test": 8}, seed=2,
                                     atoms_repeat=(2, 2, 2)),
    }
    times: dict[str, list[float]] = {"current": [], "baseline": []}
    k = 0
    for r in range(repeats + 1):  # the first round warms caches and is dropped
        for label, mod in (("current", current), ("baseline", base)) if r % 2 == 0 else \
                (("baseline", base), ("current", current)):
            t0 = time.perf_counter()
            for name, archive in archives.items():
                k += 1
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # fewer rows than the card
                    mod.import_release(name, archive, work / f"out{k}", progress=False)
            if r:
                times[label].append(time.perf_counter() - t0)

    def summary(xs: list[float]) -> dict:
        q = statistics.quantiles(xs, n=4)
        return {"median_s": statistics.median(xs), "q1_s": q[0], "q3_s": q[2], "n": len(xs)}

    out = {k: summary(v) for k, v in times.items()}
    out["ratio_current_over_baseline"] = out["current"]["median_s"] / out["baseline"]["median_s"]
    return out


_CHILD = r"""
import json, resource, sys, zipfile
from dataclasses import replace
from pathlib import Path
from litraj_data.builders.from_release import DEFAULT_ARCHIVE_LIMITS, import_release
from litraj_data.errors import DataFormatError
work = Path(sys.argv[1]); lift = sys.argv[2] == "lift"
limits = replace(DEFAULT_ARCHIVE_LIMITS, max_ratio=1e12) if lift else DEFAULT_ARCHIVE_LIMITS
try:
    import_release("BVEL13k", work / "BVEL13k.zip", work / "out", progress=False, limits=limits, check_counts=False)
    reason = None
except DataFormatError as exc:
    reason = exc.reason
print(json.dumps({"reason": reason, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


_BASE_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from bench_import import load_baseline
cap = int(sys.argv[3]) << 30  # address-space cap: the baseline would otherwise take the machine's memory
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
base = load_baseline(sys.argv[2])
work = Path(sys.argv[1])
t = time.time()
try:
    base.import_release("BVEL13k", work / "BVEL13k.zip", work / "outb", progress=False, check_counts=False)
    result = "imported"
except MemoryError:
    result = f"MemoryError under a {sys.argv[3]} GiB address-space cap"
except Exception as exc:
    result = f"{type(exc).__name__}: {getattr(exc, 'reason', '')}"
print(json.dumps({"result": result, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.time() - t}))
"""


def peak_memory_big_line(line_mb: int = 400, baseline_rev: str | None = None, cap_gib: int = 6) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench_bigline_"))
    frame = b'2\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3 material_id=mp-1 pbc="T T T"\n' \
            b"Li 0 0 0\nF 2 2 2\n"
    import zipfile

    with zipfile.ZipFile(work / "BVEL13k.zip", "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("BVEL13k/BVEL13k_train.xyz", "w", force_zip64=True) as fh:
            fh.write(b"2\n")
            chunk = b"a" * (1 << 20)
            for _ in range(line_mb):
                fh.write(chunk)
            fh.write(b"\nLi 0 0 0\nF 1 1 1\n")
        zf.writestr("BVEL13k/BVEL13k_val.xyz", frame)
        zf.writestr("BVEL13k/BVEL13k_test.xyz", frame.replace(b"mp-1", b"mp-2"))
    out = {"zip_bytes": (work / "BVEL13k.zip").stat().st_size, "line_bytes": line_mb << 20}
    baseline_proc = subprocess.run([sys.executable, "-c", "import resource, json; import litraj_data.builders."
                                    "from_release; print(json.dumps(resource.getrusage(resource.RUSAGE_SELF)"
                                    ".ru_maxrss / 1024))"], capture_output=True, text=True, check=True)
    out["peak_rss_mb_of_the_import_alone"] = json.loads(baseline_proc.stdout)
    for mode in ("lift", "default"):
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(work), mode], capture_output=True, text=True)
        out[mode] = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else proc.stderr[-2000:]
    if baseline_rev:  # minutes: the baseline decompresses and splits the whole line
        proc = subprocess.run([sys.executable, "-c", _BASE_CHILD, str(work), baseline_rev, str(cap_gib),
                               str(Path(__file__).parent)], capture_output=True, text=True)
        out["baseline"] = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 \
            else proc.stderr[-2000:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--base", default="f60eeb3", help="git revision of the baseline importer")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--baseline-memory", action="store_true",
                    help="also run the baseline importer on the 400 MB line (minutes; capped at 6 GiB)")
    args = ap.parse_args()
    result = {"time": time_imports(args.repeats, args.base)}
    if not args.skip_memory:
        result["memory_400MB_line"] = peak_memory_big_line(baseline_rev=args.base if args.baseline_memory else None)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
