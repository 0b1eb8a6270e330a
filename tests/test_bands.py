"""The one Band and the one band check (raw DFT runs, submissions and the NEB harness share them)."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from litraj_data.bands import Band, band_from_frames, check_band
from litraj_data.errors import DataFormatError


def frames(n_images: int = 5, energies=None) -> list[Atoms]:
    out = []
    for k in range(n_images):
        a = Atoms("Li2O", positions=[[0, 0, 0], [1.5 + 0.1 * k, 0, 0], [0, 1.6, 0]], cell=np.eye(3) * 5, pbc=True)
        if energies is not None:
            a.calc = SinglePointCalculator(a, energy=energies[k], forces=np.zeros((3, 3)))
        out.append(a)
    return out


def reason(band, **kw) -> str:
    with pytest.raises(DataFormatError) as exc:
        check_band(band, "hop", **kw)
    assert str(exc.value).startswith("hop")  # every message names where
    return exc.value.reason


def test_band_from_frames_and_barrier():
    band = band_from_frames(frames(energies=[0.0, 0.2, 0.5, 0.1, 0.05]), "hop", min_images=3)
    assert isinstance(band, Band) and band.n_images == 5 and band.n_atoms == 3
    assert band.barrier == pytest.approx(0.5) and band.forces.shape == (5, 3, 3)
    assert [a.get_potential_energy() for a in band.to_atoms()] == pytest.approx([0.0, 0.2, 0.5, 0.1, 0.05])
    assert band_from_frames(frames(), "hop").energies is None and band_from_frames(frames(), "hop").barrier is None


def test_every_reason():
    assert reason(frames(2)) == "too_few_images"
    short = frames()
    short[2] = short[2][:2]
    assert reason(short) == "atom_count_mismatch"
    swapped = frames()
    swapped[3].numbers = swapped[3].numbers[[2, 1, 0]]
    assert reason(swapped) == "species_mismatch"
    stretched = frames()
    stretched[1].set_cell(np.eye(3) * 5.1)
    assert reason(stretched) == "cell_mismatch"
    check_band(stretched, "hop", same_cell=False)  # raw DFT readers do not compare cells
    nan = frames()
    nan[2].positions[0, 0] = np.nan
    assert reason(nan) == "nan_positions"
    assert reason(frames(energies=[0, 1, np.nan, 1, 0])) == "nan_energy"
    half = frames(energies=[0, 1, 2, 1, 0])
    half[4].calc = None
    assert reason(half, energies="required") == "missing_energy"
    check_band(half, "hop")  # energies optional: a missing one is fine ...
    assert band_from_frames(half, "hop").energies is None  # ... and the band then has none
    dummy = frames()
    for a in dummy:
        a.numbers[2] = 0
    assert reason(dummy) == "dummy_atoms"
    check_band(dummy, "hop", allow_dummy=True)


def test_band_arrays_against_a_reference():
    band = band_from_frames(frames(energies=[0, 1, 2, 1, 0]), "hop")
    ref = band.numbers.copy()
    check_band(band, "hop", numbers=ref, n_images=5, energies="required")
    assert reason(band, numbers=ref[:2]) == "atom_count_mismatch"
    assert reason(band, numbers=ref[[2, 1, 0]]) == "species_mismatch"
    assert reason(band, n_images=7) == "image_count_mismatch"
    odd = Band(positions=band.positions, energies=np.zeros(4), numbers=ref)
    assert reason(odd) == "image_count_mismatch"
    bad_forces = Band(positions=band.positions, numbers=ref, forces=np.full((5, 3, 3), np.nan))
    assert reason(bad_forces) == "nan_forces"
    check_band(bad_forces, "hop", finite=False)


def test_declared_convergence_reads_text_flags():
    fr = frames()
    for a in fr:
        a.info["converged"] = "F"  # how some tools write a boolean to extxyz
    assert band_from_frames(fr, "hop").converged is False
    fr[0].info["converged"] = True
    assert band_from_frames(fr, "hop").converged is False
    assert band_from_frames(frames(), "hop").converged is None


def test_one_band_class_everywhere():
    from litraj_data.builders.raw_runs import Band as RawBand
    from litraj_data.leaderboard.reference.neb import check_band as neb_check_band
    from litraj_data.leaderboard.scoring import Band as SubmittedBand

    assert RawBand is Band and SubmittedBand is Band and neb_check_band is check_band
