"""Builders nebDFT2k / MPLiTrj from raw runs (generated with the BVSE calculator)."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures_raw.make_raw_runs import cached_raw_runs

from litraj_data.builders.leakage import check_leakage
from litraj_data.builders.raw_neb import build_from_raw, config_hash, has_specific_tm, load_split_table, subsample_keep
from litraj_data.builders.raw_runs import read_hop
from litraj_data.cli import main
from litraj_data.store.manifest import read_manifest
from litraj_data.store.shards import read_shard


@pytest.fixture(scope="session")
def raw_runs(tmp_path_factory) -> Path:
    return cached_raw_runs(tmp_path_factory.getbasetemp())


@pytest.fixture()
def raw_with_bad(raw_runs, tmp_path) -> Path:
    """The good runs plus one unfinished and one truncated copy under other hop ids."""
    root = tmp_path / "raw"
    shutil.copytree(raw_runs, root, ignore=shutil.ignore_patterns(".complete"))
    bad = root / "mp-1960_4_5_0_0_0.neb"
    shutil.copytree(root / "mp-1960_0_3_0_0_0.neb", bad)
    (bad / "FINISHED").unlink()
    cut = root / "mp-1960_6_7_0_0_0.neb"
    shutil.copytree(root / "mp-1960_1_2_0_0_0.neb", cut)
    p = cut / "band_optim_step_1.traj"
    p.write_bytes(p.read_bytes()[:300])
    return root


def _table(version: Path, split: str):
    man = read_manifest(version)
    import pyarrow as pa

    tables = [read_shard(version / f["name"]) for f in man.files(split)]
    return pa.concat_tables(tables)


def _failures(version: Path) -> dict[str, str]:
    with open(version / "failures.csv") as fh:
        return {r["hop_id"]: r["reason"] for r in csv.DictReader(fh)}


def test_nebdft2k_rows(raw_with_bad, tmp_path):
    res = build_from_raw("nebDFT2k", raw_with_bad, tmp_path / "out", workers=2)
    version = Path(res["path"])
    fails = _failures(version)
    assert fails == {"mp-19017_2_3_0_0_0": "not_converged", "mp-1960_4_5_0_0_0": "not_finished"}
    # the cut band step only matters for configurations: the band is intact
    rows = [r for sp in ("train", "val", "test") for r in _table(version, sp).to_pylist()]
    assert sorted(r["edge_id"] for r in rows) == ["mp-1960_0_3_0_0_0", "mp-1960_1_2_0_0_0", "mp-1960_6_7_0_0_0"]
    row = next(r for r in rows if r["edge_id"] == "mp-1960_0_3_0_0_0")
    run = read_hop(raw_with_bad / "mp-1960_0_3_0_0_0.neb")
    assert row["material_id"] == "mp-1960" and row["chemsys"] == "Li-O" and row["has_specific_TM"] is False
    e = np.array(row["relaxed_energies"])
    assert row["em_dft"] == pytest.approx(e.max() - e.min()) and row["em_dft"] == pytest.approx(run.em)
    assert row["em_bvse"] is None
    np.testing.assert_allclose(np.array(row["relaxed_positions"]), run.final.positions)
    np.testing.assert_allclose(np.array(row["init_positions"]), run.initial.positions)
    assert np.array(row["relaxed_forces"]).shape == (5, 11, 3)
    # centroid: pristine supercell (12 atoms) + X last, at the hop midpoint
    assert row["numbers"][-1] == 0 and len(row["numbers"]) == 13
    pos = np.array(row["positions"])
    np.testing.assert_allclose(pos[-1], 0.5 * (pos[-2] + run.final.positions[0][np.argmax(
        np.linalg.norm(run.final.positions[-1] - run.final.positions[0], axis=1))]), atol=1e-8)
    info = json.loads(row["info_extra"])
    assert info["convergence"]["converged"] is True and info["layout"] == "authors"


def test_specific_tm():
    assert has_specific_tm([26, 8, 3]) and not has_specific_tm([3, 8, 29])


def test_mplitrj_dedup_splits_and_failures(raw_with_bad, tmp_path):
    out = tmp_path / "out"
    table = tmp_path / "splits.csv"
    table.write_text("material_id,split\nmp-1960,train\nmp-19017,test\n")
    res = build_from_raw("MPLiTrj", raw_with_bad, out, splits_from=table)
    version = Path(res["path"])
    assert _failures(version) == {"mp-1960_4_5_0_0_0": "not_finished", "mp-1960_6_7_0_0_0": "truncated"}
    train, test = _table(version, "train"), _table(version, "test")
    assert set(train.column("material_id").to_pylist()) == {"mp-1960"}
    assert set(test.column("material_id").to_pylist()) == {"mp-19017"}
    rows = train.to_pylist() + test.to_pylist()
    hashes = [config_hash(r["numbers"], np.array(r["positions"]), np.array(r["cell"]), r["energy"]) for r in rows]
    assert len(set(hashes)) == len(hashes)  # no duplicate configurations
    # every configuration of the good runs is there once
    expected = set()
    for hop in ("mp-1960_0_3_0_0_0", "mp-1960_1_2_0_0_0", "mp-19017_2_3_0_0_0"):
        for c in read_hop(raw_with_bad / f"{hop}.neb").iter_configs():
            expected.add(config_hash(c.numbers, c.positions, c.cell, c.energy))
    assert set(hashes) == expected
    assert res["duplicates_dropped"] > 0  # end points repeat in every band step
    r0 = rows[0]
    assert np.array(r0["forces"]).shape == (len(r0["numbers"]), 3) and r0["stress"] is None
    assert r0["config_id"].startswith(r0["edge_id"] + ":")


def test_mplitrj_split_propagation_and_leakage(raw_runs, tmp_path):
    out = tmp_path / "out"
    table = tmp_path / "splits.csv"
    table.write_text("material_id,split\nmp-1960,test\n")
    neb = build_from_raw("nebDFT2k", raw_runs, out, splits_from=table)
    assert read_manifest(neb["path"]).num_rows("test") == 2
    # MPLiTrj takes its splits from the built nebDFT2k: mp-1960 must land in test
    traj = build_from_raw("MPLiTrj", raw_runs, out, splits_from=out / "nebDFT2k")
    assert set(_table(Path(traj["path"]), "test").column("material_id").to_pylist()) == {"mp-1960"}
    assert "mp-1960" not in _table(Path(traj["path"]), "train").column("material_id").to_pylist()
    assert load_split_table(out / "nebDFT2k")["mp-1960"] == "test"
    assert check_leakage([out]).ok
    # a build that ignores the propagated table leaks, and the check says so
    bad = tmp_path / "bad.csv"
    bad.write_text("material_id,split\nmp-1960,train\nmp-19017,train\n")
    build_from_raw("MPLiTrj", raw_runs, tmp_path / "other", splits_from=bad)
    report = check_leakage([out / "nebDFT2k", tmp_path / "other"])
    assert not report.ok and [lk["material_id"] for lk in report.leaks] == ["mp-1960"]


def test_subsample(raw_runs, tmp_path):
    full = build_from_raw("MPLiTrj", raw_runs, tmp_path / "out")
    sub = build_from_raw("MPLiTrj", raw_runs, tmp_path / "out", subsample=20)
    assert sub["dataset"] == "MPLiTrj_subsample"
    n_full, n_sub = sum(full["rows"].values()), sum(sub["rows"].values())
    assert 6 <= n_sub < n_full
    kinds = {json.loads(r)["kind"] for r in _table(Path(sub["path"]), "train").column("info_extra").to_pylist()}
    kinds |= {json.loads(r)["kind"] for sp in ("val", "test")
              for r in _table(Path(sub["path"]), sp).column("info_extra").to_pylist()}
    assert {"band", "source", "target"} <= kinds


def test_subsample_keep_strata():
    strata = [f"source:{i}" for i in range(10)] + [f"band:{i}" for i in range(30)]
    keep = subsample_keep(strata, 0.1)
    assert keep[:10].sum() == 1 and keep[9]        # last relaxation step kept
    assert keep[10:].sum() == 3 and keep[-1]       # last band step kept
    assert subsample_keep(strata, 1.0).all()


def test_resume_reuses_spools(raw_runs, tmp_path):
    out = tmp_path / "out"
    build_from_raw("nebDFT2k", raw_runs, out)
    spool = out / ".raw_neb_work" / "nebDFT2k" / "mp-1960_0_3_0_0_0.arrow"
    before = spool.stat().st_mtime_ns
    manifest = out / "nebDFT2k" / "1.0.0" / "manifest.json"
    built_at = manifest.stat().st_mtime_ns
    res = build_from_raw("nebDFT2k", raw_runs, out)  # same runs: the finished version is reused, not rewritten
    assert manifest.stat().st_mtime_ns == built_at and sum(res["rows"].values()) == 2
    res = build_from_raw("nebDFT2k", raw_runs, out, overwrite=True)
    assert spool.stat().st_mtime_ns == before  # not re-read
    assert sum(res["rows"].values()) == 2
    # a changed run is read again
    run = out.parent / "raw_copy"
    shutil.copytree(raw_runs, run, ignore=shutil.ignore_patterns(".complete"))
    (run / "mp-1960_0_3_0_0_0.neb" / "FINISHED").unlink()
    with pytest.raises(FileExistsError, match="built from other sources"):
        build_from_raw("nebDFT2k", run, out)
    res = build_from_raw("nebDFT2k", run, out, overwrite=True)
    assert sum(res["rows"].values()) == 1


def test_cli_json(raw_runs, tmp_path, capsys):
    for name in ("nebDFT2k", "MPLiTrj"):
        assert main(["build", name, "--raw", str(raw_runs), "--out", str(tmp_path / "out"), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        rec = doc["records"][0]
        assert rec["file"] == str(raw_runs) and rec["dataset"] == name and rec["ok"]
    assert main(["build", "nebDFT2k", "--raw", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["records"][0]["ok"] is False
    with pytest.raises(SystemExit):  # MPLiTrj's options are not nebDFT2k's
        main(["build", "nebDFT2k", "--raw", str(raw_runs), "--out", str(tmp_path / "o3"), "--subsample", "3"])


@pytest.mark.slow
def test_em_bvse_matches_bvse_generated_band(raw_runs, tmp_path):
    # the fixture runs were optimised with the BVSE calculator itself, so the BVSE-NEB barrier
    # recomputed from the initial band must equal the stored "DFT" barrier
    root = tmp_path / "raw"
    shutil.copytree(raw_runs / "mp-1960_0_3_0_0_0.neb", root / "mp-1960_0_3_0_0_0.neb")
    res = build_from_raw("nebDFT2k", root, tmp_path / "out", bvse=True)
    row = _table(Path(res["path"]), "train").to_pylist()[0] if res["rows"]["train"] else \
        [r for sp in ("val", "test") for r in _table(Path(res["path"]), sp).to_pylist()][0]
    assert row["em_bvse"] == pytest.approx(row["em_dft"], abs=2e-3)


#: one anion per material: no two of the twelve share an element besides Li
_UNIQUE_ANIONS = ("O", "S", "Se", "Te", "F", "Cl", "Br", "I", "N", "P", "As", "Sb")


def test_raw_build_follows_the_element_coverage_split_rule(tmp_path):
    """A dozen materials with unique elements: the paper's 8:1:1 rule, not a hash, decides the splits."""
    from ase.calculators.lj import LennardJones
    from fixtures_raw.make_raw_runs import initial_band, li_hops, load_material, write_authors_run

    from oracles import check_split_rule

    base = load_material("Li2O")
    raw = tmp_path / "raw"
    elements = {}
    for k, anion in enumerate(_UNIQUE_ANIONS):
        atoms = base.copy()
        atoms.symbols[atoms.numbers == 8] = anion
        source, target, off = li_hops(atoms, 1)[0]
        mid = f"mp-{9000 + k}"
        elements[mid] = {"Li", anion}
        images = initial_band(atoms, source, target, off, 3)
        write_authors_run(raw / f"{mid}_{source}_{target}_{off[0]}_{off[1]}_{off[2]}.neb", images,
                          lambda: LennardJones(sigma=2.0, epsilon=0.01, rc=4.0), steps=2, relax_steps=2)
    res = build_from_raw("MPLiTrj", raw, tmp_path / "out")
    version = Path(res["path"])
    split_of = {}
    for split in ("train", "val", "test"):
        if read_manifest(version).num_rows(split):
            for mid in set(_table(version, split).column("material_id").to_pylist()):
                assert split_of.setdefault(mid, split) == split, f"{mid} in two splits"
    assert set(split_of) == set(elements)
    assert check_split_rule(split_of, elements) == []
