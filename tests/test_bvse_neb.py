"""BVSE energy model, analytic forces, NEB solver vs ASE, protocols, calculator."""
from __future__ import annotations

import numpy as np
import pytest

from litraj_data.leaderboard.reference.hops.api import HopSystem, bvse_neb, find_hops
from litraj_data.leaderboard.reference.hops.bvse_band_neb import improved_tangents
from litraj_data.leaderboard.reference.hops.calculator import BVSECalculator
from litraj_data.leaderboard.reference.hops.energy import gather_field
from litraj_data.leaderboard.reference.hops.supercell import (
    band_images,
    hop_geometry,
    n_intermediate_images,
    supercell_atoms,
)

from hops_structures import real_structures


@pytest.fixture(scope="module")
def lfp():
    s = real_structures()["LiFePO4"]
    system = HopSystem.from_structure(s, "mp-19017")
    hops = find_hops(s, "mp-19017")
    return system, hops


def _field(system, hop, margin=2.0):
    geom = hop_geometry(system.cell, system.frac, hop.source, hop.target, hop.offset)
    excl = [(hop.source, np.zeros(3, int)), (hop.target, np.asarray(hop.offset))]
    f = gather_field(system.cell, system.frac, system.params, geom.start, geom.end, excl, geom.scale, 10.0, margin)
    return geom, f


def test_forces_are_the_gradient(lfp):
    system, hops = lfp
    geom, field = _field(system, hops[0])
    rng = np.random.default_rng(0)
    x = geom.initial_band()[1:-1] + rng.normal(0, 0.2, (geom.n_images - 2, 3))
    e, f = field.energy_forces(x)
    h = 1e-5
    for k in range(3):
        dx = np.zeros(3)
        dx[k] = h
        ep, _ = field.energy_forces(x + dx)
        em, _ = field.energy_forces(x - dx)
        np.testing.assert_allclose(f[:, k], -(ep - em) / (2 * h), rtol=1e-5, atol=1e-6)


def test_field_matches_ase_calculator_on_the_supercell(lfp):
    system, hops = lfp
    hop = hops[0]
    geom, field = _field(system, hop)
    sc = supercell_atoms(system.atoms, geom.scale)
    x = geom.initial_band()
    images, mover = band_images(sc, geom, x)
    e_field, f_field = field.energy_forces(x)
    for img, e, f in zip(images, e_field, f_field):
        img.calc = BVSECalculator()
        assert img.get_potential_energy() == pytest.approx(e, abs=1e-6)
        forces = img.get_forces()
        np.testing.assert_allclose(forces[mover], f, atol=1e-6)
        assert np.abs(np.delete(forces, mover, axis=0)).max() == 0.0  # framework feels nothing


def test_calculator_forces_are_gradient_with_two_moving_ions(lfp):
    system, _ = lfp
    atoms = system.atoms.repeat((1, 2, 2))
    li = np.nonzero(atoms.numbers == 3)[0]
    moving = np.zeros(len(atoms), bool)
    moving[li[:2]] = True
    atoms.set_array("moving", moving)
    atoms.positions[li[0]] += [0.2, -0.1, 0.3]
    atoms.calc = BVSECalculator()
    f = atoms.get_forces()
    h = 1e-5
    for a in li[:2]:
        for k in range(3):
            p = atoms.copy()
            p.calc = BVSECalculator()
            p.positions[a, k] += h
            ep = p.get_potential_energy()
            p.positions[a, k] -= 2 * h
            em = p.get_potential_energy()
            assert f[a, k] == pytest.approx(-(ep - em) / (2 * h), abs=1e-5)


def test_neb_matches_ase_neb(lfp):
    from ase.mep import NEB
    from ase.optimize import FIRE

    system, hops = lfp
    hop = hops[0]  # the b-channel hop, needs ~30 steps
    ours = bvse_neb(system, hop)
    geom = hop_geometry(system.cell, system.frac, hop.source, hop.target, hop.offset)
    images, mover = band_images(supercell_atoms(system.atoms, geom.scale), geom, geom.initial_band())
    for img in images:
        img.calc = BVSECalculator()
    neb = NEB(images, k=5.0, climb=True, method="improvedtangent")
    opt = FIRE(neb, logfile=None)
    converged = opt.run(fmax=0.1, steps=100)
    e = np.array([img.get_potential_energy() for img in images])
    assert ours.converged and converged
    assert ours.barrier == pytest.approx(e.max() - e.min(), abs=3e-3)
    assert ours.steps == opt.nsteps  # same algorithm, same trajectory
    np.testing.assert_allclose(ours.positions, [img.positions[mover] for img in images], atol=1e-4)


