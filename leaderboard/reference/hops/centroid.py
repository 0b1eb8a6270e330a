"""Centroid supercell: the hop's supercell with a dummy atom X at the hop midpoint.

The structure-to-property input of nebBVSE122k and nebDFT2k: the pristine supercell (both
end-point Li present, nothing displaced) plus ``X`` (atomic number 0) at the midpoint of the
hop as the last atom. :func:`centroid_supercell` builds it from a unit cell and a hop
(nebBVSE122k); :func:`append_centroid` is the shared last step, also used on the supercells
of raw NEB runs (``builders/raw_neb.py``, nebDFT2k / MPLiTrj).
"""
from __future__ import annotations

import numpy as np
from ase import Atoms

from litraj_data.leaderboard.reference.hops.supercell import HopGeometry, supercell_atoms


def append_centroid(supercell: Atoms, midpoint: np.ndarray, wrap: bool = True) -> Atoms:
    """``supercell`` with the dummy ``X`` (Z = 0) at ``midpoint`` appended as the last atom.

    Parameters
    ----------
    supercell : Atoms
        The pristine supercell (both hop sites occupied); not modified.
    midpoint : (3,)
        Cartesian midpoint of the hop (A).
    wrap : bool
        Wrap X into the supercell (nebBVSE122k). ``False`` keeps the point as given
        (nebDFT2k / MPLiTrj rows store the minimum-image midpoint of the raw band unwrapped).
    """
    point = np.asarray(midpoint, dtype=float)
    if wrap:
        frac = np.linalg.solve(supercell.cell.T, point)
        frac -= np.floor(frac)
        point = frac @ supercell.cell.array
    out = supercell.copy()
    out += Atoms("X", positions=[point])
    return out


def centroid_supercell(atoms: Atoms, geom: HopGeometry) -> Atoms:
    """Supercell of ``atoms`` (per ``geom.scale``) with ``X`` at the hop midpoint, last.

    Per-atom arrays other than numbers/positions are dropped (the dataset row holds the
    structure block only).
    """
    base = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
    return append_centroid(supercell_atoms(base, geom.scale), 0.5 * (geom.start + geom.end))
