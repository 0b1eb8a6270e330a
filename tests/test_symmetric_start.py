"""BVSE-NEB straight starts that are stationary by symmetry (issue 26, point 9).

Layered LiMO2 (R-3m) built here from lattice + space group: the in-plane Li-Li hop lies on a
2-fold axis, so the perpendicular force on its straight path vanishes and the band "converges"
at step 0 on the straight path's maximum. No hop may come back converged at step 0 without
either the upper-bound flag or a symmetry-breaking relaxation, also when the structure is only
symmetric to a CIF's printed precision (where the force test alone misses it).
"""
from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from litraj_data.leaderboard.reference.hops.api import HopSystem, hop_barriers
from litraj_data.leaderboard.reference.hops.bvse_band_neb import PROTOCOLS
from litraj_data.leaderboard.reference.hops.path_symmetry import path_symmetry, space_group_operations

BROKEN = replace(PROTOCOLS["paper"], break_symmetry=0.3)


def layered(metal: str, a: float, c: float, z_o: float, decimals: int | None = None) -> Structure:
    """alpha-NaFeO2-type LiMO2 (R-3m, hexagonal setting); ``decimals`` rounds the coordinates as a CIF would."""
    s = Structure.from_spacegroup("R-3m", Lattice.hexagonal(a, c), ["Li", metal, "O"],
                                  [[0, 0, 0.5], [0, 0, 0], [0, 0, z_o]])
    if decimals is not None:
        s = Structure(s.lattice, s.species, np.round(s.frac_coords, decimals))
    return s


LAYERED = {
    "LiCoO2": ("Co", 2.816, 14.05, 0.2396),  # the LiCoO2 type
    "LiNiO2": ("Ni", 2.88, 14.19, 0.2415),
    "LiCrO2": ("Cr", 2.90, 14.40, 0.2650),
}


def _all_hops(name: str, decimals: int | None = None, protocol=PROTOCOLS["paper"]):
    s = layered(*LAYERED[name], decimals=decimals)
    return s, hop_barriers(s, name, cutoff=6.0, protocol=protocol)


@pytest.mark.parametrize("decimals", [None, 4])
@pytest.mark.parametrize("name", list(LAYERED))
def test_no_hop_converged_at_step_zero_without_a_flag(name, decimals):
    _, res = _all_hops(name, decimals)
    assert res.results and all(r is not None for r in res.results)
    at_start = [(h, r) for h, r in zip(res.hops, res.results) if r.converged and r.steps == 0]
    assert at_start, "the in-plane hop converges at step 0 on its straight path"
    for h, r in at_start:
        assert r.upper_bound or r.symmetry_broken, h.edge_id
    # the in-plane Li-Li hop (the shortest, a = 2.8-2.9 A): on a 2-fold axis of the framework
    inplane = [(h, r) for h, r in zip(res.hops, res.results) if abs(h.length - LAYERED[name][1]) < 1e-2]
    assert inplane
    for h, r in inplane:
        assert r.symmetric_start and r.upper_bound
        sym = r.extras["path_symmetry"]
        assert sym["free_dims"] == 1 and "2-fold axis along the path" in sym["elements"]
    # the longer hops leave their straight start (steps > 0): not flagged
    for h, r in zip(res.hops, res.results):
        if r.steps > 0 and not r.symmetric_start:
            assert not r.upper_bound, h.edge_id


def test_rounded_cif_is_caught_by_symmetry_where_the_force_test_misses_it():
    # the case: coordinates at a CIF's precision, perpendicular force ~0.06 eV/A (below
    # fmax, above the force test's 1e-6): converged at step 0 with stationary_start False
    _, res = _all_hops("LiCoO2", decimals=4)
    missed = [r for r in res.results if r.converged and r.steps == 0 and not r.stationary_start]
    assert missed, "the rounded structure must reproduce the reported case"
    assert all(r.symmetric_start and r.upper_bound for r in missed)


def test_seeded_break_lowers_the_inplane_barrier_keeps_the_lower_and_is_deterministic():
    s, plain = _all_hops("LiCoO2")
    _, broken = _all_hops("LiCoO2", protocol=BROKEN)
    _, again = _all_hops("LiCoO2", protocol=BROKEN)
    for h, p, b, b2 in zip(plain.hops, plain.results, broken.results, again.results):
        assert b.barrier == b2.barrier and np.array_equal(b.positions, b2.positions)  # seeded
        if p.upper_bound:
            assert b.symmetry_broken and not b.upper_bound
            assert b.straight_barrier == pytest.approx(p.barrier)
            assert b.barrier <= p.barrier  # the lower one is kept
        else:
            assert b.barrier == p.barrier and not b.symmetry_broken
    h, p, b = next((h, p, b) for h, p, b in zip(plain.hops, plain.results, broken.results) if p.upper_bound)
    # the straight in-plane path crosses the O-O edge shared by two Li octahedra; around it (via
    # the tetrahedral site) the barrier is less than half
    assert b.barrier < 0.6 * p.barrier
    assert np.abs(np.cross(b.positions[1:-1] - b.positions[0], b.positions[-1] - b.positions[0])).max() > 0.3


