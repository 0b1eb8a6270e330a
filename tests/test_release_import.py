"""Official-release import: every dataset, field by field against what ASE reads."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ase.io import read
from conftest import quiet_import

from litraj_data import load_litraj
from litraj_data.errors import DataFormatError
from litraj_data.loaders.convert import iter_atoms

SPLIT_DATASETS = ("BVEL13k", "nebBVSE122k", "MPLiTrj", "MPLiTrj_subsample")


def _folder(archive: Path) -> Path:
    return archive.with_suffix("")


@pytest.mark.parametrize("name", SPLIT_DATASETS)
def test_split_file_datasets_match_ase_frame_by_frame(name, release_archives, tmp_path):
    built = quiet_import(name, release_archives[name], tmp_path, progress=False)
    manifest = json.loads((built / "manifest.json").read_text())
    for split in ("train", "val", "test"):
        frames = read(_folder(release_archives[name]) / f"{name}_{split}.xyz", index=":")
        ds = load_litraj(name, split=split, source=built)
        assert manifest["splits"][split]["num_rows"] == len(frames) == ds.num_rows
        for ref, row, atoms in zip(frames, ds, iter_atoms(ds)):
            assert np.array_equal(np.asarray(row["numbers"]), ref.numbers)
            assert np.array_equal(np.asarray(row["positions"]), ref.positions)
            assert np.array_equal(np.asarray(row["cell"]), ref.cell[:])
            assert list(row["pbc"]) == list(ref.pbc)
            for key, value in ref.info.items():
                assert row[key] == value or (np.isinf(value) and np.isinf(row[key]))
                assert atoms.info[key] == value or np.isinf(value)
            if ref.calc is not None:
                assert row["energy"] == ref.get_potential_energy()
                assert np.array_equal(np.asarray(row["forces"]), ref.get_forces())
                assert np.array_equal(np.asarray(row["stress"]), ref.get_stress())
                assert np.array_equal(atoms.get_forces(), ref.get_forces())
    index_name = f"{name}_index.csv"
    if (_folder(release_archives[name]) / index_name).exists():
        index = pd.read_csv(_folder(release_archives[name]) / index_name, float_precision="round_trip")
        ds = load_litraj(name, split="train", source=built)
        key = "edge_id" if "edge_id" in ds.column_names else "material_id"
        chemsys = dict(zip(index[key], index["chemsys"]))
        assert all(chemsys[r[key]] == r["chemsys"] for r in ds)


def test_nebdft2k_bands_centroids_and_index(release_archives, tmp_path):
    folder = _folder(release_archives["nebDFT2k"])
    built = quiet_import("nebDFT2k", release_archives["nebDFT2k"], tmp_path, progress=False)
    index = pd.read_csv(folder / "nebDFT2k_index.csv", float_precision="round_trip")
    centroids = {a.info["edge_id"]: a for a in read(folder / "nebDFT2k_centroids.xyz", index=":")}
    dd = load_litraj("nebDFT2k", source=built)
    assert {s: dd[s].num_rows for s in dd} == index["_split"].value_counts().to_dict()
    for split, ds in dd.items():
        for row in ds:
            ref = index.set_index("edge_id").loc[row["edge_id"]]
            assert ref["_split"] == split
            assert row["em_dft"] == ref["em_dft"] and row["em_bvse"] == ref["em_bvse"]
            assert row["has_specific_TM"] == bool(ref["has_specific_TM"])
            cen = centroids[row["edge_id"]]
            assert np.array_equal(np.asarray(row["positions"]), cen.positions)
            assert row["numbers"][-1] == 0  # the dummy X survives
            init = read(folder / f"{row['edge_id']}_init.xyz", index=":")
            relaxed = read(folder / f"{row['edge_id']}_relaxed.xyz", index=":")
            assert np.array_equal(np.asarray(row["init_positions"]), np.stack([a.positions for a in init]))
            assert np.array_equal(np.asarray(row["relaxed_positions"]), np.stack([a.positions for a in relaxed]))
            energies = [a.get_potential_energy() for a in relaxed]
            assert row["relaxed_energies"] == energies
            assert np.isclose(max(energies) - min(energies), row["em_dft"])
            assert np.array_equal(np.asarray(row["relaxed_forces"]), np.stack([a.get_forces() for a in relaxed]))
            assert row["init_energies"] is None


def test_zip_and_unpacked_folder_give_identical_shards(release_archives, tmp_path):
    a = quiet_import("BVEL13k", release_archives["BVEL13k"], tmp_path / "a", progress=False)
    b = quiet_import("BVEL13k", _folder(release_archives["BVEL13k"]), tmp_path / "b", progress=False)
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    assert [f["sha256"] for s in ma["splits"].values() for f in s["files"]] == \
           [f["sha256"] for s in mb["splits"].values() for f in s["files"]]


def test_smaller_archive_warns_and_records_a_note(release_archives, tmp_path):
    from litraj_data.builders.from_release import import_release

    with pytest.warns(UserWarning, match="partial archive"):
        built = import_release("BVEL13k", release_archives["BVEL13k"], tmp_path, progress=False)
    notes = json.loads((built / "manifest.json").read_text())["notes"]
    assert any("the official release has 10159" in n for n in notes)


def test_missing_split_file_is_named(release_archives, tmp_path):
    src = tmp_path / "BVEL13k"
    shutil.copytree(_folder(release_archives["BVEL13k"]), src)
    (src / "BVEL13k_val.xyz").unlink()
    with pytest.raises(DataFormatError, match="BVEL13k_val.xyz"):
        quiet_import("BVEL13k", src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "BVEL13k" / "1.0.0").exists()


def test_missing_index_column_is_named(release_archives, tmp_path):
    src = tmp_path / "nebDFT2k"
    shutil.copytree(_folder(release_archives["nebDFT2k"]), src)
    index = pd.read_csv(src / "nebDFT2k_index.csv", float_precision="round_trip").drop(columns=["_split"])
    index.to_csv(src / "nebDFT2k_index.csv", index=False)
    with pytest.raises(DataFormatError, match="_split"):
        quiet_import("nebDFT2k", src, tmp_path / "out", progress=False)


def test_truncated_zip_is_a_clear_error_and_leaves_no_version(release_archives, tmp_path):
    data = release_archives["MPLiTrj"].read_bytes()
    bad = tmp_path / "MPLiTrj.zip"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="truncated|not a readable zip"):
        quiet_import("MPLiTrj", bad, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "MPLiTrj" / "1.0.0").exists()


def test_truncated_extxyz_member_is_detected(release_archives, tmp_path):
    src = tmp_path / "MPLiTrj"
    shutil.copytree(_folder(release_archives["MPLiTrj"]), src)
    text = (src / "MPLiTrj_test.xyz").read_text().splitlines(keepends=True)
    (src / "MPLiTrj_test.xyz").write_text("".join(text[:-3]))
    with pytest.raises(DataFormatError, match="truncated"):
        quiet_import("MPLiTrj", src, tmp_path / "out", progress=False)


def test_more_rows_than_the_release_is_an_error(tmp_path):
    from litraj_data.testing import write_release

    archive = write_release("nebDFT2k", tmp_path / "rel", {"train": 1, "val": 1, "test": 221}, seed=1)
    with pytest.raises(DataFormatError, match="more rows"):
        quiet_import("nebDFT2k", archive, tmp_path / "out", progress=False)


def test_interrupted_build_resumes_and_gives_the_same_shards(release_archives, tmp_path, monkeypatch):
    from litraj_data.builders.from_release import import_release
    from litraj_data.store import shards

    monkeypatch.setattr(shards, "BATCH_ROWS", 1)
    calls = {"n": 0}
    original = shards.rows_to_table

    def flaky(rows, config, schema=None):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # the user presses Ctrl-C mid-build
        return original(rows, config, schema)

    monkeypatch.setattr(shards, "rows_to_table", flaky)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning):
        import_release("MPLiTrj", release_archives["MPLiTrj"], tmp_path / "a", progress=False, max_shard_bytes=1)
    assert not (tmp_path / "a" / "MPLiTrj" / "1.0.0").exists()
    progress = json.loads((next((tmp_path / "a" / "MPLiTrj").glob(".1.0.0.partial-*")) / "progress.json").read_text())
    done = progress["splits"]["train"]["rows_done"]
    assert done == 3  # three closed shards survive the interruption
    monkeypatch.setattr(shards, "rows_to_table", original)
    with pytest.warns(UserWarning):
        resumed = import_release("MPLiTrj", release_archives["MPLiTrj"], tmp_path / "a", progress=False,
                                 max_shard_bytes=1)
    with pytest.warns(UserWarning):
        fresh = import_release("MPLiTrj", release_archives["MPLiTrj"], tmp_path / "b", progress=False,
                               max_shard_bytes=1)
    shas = [[f["sha256"] for s in json.loads((p / "manifest.json").read_text())["splits"].values() for f in s["files"]]
            for p in (resumed, fresh)]
    assert shas[0] == shas[1]
    assert len(shas[0]) == 6 + 3 + 2  # one row per shard with a 1-byte bound


def test_unknown_dataset_suggests_close_match():
    from litraj_data.errors import UnknownDatasetError

    with pytest.raises(UnknownDatasetError, match="Did you mean 'nebBVSE122k'"):
        load_litraj("nebBVSE12k", source="sample")
