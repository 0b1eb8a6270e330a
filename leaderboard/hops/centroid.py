"""Centroid supercell: the hop's supercell with a dummy atom X at the hop midpoint.

The structure-to-property input of nebBVSE122k and nebDFT2k: the pristine supercell (both
end-point Li present, nothing displaced) plus ``X`` (atomic number 0) at the midpoint of the
hop, wrapped into the supercell, as the last atom.
"""
from __future__ import annotations

import numpy as np
from ase import Atoms

from litraj_data.leaderboard.hops.supercell import HopGeometry, supercell_atoms


def centroid_supercell(atoms: Atoms, geom: HopGeometry) -> Atoms:
    """Supercell of ``atoms`` (per ``geom.scale``) with ``X`` at the hop midpoint, last.

    Per-atom arrays other than numbers/positions are dropped (the dataset row holds the
    structure block only).
    """
    base = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
    sc = supercell_atoms(base, geom.scale)
    mid = 0.5 * (geom.start + geom.end)
    frac = np.linalg.solve(sc.cell.T, mid)
    frac -= np.floor(frac)
    sc += Atoms("X", positions=[frac @ sc.cell.array])
    return sc
