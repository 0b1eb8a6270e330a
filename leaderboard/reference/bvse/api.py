"""One call from a structure to its 1D/2D/3D BVSE percolation barriers (BVEL13k's targets)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from litraj_data.errors import DataFormatError, StructureError
from litraj_data.io import to_jsonable
from litraj_data.leaderboard.reference.bvse.landscape import Landscape, compute_landscape, grid_shape
from litraj_data.leaderboard.reference.bvse.percolation import percolation_levels
from litraj_data.leaderboard.reference.bvse.settings import (
    DEFAULT_CONNECTIVITY,
    DEFAULT_CUTOFF,
    DEFAULT_GRID,
    DEFAULT_MAX_BARRIER,
    DEFAULT_RESOLUTION,
    GRIDS,
    PAPER_SETTINGS,
)
from litraj_data.leaderboard.reference.physics.oxidation import FORBIDDEN_SPECIES, oxidation_states
from litraj_data.leaderboard.reference.physics.periodic import check_no_overlaps
from litraj_data.leaderboard.reference.physics.softbv import SCREENING_F, framework_parameters
from litraj_data.structures import check_structure

__all__ = ["PAPER_SETTINGS", "ENERGY_DECIMALS", "BVELResult", "bvse_landscape", "bvse_barriers",
           "bvse_barriers_converged", "bvlain_grid_shape", "bvlain_bisection"]

ENERGY_DECIMALS = 9  # eV; grid energies are compared at this precision in the percolation


@dataclass
class BVELResult:
    """Percolation barriers of one structure.

    Attributes
    ----------
    E_1D, E_2D, E_3D : float
        Barriers (eV) relative to the landscape minimum; ``inf`` when the sub-level set
        does not percolate in that many dimensions below ``max_barrier``.
    dims : tuple of int
        Dimensionality of the percolating network at each barrier (a level can open
        several dimensions at once, e.g. ``(2, 2, 3)`` when E_1D == E_2D).
    emin : float
        Absolute landscape minimum (eV).
    shape : tuple of int
        Grid shape.
    timings : dict
        Seconds spent in ``oxidation``, ``landscape`` and ``percolation``.
    pair_evaluations : int
        Mobile-ion / framework-ion pair terms summed on the grid.
    grid_uncertainty : dict or None
        With grid convergence (:func:`bvse_barriers_converged`): ``|E(h_last) - E(h_prev)|``
        per barrier between the last two resolutions (0 when both are inf, inf when only
        one is); None when not estimated.
    grid_converged : bool or None
        Every grid uncertainty below the requested tolerance.
    resolutions : list of float or None
        Grid spacings tried, coarse to fine (the result is the last one's).
    grid : str
        ``periodic`` or ``bvlain`` (see :func:`bvse_barriers`).
    exact : dict or None
        With ``grid="bvlain"``: the exact percolation levels on bvlain's grid, before
        bvlain's bisection readout gave ``E_1D``/``E_2D``/``E_3D``; None otherwise.
    """

    E_1D: float
    E_2D: float
    E_3D: float
    dims: tuple[int, int, int]
    emin: float
    shape: tuple[int, int, int]
    timings: dict[str, float] = field(default_factory=dict)
    pair_evaluations: int = 0
    grid_uncertainty: dict[str, float] | None = None
    grid_converged: bool | None = None
    resolutions: list[float] | None = None
    grid: str = DEFAULT_GRID
    exact: dict[str, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (inf, "does not percolate", written as None)."""
        return to_jsonable(asdict(self))


def bvse_landscape(
    structure: Structure,
    resolution: float = DEFAULT_RESOLUTION,
    cutoff: float = DEFAULT_CUTOFF,
    k: int | None = None,
    mobile: str = "Li",
    mobile_oxidation: int = 1,
    f: float = SCREENING_F,
    radii: str = "ase",
    shape: tuple[int, int, int] | None = None,
    forbidden_species: tuple[str, ...] = FORBIDDEN_SPECIES,
    timings: dict[str, float] | None = None,
    threads: int | None = None,
    grid: str = DEFAULT_GRID,
) -> Landscape:
    """BVSE landscape of the mobile ion in the framework of ``structure``.

    See :func:`bvse_barriers` for the parameters.
    """
    shape = _grid_shape_for(structure, resolution, shape, grid)
    t0 = time.perf_counter()
    # disordered sites, atom count, cell volume, degenerate cell and grid points before any work
    check_structure(structure, resolution=resolution, grid_shape=shape)
    check_no_overlaps(structure.lattice.matrix, structure.frac_coords)  # before states: a doubled site unbalances them
    states = oxidation_states(structure, mobile=mobile, forbidden_species=forbidden_species)
    elements = [site.specie.symbol for site in structure]
    framework = [i for i, el in enumerate(elements) if el != mobile]
    if not framework:
        raise StructureError(f"structure contains nothing but {mobile}", reason="no_framework")
    params = framework_parameters(
        [elements[i] for i in framework], states[framework],
        mobile=(mobile, mobile_oxidation), f=f, radii=radii,
    )
    t1 = time.perf_counter()
    land = compute_landscape(
        structure.lattice.matrix, structure.frac_coords[framework], params,
        resolution=resolution, cutoff=cutoff, k=k, shape=shape,
        numbers=np.array(structure.atomic_numbers), positions=structure.cart_coords, threads=threads,
    )
    if timings is not None:
        timings["oxidation"] = t1 - t0
        timings["landscape"] = time.perf_counter() - t1
    return land


def bvse_barriers(
    structure: Structure,
    resolution: float = DEFAULT_RESOLUTION,
    cutoff: float = DEFAULT_CUTOFF,
    k: int | None = None,
    mobile: str = "Li",
    mobile_oxidation: int = 1,
    connectivity: int = DEFAULT_CONNECTIVITY,
    max_barrier: float = DEFAULT_MAX_BARRIER,
    f: float = SCREENING_F,
    radii: str = "ase",
    shape: tuple[int, int, int] | None = None,
    forbidden_species: tuple[str, ...] = FORBIDDEN_SPECIES,
    cube: str | Path | None = None,
    grd: str | Path | None = None,
    threads: int | None = None,
    grid: str = DEFAULT_GRID,
) -> BVELResult:
    """1D/2D/3D percolation barriers of the BVSE landscape of a mobile ion.

    Parameters
    ----------
    structure : Structure
        Ordered structure containing the mobile ion. Oxidation states on it are used as
        given, otherwise BVAnalyzer assigns them (O1- and P3- forbidden).
    resolution : float
        Grid spacing target (Å); ``ceil(|a_i| / resolution)`` points per axis.
    cutoff : float
        Interaction cutoff (Å).
    k : int or None
        None: every framework ion within the cutoff; 200 reproduces the paper's bvlain run.
    mobile, mobile_oxidation : str, int
        Mobile ion (Li+ for BVEL13k).
    connectivity : {26, 6}
        Grid neighbourhood of the percolation analysis (26 is bvlain's, see docs).
    max_barrier : float
        Barriers above this (eV, relative to the minimum) are reported as inf, like
        bvlain's ``encut`` (10 eV).
    f : float
        Coulomb screening factor.
    radii : {"ase", "softbv"}
        Covalent radii of the screening length (bvlain's default, used for BVEL13k: "ase").
    shape : tuple of int, optional
        Explicit grid shape (overrides ``resolution``).
    cube, grd : path, optional
        Also write the landscape to these files.
    threads : int, optional
        Threads of the compiled landscape loop (default: numba's; the result does not
        depend on it).
    grid : {"periodic", "bvlain"}
        ``periodic`` (default): ``ceil(|a_i| / resolution)`` points per axis, barriers are
        the exact percolation levels. ``bvlain``: the grid on which the released BVEL13k
        values were computed, bvlain 0.25's ``linspace(0, 1, int(|a_i| // resolution))``
        (its distinct points are the periodic grid :func:`bvlain_grid_shape`), with the
        barriers read out as bvlain's bisection reports them (:func:`bvlain_bisection`);
        the exact levels are kept in ``exact``. Not with ``shape``.

    Returns
    -------
    BVELResult

    Raises
    ------
    StructureError
        ``no_mobile_ion``, ``disordered``, ``oxidation_states``, ``overlapping_atoms`` (two
        atoms closer than 0.5 A) or ``missing_parameters``.
    """
    timings: dict[str, float] = {}
    land = bvse_landscape(
        structure, resolution=resolution, cutoff=cutoff, k=k, mobile=mobile,
        mobile_oxidation=mobile_oxidation, f=f, radii=radii, shape=shape,
        forbidden_species=forbidden_species, timings=timings, threads=threads, grid=grid,
    )
    t0 = time.perf_counter()
    emin = float(land.energies.min())
    # symmetry-equivalent grid points differ by float round-off (summation order); rounding
    # to 1e-9 eV makes such ties exact so that e.g. a cubic crystal opens 1D/2D/3D together
    levels_grid = np.round(land.energies, ENERGY_DECIMALS)
    emin = float(levels_grid.min())
    perc = percolation_levels(levels_grid, connectivity=connectivity, max_level=emin + max_barrier)
    timings["percolation"] = time.perf_counter() - t0
    barriers = [b if b <= max_barrier else np.inf for b in perc.barriers]
    exact = None
    if grid == "bvlain":
        # the release's numbers: bvlain bisects each level rather than finding it
        exact = dict(zip(BARRIER_NAMES, (float(b) for b in barriers)))
        barriers = [bvlain_bisection(b, max_barrier) for b in barriers]
    # dimensionality reached at each barrier: the highest d whose level equals it
    dims = tuple(max(d + 1 for d in range(3) if perc.levels[d] == perc.levels[i]) if np.isfinite(barriers[i]) else 0
                 for i in range(3))
    if cube is not None:
        from litraj_data.leaderboard.reference.bvse.volumetric import write_cube

        write_cube(land, cube)
    if grd is not None:
        from litraj_data.leaderboard.reference.bvse.volumetric import write_grd

        write_grd(land, grd)
    return BVELResult(
        E_1D=float(barriers[0]), E_2D=float(barriers[1]), E_3D=float(barriers[2]),
        dims=dims, emin=emin, shape=land.shape, timings=timings,
        pair_evaluations=land.pair_evaluations, grid=grid, exact=exact,
    )


BARRIER_NAMES = ("E_1D", "E_2D", "E_3D")


def _barrier_change(a: float, b: float) -> float:
    if not np.isfinite(a) and not np.isfinite(b):
        return 0.0  # does not percolate at either resolution
    if np.isfinite(a) != np.isfinite(b):
        return float("inf")
    return abs(a - b)


def bvse_barriers_converged(
    structure: Structure,
    tol: float,
    resolution: float = DEFAULT_RESOLUTION,
    refine: float = 0.8,
    min_resolution: float = 0.05,
    **kwargs: Any,
) -> BVELResult:
    """Barriers on grids refined until every barrier changes by less than ``tol`` (eV).

    The grid spacing goes ``resolution, resolution * refine, ...``; refinement stops when
    the largest change of E_1D/E_2D/E_3D between the last two grids is below ``tol`` or the
    next spacing would be below ``min_resolution`` (then ``grid_converged`` is False). A
    grid barrier is the landscape's level at grid points, so it moves with the sampling of
    the saddle: by 1e-3-1e-1 eV at 0.2 Å where the saddle is sharp (high barriers) and
    falls between grid points (see docs/bvse.md).

    Parameters
    ----------
    structure : Structure
    tol : float
        Convergence tolerance on every barrier (eV).
    resolution : float
        First (coarsest) grid spacing (Å).
    refine : float
        Ratio of consecutive spacings (0 < refine < 1).
    min_resolution : float
        Finest spacing tried (Å).
    **kwargs
        Other :func:`bvse_barriers` parameters (not ``shape``).

    Returns
    -------
    BVELResult
        The finest grid's result with ``grid_uncertainty``, ``grid_converged`` and
        ``resolutions`` set; ``timings`` and ``pair_evaluations`` summed over all grids.
    """
    if tol <= 0:
        raise ValueError("tol must be positive")
    if not 0 < refine < 1:
        raise ValueError("refine must be in (0, 1)")
    if "shape" in kwargs:
        raise ValueError("grid convergence sets the grid itself: do not pass shape")
    if kwargs.get("grid", DEFAULT_GRID) != "periodic":
        # bvlain's grid is for reproducing the release; convergence is a property of the landscape
        raise DataFormatError("--converge refines the periodic grid; --grid bvlain reproduces the released values "
                              "at one resolution: use one or the other", reason="bad_option")
    h = float(resolution)
    prev = bvse_barriers(structure, resolution=h, **kwargs)
    tried = [round(h, 9)]
    timings = dict(prev.timings)
    pairs = prev.pair_evaluations
    last_changes: dict[str, float] = {}
    while True:
        h_next = h * refine
        lattice = structure.lattice.matrix
        # a spacing that gives the same grid shape is no refinement: go on to the next one
        while grid_shape(lattice, h_next) == grid_shape(lattice, h) and h_next >= min_resolution:
            h_next *= refine
        if h_next < min_resolution:
            # no finer grid allowed: the uncertainty is the last change (unknown after one grid)
            prev.grid_uncertainty = last_changes if len(tried) > 1 else {n: float("nan") for n in BARRIER_NAMES}
            prev.grid_converged = False
            break
        cur = bvse_barriers(structure, resolution=h_next, **kwargs)
        tried.append(round(h_next, 9))
        for key, v in cur.timings.items():
            timings[key] = timings.get(key, 0.0) + v
        pairs += cur.pair_evaluations
        last_changes = {n: _barrier_change(getattr(cur, n), getattr(prev, n)) for n in BARRIER_NAMES}
        prev, h = cur, h_next
        if max(last_changes.values()) < tol:
            prev.grid_uncertainty = last_changes
            prev.grid_converged = True
            break
    prev.resolutions = tried
    prev.timings = timings
    prev.pair_evaluations = pairs
    return prev


def bvlain_grid_shape(lattice: np.ndarray, resolution: float) -> tuple[int, int, int]:
    """The periodic grid bvlain 0.25 samples, as a shape for :func:`bvse_barriers`.

    bvlain takes ``n_i = int(|a_i| // resolution)`` points ``linspace(0, 1, n_i)`` per axis:
    0 and 1 are the same point of the periodic landscape, so its distinct points are the
    periodic grid of ``n_i - 1`` points (spacing ``|a_i| / (n_i - 1)``, coarser than the
    requested resolution), where ours has ``ceil(|a_i| / resolution)``.
    """
    lengths = np.linalg.norm(np.asarray(lattice, float), axis=1)
    return tuple(int(max(3, (x // resolution) - 1)) for x in lengths)


def _grid_shape_for(structure: Structure, resolution: float, shape: tuple[int, int, int] | None,
                    grid: str) -> tuple[int, int, int] | None:
    """The explicit grid shape of ``grid`` (None: the landscape's own periodic grid)."""
    if grid not in GRIDS:
        raise DataFormatError(f"unknown grid {grid!r}; choose from {', '.join(GRIDS)}", reason="bad_option")
    if grid == "periodic":
        return shape
    if shape is not None:
        raise DataFormatError("grid='bvlain' sets the grid shape itself: do not pass shape", reason="bad_option")
    if not (isinstance(resolution, (int, float)) and np.isfinite(resolution) and resolution > 0):
        raise DataFormatError(f"resolution must be a positive number of Å, got {resolution!r}", reason="bad_option")
    return bvlain_grid_shape(structure.lattice.matrix, resolution)


def bvlain_bisection(level: float, encut: float = DEFAULT_MAX_BARRIER, bracket: float = 0.01) -> float:
    """The barrier bvlain 0.25 reports for an exact percolation level ``level`` (eV over the minimum).

    bvlain (``Lain._percolation_energy``) does not find the level: it bisects
    ``[0, encut]``, calling a probe percolating when the points strictly below it
    percolate (``region < tr``), until the bracket is narrower than ``bracket`` (0.01 eV),
    and reports the last percolating probe rounded to 4 decimals (inf when none
    percolated). On the same landscape and percolation test this returns bvlain's number
    exactly; it lies in ``(level, level + encut / 2**10]``.
    """
    lo, hi = 0.0, float(encut)
    barrier = float("inf")
    while hi - lo > bracket:
        probe = (lo + hi) / 2
        if probe > level:  # {E < probe} contains the percolating component of level
            hi = probe
            barrier = round(hi, 4)
        else:
            lo = probe
    return barrier
