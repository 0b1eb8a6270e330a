"""Concurrent jobs, crashes and hostile mirrors cannot corrupt the store (issue: store safety).

Real processes, real ``kill -9``, real file locks; a real full disk and a real read-only
cache where this machine lets the tests mount a tmpfs (they skip otherwise).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

from litraj_data import load_litraj
from litraj_data.builders.from_release import import_release
from litraj_data.errors import DiskFullError, IntegrityError, UnsafeNameError
from litraj_data.loaders.verify import verify_manifest
from litraj_data.store.layout import backup_of, recover_version
from litraj_data.store.manifest import read_manifest
from litraj_data.store.shards import read_shard
from litraj_data.testing import write_release

COUNTS = {"train": 1500, "val": 200, "test": 200}


@pytest.fixture(scope="module")
def two_archives(tmp_path_factory):
    """Two different MPLiTrj archives with the same file name (MPLiTrj.zip)."""
    root = tmp_path_factory.mktemp("archives")
    return (write_release("MPLiTrj", root / "A", COUNTS, seed=1), write_release("MPLiTrj", root / "B", COUNTS, seed=2))


def _python(code: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _import_code(archive: Path, out: Path, extra: str = "") -> str:
    return f"""
        import warnings; warnings.simplefilter("ignore")
        from litraj_data.builders.from_release import import_release
        import_release("MPLiTrj", {str(archive)!r}, {str(out)!r}, check_counts=False, progress=False,
                       max_shard_bytes=200_000{extra})
    """


def _config_ids(version: Path) -> dict[str, set]:
    man = read_manifest(version)
    return {s: set(pa.concat_tables([read_shard(version / f["name"]) for f in man.files(s)])
                   .column("config_id").to_pylist()) for s in man.splits}


def _archive_of(version: Path, archives) -> str:
    """Which archive every row of ``version`` came from (energies tell the two seeds apart)."""
    man = read_manifest(version)
    (name, digest), = man.data["sources"].items()
    labels = {}
    for label, archive in zip("AB", archives):
        from litraj_data.io import sha256_file

        labels["sha256:" + sha256_file(archive)] = label
    return labels[digest]


def _energies(version: Path) -> list[float]:
    man = read_manifest(version)
    return [e for s in man.splits for f in man.files(s)
            for e in read_shard(man.path(f["name"])).column("energy").to_pylist()]


def test_two_writers_of_one_version_never_mix(two_archives, tmp_path):
    a, b = two_archives
    out = tmp_path / "out"
    procs = [_python(_import_code(arch, out)) for arch in (a, b)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    winners = [i for i, (rc, _) in enumerate(results) if rc == 0]
    assert len(winners) >= 1
    for rc, err in results:
        if rc != 0:  # the loser says why, in one line, without a raw traceback from our code
            assert "built from other sources" in err and "FileNotFoundError" not in err
    version = out / "MPLiTrj" / "1.0.0"
    assert all(r["ok"] for r in verify_manifest(read_manifest(version)))
    label = _archive_of(version, two_archives)
    clean = import_release("MPLiTrj", {"A": a, "B": b}[label], tmp_path / "clean", check_counts=False,
                           progress=False, max_shard_bytes=200_000)
    assert _energies(version) == _energies(clean)  # every split from the archive the manifest names


def test_concurrent_loaders_import_once_and_all_succeed(two_archives, tmp_path):
    cache = tmp_path / "cache"
    code = f"""
        import warnings; warnings.simplefilter("ignore")
        from litraj_data import load_litraj
        ds = load_litraj("MPLiTrj", split="val", source={str(two_archives[0])!r}, cache_dir={str(cache)!r})
        print(ds.num_rows, ds.cache_files[0]["filename"])
    """
    procs = [_python(code) for _ in range(5)]
    outs = [(p.wait(timeout=300), p.stdout.read().split(), p.stderr.read()) for p in procs]
    assert [rc for rc, _, _ in outs] == [0] * 5, [e[-500:] for _, _, e in outs]
    assert {tuple(o) for _, o, _ in outs} == {(str(COUNTS["val"]), outs[0][1][1])}  # one folder for all five
    entries = [p for p in (cache / "MPLiTrj").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and (entries[0] / "manifest.json").is_file()
    assert not [p for p in (cache / "MPLiTrj").iterdir() if p.name.endswith(".partial")]


def _kill_when(proc: subprocess.Popen, root: Path, point: str) -> bool:
    """SIGKILL ``proc`` at ``point`` of its build (staging ``root/.1.0.0.partial-FP``); False when it finished first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        staging = next(iter(sorted(root.glob(".1.0.0.partial-*"))), root / ".1.0.0.partial-none")
        progress = staging / "progress.json"
        try:
            splits = json.loads(progress.read_text())["splits"] if progress.is_file() else {}
        except (ValueError, OSError):
            splits = {}
        train = splits.get("train", {})
        if (point == "first shard closed" and train.get("shards")) or \
                (point == "train split done" and train.get("complete")) or \
                (point == "staging created" and staging.is_dir()):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.005)
    proc.wait()
    return False


