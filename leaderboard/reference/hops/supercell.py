"""Supercell of a hop and its initial (linearly interpolated) band.

* Supercell: the unit cell repeated ``ceil(8 A / h_i)`` times along each lattice vector, h_i
  being the distance between lattice planes (the perpendicular width), so that the supercell
  is at least 8 A wide in every direction (``ions``' ``Edge.superedge`` uses the same rule).
* Band: the moving Li leaves its source site (vacancy) and goes in a straight line to the
  target site, whose Li is removed. Intermediate images: ``clip(ceil(L / 1 A) - 1, 3, 5)``
  (3 for L <= 4 A, 4 for 4 < L <= 5 A, 5 beyond), i.e. at most ~1 A between images for
  typical hops and 3-5 intermediate images as in LiTraj. ``ions`` 0.5.1 uses a fixed
  ``n_images=5`` (3 intermediate).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from litraj_data.leaderboard.reference.physics.periodic import plane_spacings

MIN_WIDTH = 8.0  # A


def supercell_scale(cell: np.ndarray, min_width: float = MIN_WIDTH) -> np.ndarray:
    """Repetitions (3,) so that every perpendicular width is >= ``min_width``."""
    return np.maximum(1, np.ceil(min_width / plane_spacings(np.asarray(cell, float)) - 1e-9)).astype(int)


def n_intermediate_images(length: float) -> int:
    """Number of intermediate images for a hop of ``length`` A (3 to 5)."""
    return int(np.clip(np.ceil(length / 1.0) - 1, 3, 5))


@dataclass
class HopGeometry:
    """A hop placed in its supercell.

    Attributes
    ----------
    scale : (3,) int
        Supercell repetitions.
    start, end : (3,)
        Cartesian positions of the source and of the (unwrapped) target (A).
    source_sc, target_sc : int
        Indices of the source and target Li in the supercell (ASE ``repeat`` order).
    target_shift : (3,) int
        Supercell translation from ``target_sc``'s stored position to ``end``.
    n_images : int
        Images of the band including both end points.
    """

    scale: np.ndarray
    start: np.ndarray
    end: np.ndarray
    source_sc: int
    target_sc: int
    target_shift: np.ndarray
    n_images: int

    def initial_band(self) -> np.ndarray:
        """Linear interpolation of the moving ion, (n_images, 3)."""
        t = np.linspace(0.0, 1.0, self.n_images)[:, None]
        return self.start + t * (self.end - self.start)


def _repeat_index(cell_index: np.ndarray, scale: np.ndarray, n_atoms: int, atom: int) -> int:
    # ASE Atoms.repeat loops m0, m1, m2 (outer to inner) over whole copies of the cell
    m0, m1, m2 = (int(v) for v in cell_index)
    return ((m0 * scale[1] + m1) * scale[2] + m2) * n_atoms + atom


def hop_geometry(
    cell: np.ndarray, frac: np.ndarray, source: int, target: int, offset, min_width: float = MIN_WIDTH,
    n_images: int | None = None,
) -> HopGeometry:
    """Place the hop ``source -> target + offset`` in its supercell.

    Parameters
    ----------
    cell : (3, 3)
    frac : (N, 3)
        Unit-cell fractional coordinates (as stored; not wrapped here).
    source, target : int
    offset : (3,) int
    min_width : float
        Smallest perpendicular width of the supercell (A).
    n_images : int, optional
        Total images including end points; default from :func:`n_intermediate_images`.
    """
    cell = np.asarray(cell, float)
    scale = supercell_scale(cell, min_width)
    offset = np.asarray(offset, int)
    start = frac[source] @ cell
    end = (frac[target] + offset) @ cell
    c = np.mod(offset, scale)
    if n_images is None:
        n_images = n_intermediate_images(float(np.linalg.norm(end - start))) + 2
    return HopGeometry(
        scale, start, end, source, _repeat_index(c, scale, len(frac), target), (offset - c) // scale, n_images
    )


def supercell_atoms(atoms, scale: np.ndarray):
    """ASE supercell (``atoms.repeat``) carrying its arrays (e.g. ``oxi_states``)."""
    return atoms.repeat(tuple(int(s) for s in scale))


def band_images(supercell, geom: HopGeometry, positions: np.ndarray):
    """ASE images of a band: supercell minus the target Li, moving ion at each position.

    The moving Li keeps index ``geom.source_sc`` (shifted down by one if after the target);
    it carries ``arrays['moving'] = True`` and all other atoms are fixed with ``FixAtoms``.
    """
    from ase.constraints import FixAtoms

    keep = np.ones(len(supercell), bool)
    keep[geom.target_sc] = False
    base = supercell[keep]
    mover = geom.source_sc - int(geom.target_sc < geom.source_sc)
    moving = np.zeros(len(base), bool)
    moving[mover] = True
    base.set_array("moving", moving)
    base.set_constraint(FixAtoms(indices=np.nonzero(~moving)[0]))
    images = []
    for p in positions:
        img = base.copy()
        img.positions[mover] = p
        images.append(img)
    return images, mover
