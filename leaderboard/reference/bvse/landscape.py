"""BVSE energy landscape of a mobile ion on a periodic grid (paper Methods, eqs. 1-3).

E(r) = sum over counter-ions  D0/2 [(exp(alpha (R_min - d)) - 1)^2 - 1]          (Morse)
     + sum over like-charged  14.4 q_m q / sqrt(n_m n) / d * erfc(d / (f (r_c,m + r_c)))
over the framework without the mobile ions, for every framework ion within ``cutoff``
(or, as the paper's bvlain run, only the ``k`` nearest of them).

The grid has ``n_i = ceil(|a_i| / resolution)`` points along lattice vector i at fractional
coordinates ``k / n_i``: it tiles space periodically with no repeated face.

Speed (:func:`compute_landscape`): a compiled loop (numba,
:func:`litraj_data.leaderboard.reference.bvse.kernels.landscape_blocks`) over compact blocks of grid
points, blocks in parallel threads. Every block gets the framework images within
``cutoff + block radius`` once from a KD-tree; distances from the block centre bound every
point's distances, so ions certainly inside the cutoff / k nearest for the whole block skip
all selection, ions certainly outside are dropped before any distance is computed, and the
k-th nearest is selected exactly among the rest. erfc comes from a cubic Hermite table
(abs. error < 2e-14). Oracles (``tests/bvse_reference.py``): the numpy blocked path this
loop replaced and the plain dense evaluation.
"""
from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import erfc

from litraj_data.errors import StructureError
from litraj_data.leaderboard.reference.physics.periodic import cell_images
from litraj_data.leaderboard.reference.physics.softbv import PairParameters

MIN_DISTANCE = 1e-6  # Å; keeps the Coulomb term finite on a grid point that hits an ion
TIE = 1e-9  # Å; ions this close to the limit (k-th nearest or cutoff) are inside it, so that
# symmetry-equal distances, which differ by round-off, are kept or dropped together


@dataclass
class Landscape:
    """BVSE energies on a periodic grid.

    Attributes
    ----------
    energies : ndarray, shape (n0, n1, n2)
        Energy (eV) at fractional coordinates ``(i/n0, j/n1, k/n2)``.
    lattice : ndarray, shape (3, 3)
        Rows are the lattice vectors (Å).
    """

    energies: np.ndarray
    lattice: np.ndarray
    numbers: np.ndarray = field(repr=False)  # atomic numbers of the whole structure (for files)
    positions: np.ndarray = field(repr=False)  # Cartesian positions of the whole structure
    pair_evaluations: int = 0

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.energies.shape)


def grid_shape(lattice: np.ndarray, resolution: float) -> tuple[int, int, int]:
    """``ceil(|a_i| / resolution)`` points per lattice vector (at least 3, for neighbours)."""
    if resolution <= 0:
        raise ValueError("resolution must be positive")
    lengths = np.linalg.norm(lattice, axis=1)
    return tuple(int(max(3, np.ceil(x / resolution - 1e-9))) for x in lengths)


def _blocks(shape: tuple[int, int, int], edge: int) -> list[tuple[slice, slice, slice]]:
    return [
        (slice(i, min(i + edge, shape[0])), slice(j, min(j + edge, shape[1])), slice(k, min(k + edge, shape[2])))
        for i in range(0, shape[0], edge)
        for j in range(0, shape[1], edge)
        for k in range(0, shape[2], edge)
    ]


# ------------------------------------------------------------------ erfc by table
ERFC_STEP = 1.0 / 1024  # table spacing in x; cubic Hermite error <= h^4/384 max|erfc''''| < 2e-14
ERFC_MAX = 10.0  # erfc(10) = 2.1e-45: beyond it the term is exactly 0 in double precision sums


