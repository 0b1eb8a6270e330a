"""load_litraj sources, verification, corruption, offline behaviour, conversions, export."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from conftest import quiet_import

from litraj_data import load_litraj
from litraj_data.errors import IntegrityError, LitrajError, OfflineError


@pytest.fixture()
def built_bvel(release_archives, tmp_path):
    return quiet_import("BVEL13k", release_archives["BVEL13k"], tmp_path / "built", progress=False)


def test_loads_are_memory_mapped_and_split_dict(built_bvel):
    dd = load_litraj("BVEL13k", source=built_bvel)
    assert list(dd) == ["train", "val", "test"]
    ds = dd["train"]
    assert ds.cache_files and all(Path(f["filename"]).parent == built_bvel for f in ds.cache_files)
    assert "Dembitskiy" in ds.info.citation


def test_corrupted_shard_names_file_and_repair(built_bvel):
    shard = sorted(built_bvel.glob("*train*.arrow"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one flipped byte: only sha256 can see it
    shard.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as err:
        load_litraj("BVEL13k", split="train", source=built_bvel)
    assert shard.name in str(err.value) and "litraj" in str(err.value)


def test_verified_folder_is_not_rehashed_but_truncation_is_seen(built_bvel, monkeypatch):
    load_litraj("BVEL13k", split="val", source=built_bvel)
    from litraj_data.loaders import verify

    def boom(*a, **k):
        raise AssertionError("rehashed an unchanged, verified folder")

    monkeypatch.setattr(verify, "verify_manifest", boom)
    load_litraj("BVEL13k", split="val", source=built_bvel)
    shard = sorted(built_bvel.glob("*val*.arrow"))[0]
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(IntegrityError, match="truncated"):
        load_litraj("BVEL13k", split="val", source=built_bvel)


def test_file_mirror_downloads_verifies_and_caches(built_bvel, isolated_cache):
    ds = load_litraj("BVEL13k", split="test", source=built_bvel.as_uri())
    assert isolated_cache in Path(ds.cache_files[0]["filename"]).parents
    # a mirror serving a corrupted file is refused and nothing is kept
    other = built_bvel.parent / "mirror2"
    shutil.copytree(built_bvel, other)
    shard = sorted(other.glob("*train*.arrow"))[0]
    shard.write_bytes(b"\0" * shard.stat().st_size)
    # entries are keyed on the manifest's content: the cache already holds this build, verified,
    # so it is served without fetching the damaged copy; a fresh cache must fetch it and refuses it
    assert load_litraj("BVEL13k", split="train", source=other.as_uri()).num_rows > 0
    with pytest.raises(IntegrityError, match="sha256"):
        load_litraj("BVEL13k", split="train", source=other.as_uri(), cache_dir=isolated_cache / "fresh")
    assert not list((isolated_cache / "fresh" / "BVEL13k").glob("1.0.0*/manifest.json"))


def test_parquet_transport_round_trip(built_bvel, tmp_path):
    from litraj_data.store.shards import convert_version, read_shard

    pq_dir = convert_version(built_bvel, tmp_path / "pq", "parquet")
    assert sorted(p.suffix for p in pq_dir.glob("BVEL13k-*")) == [".parquet"] * 3
    a = load_litraj("BVEL13k", split="train", source=built_bvel)
    b = load_litraj("BVEL13k", split="train", source=pq_dir)
    assert a.data.table.equals(b.data.table)
    for f in sorted(built_bvel.glob("*.arrow")):
        assert read_shard(f).equals(read_shard(pq_dir / (f.stem + ".parquet")))


def _hub_snapshot(root: Path, repo: str, built: Path, revision: str = "0" * 40) -> None:
    """The on-disk layout huggingface_hub keeps for a downloaded dataset repo."""
    base = root / f"datasets--{repo.replace('/', '--')}"
    snap = base / "snapshots" / revision
    shutil.copytree(built, snap / "BVEL13k" / "1.0.0")
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(revision)


def test_hub_source_offline_from_local_hf_cache(built_bvel, tmp_path, monkeypatch):
    hf_cache = tmp_path / "hf"
    _hub_snapshot(hf_cache, "litraj/litraj-data", built_bvel)
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(hf_cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    ds = load_litraj("BVEL13k", split="val", source="hf://litraj/litraj-data@main")
    assert ds.num_rows == 3
    with pytest.raises(OfflineError):
        load_litraj("BVEL13k", split="val", source="hf://litraj/not-downloaded")


def test_offline_with_nothing_cached_fails_at_once(monkeypatch):
    import time

    monkeypatch.setenv("LITRAJ_OFFLINE", "1")
    t0 = time.monotonic()
    with pytest.raises(OfflineError, match="not in the cache"):
        load_litraj("MPLiTrj")
    with pytest.raises(OfflineError):
        load_litraj("BVEL13k", source="https://example.org/litraj/BVEL13k.zip")
    assert time.monotonic() - t0 < 5


def test_unwritable_cache_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # works for root too, unlike chmod
    with pytest.raises(LitrajError, match="not writable"):
        load_litraj("BVEL13k", source="sample", cache_dir=blocker / "cache")


def test_release_zip_source_is_imported_once_then_cached(release_archives, isolated_cache):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = load_litraj("nebDFT2k", split="val", source=release_archives["nebDFT2k"])
    b = load_litraj("nebDFT2k", split="val", source=release_archives["nebDFT2k"])
    assert a.cache_files[0]["filename"] == b.cache_files[0]["filename"]
    assert isolated_cache in Path(a.cache_files[0]["filename"]).parents


@pytest.mark.parametrize("name", ["BVEL13k", "nebBVSE122k", "MPLiTrj"])
def test_extxyz_export_reads_back_to_identical_atoms(name, release_archives, tmp_path):
    from litraj_data.loaders.export import export_dataset

    built = quiet_import(name, release_archives[name], tmp_path / "b", progress=False)
    export_dataset(name, tmp_path / "x", source=built)
    for split in ("train", "val", "test"):
        orig = read(release_archives[name].with_suffix("") / f"{name}_{split}.xyz", index=":")
        back = read(tmp_path / "x" / name / f"{name}_{split}.xyz", index=":")
        assert len(orig) == len(back)
        for a, b in zip(orig, back):
            assert a.get_chemical_symbols() == b.get_chemical_symbols()
            assert np.array_equal(a.positions, b.positions) and np.array_equal(a.cell[:], b.cell[:])
            assert list(a.pbc) == list(b.pbc)
            assert a.info.keys() == b.info.keys()
            assert all(a.info[k] == b.info[k] for k in a.info)
            if a.calc is not None:
                assert a.get_potential_energy() == b.get_potential_energy()
                assert np.array_equal(a.get_forces(), b.get_forces())
                assert np.array_equal(a.get_stress(), b.get_stress())


def test_nebdft2k_export_reproduces_the_official_layout(release_archives, tmp_path):
    from litraj_data.loaders.export import export_dataset

    built = quiet_import("nebDFT2k", release_archives["nebDFT2k"], tmp_path / "b", progress=False)
    export_dataset("nebDFT2k", tmp_path / "x", source=built)
    again = quiet_import("nebDFT2k", tmp_path / "x", tmp_path / "c", progress=False)
    for split in ("train", "val", "test"):
        a = load_litraj("nebDFT2k", split=split, source=built).data.table
        b = load_litraj("nebDFT2k", split=split, source=again).data.table
        assert a.drop(["band_extras"]).equals(b.drop(["band_extras"]))
    src = release_archives["nebDFT2k"].with_suffix("")
    edge = sorted(src.glob("*_relaxed.xyz"))[0].name
    for a, b in zip(read(src / edge, index=":"), read(tmp_path / "x" / "nebDFT2k" / edge, index=":")):
        assert np.array_equal(a.positions, b.positions) and a.get_potential_energy() == b.get_potential_energy()


def test_conversions_keep_the_dummy_atom_and_targets(release_archives, tmp_path):
    from litraj_data.loaders.convert import iter_numpy_batches, to_ase, to_pyg, to_pymatgen

    built = quiet_import("nebBVSE122k", release_archives["nebBVSE122k"], tmp_path / "b", progress=False)
    ds = load_litraj("nebBVSE122k", split="train", source=built)
    atoms = list(to_ase(ds))
    assert [a.get_chemical_symbols()[-1] for a in atoms] == ["X"] * ds.num_rows
    assert [a.info["em"] for a in atoms] == ds["em"]
    structure = to_pymatgen(ds[0])
    assert structure[-1].specie.symbol.startswith("X") and type(structure[-1].specie).__name__ == "DummySpecies"
    assert np.allclose(structure.cart_coords, np.asarray(ds[0]["positions"]))
    data = next(to_pyg(ds, cutoff=4.0))
    assert bool(data.is_dummy[-1]) and int(data.z[-1]) == 0
    assert float(data.y[0, 0]) == ds[0]["em"]
    # the radius graph is the periodic neighbour list: every edge vector has the stated length
    assert np.allclose(np.linalg.norm(data.edge_vec.numpy(), axis=1), data.edge_length.numpy())
    assert data.edge_length.max() <= 4.0
    batch = next(iter_numpy_batches(ds, batch_size=4))
    assert batch["positions"].shape == (int(batch["n_atoms"].sum()), 3)
    assert np.array_equal(batch["positions"][: batch["n_atoms"][0]], np.asarray(ds[0]["positions"]))


def test_fast_atoms_constructor_equals_ase_constructor():
    from litraj_data.loaders.convert import _fast_atoms, _slow_atoms

    rng = np.random.default_rng(3)
    numbers = np.array([3, 8, 0, 26])
    positions = rng.normal(size=(4, 3))
    cell = rng.normal(size=(3, 3)) + 5 * np.eye(3)
    pbc = np.array([True, False, True])
    fast, slow = _fast_atoms(numbers, positions, cell, pbc), _slow_atoms(numbers, positions, cell, pbc)
    assert fast == slow and fast.get_chemical_symbols() == ["Li", "O", "X", "Fe"]
    assert np.isclose(fast.get_volume(), slow.get_volume())
    fast.positions[0] += 1.0  # owns its arrays: the shard buffer is never written
    assert not np.array_equal(fast.positions, positions) and np.array_equal(slow.positions, positions)


def test_selected_and_shuffled_views_convert_in_their_order(release_archives, tmp_path):
    from litraj_data.loaders.convert import iter_atoms, iter_numpy_batches

    built = quiet_import("nebBVSE122k", release_archives["nebBVSE122k"], tmp_path / "b", progress=False)
    ds = load_litraj("nebBVSE122k", split="train", source=built)
    view = ds.shuffle(seed=1).select([4, 0, 2])
    assert [a.info["edge_id"] for a in iter_atoms(view, batch_size=2)] == view["edge_id"]
    batch = next(iter_numpy_batches(view, batch_size=3))
    assert list(batch["edge_id"]) == view["edge_id"]
    assert np.array_equal(batch["positions"][: batch["n_atoms"][0]], np.asarray(view[0]["positions"]))


def test_http_mirror_served_on_localhost(built_bvel, isolated_cache, monkeypatch):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_bvel.parent.parent))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/BVEL13k/1.0.0"
        ds = load_litraj("BVEL13k", split="val", source=url)
        assert ds.num_rows == 3 and isolated_cache in Path(ds.cache_files[0]["filename"]).parents
        again = load_litraj("BVEL13k", split="val", source=url)  # second time: from the cache
        assert again.cache_files == ds.cache_files
    finally:
        server.shutdown()
    monkeypatch.setenv("LITRAJ_OFFLINE", "1")  # the server is gone: offline, the cached copy still opens
    assert load_litraj("BVEL13k", split="val", source=url).cache_files == ds.cache_files
