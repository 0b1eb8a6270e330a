"""The embedded sample: shipped intact, loadable offline, and filled by the reference calculators."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from litraj_data import load_litraj
from litraj_data.loaders.verify import verify_manifest
from litraj_data.store.layout import sample_root
from litraj_data.store.manifest import read_manifest

SAMPLE_DATASETS = ["BVEL13k", "nebBVSE122k", "nebDFT2k", "MPLiTrj", "MPLiTrj_subsample"]
GENERATED = {"nebDFT2k", "MPLiTrj", "MPLiTrj_subsample"}


@pytest.mark.parametrize("name", SAMPLE_DATASETS)
def test_sample_ships_verified_and_loads_offline(name, monkeypatch, isolated_cache):
    monkeypatch.setenv("LITRAJ_OFFLINE", "1")
    man = read_manifest(sample_root() / name / "1.0.0")
    assert all(r["ok"] for r in verify_manifest(man))
    dd = load_litraj(name, source="sample")
    assert {s: dd[s].num_rows for s in dd} == {s: man.num_rows(s) for s in man.splits}
    assert all(dd[s].num_rows > 0 for s in ("train", "val", "test"))
    # opened from a verified copy in the cache: map()/filter() never write into the package
    assert isolated_cache in Path(dd["train"].cache_files[0]["filename"]).parents
    ids = [r for s in dd for r in dd[s]["material_id"]]
    by_split = {s: set(dd[s]["material_id"]) for s in dd}
    assert not (by_split["train"] & by_split["test"]) and not (by_split["val"] & by_split["test"])
    assert len(ids) >= 20 if name == "BVEL13k" else len(set(ids)) >= 15 if name == "nebBVSE122k" else len(ids) >= 5


@pytest.mark.parametrize("name", SAMPLE_DATASETS)
def test_sample_says_it_is_the_sample(name):
    """Manifest fields and card banner: the sample never passes for the data (GENERATED ones: not DFT)."""
    folder = sample_root() / name / "1.0.0"
    man = json.loads((folder / "manifest.json").read_text())
    assert man["sample"] is True and man["origin"] == "embedded-sample"
    card = (folder / "README.md").read_text()
    assert f"# {name} 1.0.0 - EMBEDDED SAMPLE, not the official release" in card
    assert ("GENERATED, NOT DFT" in card and "CHGNet" in man["generated"]) if name in GENERATED \
        else ("generated" not in man and "NOT DFT" not in card)
    # the card the store would write for this manifest is the shipped one (stamping is reproducible)
    from litraj_data.registry import get_config
    from litraj_data.store.shards import dataset_card

    assert card == dataset_card(get_config(name), man)


def test_sample_generated_rows_are_chgnet_s():
    """An MPLiTrj sample row is CHGNet's energy / forces / stress of its configuration; a
    nebDFT2k row's em_dft is the max - min of its relaxed band (CHGNet energies)."""
    pytest.importorskip("chgnet")
    from litraj_data.leaderboard.reference.umlip.runners import get_provider
    from litraj_data.loaders.convert import to_ase

    row = load_litraj("MPLiTrj", split="test", source="sample")[0]
    atoms = to_ase(row)
    atoms.calc = get_provider("chgnet").calculator()
    assert atoms.get_potential_energy() == pytest.approx(row["energy"], abs=2e-4)
    assert np.abs(atoms.get_forces() - np.asarray(row["forces"])).max() < 2e-4
    band = load_litraj("nebDFT2k", split="test", source="sample")
    for r in band:
        e = np.asarray(r["relaxed_energies"])
        assert r["em_dft"] == pytest.approx(e.max() - e.min(), abs=1e-9)
        assert json.loads(r["info_extra"])["source"] == "generated_sample"
    assert any(band["has_specific_TM"]) and not all(band["has_specific_TM"])  # both TM subsets are scored


def test_sample_bvel_columns_are_the_reference_calculator_s():
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.bvse.api import bvse_barriers

    ds = load_litraj("BVEL13k", split="train", source="sample")
    assert all(r["E_1D"] is not None for r in ds)
    for row in ds.select(range(3)):
        res = bvse_barriers(get_sample_structure(row["material_id"]), resolution=0.2, cutoff=10.0, k=200)
        for key in ("E_1D", "E_2D", "E_3D"):
            assert getattr(res, key) == pytest.approx(row[key], abs=1e-6)
        assert row["E_1D"] <= row["E_2D"] <= row["E_3D"]


def test_sample_hop_rows_are_the_reference_calculator_s():
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.hops.api import hop_barriers

    dd = load_litraj("nebBVSE122k", source="sample")
    rows = {r["edge_id"]: r for s in dd for r in dd[s] if r["material_id"] == "sample-Li3N-191"}
    res = hop_barriers(get_sample_structure("sample-Li3N-191"), material_id="sample-Li3N-191")
    assert {h.edge_id for h in res.hops} == set(rows)
    for hop, barrier in zip(res.hops, res.barriers):
        row = rows[hop.edge_id]
        assert barrier == pytest.approx(row["em"], abs=1e-6)
        assert row["numbers"][-1] == 0  # centroid X last
        # a straight path on a mirror plane can start converged
        assert row["converged"] is True and 0 <= row["neb_steps"] <= 100


def test_sample_card_and_failures_are_shipped():
    folder = sample_root() / "BVEL13k" / "1.0.0"
    man = json.loads((folder / "manifest.json").read_text())
    assert [f["name"] for f in man["extra_files"]] == ["failures.csv"]
    failures = (folder / "failures.csv").read_text()
    assert "missing_parameters" in failures  # e.g. Li3Sb: no softBV Li-Sb(3-) pair, recorded not dropped
    card = (folder / "README.md").read_text()
    assert card.startswith("---") and "Dembitskiy" in card


@pytest.mark.slow
def test_rebuilding_the_sample_gives_the_shipped_bytes(tmp_path):
    """All five datasets; the CHGNet ones (one torch thread) take minutes on a CPU."""
    from litraj_data.builders.sample import SAMPLE_DATASETS as BUILT

    pytest.importorskip("chgnet")
    from litraj_data.builders.sample import build_sample

    assert set(BUILT) == set(SAMPLE_DATASETS)
    built = build_sample(tmp_path, progress=False)
    for name, folder in built.items():
        new = read_manifest(folder)
        old = read_manifest(sample_root() / name / "1.0.0")
        assert [f["sha256"] for f in new.files()] == [f["sha256"] for f in old.files()], \
            f"the shipped {name} sample is stale: run `litraj build sample --in-place`"
        assert [f["sha256"] for f in new.extra_files()] == [f["sha256"] for f in old.extra_files()]
        assert (folder / "README.md").read_bytes() == (old.root / "README.md").read_bytes()
        for key in ("sample", "origin", "generated"):
            assert new.data.get(key) == old.data.get(key)