@lru_cache(maxsize=1)
def _erfc_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cubic Hermite coefficients of erfc on [0, ERFC_MAX] in the local variable t in [0, 1).

    Built from exact node values and exact derivatives ``-2/sqrt(pi) exp(-x^2)``; a final
    all-zero row serves every x >= ERFC_MAX.
    """
    n = int(round(ERFC_MAX / ERFC_STEP))
    x = np.arange(n + 1) * ERFC_STEP
    f = erfc(x)
    df = -2.0 / np.sqrt(np.pi) * np.exp(-x * x) * ERFC_STEP
    c = np.zeros((4, n + 1))
    c[0, :n] = f[:-1]
    c[1, :n] = df[:-1]
    c[2, :n] = 3.0 * (f[1:] - f[:-1]) - (2.0 * df[:-1] + df[1:])
    c[3, :n] = 2.0 * (f[:-1] - f[1:]) + (df[:-1] + df[1:])
    return tuple(np.ascontiguousarray(row) for row in c)


# ------------------------------------------------------------------ grid setup
@dataclass
class _Setup:
    shape: tuple[int, int, int]
    blocks: list  # slices of every block
    points: list  # Cartesian points of every block, centred on the block centre
    centres: np.ndarray
    radii: np.ndarray  # exact radius of every block around its centre
    neighbours: list  # image indices within cutoff + radius of every block centre
    images: np.ndarray
    owner: np.ndarray


def _setup(lattice, frac_coords, resolution, cutoff, k, shape, block_edge, with_points: bool = True) -> _Setup:
    """Grid, blocks, block centres and radii, lattice images and each block's candidates.

    ``with_points=False`` skips the per-block point arrays (the compiled loop makes the
    points itself) and derives centres and radii from the block's index box: the centre is
    the mean of the box's points, the radius the distance to its farthest corner.
    """
    if len(frac_coords) == 0:
        raise StructureError("the framework without the mobile ions is empty", reason="no_framework")
    if cutoff <= 0:
        raise ValueError("cutoff must be positive")
    if k is not None and k < 1:
        raise ValueError("k must be a positive integer or None")
    n = tuple(int(x) for x in shape) if shape is not None else grid_shape(lattice, resolution)
    if min(n) < 3:
        raise ValueError(f"grid shape {n} too small: at least 3 points per axis")
    step = lattice / np.array(n)[:, None]  # index space -> Cartesian
    blocks = _blocks(n, block_edge)
    # the largest block's radius around its centre bounds the extra reach needed
    corner = np.array([[i, j, k_] for i in (0, 1) for j in (0, 1) for k_ in (0, 1)]) * (block_edge - 1)
    block_radius = np.max(np.linalg.norm((corner - (block_edge - 1) / 2) @ step, axis=1))
    images, owner = cell_images(frac_coords, lattice, cutoff + block_radius)
    tree = cKDTree(images)
    points, centres, radii = [], [], []
    if with_points:
        for bl in blocks:
            idx = np.stack(np.meshgrid(*[np.arange(s.start, s.stop) for s in bl], indexing="ij"), -1).reshape(-1, 3)
            pts = idx @ step
            c = pts.mean(axis=0)
            pts -= c
            points.append(pts)
            centres.append(c)
            radii.append(np.sqrt(np.max(np.einsum("ij,ij->i", pts, pts))))
        centres, radii = np.array(centres), np.array(radii)
    else:
        lo = np.array([[s.start for s in bl] for bl in blocks], dtype=float)
        size = np.array([[s.stop - s.start for s in bl] for bl in blocks], dtype=float)
        centres = (lo + (size - 1) / 2) @ step
        half = (size - 1) / 2
        radii = np.zeros(len(blocks))
        for sign in corner / max(block_edge - 1, 1) * 2 - 1:  # the 8 corners as +-1 per axis
            v = (half * sign) @ step
            radii = np.maximum(radii, np.sqrt(np.einsum("ij,ij->i", v, v)))
    neighbours = tree.query_ball_point(centres, cutoff + radii + 1e-9)
    return _Setup(n, blocks, points, centres, radii, neighbours, images, owner)


def _finish(setup: _Setup, energies, lattice, numbers, positions, n_pairs) -> Landscape:
    return Landscape(
        energies=energies,
        lattice=lattice,
        numbers=np.asarray(numbers if numbers is not None else [], dtype=int),
        positions=np.asarray(positions if positions is not None else np.zeros((0, 3)), dtype=float),
        pair_evaluations=n_pairs,
    )


def compute_landscape(
    lattice: np.ndarray,
    frac_coords: np.ndarray,
    params: PairParameters,
    resolution: float = 0.2,
    cutoff: float = 10.0,
    k: int | None = None,
    shape: tuple[int, int, int] | None = None,
    block_edge: int = 6,
    numbers: np.ndarray | None = None,
    positions: np.ndarray | None = None,
    threads: int | None = None,
) -> Landscape:
    """BVSE energy of the mobile ion at every grid point.

    Parameters
    ----------
    lattice : ndarray (3, 3)
        Lattice vectors as rows (Å).
    frac_coords : ndarray (m, 3)
        Fractional coordinates of the framework ions (mobile ions removed).
    params : PairParameters
        Per-ion parameters, aligned with ``frac_coords``.
    resolution : float
        Target grid spacing (Å).
    cutoff : float
        Interaction cutoff (Å).
    k : int or None
        If given, only the ``k`` nearest framework ions within the cutoff contribute at
        each grid point (the paper's bvlain setting, k = 200). Ions tied with the k-th
        nearest (within :data:`TIE`) are all included.
    shape : tuple of int, optional
        Explicit grid shape (overrides ``resolution``).
    block_edge : int
        Edge of the cubic blocks of grid points that share one candidate list.
    numbers, positions : ndarray, optional
        The whole structure, kept on the result for volumetric files.
    threads : int, optional
        Threads of the compiled loop (default 1: builders run ``--workers N`` processes,
        which already use the cores; ``litraj bvel`` uses all cores). Always 1 inside a
        worker process. The result does not depend on it.

    Returns
    -------
    Landscape
        Equal to the plain dense evaluation (``tests/bvse_reference.py``) within ~1e-12 eV
        (summation order and the tabulated erfc).
    """
    import numba

    from litraj_data.leaderboard.reference.bvse.kernels import landscape_blocks, landscape_blocks_serial

    lattice = np.asarray(lattice, dtype=float)
    frac_coords = np.asarray(frac_coords, dtype=float).reshape(-1, 3)
    setup = _setup(lattice, frac_coords, resolution, cutoff, k, shape, block_edge, with_points=False)
    # per-ion constants; neutral ions ride in the Morse group with D0 = 0 (they still count
    # towards the k nearest)
    coul_ion = params.coulomb_prefactor != 0
    half_d0 = np.where(coul_ion, 0.0, 0.5 * params.d0)
    alpha = np.where(coul_ion, 0.0, params.alpha)
    s_scale = 1.0 / (params.screening * ERFC_STEP)  # r -> x / ERFC_STEP
    starts = np.array([[s_.start for s_ in bl] for bl in setup.blocks], dtype=np.int64)
    sizes = np.array([[s_.stop - s_.start for s_ in bl] for bl in setup.blocks], dtype=np.int64)
    # candidates of every block in index order (independent of KD-tree order), as CSR
    counts = np.array([len(c) for c in setup.neighbours], dtype=np.int64)
    ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    idx = np.concatenate([np.sort(np.asarray(c, dtype=np.int64)) for c in setup.neighbours]) if ptr[-1] else \
        np.zeros(0, dtype=np.int64)
    table = np.ascontiguousarray(np.stack(_erfc_table(), axis=1))
    step = lattice / np.array(setup.shape)[:, None]
    energies = np.empty(setup.shape, dtype=float)
    if threads is None or multiprocessing.parent_process() is not None:
        threads = 1  # the default, and always in a worker of a --workers N build
    args = (
        starts, sizes, step, setup.centres, setup.radii, ptr, idx, setup.images,
        setup.owner.astype(np.int64), coul_ion, half_d0, alpha, np.asarray(params.r_min, dtype=float),
        np.asarray(params.coulomb_prefactor, dtype=float), s_scale, -1 if k is None else int(k),
        float(cutoff), table, energies,
    )
    if int(threads) <= 1:
        # no threading layer at all: no pool start-up for one thread, nothing to break a fork
        pairs = landscape_blocks_serial(*args)
    else:
        if numba.config.THREADING_LAYER == "default" and "NUMBA_THREADING_LAYER" not in os.environ:
            # numba's default picks GNU OpenMP when present, after which every fork()ed child
            # (the executors' local workers on Linux) is terminated; the workqueue layer
            # leaves forked children usable (they run the serial loop). Only effective
            # before the first parallel call of the process; a user's choice wins.
            numba.config.THREADING_LAYER = "workqueue"
        previous = numba.get_num_threads()
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
        try:
            pairs = landscape_blocks(*args)
        finally:
            numba.set_num_threads(previous)
    return _finish(setup, energies, lattice, numbers, positions, int(pairs.sum()))
