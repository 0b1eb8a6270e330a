"""Checks and conversions shared by the two layout readers."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from litraj_data import bands
from litraj_data.bands import Band, check_band, energy_of, forces_of  # energy_of/forces_of: re-exported for the readers
from litraj_data.builders.raw_runs.files import TrajFrame
from litraj_data.builders.raw_runs.model import Config
from litraj_data.errors import DataFormatError

IMAGE_DIR_RE = re.compile(r"^\d{2,3}$")


def image_dirs(run: Path) -> list[Path]:
    """Image folders ``00``..``NN`` of a run, checked to be contiguous from 00.

    Raises
    ------
    DataFormatError
        ``missing_image`` when there are none, fewer than 3, or a number is skipped.
    """
    dirs = sorted((p for p in run.iterdir() if p.is_dir() and IMAGE_DIR_RE.match(p.name)), key=lambda p: int(p.name))
    if not dirs:
        raise DataFormatError(f"{run}: no image folders 00..NN", reason="missing_image")
    numbers = [int(p.name) for p in dirs]
    missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
    if missing:
        raise DataFormatError(f"{run}: image folder(s) {', '.join(f'{i:02d}' for i in missing)} missing",
                              reason="missing_image")
    if len(dirs) < 3:
        raise DataFormatError(f"{run}: {len(dirs)} image folders, a band needs at least 3", reason="missing_image")
    return dirs


def stress_of(atoms: Atoms) -> np.ndarray | None:
    """Stress in Voigt order (eV/Å³), or None."""
    calc = atoms.calc
    if calc is None or "stress" not in getattr(calc, "results", {}):
        return None
    s = np.asarray(calc.results["stress"], dtype=float)
    if s.shape == (3, 3):
        s = s[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    return s


def check_same_system(frames: list[Atoms], ref: Atoms, where: str) -> None:
    """Raise ``atom_count_mismatch`` / ``species_mismatch`` unless every frame matches ``ref``.

    The check is :func:`litraj_data.bands.check_band` (frames against each other, then
    against ``ref``), so raw runs, submissions and the harness name a broken band alike.
    """
    check_band(frames, where, min_images=0, energies="ignore", finite=False, same_cell=False, numbers=ref.numbers)


def check_same_numbers(numbers: np.ndarray, ref: Atoms, where: str) -> None:
    """:func:`check_same_system` for a frame given by its atomic numbers (a :class:`TrajFrame`).

    Same reasons and messages: the numbers go through :func:`~litraj_data.bands.check_band`
    as a one-image band; callers run it once per distinct ``numbers`` array (once per file
    when the file stores them once) instead of once per frame.
    """
    check_band(Band(numbers=numbers, pbc=np.zeros(3, bool), cell=np.zeros((3, 3)),
                    positions=np.zeros((1, numbers.size, 3))),
               where, min_images=0, energies="ignore", finite=False, numbers=ref.numbers)


def frame_to_atoms(frame: TrajFrame, *, results: bool = True) -> Atoms:
    """The :class:`~ase.Atoms` (with its ``SinglePointCalculator``) ``ase.io.Trajectory`` builds for a frame.

    ``results=False`` leaves the calculator off (geometry and constraints only: the NEB-force
    check attaches its own calculator, so building one here would be thrown away).
    """
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.constraints import dict2constraint
    from ase.io.jsonio import decode

    atoms = Atoms(numbers=frame.numbers, positions=frame.positions, cell=frame.cell, pbc=frame.pbc,
                  constraint=[dict2constraint(d) for d in decode(frame.constraints)])
    if results:
        atoms.calc = SinglePointCalculator(atoms, **frame.results)
    return atoms


def constrained_forces(frame: TrajFrame | Atoms) -> np.ndarray | None:
    """Forces with the frame's constraints applied (``Atoms.get_forces()``), or None without forces."""
    if isinstance(frame, Atoms):
        return frame.get_forces() if forces_of(frame) is not None else None
    if frame.constraints in ("[]", None):
        return frame.results["forces"]
    return frame_to_atoms(frame).get_forces()


def check_energy(value: float | None, where: str) -> float:
    """A finite energy or a ``missing_energy`` / ``nan_energy`` error."""
    if value is None:
        raise DataFormatError(f"{where}: no energy", reason="missing_energy")
    if not np.isfinite(value):
        raise DataFormatError(f"{where}: energy is {value}", reason="nan_energy")
    return float(value)


def to_config(atoms: Atoms | TrajFrame, kind: str, step: int, image: int, where: str) -> Config:
    """A checked :class:`Config` from a frame with single-point results."""
    if isinstance(atoms, TrajFrame):
        return _frame_to_config(atoms, kind, step, image, where)
    energy = check_energy(energy_of(atoms), where)
    forces = forces_of(atoms)
    if forces is None:
        raise DataFormatError(f"{where}: no forces", reason="missing_forces")
    if not np.all(np.isfinite(forces)):
        raise DataFormatError(f"{where}: non-finite forces", reason="nan_forces")
    stress = stress_of(atoms)
    extra: dict[str, Any] = {}
    free = atoms.calc.results.get("free_energy") if atoms.calc is not None else None
    if free is not None and float(free) != energy:
        extra["free_energy"] = float(free)
    return Config(numbers=atoms.numbers.copy(), positions=atoms.positions.copy(), cell=atoms.cell.array.copy(),
                  pbc=atoms.pbc.copy(), energy=energy, forces=forces, stress=stress, kind=kind, step=step,
                  image=image, extra=extra)


def band_from_frames(frames: list[Atoms], where: str, *, need_energies: bool) -> Band:
    """Stack frames (same species) into a checked :class:`Band` (see :func:`litraj_data.bands.band_from_frames`).

    Parameters
    ----------
    need_energies : bool
        Raise ``missing_energy`` / ``nan_energy`` if any image lacks a finite energy;
        otherwise a band with a missing energy gets ``energies=None`` (a present energy
        must still be finite).
    """
    # raw readers never compared cells (fixed-cell VASP NEB; files differ in cell precision)
    return bands.band_from_frames(frames, where, energies="required" if need_energies else "optional",
                                  same_cell=False, min_images=1)


def _frame_to_config(frame: TrajFrame, kind: str, step: int, image: int, where: str) -> Config:
    # the checks and conversions of to_config on an Atoms, applied to the arrays ASE would have put in it
    results = frame.results
    energy = check_energy(float(results["energy"]), where)
    forces = results["forces"]
    if not np.isfinite(forces).all():
        raise DataFormatError(f"{where}: non-finite forces", reason="nan_forces")
    stress = results.get("stress")
    if stress is not None and stress.shape == (3, 3):
        stress = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    extra: dict[str, Any] = {}
    free = results.get("free_energy")
    if free is not None and float(free) != energy:
        extra["free_energy"] = float(free)
    return Config(numbers=frame.numbers.copy(), positions=frame.positions, cell=frame.cell, pbc=frame.pbc.copy(),
                  energy=energy, forces=forces, stress=stress, kind=kind, step=step, image=image, extra=extra)
