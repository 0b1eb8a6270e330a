"""High-level API: hops of a structure, BVSE-NEB of a hop, barriers of all hops.

>>> hops = find_hops(structure, "mp-2878")
>>> res = hop_barriers(structure, "mp-2878")          # paper protocol
>>> res.barriers, res.percolation                     # per hop, (E_1D, E_2D, E_3D)
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ase import Atoms

from litraj_data.errors import LitrajError, StructureError
from litraj_data.leaderboard.reference.hops.bvse_band_neb import (
    PROTOCOLS,
    NEBResult,
    NEBSettings,
    relax_off_line,
    relax_point,
    run_neb,
)
from litraj_data.leaderboard.reference.hops.energy import DEFAULT_CUTOFF, FrameworkField, gather_field, segment_distance
from litraj_data.leaderboard.reference.hops.graph import DEFAULT_BOTTLENECK, Hop, HopGraph, build_hop_graph
from litraj_data.leaderboard.reference.hops.graph import DEFAULT_CUTOFF as DEFAULT_HOP_CUTOFF
from litraj_data.leaderboard.reference.hops.path_symmetry import (
    PATH_SYMPREC,
    PathSymmetry,
    path_symmetry,
    space_group_operations,
)
from litraj_data.leaderboard.reference.hops.percolation import percolation_barriers
from litraj_data.leaderboard.reference.hops.supercell import HopGeometry, hop_geometry, supercell_atoms
from litraj_data.leaderboard.reference.physics.oxidation import oxidation_states
from litraj_data.leaderboard.reference.physics.softbv import PairParameters, framework_parameters

MOBILE = "Li"
MOBILE_Z = 3


def as_atoms(structure: Any) -> Atoms:
    """ASE Atoms of a pymatgen Structure or Atoms (oxidation states kept in ``oxi_states``).

    Raises
    ------
    StructureError
        ``disordered`` for partial occupancies, the caps of
        :func:`litraj_data.structures.check_structure` (``too_many_atoms``, ``cell_too_large``,
        ``degenerate_cell``...), ``read_error`` for other inputs.
    """
    from litraj_data.structures import check_structure

    if isinstance(structure, Atoms):
        check_structure(structure)  # atom count, cell volume and shape caps before any work
        return structure.copy()
    from pymatgen.core import Structure

    if not isinstance(structure, Structure):
        raise StructureError(f"expected a pymatgen Structure or ASE Atoms, got {type(structure).__name__}",
                             reason="read_error")
    check_structure(structure)  # disordered, atom count, cell volume and shape, before any work
    atoms = Atoms(numbers=[s.specie.Z for s in structure], positions=structure.cart_coords,
                  cell=structure.lattice.matrix, pbc=True)
    ox = [getattr(s.specie, "oxi_state", None) for s in structure]
    if all(v is not None for v in ox):
        atoms.set_array("oxi_states", np.asarray(ox, float))
    return atoms


@dataclass
class HopSystem:
    """A structure prepared for hop calculations (charges and pair parameters computed once)."""

    atoms: Atoms
    material_id: str
    charges: np.ndarray
    params: PairParameters

    @property
    def cell(self) -> np.ndarray:
        return self.atoms.cell.array

    @property
    def frac(self) -> np.ndarray:
        return np.linalg.solve(self.cell.T, self.atoms.positions.T).T

    def path_symmetry(self, hop: Hop, scale=(1, 1, 1)) -> PathSymmetry:
        """Symmetry of ``hop``'s straight path (space group computed once per system, at
        :data:`~.path_symmetry.PATH_SYMPREC`); see :mod:`.path_symmetry`."""
        ops = self.__dict__.get("_ops")
        if ops is None:
            # species *and* charge: mixed-valence sites of one element are different to BVSE
            kinds = np.unique(np.stack([self.atoms.numbers, np.round(self.charges, 3)], axis=1), axis=0,
                              return_inverse=True)[1].ravel()
            ops = space_group_operations(self.cell, self.frac, kinds + 1, PATH_SYMPREC)
            self.__dict__["_ops"] = ops
        frac = self.frac
        return path_symmetry(self.cell, frac[hop.source], frac[hop.target] + np.asarray(hop.offset), *ops, scale)

    @classmethod
    def from_structure(cls, structure: Any, material_id: str = "structure", charges=None) -> "HopSystem":
        atoms = as_atoms(structure)
        if MOBILE_Z not in atoms.numbers:
            raise StructureError(f"{material_id}: no Li", reason="no_mobile_ion")
        # given states (on the Structure, or carried over to ``oxi_states`` by as_atoms) as they
        # are, fractional allowed; else BVAnalyzer
        q = (np.asarray(charges, float) if charges is not None
             else oxidation_states(atoms if "oxi_states" in atoms.arrays else structure, mobile=MOBILE, integer=False))
        li_q = q[atoms.numbers == MOBILE_Z]
        if not np.all(li_q == li_q[0]) or li_q[0] <= 0:
            raise StructureError(f"{material_id}: Li oxidation states {sorted(set(li_q))}", reason="oxidation_states")
        atoms.set_array("oxi_states", q)
        return cls(atoms, material_id, q, framework_parameters(atoms.numbers, q, mobile=(MOBILE_Z, float(li_q[0]))))


def hop_graph(structure: Any, material_id: str = "structure", cutoff: float = DEFAULT_HOP_CUTOFF,
              bottleneck: float = DEFAULT_BOTTLENECK, symprec: float = 1e-3) -> HopGraph:
    """Percolating hop graph (all edges, orbits, dimensionality) of a structure."""
    atoms = as_atoms(structure)
    frac = np.linalg.solve(atoms.cell.array.T, atoms.positions.T).T
    return build_hop_graph(atoms.cell.array, frac, atoms.numbers, material_id, cutoff, bottleneck,
                           MOBILE_Z, symprec)


def find_hops(structure: Any, material_id: str = "structure", cutoff: float = DEFAULT_HOP_CUTOFF,
              bottleneck: float = DEFAULT_BOTTLENECK, symprec: float = 1e-3) -> list[Hop]:
    """Symmetry-inequivalent Li hops of the percolating network.

    Parameters
    ----------
    structure : pymatgen Structure or ASE Atoms
    material_id : str
        Prefix of the edge ids.
    cutoff : float
        Longest hop searched (A).
    bottleneck : float
        Smallest allowed distance between a hop segment and any other atom (A).
    symprec : float
        spglib tolerance.

    Returns
    -------
    list of Hop
        Ordered by length. The network is the one at the smallest cutoff reaching the
        maximal percolation dimensionality.
    """
    return hop_graph(structure, material_id, cutoff, bottleneck, symprec).hops


class _HopField:
    """Energy/forces callable of a hop; regathers the framework if the ion strays far."""

    def __init__(self, make, a: np.ndarray, b: np.ndarray, margin: float = 2.0) -> None:
        self.make, self.a, self.b = make, a, b
        self.field: FrameworkField = make(margin)

    def __call__(self, x: np.ndarray):
        if not self.field.covers(x):
            self.field = self.make(float(segment_distance(x, self.a, self.b).max()) + 2.0)
        return self.field.energy_forces(x)


def _settings(protocol: str | NEBSettings, seed: int | None) -> NEBSettings:
    if isinstance(protocol, NEBSettings):
        s = protocol
    else:
        try:
            s = PROTOCOLS[protocol]
        except KeyError:
            raise ValueError(f"unknown NEB protocol {protocol!r}; known: {sorted(PROTOCOLS)}") from None
    if seed is not None:
        from dataclasses import replace

        s = replace(s, seed=int(seed))
    return s


def bvse_neb(structure: Any | HopSystem, hop: Hop, protocol: str | NEBSettings = "paper",
             cutoff: float = DEFAULT_CUTOFF, seed: int | None = None, n_images: int | None = None) -> NEBResult:
    """BVSE-NEB barrier of one hop (only the moving Li moves, framework fixed).

    Parameters
    ----------
    structure : pymatgen Structure, ASE Atoms or HopSystem
    hop : Hop
    protocol : {"paper", "ions-legacy"} or NEBSettings
        ``paper``: climbing image, improved tangent, k = 5 eV/A^2, FIRE, fmax 0.1 eV/A,
        100 steps. ``ions-legacy``: the old ions 0.3.5-0.4.1 defaults (see ``bvse_band_neb.PROTOCOLS``).
    cutoff : float
        BVSE interaction cutoff (A).
    seed : int, optional
        Seed of the legacy framework displacement.
    n_images : int, optional
        Total band images (default: 3-5 intermediate by hop length).

    Returns
    -------
    NEBResult
        ``extras`` holds ``edge_id``, ``scale`` (supercell repetitions) and ``n_images``.
    """
    system = structure if isinstance(structure, HopSystem) else HopSystem.from_structure(structure, hop.material_id)
    s = _settings(protocol, seed)
    cell, frac = system.cell, system.frac
    geom = hop_geometry(cell, frac, hop.source, hop.target, hop.offset, n_images=n_images)
    excluded = [(hop.source, np.zeros(3, int)), (hop.target, np.asarray(hop.offset))]

    def pristine(margin: float) -> FrameworkField:
        return gather_field(cell, frac, system.params, geom.start, geom.end, excluded, geom.scale, cutoff, margin)

    ef = _HopField(pristine, geom.start, geom.end)
    band = geom.initial_band()
    steps = 0
    straight = True  # the last stage starts from the straight line (not after a displaced stage)
    if s.displacement > 0 or s.relax_endpoints:
        displaced = _displaced_field(system, geom, s, cutoff) if s.displacement > 0 else ef
        if s.relax_endpoints:
            for k in (0, -1):
                band[k], n = relax_point(band[k], displaced, s.fmax, s.steps)
                steps += n
        first = run_neb(band, displaced, s)
        band, steps, straight = first.positions, steps + first.steps, False
    res = run_neb(band, ef, replace(s, break_symmetry=0.0))
    sym = system.path_symmetry(hop, geom.scale)
    res.symmetric_start = straight and sym.stationary
    res = _check_start(res, band, ef, s)
    res.steps += steps
    res.extras.update(edge_id=hop.edge_id, scale=[int(v) for v in geom.scale], n_images=int(geom.n_images),
                      path_symmetry=sym.as_dict())
    return res


#: a pushed band counts as lower when its barrier is below the straight one by more than this (eV):
#: the stored precision of em, so that "the barrier dropped" is never a rounding artefact
BARRIER_DROP_TOL = 1e-3


def _check_start(res: NEBResult, band: np.ndarray, ef, s: NEBSettings) -> NEBResult:
    """Flag, or relax off the line, a band that may never have left a symmetric straight start.

    Suspect: the straight path is stationary by the structure's symmetry operations
    (``symmetric_start``), or by its forces (``stationary_start``), or the band converged
    before its first step. Without ``s.break_symmetry`` the band is kept and flagged
    ``upper_bound``. With it, the band is also optimised from seeded pushes off the line
    (:func:`relax_off_line`); the lowest converged barrier is kept, ``straight_barrier``
    records the straight one, and ``upper_bound`` is cleared: either the barrier dropped, or
    every push relaxed back to the same barrier (the straight path is a saddle, not a maximum
    across it). If no pushed band converges, the straight band is kept, still an upper bound.
    """
    suspect = res.symmetric_start or res.stationary_start or res.converged_at_start
    if not suspect:
        return res
    if s.break_symmetry <= 0:
        res.upper_bound = True
        return res
    pushed = [r for r in relax_off_line(band, ef, s) if r.converged]
    if not pushed:
        res.upper_bound = True
        res.extras["pushed_converged"] = 0
        return res
    best = min(pushed, key=lambda r: r.barrier)
    straight_barrier = res.barrier
    keep = best if best.barrier < straight_barrier - BARRIER_DROP_TOL else res
    keep.symmetric_start, keep.stationary_start = res.symmetric_start, res.stationary_start
    keep.symmetry_broken, keep.upper_bound, keep.straight_barrier = True, False, straight_barrier
    keep.extras["pushed_converged"] = len(pushed)
    keep.extras["pushed_steps"] = sum(r.steps for r in pushed)
    return keep


def _displaced_field(system: HopSystem, geom: HopGeometry, s: NEBSettings, cutoff: float) -> _HopField:
    """Field of the supercell with every framework atom displaced by seeded noise (<= s.displacement)."""
    sc = supercell_atoms(Atoms(numbers=system.atoms.numbers, positions=system.atoms.positions,
                               cell=system.cell, pbc=True), geom.scale)
    rng = np.random.default_rng(s.seed)
    noise = rng.normal(0.0, 1.0, size=(len(sc), 3))
    noise *= s.displacement / np.abs(noise).max()
    noise[geom.source_sc] = 0.0
    pos = sc.positions + noise
    scell = sc.cell.array
    sfrac = np.linalg.solve(scell.T, pos.T).T
    params = system.params.take(np.tile(np.arange(len(system.atoms)), int(np.prod(geom.scale))))
    excluded = [(geom.source_sc, np.zeros(3, int)), (geom.target_sc, geom.target_shift)]

    def make(margin: float) -> FrameworkField:
        return gather_field(scell, sfrac, params, geom.start, geom.end, excluded, np.ones(3, int), cutoff, margin)

    return _HopField(make, geom.start, geom.end)


@dataclass
class HopsResult:
    """Barriers of every inequivalent hop of a structure and its percolation barriers.

    Attributes
    ----------
    graph : HopGraph
    hops : list of Hop
    results : list of NEBResult or None
        ``None`` where the NEB failed (see ``failures``).
    barriers : (n_hops,) float
        ``nan`` for failed hops.
    percolation : (3,) float
        E_1D, E_2D, E_3D (eV; ``inf`` when not reached, ``null`` in JSON).
    failures : list of (edge_id, reason, message)
    """

    graph: HopGraph
    hops: list[Hop]
    results: list[NEBResult | None]
    barriers: np.ndarray
    percolation: np.ndarray
    failures: list[tuple[str, str, str]] = field(default_factory=list)


def hop_barriers(structure: Any, material_id: str = "structure", cutoff: float = DEFAULT_HOP_CUTOFF,
                 bottleneck: float = DEFAULT_BOTTLENECK, protocol: str | NEBSettings = "paper",
                 seed: int | None = None, symprec: float = 1e-3) -> HopsResult:
    """Hops, their BVSE-NEB barriers and the 1D/2D/3D percolation barriers of a structure.

    A hop whose NEB fails (overlap, NaN energy) gets ``nan`` and a ``failures`` entry; it
    never aborts the structure. Structure-level problems raise ``StructureError``.
    """
    system = HopSystem.from_structure(structure, material_id)
    graph = build_hop_graph(system.cell, system.frac, system.atoms.numbers, material_id, cutoff, bottleneck,
                            MOBILE_Z, symprec)
    results: list[NEBResult | None] = []
    failures = []
    for hop in graph.hops:
        try:
            results.append(bvse_neb(system, hop, protocol, seed=seed))
        except LitrajError as exc:
            results.append(None)
            failures.append((hop.edge_id, exc.reason, str(exc)))
    barriers = np.array([r.barrier if r is not None else np.nan for r in results])
    li = np.nonzero(system.atoms.numbers == MOBILE_Z)[0]
    return HopsResult(graph, graph.hops, results, barriers, percolation_barriers(graph, barriers, li), failures)
