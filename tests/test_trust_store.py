"""The store's trust boundary, by classes of attack (issue 24): names, links, snapshots, ownership.

Each class is generated, not listed: ``hypothesis`` makes hostile names (traversal, absolute
paths, NUL, control characters, newlines, Unicode look-alikes, long names) and hostile
manifest documents, and every one is tried on every route that reads a version -- a local
folder, the Parquet->Arrow conversion, a ``file://`` mirror, ``verify``, ``export`` and
``release``. What must hold for every input: a named reason (``UnsafeNameError`` /
``DataFormatError`` with ``unsafe_name`` or ``bad_manifest``), exit code 1 or 2 from the
command line with no traceback, and nothing written outside the temporary root.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from litraj_data import load_litraj
from litraj_data.errors import DataFormatError, LitrajError, UnsafeNameError
from litraj_data.store.layout import sample_root
from litraj_data.store.manifest import check_manifest, read_manifest
from litraj_data.store.names import inside, safe_component, safe_version

SAMPLE = sample_root() / "BVEL13k" / "1.0.0"
FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
NAMED = {"unsafe_name", "bad_manifest"}

# ----------------------------------------------------------------------------- hostile names

_PARTS = st.sampled_from(["..", ".", "", "~", "etc", "passwd", ".bashrc", "x.arrow", "manifest.json", "README.md",
                          "\0", "\n", "\r", " ", "\t", "C:", "\\", "\u2024\u2024", "\uff0e\uff0e", "\u202e",
                          "\u0430.arrow", "e\u0301", "-rf", "a" * 250])
#: names an attacker would write: traversal, absolute, separators, NUL, newlines, Unicode tricks, long names
HOSTILE_NAMES = st.one_of(
    st.lists(_PARTS, min_size=1, max_size=5).map("/".join),
    st.lists(_PARTS, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)),
    st.lists(_PARTS, min_size=1, max_size=4).map("\\".join),
    st.text(min_size=0, max_size=40),
    st.sampled_from(["../../../../.bashrc", "/etc/passwd", "..", ".", "a/../b", "x.arrow\n", "x\0.arrow",
                     "~/x", "C:\\x", "\u2215etc\u2215passwd", ".hidden", "-x"]),
)


def _escapes(root: Path, name: str) -> bool:
    """Whether ``root / name`` would be anywhere but directly inside ``root``."""
    try:
        return os.path.dirname(os.path.realpath(root / name)) != os.path.realpath(root)
    except ValueError:  # NUL
        return True


@given(HOSTILE_NAMES)
@settings(max_examples=400, deadline=None)
def test_a_name_is_refused_with_a_reason_or_is_one_plain_ascii_file_name(name):
    with tempfile.TemporaryDirectory() as root:
        try:
            ok = safe_component(name, "file name in test")
        except UnsafeNameError as exc:
            assert exc.reason == "unsafe_name" and "unsafe file name in test" in str(exc)
            return
        assert ok == name and name.isascii() and name.isprintable() and not _escapes(Path(root), name)
        assert name not in (".", "..") and "/" not in name and "\\" not in name and not name.startswith((".", "-"))


@given(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.floats(), st.lists(st.text(max_size=3))),
       st.sampled_from(["", "\n", "\r\n", " ", "/..", "+../x", "\0", "\u0661"]))
@settings(max_examples=300, deadline=None)
def test_a_version_matches_in_full_or_is_refused(prefix, tail):
    value = prefix + tail if isinstance(prefix, str) else prefix
    for candidate in (value, f"1.0.0{tail}", f"1.0.{tail}0"):
        try:
            safe_version(candidate)
        except UnsafeNameError as exc:
            assert exc.reason == "unsafe_name"
            continue
        assert candidate.isascii() and candidate.isprintable() and "/" not in candidate and "\n" not in candidate


def test_versions_with_a_trailing_newline_or_foreign_digits_are_refused():
    for bad in ("1.0.0\n", "1.0.0\r\n", "\u0661.0.0", "1.0.0/../x", "1.0.0 ", " 1.0.0", "1.0"):
        with pytest.raises(UnsafeNameError):
            safe_version(bad)
    assert safe_version("1.0.0+src-0123abcd") == "1.0.0+src-0123abcd"
    with pytest.raises(UnsafeNameError):
        load_litraj("BVEL13k", split="val", version="1.0.0\n", source="sample")


# ----------------------------------------------------------------------------- every route

def _sentinel(root: Path) -> dict[str, bytes]:
    """A folder outside the version, with a victim file, to prove nothing outside was touched."""
    outside = root / "outside"
    outside.mkdir()
    (outside / ".bashrc").write_bytes(b"# the user's file\n")
    return {p.name: p.read_bytes() for p in outside.iterdir()}


def _unchanged(root: Path, before: dict[str, bytes]) -> bool:
    outside = root / "outside"
    return {p.name: p.read_bytes() for p in outside.iterdir()} == before


def _hostile_copy(root: Path, field: str, name: str, fmt: str = "arrow") -> Path:
    """A copy of the sample version (Arrow or Parquet) whose manifest puts ``name`` in ``field``.

    The payload the name points at exists, with its correct sha256 and size in the manifest:
    only the name is wrong.
    """
    from litraj_data.store.shards import convert_version

    version = root / "src" / "BVEL13k" / "1.0.0"
    if fmt == "parquet":
        convert_version(SAMPLE, version, "parquet")
    else:
        shutil.copytree(SAMPLE, version)
    data = json.loads((version / "manifest.json").read_text())
    payload = b"echo pwned\n"
    rec = {"name": name, "sha256": hashlib.sha256(payload).hexdigest(), "num_bytes": len(payload)}
    if field == "extra":
        data["extra_files"].append(rec)
    elif field == "shard":
        data["splits"]["val"]["files"].append(rec | {"num_rows": 0})
    elif field == "split":
        data["splits"][name] = data["splits"].pop("val")
    elif field == "version":
        data["version"] = name
    elif field == "dataset":
        data["dataset"] = name
    (version / "manifest.json").write_text(json.dumps(data))
    return version


def _cli(*argv: str) -> tuple[int, str, str]:
    from litraj_data.cli.main import main  # the function (the package attribute is shadowed by the submodule)

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


ROUTES = ("folder", "parquet", "mirror", "verify", "export", "release")


def _try_route(route: str, version: Path, root: Path) -> None:
    """Read ``version`` through one route; raise what it raises."""
    cache = root / "cache"
    if route in ("folder", "parquet"):
        load_litraj("BVEL13k", split="val", source=version, cache_dir=cache)
    elif route == "mirror":
        load_litraj("BVEL13k", split="val", source=version.as_uri(), cache_dir=cache)
    elif route == "verify":
        code, out, err = _cli("verify", str(version), "--json")
        assert code in (1, 2) and "Traceback" not in err, err
        records = json.loads(out)["records"]
        reasons = [r.get("reason") for r in records if not r.get("ok", True)]
        raise DataFormatError("verify refused", reason=reasons[0] if reasons else "none")
    elif route == "export":
        from litraj_data.loaders.export import export_dataset

        export_dataset("BVEL13k", root / "export", fmt="parquet", source=version, cache_dir=cache)
    elif route == "release":
        code, out, err = _cli("release", "BVEL13k", "--source", str(version), "--out", str(root / "rel"),
                              "--cache-dir", str(cache), "--json")
        assert code in (1, 2) and "Traceback" not in err, err
        raise DataFormatError("release refused", reason=json.loads(out)["records"][0]["reason"])


@pytest.mark.parametrize("field", ["extra", "shard", "split", "version", "dataset"])
@given(name=HOSTILE_NAMES, route=st.sampled_from(ROUTES))
@FEW
def test_a_hostile_name_in_a_manifest_is_refused_on_every_route(field, name, route):
    assume(not _plain(field, name))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        before = _sentinel(root)
        version = _hostile_copy(root, field, name, fmt="parquet" if route == "parquet" else "arrow")
        with pytest.raises(LitrajError) as err:
            _try_route(route, version, root)
        assert err.value.reason in NAMED, (route, field, name, err.value.reason, str(err.value))
        assert _unchanged(root, before)
        assert not (root / "rel").exists() and not list((root / "export").rglob("*.parquet"))


def _plain(field: str, name: str) -> bool:
    """Whether ``name`` is a valid value of ``field`` (those are not attacks)."""
    try:
        safe_version(name) if field == "version" else safe_component(name)
    except UnsafeNameError:
        return False
    return True


def test_the_issue_example_a_dotfile_outside_the_cache_through_parquet_conversion(tmp_path):
    """``../../../../.bashrc`` with a correct sha256 in a Parquet version: refused, the file untouched."""
    before = _sentinel(tmp_path)
    version = _hostile_copy(tmp_path, "extra", "../../../outside/.bashrc", fmt="parquet")
    with pytest.raises(UnsafeNameError, match="unsafe file name"):
        load_litraj("BVEL13k", split="val", source=version, cache_dir=tmp_path / "cache")
    assert _unchanged(tmp_path, before)


# ----------------------------------------------------------------------------- hostile documents

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=10)
_PATHS = [("dataset",), ("version",), ("splits",), ("format",), ("extra_files",), ("splits", "val"),
          ("splits", "val", "files"), ("splits", "val", "num_rows"), ("splits", "val", "files", 0),
          ("splits", "val", "files", 0, "name"), ("splits", "val", "files", 0, "sha256"),
          ("splits", "val", "files", 0, "num_bytes"), ("splits", "val", "files", 0, "num_rows"), ("build_id",)]


@given(where=st.sampled_from(_PATHS), value=JSON)
@settings(max_examples=300, deadline=None)
def test_any_value_anywhere_in_a_manifest_gives_a_named_reason_or_a_valid_manifest(where, value):
    data = json.loads((SAMPLE / "manifest.json").read_text())
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    try:
        check_manifest(data, Path("m/manifest.json"))
    except DataFormatError as exc:  # UnsafeNameError is one
        assert exc.reason in NAMED, exc.reason
        return
    for rec in [f for s in data["splits"].values() for f in s["files"]] + data.get("extra_files", []):
        safe_component(rec["name"])


def test_a_manifest_that_is_not_json_or_is_huge_is_refused_unread(tmp_path):
    folder = tmp_path / "v"
    shutil.copytree(SAMPLE, folder)
    for raw in (b"\xff\xfe", b"[" * 100_000, b"{}", b"null"):
        (folder / "manifest.json").write_bytes(raw)
        with pytest.raises(DataFormatError) as err:
            read_manifest(folder)
        assert err.value.reason == "bad_manifest"
    with open(folder / "manifest.json", "wb") as fh:
        fh.truncate(17 << 20)
    with pytest.raises(DataFormatError, match="refused unread"):
        read_manifest(folder)


# ----------------------------------------------------------------------------- links

@pytest.mark.parametrize("what", ["shard", "card", "manifest", "extra"])
def test_a_link_pointing_outside_the_version_is_refused_on_every_route(tmp_path, what):
    """The target holds the right bytes (sha256 matches): only the link is wrong."""
    version = tmp_path / "src" / "BVEL13k" / "1.0.0"
    shutil.copytree(SAMPLE, version)
    name = {"shard": sorted(p.name for p in version.glob("*val*.arrow"))[0], "card": "README.md",
            "manifest": "manifest.json", "extra": "failures.csv"}[what]
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(version / name, outside / name)
    os.symlink(outside / name, version / name)
    # (a file:// mirror is not in this list: it is read as a server, byte streams checked by sha256)
    for route in ("folder", "export", "release"):
        with pytest.raises(LitrajError) as err:
            _try_route(route, version, tmp_path / route)
        assert err.value.reason in NAMED | {"missing_manifest"}, (route, str(err.value))
    code, out, err_text = _cli("verify", str(version), "--json")
    assert code == 1 and "Traceback" not in err_text
    assert any(r.get("reason") == "unsafe_name" for r in json.loads(out)["records"]), out


def test_a_link_inside_the_version_folder_and_the_hub_blobs_are_accepted(tmp_path):
    version = tmp_path / "v"
    shutil.copytree(SAMPLE, version)
    (version / "failures.csv").rename(version / "failures-real.csv")
    os.symlink("failures-real.csv", version / "failures.csv")
    assert inside(version, "failures.csv") == version / "failures.csv"
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    (version / "failures.csv").unlink()
    shutil.move(version / "failures-real.csv", blobs / "abc")
    os.symlink(blobs / "abc", version / "failures.csv")
    with pytest.raises(UnsafeNameError):
        inside(version, "failures.csv")
    assert inside(version, "failures.csv", trusted_roots=[blobs]) == version / "failures.csv"


# ----------------------------------------------------------------------------- snapshots

COUNTS = {"train": 1500, "val": 200, "test": 200}


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """Two MPLiTrj archives (seeds 1, 2) and clean multi-shard builds of each."""
    from litraj_data.builders.from_release import import_release
    from litraj_data.testing import write_release

    root = tmp_path_factory.mktemp("builds")
    archives = [write_release("MPLiTrj", root / x, COUNTS, seed=k + 1) for k, x in enumerate("AB")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = [import_release("MPLiTrj", a, root / f"clean{x}", check_counts=False, progress=False,
                                max_shard_bytes=200_000) for a, x in zip(archives, "AB")]
    assert all(len(read_manifest(c).files("train")) > 1 for c in clean)  # several shards per split
    return archives, clean


def _energies(ds) -> list[float]:
    return ds.data.table.column("energy").to_pylist()


def test_a_loader_racing_an_overwrite_never_mixes_two_builds(two_builds, tmp_path, monkeypatch):
    """The swap happens after the first shard is mapped: the snapshot is taken again, from B only."""
    from litraj_data.builders.from_release import import_release
    from litraj_data.loaders import load as load_mod

    archives, clean = two_builds
    out = tmp_path / "out"
    import_ = dict(check_counts=False, progress=False, max_shard_bytes=200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        version = import_release("MPLiTrj", archives[0], out, **import_)
    load_litraj("MPLiTrj", split="train", source=version)  # hashed once, stamped
    real_open, calls = load_mod._open_shard, {"n": 0}

    def open_then_swap(path, manifest, info, split):
        ds = real_open(path, manifest, info, split)
        calls["n"] += 1
        if calls["n"] == 1:  # a concurrent `--overwrite` from archive B lands right now
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import_release("MPLiTrj", archives[1], out, overwrite=True, **import_)
        return ds

    monkeypatch.setattr(load_mod, "_open_shard", open_then_swap)
    dd = load_litraj("MPLiTrj", source=version)
    want = {s: load_litraj("MPLiTrj", split=s, source=clean[1]) for s in COUNTS}
    for split in COUNTS:  # every split, and every shard of it, from B
        assert _energies(dd[split]) == _energies(want[split]), split
    assert calls["n"] > len(read_manifest(version).files())  # the first snapshot was dropped and retried


def test_a_kill_right_after_the_swap_leaves_nothing_a_later_overwrite_publishes(two_builds, tmp_path, monkeypatch):
    """The old version leaves under a unique trash name; the next --overwrite publishes only its own shards."""
    import datasets

    from litraj_data.builders.from_release import import_release
    from litraj_data.store import layout

    archives, clean = two_builds
    out = tmp_path / "out"
    kw = dict(check_counts=False, progress=False, max_shard_bytes=200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import_release("MPLiTrj", archives[0], out, **kw)

        class Killed(BaseException):
            pass

        real_exchange = layout._EXCHANGE
        if real_exchange is None:
            pytest.skip("no renameat2 exchange on this platform")

        def exchange_then_die(a, b):  # the process dies between the swap and the removal of the old version
            assert real_exchange(a, b)
            raise Killed

        monkeypatch.setattr(layout, "_EXCHANGE", exchange_then_die)
        with pytest.raises(Killed):
            import_release("MPLiTrj", archives[1], out, overwrite=True, **kw)
        monkeypatch.undo()
        leftovers = sorted(p.name for p in (out / "MPLiTrj").iterdir() if p.name.startswith(".1.0.0."))
        assert leftovers and all(".trash-" in n or n.endswith(".lock") for n in leftovers), leftovers
        version = import_release("MPLiTrj", archives[0], out, overwrite=True, **kw)
    man = read_manifest(version)
    listed = {f["name"] for f in man.files() + man.extra_files()} | {"manifest.json", "README.md"}
    assert {p.name for p in version.iterdir()} == listed  # no stale shard beside the new ones
    plain = datasets.load_dataset("arrow", data_files=str(version / "*train*.arrow"), split="train",
                                  cache_dir=str(tmp_path / "hf"))
    assert plain.num_rows == man.num_rows("train")  # plain `datasets` sees exactly the manifest's rows
    assert not [p for p in (out / "MPLiTrj").iterdir() if ".trash-" in p.name]  # cleared under the lock


def test_a_staging_folder_is_resumed_only_when_it_holds_exactly_its_recorded_shards(two_builds, tmp_path):
    from litraj_data.builders.from_release import import_release

    archives, clean = two_builds
    out = tmp_path / "out"
    kw = dict(check_counts=False, progress=False, max_shard_bytes=200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        version = import_release("MPLiTrj", archives[0], out, **kw)
        # a leftover with the old fixed staging name, full of the build of A (what kill -9 left before)
        shutil.copytree(version, out / "MPLiTrj" / ".1.0.0.partial")
        version = import_release("MPLiTrj", archives[1], out, overwrite=True, **kw)
    assert not list((out / "MPLiTrj").glob(".1.0.0.partial*"))
    got = load_litraj("MPLiTrj", split="train", source=version)
    assert _energies(got) == _energies(load_litraj("MPLiTrj", split="train", source=clean[1]))


# ----------------------------------------------------------------------------- content-keyed cache

def test_a_release_zip_replaced_in_place_with_the_same_size_and_mtime_is_imported_again(two_builds, tmp_path):
    archives, clean = two_builds
    a, b = tmp_path / "MPLiTrj.zip", tmp_path / "b.zip"
    shutil.copyfile(archives[0], a)
    shutil.copyfile(archives[1], b)
    small, big = sorted((a, b), key=lambda p: p.stat().st_size)
    with zipfile.ZipFile(small, "a") as zf:  # pad the smaller archive to the same size (a zip comment)
        zf.comment = b" " * (big.stat().st_size - small.stat().st_size)
    assert a.stat().st_size == b.stat().st_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = load_litraj("MPLiTrj", split="val", source=a)
        st_a = a.stat()
        b.replace(a)
        os.utime(a, ns=(st_a.st_atime_ns, st_a.st_mtime_ns))
        assert (a.stat().st_size, a.stat().st_mtime_ns) == (st_a.st_size, st_a.st_mtime_ns)
        second = load_litraj("MPLiTrj", split="val", source=a)
    assert _energies(second) == _energies(load_litraj("MPLiTrj", split="val", source=clean[1]))
    assert _energies(first) != _energies(second)


# ----------------------------------------------------------------------------- ownership

def test_release_overwrite_refuses_a_folder_it_did_not_make_and_deletes_nothing(tmp_path):
    data = tmp_path / "data"  # a build root: two datasets and a user's file
    shutil.copytree(sample_root(), data)
    (data / "notes.txt").write_text("a user's file")
    before = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
    code, out, err = _cli("release", "BVEL13k", "--source", str(data), "--out", str(data), "--overwrite", "--json")
    assert code == 1 and "Traceback" not in err
    assert json.loads(out)["records"][0]["reason"] == "not_ours"
    assert sorted(str(p.relative_to(data)) for p in data.rglob("*")) == before


def test_release_overwrite_replaces_its_own_release_but_not_a_file_added_to_it(tmp_path):
    rel = tmp_path / "rel"
    assert _cli("release", "BVEL13k", "--source", "sample", "--out", str(rel))[0] == 0
    assert _cli("release", "BVEL13k", "--source", "sample", "--out", str(rel), "--overwrite")[0] == 0
    (rel / "mine.txt").write_text("keep me")
    code, out, err = _cli("release", "BVEL13k", "--source", "sample", "--out", str(rel), "--overwrite", "--json")
    assert code == 1 and json.loads(out)["records"][0]["reason"] == "not_ours" and "mine.txt" in out
    assert (rel / "mine.txt").read_text() == "keep me"


def test_export_writes_only_into_a_folder_it_made(tmp_path):
    from litraj_data.loaders.export import export_dataset

    out = tmp_path / "x"
    (out / "BVEL13k").mkdir(parents=True)
    (out / "BVEL13k" / "BVEL13k_val.xyz").write_text("a user's file")
    with pytest.raises(DataFormatError) as err:
        export_dataset("BVEL13k", out, split="val", source="sample")
    assert err.value.reason == "not_ours"
    assert (out / "BVEL13k" / "BVEL13k_val.xyz").read_text() == "a user's file"
    fresh = tmp_path / "y"
    export_dataset("BVEL13k", fresh, split="val", source="sample")
    export_dataset("BVEL13k", fresh, split="test", source="sample")  # its own folder: written again
    assert {p.name for p in (fresh / "BVEL13k").iterdir()} >= {"BVEL13k_val.xyz", "BVEL13k_test.xyz"}
    export_dataset("BVEL13k", fresh, fmt="parquet", source="sample")
    with pytest.raises(DataFormatError) as err:  # a version folder is never replaced
        export_dataset("BVEL13k", fresh, fmt="parquet", source="sample")
    assert err.value.reason == "exists"


def test_cache_clear_never_leaves_the_cache(tmp_path):
    from litraj_data.loaders.cache import clear

    victim = tmp_path / "victim" / "x"
    victim.mkdir(parents=True)
    cache = tmp_path / "deep" / "cache"
    cache.mkdir(parents=True)
    for name, version in (("../..", None), ("..", "victim"), ("*", "../x"), ("BVEL13k", "1.0.0\n")):
        with pytest.raises(UnsafeNameError):
            clear(cache, name, version)
    assert victim.is_dir()


# ----------------------------------------------------------------------------- the atomic writers

def test_the_atomic_arrow_writer_syncs_and_leaves_nothing_on_error(tmp_path, monkeypatch):
    from litraj_data.store import arrow_io

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(arrow_io.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    table = pa.table({"x": [1, 2, 3]})
    for fmt in ("arrow", "parquet"):
        path = tmp_path / f"t.{fmt}"
        arrow_io.write_table_atomic(table, path, fmt)
        assert synced and path.is_file()
        synced.clear()
        with pytest.raises(RuntimeError):
            with arrow_io.AtomicArrowWriter(tmp_path / f"u.{fmt}", table.schema, fmt) as w:
                w.write_table(table)
                raise RuntimeError("the build failed mid-shard")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.arrow", "t.parquet"]  # no temp, no torn file
