"""Structure jobs (checkpoint/resume/order), the BVEL13k builder and the `bvel` CLI."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from litraj_data.builders.bvel13k import build_bvel13k
from litraj_data.builders.structure_jobs import load_checkpoint, run_structure_jobs
from litraj_data.errors import StructureError


def _calls_file() -> Path:
    return Path(os.environ["BVSE_TEST_CALLS"])


def square(name: str, value: int) -> dict:
    with _calls_file().open("a") as f:
        f.write(name + "\n")
    if value < 0:
        raise StructureError("negative", reason="negative_value")
    return {"square": value * value, "inf": float("inf")}


def rocksalt(a: float, cation: str = "Li", anion: str = "F") -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


def li3n() -> Structure:
    return Structure(Lattice.hexagonal(3.648, 3.875), ["N", "Li", "Li", "Li"],
                     [[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0]])


def test_jobs_order_failures_and_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("BVSE_TEST_CALLS", str(tmp_path / "calls.txt"))
    items = [(f"s{i}", v) for i, v in enumerate([3, -1, 5, 2, 7])]
    recs = run_structure_jobs(square, items, tmp_path / "stage", workers=2, progress=False)
    assert [r["material_id"] for r in recs] == [n for n, _ in items]
    assert recs[0]["result"] == {"square": 9, "inf": None}
    assert recs[1] == {"material_id": "s1", "ok": False, "reason": "negative_value", "message": "negative"}
    assert len(load_checkpoint(tmp_path / "stage")) == 5
    # resume: a torn last line and one missing record -> only that one is recomputed
    ck = tmp_path / "stage" / "results.jsonl"
    lines = ck.read_text().splitlines()
    ck.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])
    (tmp_path / "calls.txt").write_text("")
    recs2 = run_structure_jobs(square, items, tmp_path / "stage", workers=1, progress=False)
    assert recs2 == recs
    assert (tmp_path / "calls.txt").read_text().split() == [json.loads(lines[-1])["material_id"]]
    # other settings: the checkpoint is discarded
    (tmp_path / "calls.txt").write_text("")
    run_structure_jobs(square, items, tmp_path / "stage", progress=False, signature={"x": 1})
    assert len((tmp_path / "calls.txt").read_text().split()) == 5


def test_jobs_reject_duplicate_ids(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        run_structure_jobs(square, [("a", 1), ("a", 2)], tmp_path)


def _shard_hashes(version_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(version_dir.glob("*.arrow"))}


@pytest.fixture(scope="module")
def small_set():
    return [
        ("LiF", rocksalt(4.03)),
        ("LiCl", rocksalt(5.13, anion="Cl")),
        ("Li3N", li3n()),
        ("NaCl", rocksalt(5.64, cation="Na", anion="Cl")),
        ("LiBr", rocksalt(5.50, anion="Br")),
    ]


def test_builder_end_to_end_deterministic(tmp_path, small_set):
    pytest.importorskip("litraj_data.store.shards")

    settings = {"resolution": 0.5, "k": None}
    splits = {"LiF": "train", "LiCl": "train", "Li3N": "val", "LiBr": "test", "NaCl": "train"}
    v1 = build_bvel13k(small_set, tmp_path / "a", splits=splits, workers=2, progress=False, **settings)
    v2 = build_bvel13k(small_set, tmp_path / "b", splits=splits, workers=1, progress=False, **settings)
    assert _shard_hashes(v1) == _shard_hashes(v2) and len(_shard_hashes(v1)) == 3
    failures = (v1 / "failures.csv").read_text().splitlines()
    assert failures[0] == "material_id,reason,message" and failures[1].startswith("NaCl,no_mobile_ion,")
    import pyarrow as pa

    with pa.ipc.open_stream(next(v1.glob("*-train-*.arrow"))) as reader:
        table = reader.read_all()
    assert table.column("material_id").to_pylist() == ["LiF", "LiCl"]
    assert table.column("chemsys").to_pylist() == ["F-Li", "Cl-Li"]
    from litraj_data.leaderboard.reference.bvse import bvse_barriers

    ref = bvse_barriers(small_set[0][1], **settings)
    assert table.column("E_3D").to_pylist()[0] == pytest.approx(ref.E_3D)
    manifest = json.loads((v1 / "manifest.json").read_text())
    assert manifest["sources"]["structures"].startswith("sha256:")


def test_builder_default_split_rule(tmp_path, small_set):
    pytest.importorskip("litraj_data.store.shards")
    v = build_bvel13k(small_set[:3], tmp_path / "o", progress=False, resolution=0.6, k=None)
    assert any(v.glob("*-train-*.arrow"))


def test_builder_via_cli_arguments(tmp_path, small_set):
    pytest.importorskip("litraj_data.store.shards")
    from litraj_data.builders import bvel13k

    folder = tmp_path / "in"
    folder.mkdir()
    for name, s in small_set[:3]:
        s.to(filename=str(folder / f"{name}.cif"))
    parser = argparse.ArgumentParser()
    bvel13k.add_arguments(parser)
    args = parser.parse_args(["--structures", str(folder), "--out", str(tmp_path / "o"), "--resolution", "0.6"])
    assert args.k == 200  # paper settings by default
    assert bvel13k.run(args) == 0
    assert (tmp_path / "o" / "BVEL13k").is_dir()


def test_bvel_cli_json(tmp_path, capsys, small_set):
    from litraj_data.leaderboard.reference.bvse.cli import register

    for name, s in small_set[:2] + small_set[3:4]:
        s.to(filename=str(tmp_path / f"{name}.cif"))
    (tmp_path / "broken.cif").write_text("not a cif")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bvel", str(tmp_path), "--resolution", "0.5", "--json"])
    assert args.func(args) == 0
    doc = json.loads(capsys.readouterr().out)
    recs = {Path(r["file"]).stem: r for r in doc["records"]}
    assert recs["LiF"]["ok"] and 0 < recs["LiF"]["E_1D"] <= recs["LiF"]["E_3D"]
    assert recs["NaCl"]["reason"] == "no_mobile_ion"
    assert recs["broken"]["reason"] == "read_error"
    args = parser.parse_args(["bvel", str(tmp_path / "LiF.cif"), "--resolution", "0.5"])
    assert args.func(args) == 0
    assert "LiF" in capsys.readouterr().out


def test_stored_values_normalise_float_noise():
    from litraj_data.builders.structure_builds import ENERGY_DECIMALS, LENGTH_DECIMALS, stored

    assert stored(0.6714158051094047, ENERGY_DECIMALS) == stored(0.6714158051094055, ENERGY_DECIMALS)
    zero = stored(np.array([-1e-17, 1e-17]), LENGTH_DECIMALS)
    assert zero.tobytes() == np.zeros(2).tobytes()  # no -0.0: the bytes match, not only the values
    assert stored(float("inf"), ENERGY_DECIMALS) == float("inf")


def test_rebuild_with_last_digit_noise_gives_the_same_shards(tmp_path):
    """What another BLAS build does to the inputs (last-digit noise) does not reach the stored bytes."""
    from litraj_data.store.manifest import read_manifest

    base = li3n()
    noisy = base.copy()
    for i in range(len(noisy)):  # 1e-13 A: float64 noise of a matrix product on another machine
        noisy.translate_sites([i], [1e-13 * (i + 1), -1e-13, 0.0], frac_coords=False, to_unit_cell=False)
    hashes = []
    for k, s in enumerate((base, noisy)):
        folder = build_bvel13k([("li3n", s)], tmp_path / f"out{k}", splits={"li3n": "train"}, progress=False,
                               resolution=0.3, k=30)
        hashes.append([f["sha256"] for f in read_manifest(folder).files()])
    assert hashes[0] == hashes[1]


def test_an_edited_structure_is_computed_again_on_resume(tmp_path):
    """The checkpoint is keyed by content, not only by id and settings."""
    stage, out = tmp_path / "stage", tmp_path / "out"
    first = build_bvel13k([("LiF", rocksalt(4.03))], out, splits={"LiF": "train"}, staging=stage, progress=False,
                          resolution=0.3, k=30)
    rec1 = load_checkpoint(stage)["LiF"]
    build_bvel13k([("LiF", rocksalt(4.40))], out, splits={"LiF": "train"}, staging=stage, progress=False,
                  resolution=0.3, k=30, overwrite=True)
    rec2 = load_checkpoint(stage)["LiF"]
    assert rec1["input"] != rec2["input"] and rec1["result"] != rec2["result"]
    assert first.exists()


def test_one_bad_input_file_does_not_abort_a_structure_build(tmp_path):
    """Unreadable and disordered inputs become failures.csv rows; the rest is built."""
    import csv

    from litraj_data.cli import main

    inputs = tmp_path / "in"
    inputs.mkdir()
    rocksalt(4.03).to(filename=str(inputs / "LiF.cif"))
    disordered = rocksalt(4.03)
    disordered.replace_species({"F": {"F": 0.5, "Cl": 0.5}})
    disordered.to(filename=str(inputs / "LiFCl.cif"))
    (inputs / "broken.cif").write_text("data_x\n_cell_length_a 4\nloop_\n_atom_site_label\nLi\n")
    (inputs / "=HYPERLINK(1).cif").write_text("not a cif")
    code = main(["build", "BVEL13k", "--structures", str(inputs), "--out", str(tmp_path / "out"), "--resolution",
                 "0.3", "--k", "30", "--json"])
    assert code == 0
    version = tmp_path / "out" / "BVEL13k" / "1.0.0"
    with open(version / "failures.csv", newline="") as fh:
        rows = {r["material_id"]: r for r in csv.DictReader(fh)}
    assert rows["LiFCl"]["reason"] == "disordered"
    assert rows["broken"]["reason"] == "read_error"
    assert rows["'=HYPERLINK(1)"]["reason"] == "read_error"  # a formula-looking cell is text in a spreadsheet
    from litraj_data.store.manifest import read_manifest

    man = read_manifest(version)
    assert sum(man.num_rows(s) for s in man.splits) == 1  # LiF built