@pytest.mark.parametrize("point", ["staging created", "first shard closed", "train split done"])
def test_kill_9_then_rerun_with_another_archive_gives_that_archive_only(two_archives, tmp_path, point):
    a, b = two_archives
    out = tmp_path / "out"
    proc = _python(_import_code(a, out))
    if not _kill_when(proc, out / "MPLiTrj", point):
        pytest.skip(f"the build finished before reaching {point!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        version = import_release("MPLiTrj", b, out, check_counts=False, progress=False, max_shard_bytes=200_000)
    clean = import_release("MPLiTrj", b, tmp_path / "clean", check_counts=False, progress=False,
                           max_shard_bytes=200_000)
    assert _archive_of(version, two_archives) == "B"
    assert _energies(version) == _energies(clean)
    assert all(r["ok"] for r in verify_manifest(read_manifest(version)))


def test_kill_9_during_a_cache_import_leaves_a_cache_that_loads(two_archives, tmp_path):
    cache = tmp_path / "cache"
    code = f"""
        import warnings; warnings.simplefilter("ignore")
        from litraj_data import load_litraj
        load_litraj("MPLiTrj", split="val", source={str(two_archives[0])!r}, cache_dir={str(cache)!r})
    """
    proc = _python(code)
    time.sleep(2.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_litraj("MPLiTrj", split="val", source=two_archives[0], cache_dir=cache)
    assert ds.num_rows == COUNTS["val"]


def test_an_interrupted_overwrite_keeps_the_old_version(tmp_path):
    final = tmp_path / "BVEL13k" / "1.0.0"
    backup = backup_of(final)
    backup.mkdir(parents=True)
    (backup / "manifest.json").write_text("{}")  # the old version, renamed away; the new one never arrived
    assert recover_version(final) is True
    assert (final / "manifest.json").is_file() and not backup.exists()


def _mirror(tmp_path: Path, mutate) -> str:
    version = load_litraj("BVEL13k", split="val", source="sample").cache_files[0]["filename"]
    folder = Path(version).parent
    mirror = tmp_path / "mirror" / "BVEL13k" / "1.0.0"
    import shutil

    shutil.copytree(folder, mirror)
    data = json.loads((mirror / "manifest.json").read_text())
    mutate(data, mirror)
    (mirror / "manifest.json").write_text(json.dumps(data))
    return mirror.as_uri()


def test_a_mirror_naming_a_file_outside_the_cache_is_refused(tmp_path):
    outside = tmp_path / "x"

    def add_escape(data, mirror):
        (mirror.parent / "x").write_text("payload")
        data["extra_files"].append({"name": "../../../x", "sha256": "0" * 64, "num_bytes": 7})

    url = _mirror(tmp_path, add_escape)
    with pytest.raises(UnsafeNameError, match="unsafe file name"):
        load_litraj("BVEL13k", split="val", source=url, cache_dir=tmp_path / "cache")
    assert not outside.exists() and not (tmp_path / "cache" / "x").exists()


def test_a_mirror_with_a_path_as_version_is_refused(tmp_path):
    url = _mirror(tmp_path, lambda data, mirror: data.update(version="../../../y"))
    with pytest.raises(UnsafeNameError, match="version"):
        load_litraj("BVEL13k", split="val", source=url, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "y").exists()


def test_a_byte_flipped_in_the_cache_with_mtime_kept_is_caught(tmp_path):
    cache = tmp_path / "cache"
    ds = load_litraj("BVEL13k", split="train", source="sample", cache_dir=cache)
    shard = Path(ds.cache_files[0]["filename"])
    del ds
    st = shard.stat()
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(st.st_atime_ns, st.st_mtime_ns))  # hide the write from an mtime stamp
    with pytest.raises(IntegrityError, match="checksum|sha256"):
        load_litraj("BVEL13k", split="train", source="sample", cache_dir=cache)


def test_verify_counts_rows_per_file(tmp_path):
    ds = load_litraj("BVEL13k", split="val", source="sample", cache_dir=tmp_path / "cache")
    folder = Path(ds.cache_files[0]["filename"]).parent
    man = json.loads((folder / "manifest.json").read_text())
    man["splits"]["val"]["files"][0]["num_rows"] += 1
    (folder / "manifest.json").write_text(json.dumps(man))
    bad = [r for r in verify_manifest(read_manifest(folder)) if not r["ok"]]
    assert any("rows, manifest says" in r["problem"] for r in bad)
    assert any("files hold" in r["problem"] for r in bad)


def _mount_tmpfs(path: Path, size: str, readonly_of: Path | None = None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    cmd = ["mount", "--bind", "-o", "ro", str(readonly_of), str(path)] if readonly_of else \
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    if os.geteuid() != 0 or subprocess.run(cmd, capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    if readonly_of:  # a bind mount ignores ro on the first call on some kernels: remount
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True)


def test_a_full_disk_is_a_clear_error_and_the_cache_stays_usable(two_archives, tmp_path):
    small = tmp_path / "small"
    _mount_tmpfs(small, "400k")
    try:
        with pytest.raises(DiskFullError, match="no space left"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                load_litraj("MPLiTrj", split="val", source=two_archives[0], cache_dir=small / "cache")
        leftovers = [p for p in (small / "cache").rglob("*") if p.is_file() and not p.name.endswith(".lock")
                     and p.parent.name != "digests"]  # the zip's sha256 memo is metadata, not a half entry
        assert leftovers == []  # staging removed: nothing stranded in the cache
        ds = load_litraj("BVEL13k", split="val", source="sample", cache_dir=small / "cache")
        assert ds.num_rows == read_manifest(Path(ds.cache_files[0]["filename"]).parent).num_rows("val")
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


def test_a_read_only_cache_serves_what_it_holds(tmp_path):
    cache = tmp_path / "cache"
    load_litraj("BVEL13k", split="val", source="sample", cache_dir=cache)
    ro = tmp_path / "ro"
    _mount_tmpfs(ro, "", readonly_of=cache)
    try:
        probe = ro / "probe"
        try:
            probe.write_text("x")
            pytest.skip("the bind mount is not read-only here")
        except OSError:
            pass
        ds = load_litraj("BVEL13k", split="val", source="sample", cache_dir=ro)
        assert ds.num_rows > 0
    finally:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)