def test_protocols(lfp):
    system, hops = lfp
    hop = hops[0]
    paper = bvse_neb(system, hop)
    assert paper.converged and paper.steps <= 100 and 0.1 < paper.barrier < 1.0
    assert paper.barrier == pytest.approx(paper.energies.max() - paper.energies.min())
    a = bvse_neb(system, hop, protocol="ions-legacy", seed=1)
    b = bvse_neb(system, hop, protocol="ions-legacy", seed=1)
    c = bvse_neb(system, hop, protocol="ions-legacy", seed=2)
    assert a.barrier == b.barrier  # seeded
    assert not np.allclose(a.positions, c.positions)
    with pytest.raises(ValueError):
        bvse_neb(system, hop, protocol="nope")


def test_image_count_rule():
    assert [n_intermediate_images(L) for L in (2.0, 3.9, 4.5, 5.2, 7.9)] == [3, 3, 4, 5, 5]


def test_improved_tangent_follows_uphill_neighbour():
    x = np.array([[0, 0, 0], [1, 0, 0], [2, 1, 0], [3, 1, 0.0]])
    t = improved_tangents(x, np.array([0.0, 1.0, 2.0, 3.0]))  # monotonic up: tau = R_{i+1} - R_i
    np.testing.assert_allclose(t[0], [1 / np.sqrt(2), 1 / np.sqrt(2), 0])
    np.testing.assert_allclose(t[1], [1, 0, 0])


# ------------------------------------------------------------------ symmetric straight starts
def _bumped_double_well(bump_centre):
    """Two wells at x = -+1.5 A and a repulsive bump near the midpoint: the true path curves around it."""
    wells = np.array([[-1.5, 0.0, 0.0], [1.5, 0.0, 0.0]])
    bump = np.asarray(bump_centre, float)

    def energy_forces(x):
        e = np.zeros(len(x))
        f = np.zeros_like(x)
        for c, a, w in ((wells[0], -1.0, 0.5), (wells[1], -1.0, 0.5), (bump, 2.0, 0.3)):
            d = x - c
            g = a * np.exp(-np.einsum("ij,ij->i", d, d) / w)
            e += g
            f += (2.0 / w) * g[:, None] * d  # -dE/dx
        return e, f

    return wells, energy_forces


def test_symmetric_straight_start_is_flagged_not_trusted():
    from litraj_data.leaderboard.reference.hops.bvse_band_neb import NEBSettings, run_neb

    wells, ef = _bumped_double_well([0.0, 0.0, 0.0])
    band = np.linspace(wells[0], wells[1], 7)
    res = run_neb(band, ef, NEBSettings())
    # the straight line is stationary by symmetry: the band "converges" on the bump's top
    assert res.stationary_start and not res.symmetry_broken
    assert res.converged and res.steps == 0
    broken = run_neb(band, ef, NEBSettings(break_symmetry=0.1, seed=3))
    assert broken.stationary_start and broken.symmetry_broken and broken.converged
    # around the bump, the barrier is far below the straight-line maximum
    assert broken.barrier < res.barrier - 0.5
    assert np.abs(broken.positions[1:-1, 1:]).max() > 0.3  # the band left the line


def test_asymmetric_start_is_not_flagged():
    from litraj_data.leaderboard.reference.hops.bvse_band_neb import NEBSettings, run_neb

    wells, ef = _bumped_double_well([0.0, 0.2, 0.0])  # bump off the line: forces push the band away
    res = run_neb(np.linspace(wells[0], wells[1], 7), ef, NEBSettings())
    assert not res.stationary_start and res.steps > 0
    # a stationary straight start also needs the maximum in the middle
    wells, ef = _bumped_double_well([0.9, 0.0, 0.0])
    res = run_neb(np.linspace(wells[0], wells[1], 7), ef, NEBSettings(climb=False, steps=0))
    assert not res.stationary_start


def test_rocksalt_vacancy_hop_is_a_stationary_start():
    # LiCl's straight hop between edge-sharing octahedra crosses a mirror plane: flagged; the
    # default (paper) protocol keeps the straight-line number, a push lowers it
    from dataclasses import replace

    from litraj_data.leaderboard.reference.hops.bvse_band_neb import PROTOCOLS

    s = real_structures()["LiCl"]
    hop = find_hops(s, "LiCl")[0]
    res = bvse_neb(s, hop)
    assert res.stationary_start and res.steps == 0
    broken = bvse_neb(s, hop, replace(PROTOCOLS["paper"], break_symmetry=0.1))
    assert broken.symmetry_broken and broken.barrier < res.barrier - 0.3