def test_path_symmetry_names_the_elements_and_respects_the_supercell():
    s = layered(*LAYERED["LiCoO2"])
    system = HopSystem.from_structure(s, "LiCoO2")
    rot, tr = space_group_operations(system.cell, system.frac, system.atoms.numbers)
    li = [i for i, z in enumerate(system.atoms.numbers) if z == 3][0]
    a = system.frac[li]
    inplane = path_symmetry(system.cell, a, a + [1, 0, 0], rot, tr, (4, 4, 1))
    assert inplane.stationary and inplane.fixing == 2 and inplane.reversing == 2
    assert "inversion centre at the midpoint" in inplane.elements
    # a supercell whose lattice the 2-fold axis does not preserve: the operation does not count
    skew = path_symmetry(system.cell, a, a + [1, 0, 0], rot, tr, (4, 3, 1))
    assert skew.free_dims == 3 and not skew.stationary
    # a P1 framework (every atom displaced): no operation, no constraint
    p1 = s.copy()
    p1.perturb(0.2, min_distance=0.1)
    s1 = HopSystem.from_structure(p1, "P1")
    r1, t1 = space_group_operations(s1.cell, s1.frac, s1.atoms.numbers)
    assert len(r1) == 1
    assert path_symmetry(s1.cell, s1.frac[li], s1.frac[li] + [1, 0, 0], r1, t1).free_dims == 3


def test_the_flag_is_in_hops_json_and_in_the_builder_failures(tmp_path, capsys):
    from litraj_data.builders.nebbvse122k import build_nebbvse122k
    from litraj_data.cli import main

    s = layered(*LAYERED["LiNiO2"])
    cif = tmp_path / "LiNiO2.cif"
    s.to(filename=str(cif))
    assert main(["hops", str(cif), "--neb", "bvse", "--cutoff", "6", "--json"]) == 0
    hops = json.loads(capsys.readouterr().out)["records"][0]["hops"]
    flagged = [h for h in hops if h["upper_bound"]]
    assert flagged and all(h["symmetric_start"] and "2-fold axis along the path" in h["symmetry_elements"]
                           for h in flagged)
    assert all(h["upper_bound"] or h["neb_steps"] > 0 for h in hops)
    assert main(["hops", str(cif), "--neb", "bvse", "--cutoff", "6", "--json", "--break-symmetry", "0.3"]) == 0
    broken = json.loads(capsys.readouterr().out)["records"][0]["hops"]
    for h in broken:
        if h["edge_id"] in {f["edge_id"] for f in flagged}:
            assert h["symmetry_broken"] and not h["upper_bound"]
            assert h["barrier_dropped"] is True and h["em"] < h["em_straight"]
    assert main(["hops", str(cif), "--neb", "bvse", "--break-symmetry", "5"]) == 2
    capsys.readouterr()

    version = build_nebbvse122k([("LiNiO2", s)], tmp_path / "data", splits={"LiNiO2": "train"},
                                progress=False, cutoff=6.0)
    fails = list(csv.DictReader(open(version / "failures.csv")))
    listed = {f["edge_id"] for f in fails if f["reason"] == "upper_bound"}
    assert listed == {h["edge_id"] for h in flagged}


def test_the_flag_is_a_column_of_the_shipped_nebbvse122k_sample():
    from litraj_data import load_litraj
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.hops.api import hop_barriers as barriers

    dd = load_litraj("nebBVSE122k", source="sample")
    rows = {r["edge_id"]: r for s in dd for r in dd[s]}
    assert all(r["em_upper_bound"] is not None for r in rows.values())
    for mid in ("sample-LiCoO2-166", "sample-Li3N-191"):
        res = barriers(get_sample_structure(mid), material_id=mid)
        flags = {h.edge_id: r.upper_bound for h, r in zip(res.hops, res.results)}
        assert any(flags.values()) and not all(flags.values())
        assert flags == {e: rows[e]["em_upper_bound"] for e in flags}
        for e in flags:  # no hop converged at step 0 without the flag
            assert not (rows[e]["converged"] and rows[e]["neb_steps"] == 0) or rows[e]["em_upper_bound"]
