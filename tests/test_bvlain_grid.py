"""`--grid bvlain`: the released BVEL13k values rebuilt on bvlain 0.25's grid with its bisection readout."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from litraj_data.errors import DataFormatError, StructureError
from litraj_data.leaderboard.reference.bvse import bvse_barriers
from litraj_data.leaderboard.reference.bvse.api import bvlain_bisection, bvlain_grid_shape, bvse_barriers_converged

MAX_VOLUME = 400.0  # the peer runs stay short; bigger cells are in the benchmark


def _sample(max_volume: float = MAX_VOLUME) -> list[tuple[str, object]]:
    from litraj_data.builders.sample_structures import load_sample_structures

    return [(e.material_id, e.structure) for e in load_sample_structures() if e.structure.volume <= max_volume]


def _small(name: str):
    return dict(_sample())[name]


def test_bisection_readout_brackets_the_exact_level():
    rng = np.random.default_rng(0)
    for level in np.concatenate([rng.uniform(0, 9.9, 200), [0.0, 5.0, 2.5, 1e-9]]):
        got = bvlain_bisection(float(level))
        assert level < got <= level + 10.0 / 2**10 + 5e-5, level   # the upper end, rounded to 1e-4
        assert got == round(got, 4)
    assert bvlain_bisection(5.0) > 5.0  # a probe equal to the level does not percolate (strict <)
    assert bvlain_bisection(float("inf")) == float("inf")
    assert bvlain_bisection(9.999) == float("inf")  # above the last probe below encut: bvlain says inf
    assert bvlain_bisection(1.0, encut=2.0) <= 1.0 + 2.0 / 2**8


def test_bvlain_grid_is_its_distinct_points():
    s = _small("sample-LiCoO2-166")
    r = bvse_barriers(s, k=200, grid="bvlain")
    n = [int(x // 0.2) for x in s.lattice.abc]            # bvlain: linspace(0, 1, int(a // h)) per axis
    assert r.shape == tuple(i - 1 for i in n) == bvlain_grid_shape(s.lattice.matrix, 0.2)
    assert r.grid == "bvlain" and set(r.exact) == {"E_1D", "E_2D", "E_3D"}
    for name in ("E_1D", "E_2D", "E_3D"):
        assert getattr(r, name) == bvlain_bisection(r.exact[name])
    periodic = bvse_barriers(s, k=200)
    assert periodic.grid == "periodic" and periodic.exact is None and periodic.shape != r.shape
    # LiCoO2's short in-plane axis: the two grids differ by more than the bisection (docs/bvse.md)
    assert abs(periodic.E_1D - r.exact["E_1D"]) > 0.02


def test_bad_grid_options_are_named():
    s = _small("sample-LiF-225")
    with pytest.raises(DataFormatError) as err:
        bvse_barriers(s, grid="linspace")
    assert err.value.reason == "bad_option"
    with pytest.raises(DataFormatError) as err:
        bvse_barriers(s, grid="bvlain", shape=(10, 10, 10))
    assert err.value.reason == "bad_option"
    with pytest.raises(DataFormatError) as err:
        bvse_barriers_converged(s, 0.01, grid="bvlain")
    assert err.value.reason == "bad_option"


@pytest.mark.peers
def test_reproduces_bvlain_on_the_sample():
    """Every sample barrier bvlain computes, within its 0.01 eV bisection (measured: all 60 identical)."""
    bvlain = pytest.importorskip("bvlain")
    compared = identical = 0
    for name, s in _sample():
        calc = bvlain.Lain(verbose=False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                calc.read_structure(s.copy())
                calc.bvse_distribution(mobile_ion="Li1+", r_cut=10.0, resolution=0.2, k=200)
                e = calc.percolation_barriers(encut=10.0)
            theirs = np.array([float(e[k]) for k in ("E_1D", "E_2D", "E_3D")])
        except (ValueError, KeyError, TypeError):  # bvlain's own failures (no softBV pair for a state)
            theirs = None
        try:
            r = bvse_barriers(s, k=200, grid="bvlain")
            ours = np.array([r.E_1D, r.E_2D, r.E_3D])
        except StructureError:
            ours = None
        assert (theirs is None) == (ours is None), name  # the same structures fail in both
        if ours is None:
            continue
        assert np.array_equal(np.isfinite(theirs), np.isfinite(ours)), (name, theirs, ours)
        fin = np.isfinite(ours)
        assert np.all(np.abs(theirs[fin] - ours[fin]) <= 0.01), (name, theirs, ours)
        compared += 3
        identical += int(np.sum(np.abs(theirs[fin] - ours[fin]) < 1e-9) + np.sum(~fin))
    assert compared >= 30
    assert identical >= 0.9 * compared, (identical, compared)


def test_bvel_command_takes_grid(tmp_path, capsys):
    from litraj_data.cli import main

    path = tmp_path / "LiF.json"
    path.write_text(_small("sample-LiF-225").to_json())
    assert main(["bvel", str(path), "--grid", "bvlain", "--k", "200", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)["records"][0]
    assert rec["ok"] and rec["grid"] == "bvlain" and rec["E_1D"] == pytest.approx(0.5371, abs=1e-9)
    assert rec["exact"]["E_1D"] < rec["E_1D"] <= rec["exact"]["E_1D"] + 0.01
    assert main(["bvel", str(path), "--grid", "bvlain", "--converge", "0.01", "--json"]) == 1
    rec = json.loads(capsys.readouterr().out)["records"][0]
    assert rec["ok"] is False and rec["reason"] == "bad_option"


def test_build_records_the_grid_in_manifest_and_fingerprint(tmp_path):
    from litraj_data.builders.bvel13k import build_bvel13k
    from litraj_data.loaders import load_litraj

    structures = [(n, _small(n)) for n in ("sample-LiF-225", "sample-Li2O-225", "sample-LiCl-225")]
    splits = {"sample-LiF-225": "train", "sample-Li2O-225": "val", "sample-LiCl-225": "test"}
    built = {}
    for grid in ("periodic", "bvlain"):
        folder = build_bvel13k(structures, tmp_path / grid, splits=splits, progress=False, grid=grid)
        built[grid] = json.loads((folder / "manifest.json").read_text())
    assert built["periodic"]["sources"]["bvse_grid"] == "periodic"
    assert built["bvlain"]["sources"]["bvse_grid"] == "bvlain"
    assert "grid=bvlain" in built["bvlain"]["sources"]["calculator"]
    assert any("bvlain 0.25's grid" in n for n in built["bvlain"]["notes"])
    # the grid is part of what identifies a build: the same version folder is not reused across grids
    again = build_bvel13k(structures, tmp_path / "periodic", splits=splits, progress=False, grid="periodic")
    assert json.loads((again / "manifest.json").read_text())["created"] == built["periodic"]["created"]
    with pytest.raises(FileExistsError, match="other sources"):
        build_bvel13k(structures, tmp_path / "periodic", splits=splits, progress=False, grid="bvlain")
    # the stored values are the bvlain-mode barriers
    ds = load_litraj("BVEL13k", split="train", source=str(tmp_path / "bvlain"))
    assert ds[0]["E_1D"] == pytest.approx(bvse_barriers(_small("sample-LiF-225"), k=200, grid="bvlain").E_1D)
    with pytest.raises(DataFormatError):
        build_bvel13k(structures, tmp_path / "bad", splits=splits, progress=False, grid="linspace")
    assert not (tmp_path / "bad" / "BVEL13k").exists()
