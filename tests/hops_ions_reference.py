"""Run the peer ``ions`` 0.5.1 on the same hops and settings (test/benchmark helper).

ions 0.5.1 ships the hop graph (``Percolator``), the BVSE calculator and ``Edge`` but no NEB
driver; its NEB is ASE's ``NEB`` with one ions ``BVSECalculator`` per image, as in the
authors' ``SaddleFinder``. We feed it the very band our code starts from.
"""
from __future__ import annotations

import numpy as np


def ions_graph(atoms, cutoff: float = 8.0, bottleneck: float = 0.5):
    """ions' percolation cutoff, dimensionality and unique edges (naive method, its default)."""
    from ions import Percolator

    pl = Percolator(atoms, mobile_specie="Li", upper_bound=cutoff)
    mincut, dim = pl.mincut_maxdim(bottleneck)
    edges = pl.unique_edges(mincut, bottleneck, method="naive")
    lengths = np.array([
        np.linalg.norm(atoms.positions[t] + np.asarray(o) @ atoms.cell.array - atoms.positions[s])
        for s, t, *o in edges])
    return pl, mincut, dim, edges, lengths


def ions_neb(system, hop, k: float = 5.0, climb: bool = True, fmax: float = 0.1, steps: int = 100,
             n_images: int | None = None):
    """ions BVSE-NEB (ASE NEB + ions calculator) of ``hop`` from our initial band.

    Returns (barrier, converged, steps, energies).
    """
    from ase.mep import NEB
    from ase.optimize import FIRE
    from ions.calculators.bvse_calculator import BVSECalculator as IonsCalculator
    from ions.decorate import assign_bvse_params

    from litraj_data.leaderboard.reference.hops.supercell import band_images, hop_geometry, supercell_atoms

    geom = hop_geometry(system.cell, system.frac, hop.source, hop.target, hop.offset, n_images=n_images)
    sc = supercell_atoms(system.atoms, geom.scale)
    images, mover = band_images(sc, geom, geom.initial_band())
    for img in images:
        assign_bvse_params(img, "Li", 1)
        img.calc = IonsCalculator(sites=[mover])
    neb = NEB(images, k=k, climb=climb, method="improvedtangent")
    opt = FIRE(neb, logfile=None)
    converged = opt.run(fmax=fmax, steps=steps)
    e = np.array([img.get_potential_energy() for img in images])
    return float(e.max() - e.min()), bool(converged), int(opt.nsteps), e


def ions_percolation(pl, mincut: float, barriers_by_unique: np.ndarray) -> np.ndarray:
    """ions' percolation rule applied to per-unique-edge barriers (emin = 0, emax = barrier)."""
    out = np.full(3, np.nan)
    zeros = np.zeros(len(barriers_by_unique))
    res = pl.find_percolation_barriers(mincut, 0.5, zeros, barriers_by_unique, "naive")
    for d in (1, 2, 3):
        v = res.get(f"e{d}d")
        out[d - 1] = np.nan if v is None else v
    return out
