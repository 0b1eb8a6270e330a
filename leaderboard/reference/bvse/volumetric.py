"""Write a BVSE landscape as Gaussian ``.cube`` or VESTA ``.grd`` volumetric files.

Both files hold the periodic grid as is (no repeated face): point (i, j, k) at fractional
(i/n0, j/n1, k/n2), which is what both formats mean by a periodic grid.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from litraj_data.io import atomic_writer
from litraj_data.leaderboard.reference.bvse.landscape import Landscape


def write_cube(landscape: Landscape, path: str | Path) -> Path:
    """Gaussian cube file (energies in eV, positions converted to Bohr by ASE)."""
    from ase import Atoms
    from ase.io.cube import write_cube as ase_write_cube

    atoms = Atoms(numbers=landscape.numbers, positions=landscape.positions, cell=landscape.lattice, pbc=True)
    path = Path(path)
    with atomic_writer(path) as f:
        ase_write_cube(f, atoms, data=landscape.energies)
    return path


def write_grd(landscape: Landscape, path: str | Path, title: str = "BVSE landscape (eV), litraj-data") -> Path:
    """VESTA general grid file: title, cell parameters, grid counts, then values with the
    first (a) index running fastest, as VESTA reads them."""
    from ase.geometry import cell_to_cellpar

    cellpar = cell_to_cellpar(landscape.lattice)
    path = Path(path)
    with atomic_writer(path) as f:
        f.write(title.replace("\n", " ") + "\n")
        f.write(" ".join(f"{x:.6f}" for x in cellpar) + "\n")
        f.write(" ".join(str(n) for n in landscape.shape) + "\n")
        np.savetxt(f, landscape.energies.ravel(order="F"), fmt="%.6f")
    return path
