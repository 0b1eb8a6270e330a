"""The one NEB band object and the one band check, shared by raw DFT runs, submissions and the harness.

A band is a list of images of one system: the same atoms in the same order, one cell. Raw
DFT runs (``builders/raw_runs``), submitted bands (``leaderboard/scoring``) and the NEB
harness's inputs (``leaderboard/reference/neb``) are all checked here, so one broken band gets one
reason wherever it is found:

========================  ======================================================
``too_few_images``        fewer than ``min_images`` images (two end points and a saddle)
``atom_count_mismatch``   an image has another number of atoms (or not the expected one)
``species_mismatch``      an image lists other elements, or another order
``cell_mismatch``         an image has another cell or pbc than image 0
``image_count_mismatch``  not the expected number of images, or energies of another length
``nan_positions``         non-finite positions
``missing_energy``        an image without an energy where energies are required
``nan_energy``            a non-finite energy
``nan_forces``            non-finite forces
``dummy_atoms``           atoms with Z = 0 (X), which no potential can evaluate
========================  ======================================================

Every problem raises :class:`litraj_data.errors.DataFormatError` with that ``reason``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from litraj_data.errors import DataFormatError

__all__ = ["Band", "check_band", "band_from_frames", "energy_of", "forces_of", "BAND_REASONS"]

BAND_REASONS = ("too_few_images", "atom_count_mismatch", "species_mismatch", "cell_mismatch",
                "image_count_mismatch", "nan_positions", "missing_energy", "nan_energy", "nan_forces",
                "dummy_atoms")

Energies = Literal["ignore", "optional", "required"]


@dataclass(kw_only=True)
class Band:
    """Images of one NEB band (keyword-only: raw runs and submissions fill different fields).

    Attributes
    ----------
    positions : ndarray (M, N, 3)
        Cartesian positions of the M images, Å.
    numbers : ndarray (N,), optional
        Atomic numbers (a submitted Parquet may leave them out).
    energies : ndarray (M,), optional
        Potential energy per image, eV; ``None`` unless every image has one.
    forces : ndarray (M, N, 3), optional
        Forces per image, eV/Å; ``None`` unless every image has them (native VASP end points
        are often copied in without forces).
    cell : ndarray (3, 3), optional
    pbc : ndarray (3,), optional
    converged : bool, optional
        What a submission declares about its optimisation (``None``: not said).
    extras : list of dict
        Plain per-image facts (``Atoms.info`` scalars of the frames).
    """

    positions: np.ndarray
    numbers: np.ndarray | None = None
    energies: np.ndarray | None = None
    forces: np.ndarray | None = None
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None
    converged: bool | None = None
    extras: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.positions.shape[1])

    @property
    def barrier(self) -> float | None:
        """max - min of the energy profile (the paper's barrier), ``None`` without energies."""
        if self.energies is None or np.size(self.energies) == 0:
            return None
        return float(np.max(self.energies) - np.min(self.energies))

    def to_atoms(self) -> list[Atoms]:
        """The images as ASE atoms (with single-point results where known)."""
        if self.numbers is None:
            raise DataFormatError("a band without atomic numbers cannot become Atoms", reason="bad_format")
        out = []
        for i in range(self.n_images):
            a = Atoms(numbers=self.numbers, positions=self.positions[i], cell=self.cell,
                      pbc=False if self.pbc is None else self.pbc)
            results: dict[str, Any] = {}
            if self.energies is not None:
                results["energy"] = float(self.energies[i])
            if self.forces is not None:
                results["forces"] = self.forces[i]
            if results:
                a.calc = SinglePointCalculator(a, **results)
            out.append(a)
        return out


def energy_of(atoms: Atoms) -> float | None:
    """Potential energy stored with a frame (calculator result, else ``info['energy']``), or ``None``."""
    calc = atoms.calc
    results = getattr(calc, "results", None) or {}
    if "energy" in results:
        return float(results["energy"])
    # a frame written without a calculator (a hand-made submission) may keep it in info
    for key in ("energy", "free_energy"):
        if key in atoms.info:
            return float(atoms.info[key])
    return None


def forces_of(atoms: Atoms) -> np.ndarray | None:
    """Raw (unconstrained) forces stored with a frame, or ``None``."""
    results = getattr(atoms.calc, "results", None) or {}
    if "forces" not in results:
        return None
    return np.asarray(results["forces"], dtype=float)


def _check_frames(frames: Sequence[Atoms], where: str, min_images: int, same_cell: bool,
                  energies: Energies, finite: bool) -> None:
    if len(frames) < min_images:
        raise DataFormatError(f"{where}: a band needs >= {min_images} images, got {len(frames)}",
                              reason="too_few_images")
    if not frames:
        return
    ref = frames[0]
    for k, img in enumerate(frames):
        if len(img) != len(ref):
            raise DataFormatError(f"{where}: image {k} has {len(img)} atoms, image 0 has {len(ref)}",
                                  reason="atom_count_mismatch")
        if not np.array_equal(img.numbers, ref.numbers):
            raise DataFormatError(f"{where}: image {k} lists other elements or order than image 0",
                                  reason="species_mismatch")
        if same_cell and (not np.allclose(img.cell.array, ref.cell.array, atol=1e-6)
                          or not np.array_equal(img.pbc, ref.pbc)):
            raise DataFormatError(f"{where}: image {k} has another cell or pbc than image 0", reason="cell_mismatch")
    if energies == "ignore":
        return
    for k, img in enumerate(frames):  # per image, so the message names the image
        e = energy_of(img)
        if e is None and energies == "required":
            raise DataFormatError(f"{where} image {k}: no energy", reason="missing_energy")
        if finite and e is not None and not np.isfinite(e):
            raise DataFormatError(f"{where} image {k}: energy is {e}", reason="nan_energy")


def _stack(frames: Sequence[Atoms]) -> Band:
    energies = [energy_of(a) for a in frames]
    forces = [forces_of(a) for a in frames]
    ref = frames[0]
    return Band(numbers=ref.numbers.copy(), pbc=ref.pbc.copy(), cell=ref.cell.array.copy(),
                positions=np.stack([a.positions for a in frames]).astype(float),
                energies=None if any(e is None for e in energies) else np.array(energies, dtype=float),
                forces=None if any(f is None for f in forces) else np.stack(forces))


def check_band(band: Band | Sequence[Atoms], where: str = "band", *, min_images: int = 3,
               energies: Energies = "optional", finite: bool = True, same_cell: bool = True,
               allow_dummy: bool = False, numbers: np.ndarray | None = None,
               n_images: int | None = None) -> None:
    """Raise :class:`DataFormatError` (``reason`` from :data:`BAND_REASONS`) unless ``band`` is one band.

    Parameters
    ----------
    band : Band or sequence of Atoms
        Stacked arrays, or frames (then each frame is checked against the first one).
    where : str
        Named at the start of every message (edge id, file).
    min_images : int
        Fewest images accepted (3: two end points and a saddle).
    energies : {"ignore", "optional", "required"}
        ``required``: every image has an energy; ``optional``: those present must be finite;
        ``ignore``: energies are not looked at.
    finite : bool
        Positions, energies and forces must be finite.
    same_cell : bool
        Frames must share cell and pbc (frames only: a :class:`Band` holds one cell).
    allow_dummy : bool
        Accept atoms with Z = 0 (no potential can evaluate them; no dataset holds them).
    numbers : array, optional
        Expected atomic numbers in order (a reference band): ``atom_count_mismatch`` /
        ``species_mismatch`` otherwise.
    n_images : int, optional
        Expected number of images: ``image_count_mismatch`` otherwise.
    """
    if not isinstance(band, Band):
        frames = list(band)
        _check_frames(frames, where, min_images, same_cell, energies, finite)
        if not frames:
            return
        band = _stack(frames)
        energies = "ignore" if energies == "optional" else energies  # per image already
    pos = np.asarray(band.positions)
    if pos.ndim != 3 or pos.shape[-1] != 3:
        raise DataFormatError(f"{where}: positions must be (images, atoms, 3), got {pos.shape}",
                              reason="atom_count_mismatch")
    if numbers is not None:
        numbers = np.asarray(numbers)
        if pos.shape[1] != numbers.size:
            raise DataFormatError(f"{where}: {pos.shape[1]} atoms, expected {numbers.size}",
                                  reason="atom_count_mismatch")
        if band.numbers is not None and not np.array_equal(np.asarray(band.numbers), numbers):
            raise DataFormatError(f"{where}: atoms listed in another order than the reference band",
                                  reason="species_mismatch")
    elif band.numbers is not None and np.size(band.numbers) != pos.shape[1]:
        raise DataFormatError(f"{where}: {np.size(band.numbers)} atomic numbers for {pos.shape[1]} atoms",
                              reason="atom_count_mismatch")
    if pos.shape[0] < min_images:
        raise DataFormatError(f"{where}: a band needs >= {min_images} images, got {pos.shape[0]}",
                              reason="too_few_images")
    e = None if band.energies is None else np.asarray(band.energies, dtype=float)
    if n_images is not None and pos.shape[0] != n_images:
        raise DataFormatError(f"{where}: {pos.shape[0]} images, expected {n_images}", reason="image_count_mismatch")
    if e is not None and energies != "ignore" and e.shape != (pos.shape[0],):
        raise DataFormatError(f"{where}: {e.size} energies for {pos.shape[0]} images", reason="image_count_mismatch")
    if finite and not np.isfinite(pos).all():
        raise DataFormatError(f"{where}: non-finite positions in the band", reason="nan_positions")
    if energies == "required" and e is None:
        raise DataFormatError(f"{where}: the band has no energies", reason="missing_energy")
    if finite and energies != "ignore" and e is not None and not np.isfinite(e).all():
        raise DataFormatError(f"{where}: non-finite image energy", reason="nan_energy")
    if finite and band.forces is not None and not np.isfinite(band.forces).all():
        raise DataFormatError(f"{where}: non-finite forces", reason="nan_forces")
    if not allow_dummy and band.numbers is not None and (np.asarray(band.numbers) == 0).any():
        raise DataFormatError(f"{where}: dummy atoms (X) cannot be evaluated by a potential", reason="dummy_atoms")


def band_from_frames(frames: Sequence[Atoms], where: str = "band", **checks: Any) -> Band:
    """A checked :class:`Band` stacked from frames (``checks``: options of :func:`check_band`).

    ``extras`` gets each frame's scalar ``info`` entries; ``converged`` is the AND of the
    frames' ``info['converged']`` where any frame says.
    """
    frames = list(frames)
    checks.setdefault("min_images", 1)
    check_band(frames, where, **checks)
    if not frames:
        raise DataFormatError(f"{where}: no images", reason="too_few_images")
    band = _stack(frames)
    band.extras = [{k: v for k, v in a.info.items() if isinstance(v, (int, float, str, bool))} for a in frames]
    said = [f.info["converged"] for f in frames if "converged" in f.info]
    band.converged = None if not said else all(_truthy(c) for c in said)
    return band


def _truthy(value: Any) -> bool:
    # extxyz written by other tools may carry booleans as text ("F", "False")
    if isinstance(value, str):
        return value.strip().lower() in ("t", "true", "1", "yes")
    return bool(value)
