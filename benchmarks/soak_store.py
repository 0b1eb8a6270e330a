"""Soak the store: concurrent writers and loaders, kill -9 at random points, hostile inputs.

Every trial ends with a check that what the store holds is one clean outcome: each finished
version passes ``verify`` (sha256, rows per shard, card) and holds the rows of exactly the
archive its manifest names (compared with a clean build of that archive); every concurrent
loader got the same complete data; every hostile archive was refused with its named reason.
A "corruption" is any trial that breaks one of these (the goal: 0).

Then the cost of the safety (locks, names, stamps, checks) on warm loads, as in
``bench_loading.py`` (100k nebBVSE122k-shaped rows): ``load_litraj`` (resolve + names + verify
stamp + open) vs opening the same version directly, side by side in one run, alternating,
each followed by streaming the split as numpy batches (what a training loop does). The goal
(<= 5 %) is on that load-and-stream figure; the open-only ratio is reported beside it.

Usage::

    python benchmarks/soak_store.py --trials 20 --json benchmarks/_work/soak.json
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

COUNTS = {"train": 1500, "val": 200, "test": 200}


def _python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _import_code(archive: Path, out: Path) -> str:
    return f"""
        import warnings; warnings.simplefilter("ignore")
        from litraj_data.builders.from_release import import_release
        import_release("MPLiTrj", {str(archive)!r}, {str(out)!r}, check_counts=False, progress=False,
                       max_shard_bytes=200_000)
    """


def _load_code(archive: Path, cache: Path) -> str:
    return f"""
        import warnings; warnings.simplefilter("ignore")
        from litraj_data import load_litraj
        ds = load_litraj("MPLiTrj", split="train", source={str(archive)!r}, cache_dir={str(cache)!r})
        import numpy as np
        print(ds.num_rows, float(np.sum(ds["energy"])))
    """


def _energies(version: Path) -> list[float]:
    from litraj_data.store.manifest import read_manifest
    from litraj_data.store.shards import read_shard

    man = read_manifest(version)
    return [e for s in man.splits for f in man.files(s) for e in read_shard(version / f["name"]).column("energy").to_pylist()]


def _clean_outcome(version: Path, clean: dict[str, list[float]], digests: dict[str, str]) -> bool:
    from litraj_data.loaders.verify import verify_manifest
    from litraj_data.store.manifest import read_manifest

    man = read_manifest(version)
    if not all(r["ok"] for r in verify_manifest(man)):
        return False
    (_, digest), = man.data["sources"].items()
    label = digests.get(digest)
    return label is not None and _energies(version) == clean[label]


def soak(trials: int, seed: int, work: Path) -> dict:
    from litraj_data.builders.from_release import import_release
    from litraj_data.io import sha256_file
    from litraj_data.testing import HOSTILE_SPLIT_FILE_EDITS, write_release

    rng = random.Random(seed)
    archives = {label: write_release("MPLiTrj", work / label, COUNTS, seed=k + 1) for k, label in enumerate("ABC")}
    digests = {"sha256:" + sha256_file(p): label for label, p in archives.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = {label: _energies(import_release("MPLiTrj", p, work / "clean" / label, check_counts=False,
                                                 progress=False, max_shard_bytes=200_000))
                 for label, p in archives.items()}
    stats = {"trials": 0, "processes": 0, "kills": 0, "hostile_inputs": 0, "corruptions": 0, "refusals_unclear": 0,
             "loader_trials": 0, "writer_trials": 0}
    t0 = time.perf_counter()
    for trial in range(trials):
        stats["trials"] += 1
        out = work / f"t{trial}"
        if trial % 2 == 0:  # writers: 2-4 processes on one version, some killed at random moments
            stats["writer_trials"] += 1
            n = rng.randint(2, 4)
            labels = [rng.choice("ABC") for _ in range(n)]
            procs = [_python(_import_code(archives[lb], out)) for lb in labels]
            stats["processes"] += n
            time.sleep(rng.uniform(0.5, 3.0))
            for p in procs:
                if rng.random() < 0.5 and p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    stats["kills"] += 1
            for p in procs:
                p.wait()
                err = p.stderr.read()
                if p.returncode not in (0, -signal.SIGKILL) and "built from other sources" not in err:
                    stats["refusals_unclear"] += 1
            # whoever comes next must get a clean result, resuming only what matches
            follow = rng.choice("ABC")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                version = import_release("MPLiTrj", archives[follow], out, check_counts=False, progress=False,
                                         max_shard_bytes=200_000, overwrite=True)
            if not _clean_outcome(version, clean, digests) or digests[_source_digest(version)] != follow:
                stats["corruptions"] += 1
        else:  # loaders: 3-5 processes importing one archive into an empty cache, one maybe killed
            stats["loader_trials"] += 1
            cache = out / "cache"
            label = rng.choice("ABC")
            n = rng.randint(3, 5)
            procs = [_python(_load_code(archives[label], cache)) for _ in range(n)]
            stats["processes"] += n
            victim = rng.randrange(n) if rng.random() < 0.7 else None
            if victim is not None:
                time.sleep(rng.uniform(0.5, 3.0))
                if procs[victim].poll() is None:
                    procs[victim].send_signal(signal.SIGKILL)
                    stats["kills"] += 1
            answers = set()
            for k, p in enumerate(procs):
                p.wait()
                if p.returncode == 0:
                    answers.add(p.stdout.read().strip())
                elif k != victim:
                    stats["corruptions"] += 1
            after = _python(_load_code(archives[label], cache))  # a later load after the kill must work
            after.wait()
            answers.add(after.stdout.read().strip())
            stats["processes"] += 1
            expected = f"{COUNTS['train']} {float(sum(clean[label][:COUNTS['train']]))}"
            if after.returncode != 0 or len(answers) != 1 or answers.pop().split()[0] != expected.split()[0]:
                stats["corruptions"] += 1
        shutil.rmtree(out, ignore_errors=True)
    # hostile archives: every edit refused with its reason, nothing published
    for name, (edit, reason, pattern) in HOSTILE_SPLIT_FILE_EDITS.items():
        stats["hostile_inputs"] += 1
        src = work / "hostile" / name
        write_release("BVEL13k", src, {"train": 3, "val": 2, "test": 2}, seed=1)
        train = src / "BVEL13k" / "BVEL13k_train.xyz"
        train.write_bytes(edit(train.read_bytes()))
        try:
            import_release("BVEL13k", src / "BVEL13k", src / "out", check_counts=False, progress=False)
            stats["corruptions"] += 1
        except Exception as exc:  # the soak records whatever escapes; anything but the named refusal counts
            if getattr(exc, "reason", None) != reason or not re.search(pattern, str(exc)):
                stats["corruptions"] += 1
        if (src / "out" / "BVEL13k" / "1.0.0").exists():
            stats["corruptions"] += 1
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    return stats


def _source_digest(version: Path) -> str:
    from litraj_data.store.manifest import read_manifest

    (_, digest), = read_manifest(version).data["sources"].items()
    return digest


def overhead(work: Path, rows: int, repeat: int) -> dict:
    """Warm ``load_litraj`` + numpy streaming vs direct open + the same streaming, interleaved."""
    from litraj_data import load_litraj
    from litraj_data.builders.from_release import import_release
    from litraj_data.loaders.convert import iter_numpy_batches
    from litraj_data.loaders.load import open_version
    from litraj_data.store.manifest import read_manifest
    from litraj_data.testing import write_release

    write_release("nebBVSE122k", work / "ovh", {"train": rows, "val": 10, "test": 10}, seed=0, make_zip=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = import_release("nebBVSE122k", work / "ovh" / "nebBVSE122k", work / "ovh_built", check_counts=False,
                               progress=False)
    cache = work / "ovh_cache"
    load_litraj("nebBVSE122k", split="train", source=built, cache_dir=cache)  # first open: hashes once, stamps

    def stream(ds) -> int:
        return sum(len(b["ptr"]) for b in iter_numpy_batches(ds, 4096, columns=["numbers", "positions", "cell", "em"]))

    def checked_open():
        return load_litraj("nebBVSE122k", split="train", source=built, cache_dir=cache)

    def direct_open():
        return open_version(read_manifest(built), "train")

    # alternate the order each round so that neither side always runs on a warmer page cache
    times: dict[str, list[float]] = {"checked_open": [], "direct_open": [], "checked_stream": [], "direct_stream": []}
    for k in range(repeat):
        order = [("checked", checked_open), ("direct", direct_open)]
        for label, fn in (order if k % 2 == 0 else order[::-1]):
            t = time.perf_counter()
            ds = fn()
            times[f"{label}_open"].append(time.perf_counter() - t)
            stream(ds)
            times[f"{label}_stream"].append(time.perf_counter() - t)

    def median(xs: list[float]) -> float:
        return sorted(xs)[len(xs) // 2]

    m = {k: median(v) for k, v in times.items()}
    return {"rows": rows, "repeat": repeat, **{f"{k}_s": round(v, 5) for k, v in m.items()},
            "overhead_open_only": round(m["checked_open"] / m["direct_open"] - 1.0, 4),
            "overhead": round(m["checked_stream"] / m["direct_stream"] - 1.0, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=100000, help="rows of the overhead benchmark's split (as bench_loading)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--work", help="work folder (default: a temporary one)")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="soak-"))
    work.mkdir(parents=True, exist_ok=True)
    result = {"soak": soak(args.trials, args.seed, work / "soak"),
              "overhead": overhead(work / "overhead", args.rows, args.repeat)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    ok = result["soak"]["corruptions"] == 0 and result["overhead"]["overhead"] <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
