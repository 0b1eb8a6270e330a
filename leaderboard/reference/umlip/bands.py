"""Initial uMLIP-NEB bands of a structure's hops, built with the hops code.

The paper's pipeline starts each uMLIP-NEB from the BVSE-NEB optimised path: the moving Li
leaves its site (vacancy), its target site is emptied, the moving ion follows the BVSE-NEB
band; every other atom starts at its crystal position and is free in the uMLIP-NEB.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from litraj_data.errors import LitrajError, StructureError
from litraj_data.leaderboard.reference.hops.api import HopSystem, as_atoms, bvse_neb
from litraj_data.leaderboard.reference.hops.graph import DEFAULT_BOTTLENECK, DEFAULT_CUTOFF, HopGraph, build_hop_graph
from litraj_data.leaderboard.reference.hops.supercell import MIN_WIDTH, band_images, hop_geometry, supercell_atoms
from litraj_data.leaderboard.reference.neb.hops import HopInput

MOBILE_Z = 3


@dataclass
class StructureHops:
    """A structure's hop graph and the initial band of each inequivalent hop."""

    system: HopSystem | None  # None when BVSE cannot describe the structure (straight-line starts)
    graph: HopGraph
    inputs: list[HopInput]
    bvse_barriers: np.ndarray
    numbers: np.ndarray

    @property
    def li_index(self) -> np.ndarray:
        return np.nonzero(self.numbers == MOBILE_Z)[0]


def structure_hops(structure: Any, material_id: str = "structure", cutoff: float = DEFAULT_CUTOFF,
                   bottleneck: float = DEFAULT_BOTTLENECK, min_width: float = MIN_WIDTH,
                   bvse_start: bool = True, symprec: float = 1e-3) -> StructureHops:
    """Hop graph and initial bands (one per symmetry-inequivalent hop).

    Parameters
    ----------
    structure : pymatgen Structure or ASE Atoms
    material_id : str
        Prefix of the edge ids.
    cutoff, bottleneck : float
        Hop graph: longest hop (A), smallest segment-to-atom distance (A).
    min_width : float
        Smallest perpendicular width of the hop supercell (A).
    bvse_start : bool
        Start from the BVSE-NEB optimised path (paper) instead of the straight line. A
        structure BVSE cannot describe (no softBV parameters for a pair, no oxidation
        states) starts from straight lines, with ``em_bvse`` None.

    Raises
    ------
    StructureError
        No Li, disordered, overlapping atoms.
    """
    try:
        system = HopSystem.from_structure(structure, material_id)
        atoms = system.atoms
    except StructureError as exc:
        if exc.reason not in ("missing_parameters", "oxidation_states"):
            raise
        system, atoms, bvse_start = None, as_atoms(structure), False  # the uMLIP needs neither
    cell = atoms.cell.array
    frac = np.linalg.solve(cell.T, atoms.positions.T).T
    graph = build_hop_graph(cell, frac, atoms.numbers, material_id, cutoff, bottleneck, MOBILE_Z, symprec)
    inputs, bvse = [], []
    plain = atoms.copy()
    for name in list(plain.arrays):
        if name not in ("numbers", "positions"):
            del plain.arrays[name]
    for hop in graph.hops:
        geom = hop_geometry(cell, frac, hop.source, hop.target, hop.offset, min_width=min_width)
        positions = geom.initial_band()
        barrier = float("nan")
        if bvse_start:
            try:
                res = bvse_neb(system, hop, n_images=geom.n_images)
                positions, barrier = res.positions, float(res.barrier)
            except (LitrajError, ValueError, ArithmeticError):  # BVSE trouble (parameters, a singular
                # field, an overflow): the straight line is still a valid start
                positions = geom.initial_band()
        images, mover = band_images(supercell_atoms(plain, geom.scale), geom, positions)
        for img in images:
            img.set_constraint()
            del img.arrays["moving"]
        bvse.append(barrier)
        inputs.append(HopInput(hop.edge_id, images, {"material_id": material_id, "length": float(hop.length),
                                                    "multiplicity": int(hop.multiplicity), "mover": int(mover),
                                                    "em_bvse": None if not np.isfinite(barrier) else barrier}))
    return StructureHops(system, graph, inputs, np.asarray(bvse, float), atoms.numbers.copy())
