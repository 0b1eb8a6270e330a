"""Readers of raw NEB runs: a real VASP NEB (../shared), ASE's VASP test data, and
authors'-layout runs generated with the BVSE calculator through ASE's NEB."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from fixtures_raw.make_raw_runs import cached_raw_runs

from litraj_data.builders.raw_runs import find_runs, read_hop, scan_runs
from litraj_data.builders.raw_runs.convergence import max_atom_force
from litraj_data.builders.raw_runs.files import read_frames
from litraj_data.errors import DataFormatError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SPINEL = SHARED / "fixtures" / "vasp_neb" / "AlCo2S4_Al_spinel"
ASE_VASP = Path(ase.__file__).parent / "test" / "testdata" / "vasp"

# PROVENANCE.md: E - E00 per image, max |TOTAL-FORCE| and max |CHAIN + TOTAL|
SPINEL_DE = [0.0, 0.2869, 0.6817, 0.6303, 0.3703, 0.2809]
SPINEL_RAW_F = [0.0063, 1.1656, 0.3220, 0.5140, 0.6216, 0.0062]


@pytest.fixture(scope="session")
def raw_runs(tmp_path_factory) -> Path:
    return cached_raw_runs(tmp_path_factory.getbasetemp())


@pytest.fixture()
def spinel(tmp_path) -> Path:
    if not SPINEL.is_dir():
        pytest.skip("the optional real VASP NEB fixture (shared fixture folder, vasp_neb) is absent")
    dst = tmp_path / "AlCo2S4_Al_spinel"
    shutil.copytree(SPINEL, dst)
    return dst


def _reason(fn, *args, **kw) -> str:
    with pytest.raises(DataFormatError) as info:
        fn(*args, **kw)
    return info.value.reason


# ----------------------------------------------------------------- native VASP NEB (real)


def test_spinel_energies_barrier_and_convergence():
    if not SPINEL.is_dir():
        pytest.skip("the optional real VASP NEB fixture (shared fixture folder, vasp_neb) is absent")
    run = read_hop(SPINEL)
    assert run.layout == "vasp" and run.hop_id == "AlCo2S4_Al_spinel"
    de = run.final.energies - run.final.energies[0]
    np.testing.assert_allclose(de, SPINEL_DE, atol=1e-4)
    assert run.final.energies[0] == pytest.approx(-300.272491, abs=1e-5)
    assert run.em == pytest.approx(0.6817, abs=1e-4)
    # raw OUTCAR forces are large on converged images (quirk 2) ...
    raw = [max_atom_force(f) for f in run.final.forces]
    np.testing.assert_allclose(raw, SPINEL_RAW_F, atol=1e-3)
    # ... the perpendicular force is below |EDIFFG| = 0.05 and matches VASP's chain force on image 1
    conv = run.convergence
    assert conv.fmax == pytest.approx(0.05)
    assert conv.converged is True
    assert conv.per_image[0] == pytest.approx(0.0469, abs=2e-3)
    assert max(conv.per_image) < 0.05
    assert read_hop(SPINEL, fmax=0.02).converged is False


def test_spinel_bands_and_configs():
    if not SPINEL.is_dir():
        pytest.skip("the optional real VASP NEB fixture (shared fixture folder, vasp_neb) is absent")
    run = read_hop(SPINEL)
    assert run.initial.n_images == run.final.n_images == 6
    # end points enter relaxed (OUTCAR last step), not the unrelaxed 00/POSCAR
    np.testing.assert_allclose(run.initial.positions[0], run.final.positions[0])
    poscar = ase.io.read(SPINEL / "00" / "POSCAR", format="vasp")
    assert np.abs(poscar.positions - run.final.positions[0]).max() > 1e-3
    # the moving Al (index 6) travels ~2.05 Å
    assert np.linalg.norm(run.final.positions[-1][6] - run.final.positions[0][6]) == pytest.approx(2.05, abs=0.02)
    configs = list(run.iter_configs())
    assert len(configs) == 11 + 4 * 7 + 15
    kinds = [c.kind for c in configs]
    assert kinds.count("source") == 11 and kinds.count("target") == 15 and kinds.count("band") == 28
    assert all(c.stress is not None and c.stress.shape == (6,) for c in configs)
    assert all(c.forces.shape == (55, 3) for c in configs)
    last_band = [c for c in configs if c.kind == "band" and c.step == 6]
    np.testing.assert_allclose([c.energy for c in last_band], run.final.energies[1:5])


def test_spinel_end_point_without_outputs(spinel):
    (spinel / "00" / "OUTCAR.gz").unlink()
    run = read_hop(spinel)
    assert run.final.energies is None        # the band has no energy for image 00 ...
    assert run.em is None
    assert run.converged is True             # ... but the bisection tangent needs none
    np.testing.assert_allclose(run.final.positions[0], ase.io.read(spinel / "00" / "CONTCAR").positions)
    assert sum(1 for _ in run.iter_configs()) == 4 * 7 + 15


def test_spinel_truncated_outcar(spinel):
    text = gzip.decompress((spinel / "02" / "OUTCAR.gz").read_bytes())
    (spinel / "02" / "OUTCAR.gz").unlink()
    (spinel / "02" / "OUTCAR").write_bytes(text[: len(text) // 2])
    assert _reason(read_hop, spinel) == "truncated"


def test_spinel_truncated_gzip(spinel):
    data = (spinel / "03" / "OUTCAR.gz").read_bytes()
    (spinel / "03" / "OUTCAR.gz").write_bytes(data[: len(data) - 4000])
    assert _reason(read_hop, spinel) == "truncated"


def test_spinel_missing_image(spinel):
    shutil.rmtree(spinel / "03")
    assert _reason(read_hop, spinel) == "missing_image"


def test_spinel_moving_image_without_outputs(spinel):
    (spinel / "02" / "OUTCAR.gz").unlink()
    assert _reason(read_hop, spinel) == "missing_energy"


def test_spinel_differing_atom_counts(spinel):
    if not (ASE_VASP / "OUTCAR_example_1").is_file():
        pytest.skip("ASE test data not installed")
    (spinel / "04" / "OUTCAR.gz").unlink()
    shutil.copyfile(ASE_VASP / "OUTCAR_example_1", spinel / "04" / "OUTCAR")  # a real 18-atom OUTCAR
    assert _reason(read_hop, spinel) == "atom_count_mismatch"


# ----------------------------------------------------------------- ASE's own VASP test files


@pytest.mark.skipif(not ASE_VASP.is_dir(), reason="ASE test data not installed")
def test_ase_testdata_complete_and_partial_files():
    frames = read_frames(ASE_VASP / "OUTCAR_example_1")
    assert len(frames) == 1 and frames[0].get_potential_energy() == pytest.approx(-68.23102426)
    xml = read_frames(ASE_VASP / "vasprun_pstress.xml")
    assert xml[-1].calc.results["stress"].shape == (6,)
    # the convergence_* files are OUTCAR fragments without the timing footer
    for name in ("convergence_OUTCAR_y_y", "convergence_OUTCAR_n_y"):
        assert _reason(read_frames, ASE_VASP / name) == "truncated"


def test_truncated_vasprun(tmp_path):
    if not (ASE_VASP / "vasprun_pstress.xml").is_file():
        pytest.skip("ASE test data not installed")
    text = (ASE_VASP / "vasprun_pstress.xml").read_bytes()
    (tmp_path / "vasprun.xml").write_bytes(text[: int(len(text) * 0.7)])
    assert _reason(read_frames, tmp_path / "vasprun.xml") == "truncated"


# ----------------------------------------------------------------- authors' layout (generated)


def test_authors_runs_read(raw_runs):
    runs = {r.hop_id: r for r in scan_runs(raw_runs)}
    assert set(runs) == {"mp-1960_0_3_0_0_0", "mp-1960_1_2_0_0_0", "mp-19017_2_3_0_0_0"}
    for hop_id, run in runs.items():
        assert run.layout == "authors" and run.finished
        assert run.material_id == hop_id.split("_")[0]
        assert run.final.n_images == run.initial.n_images == 5
        assert np.all(np.isfinite(run.final.energies))
        # the last band step is the final band
        last = ase.io.read(run.path / f"band_optim_step_{run.n_band_steps - 1}.traj", index=":")
        np.testing.assert_allclose(np.stack([a.positions for a in last]), run.final.positions, atol=1e-8)
        # our NEB force is what FIRE logged at its last step
        logged = float((run.path / "neb.log").read_text().split()[-1])
        assert max(run.convergence.per_image) == pytest.approx(logged, abs=1e-5)
        assert run.converged == run.convergence.marker == (run.path / "CONVERGED").exists()
    assert runs["mp-1960_0_3_0_0_0"].converged is True
    assert runs["mp-19017_2_3_0_0_0"].converged is False


def test_authors_configs(raw_runs):
    run = read_hop(raw_runs / "mp-1960_0_3_0_0_0.neb")
    configs = list(run.iter_configs())
    n_src = len(ase.io.read(run.path / "source.xyz", index=":", format="traj"))
    n_tgt = len(ase.io.read(run.path / "target.xyz", index=":", format="traj"))
    assert len(configs) == n_src + n_tgt + run.n_band_steps * 5
    band = [c for c in configs if c.kind == "band"]
    assert {c.step for c in band} == set(range(run.n_band_steps))
    assert all(c.forces.shape == (11, 3) and np.isfinite(c.energy) for c in configs)
    assert all(c.stress is None for c in configs)  # the BVSE calculator gives no stress
    # framework fixed: only Li feel a force
    li = configs[0].numbers == 3
    assert all(np.abs(c.forces[~li]).max() == 0 for c in configs)


@pytest.fixture()
def one_run(raw_runs, tmp_path) -> Path:
    dst = tmp_path / "raw" / "mp-1960_0_3_0_0_0.neb"
    shutil.copytree(raw_runs / "mp-1960_0_3_0_0_0.neb", dst)
    return dst


def test_authors_not_finished(one_run):
    (one_run / "FINISHED").unlink()
    (one_run / "RUNNING").write_bytes(b"")
    assert _reason(read_hop, one_run) == "not_finished"
    assert read_hop(one_run, require_finished=False).finished is False


def test_authors_truncated_band_step(one_run):
    p = one_run / "band_optim_step_2.traj"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    run = read_hop(one_run)  # bands come from other files ...
    with pytest.raises(DataFormatError) as info:  # ... the configurations hit the cut file
        list(run.iter_configs())
    assert info.value.reason in ("truncated", "read_error")


def test_authors_truncated_final_band(one_run):
    p = one_run / "traj_final.xyz"
    text = p.read_text()
    p.write_text(text[: len(text) * 2 // 3])
    assert _reason(read_hop, one_run) in ("truncated", "image_count_mismatch")


def test_authors_nan_energy(one_run):
    images = ase.io.read(one_run / "traj_final.xyz", index=":")
    for i, a in enumerate(images):
        e = float("nan") if i == 2 else a.get_potential_energy()
        a.calc = SinglePointCalculator(a, energy=e, forces=a.get_forces())
    ase.io.write(one_run / "traj_final.xyz", images, format="extxyz")
    assert _reason(read_hop, one_run) == "nan_energy"


def test_authors_atom_count_mismatch(one_run):
    frames = ase.io.read(one_run / "source.xyz", index=":", format="traj")
    ase.io.write(one_run / "source.xyz", [a[:-1] for a in frames], format="traj")
    assert _reason(read_hop, one_run) == "atom_count_mismatch"


def test_authors_missing_image_folder(one_run):
    shutil.rmtree(one_run / "03")
    assert _reason(read_hop, one_run) == "missing_image"


def test_duplicate_hop_ids(raw_runs, tmp_path):
    root = tmp_path / "raw"
    shutil.copytree(raw_runs / "mp-1960_0_3_0_0_0.neb", root / "a" / "mp-1960_0_3_0_0_0.neb")
    shutil.copytree(raw_runs / "mp-1960_0_3_0_0_0.neb", root / "b" / "mp-1960_0_3_0_0_0.neb")
    shutil.copytree(raw_runs / "mp-1960_1_2_0_0_0.neb", root / "b" / "mp-1960_1_2_0_0_0.neb")
    runs, failures = find_runs(root)
    assert [h for h, _ in runs] == ["mp-1960_1_2_0_0_0"]
    assert len(failures) == 2 and {f.reason for f in failures} == {"duplicate_hop_id"}


def test_unknown_layout(tmp_path):
    (tmp_path / "x").mkdir()
    assert _reason(read_hop, tmp_path / "x") == "unknown_layout"


@pytest.mark.parametrize("text, fmax", [
    ("EDIFFG = -0.05\n", 0.05),
    ("ISIF = 2; EDIFFG = -1.0D-2 ! Fortran exponent\n", 0.01),
    ("EDIFFG = 1e-4\n", None),  # an energy criterion: no force threshold
    ("# EDIFFG = -0.1\nIBRION = 3\n", None),  # commented out
    ("ediffg = -0.03 # first\nEDIFFG=-0.02\n", 0.02),  # the last assignment wins
    ("EDIFFG = abc\n", None),
])
def test_incar_force_criterion(tmp_path, text, fmax):
    from litraj_data.builders.raw_runs.vasp_neb import incar_fmax

    (tmp_path / "INCAR").write_text(text)
    assert incar_fmax(tmp_path) == (pytest.approx(fmax) if fmax is not None else None)
