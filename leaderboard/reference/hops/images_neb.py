"""BVSE-NEB of a hop given as supercell images (a nebDFT2k band): BVSE as a fixed-framework potential.

The paper's Table 4 benchmarks BVSE-NEB on the nebDFT2k hops next to the uMLIPs, as "a
universal pair potential with a fixed framework". Here a hop arrives as the row's initial band
(supercell images: the moving Li at its place on the path, the target site already empty),
not as a crystal and an edge; this module finds the moving ion, rebuilds the framework's
softBV parameters and runs the same band NEB as the nebBVSE122k reference
(:func:`~.bvse_band_neb.run_neb`, with the same static field as :func:`~.api.bvse_neb`):
only the moving Li moves, every other atom stays where the band has it.

Charges are assigned on the stoichiometric supercell (the first image plus a Li on the
target site, the moving ion's last position), as :func:`~.api.bvse_neb` assigns them on the
crystal, then the added Li is dropped again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from ase import Atoms

from litraj_data.errors import StructureError
from litraj_data.leaderboard.reference.hops.api import MOBILE_Z, HopSystem, _HopField
from litraj_data.leaderboard.reference.hops.bvse_band_neb import PROTOCOLS, NEBResult, NEBSettings, run_neb
from litraj_data.leaderboard.reference.hops.energy import DEFAULT_CUTOFF, FrameworkField, gather_field

#: the moving ion must move this much (A) between the end points; below it no atom is "the" mover
MIN_HOP = 0.5


@dataclass
class ImagesNEB:
    """BVSE-NEB of one supercell band.

    Attributes
    ----------
    result : NEBResult
        The optimised band of the moving ion (``positions`` unwrapped along the path,
        ``energies`` absolute BVSE energies).
    mover : int
        Index of the moving Li in the images.
    frames : list of Atoms
        The input images with the moving ion at its optimised positions (every other atom as
        given) and a single-point calculator: energy (eV) and forces (the moving ion's BVSE
        force; zero on the fixed framework).
    """

    result: NEBResult
    mover: int
    frames: list[Atoms]


def moving_ion(images: Sequence[Atoms]) -> int:
    """Index of the moving Li: the Li displaced most (minimum image) from the first to the last image.

    Raises
    ------
    StructureError
        ``bad_band``: fewer than 3 images, images of different atoms, or no Li moving by at
        least :data:`MIN_HOP`.
    """
    if len(images) < 3:
        raise StructureError(f"a band needs at least 3 images, got {len(images)}", reason="bad_band")
    first, last = images[0], images[-1]
    if len(first) != len(last) or not np.array_equal(first.numbers, last.numbers):
        raise StructureError("the end images hold different atoms", reason="bad_band")
    cell = first.cell.array
    d = np.linalg.solve(cell.T, (last.positions - first.positions).T).T
    d -= np.round(d)
    disp = np.linalg.norm(d @ cell, axis=1)
    disp[first.numbers != MOBILE_Z] = -1.0
    k = int(np.argmax(disp))
    if disp[k] < MIN_HOP:
        raise StructureError(f"no Li moves by {MIN_HOP} A or more between the end images", reason="bad_band")
    return k


def _unwrapped_path(images: Sequence[Atoms], k: int) -> np.ndarray:
    # consecutive minimum-image steps: a wrapped band (the ion crossing the cell face) stays a path
    cell = images[0].cell.array
    x = np.array([img.positions[k] for img in images], float)
    for i in range(1, len(x)):
        d = np.linalg.solve(cell.T, x[i] - x[i - 1])
        x[i] = x[i - 1] + (d - np.round(d)) @ cell
    return x


def bvse_images_neb(images: Sequence[Atoms], protocol: str | NEBSettings = "paper",
                    cutoff: float = DEFAULT_CUTOFF) -> ImagesNEB:
    """Optimise a supercell band with BVSE, framework fixed.

    Parameters
    ----------
    images : sequence of Atoms
        The band, end points included (a nebDFT2k ``init`` band); same atoms in every image.
    protocol : {"paper", "ions-legacy"} or NEBSettings
        NEB settings (only ``k``, ``climb``, ``fmax`` and ``steps`` apply: the framework is the
        given one, never displaced).
    cutoff : float
        BVSE interaction cutoff (A).

    Returns
    -------
    ImagesNEB

    Raises
    ------
    StructureError
        ``bad_band`` (see :func:`moving_ion`), ``oxidation_states`` / ``missing_parameters``
        (BVSE cannot describe the framework), ``overlapping_atoms`` / ``nan_energy`` (the
        path runs into an atom).
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    s = protocol if isinstance(protocol, NEBSettings) else PROTOCOLS[protocol]
    k = moving_ion(images)
    path = _unwrapped_path(images, k)
    first = images[0]
    cell = first.cell.array
    # the stoichiometric supercell: the first image plus a Li on the (empty) target site
    full = Atoms(numbers=np.append(first.numbers, MOBILE_Z), positions=np.vstack([first.positions, path[-1]]),
                 cell=cell, pbc=True)
    if "oxi_states" in first.arrays:
        q = np.asarray(first.arrays["oxi_states"], float)
        full.set_array("oxi_states", np.append(q, q[k]))
    system = HopSystem.from_structure(full, "band")
    keep = np.ones(len(full), bool)
    keep[[k, len(full) - 1]] = False  # the mover (and all its images) and the target Li: empty sites
    frac = np.linalg.solve(cell.T, full.positions[keep].T).T
    params = system.params.take(np.nonzero(keep)[0])

    def make(margin: float) -> FrameworkField:
        return gather_field(cell, frac, params, path[0], path[-1], [], np.ones(3, int), cutoff, margin)

    ef = _HopField(make, path[0], path[-1])
    from dataclasses import replace

    res = run_neb(path, ef, replace(s, break_symmetry=0.0, displacement=0.0, relax_endpoints=False))
    _, forces = ef(res.positions)
    frames = []
    for i, img in enumerate(images):
        out = img.copy()
        out.positions[k] = res.positions[i]
        f = np.zeros((len(out), 3))
        f[k] = forces[i]
        out.calc = SinglePointCalculator(out, energy=float(res.energies[i]), forces=f)
        frames.append(out)
    res.extras.update(mover=int(k), n_images=len(images))
    return ImagesNEB(res, k, frames)
