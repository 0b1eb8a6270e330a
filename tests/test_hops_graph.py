"""Hop graph: edges, bottlenecks, exact periodic dimensionality, symmetry reduction, ids."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from litraj_data.errors import StructureError
from litraj_data.leaderboard.reference.hops.api import find_hops, hop_graph
from litraj_data.leaderboard.reference.hops.percolation import percolation_barriers
from litraj_data.leaderboard.reference.physics.periodic import percolation_thresholds

from hops_structures import antifluorite, real_structures
from oracles import bottlenecks_reference, canonical_edge, periodic_dimension


def test_dimensionality_of_simple_periodic_graphs():
    # one site, edge to its own image along a: a chain (1D); add b: a layer; add c: 3D
    assert periodic_dimension(1, np.array([[0, 0, 1, 0, 0]])) == 1
    assert periodic_dimension(1, np.array([[0, 0, 1, 0, 0], [0, 0, 0, 1, 0]])) == 2
    assert periodic_dimension(1, np.array([[0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 1, 1, 1]])) == 3
    # a ring inside the cell (0-1-0 with zero offsets) does not percolate
    assert periodic_dimension(2, np.array([[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]])) == 0
    # two sites alternating along a: 0->1 (0), 1->0 (+a): 1D; parallel vectors count once
    assert periodic_dimension(2, np.array([[0, 1, 0, 0, 0], [1, 0, 1, 0, 0], [0, 0, 2, 0, 0]])) == 1
    # cycle translations found through a chain of unions (not only at the start node)
    e = np.array([[0, 1, 0, 0, 0], [1, 2, 0, 0, 0], [2, 0, 0, 1, 0], [3, 3, 0, 0, 1]])
    assert periodic_dimension(4, e) == 1  # two separate 1D components, different directions


def test_percolation_thresholds_by_weight():
    edges = np.array([[0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]])
    dim, thr = percolation_thresholds(1, edges, np.array([0.3, 0.1, 0.7]))
    assert dim == 3
    np.testing.assert_allclose(thr, [0.1, 0.3, 0.7])


def test_li2se_has_one_inequivalent_hop_in_primitive_and_conventional_cells():
    prim = antifluorite("Se", 6.005)
    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(6.005), ["Li", "Se"], [[.25, .25, .25], [0, 0, 0]])
    for s in (prim, conv):
        g = hop_graph(s, "mp-X")
        assert g.max_dim == 3
        assert len(g.hops) == 1
        assert g.hops[0].length == pytest.approx(6.005 / 2, abs=1e-6)
        # 6 nearest Li neighbours per Li, each edge counted once
        n_li = sum(1 for site in s if site.specie.symbol == "Li")
        assert g.hops[0].multiplicity == 3 * n_li


def test_lifepo4_channels_are_1d_first():
    s = real_structures()["LiFePO4"]
    g = hop_graph(s, "mp-19017")
    assert g.dim_cutoffs[0] == pytest.approx(3.03, abs=0.01)  # b-axis channel
    assert g.max_dim == 3
    assert g.cutoff == pytest.approx(g.dim_cutoffs[2])
    # every edge belongs to an orbit and orbit sizes add up
    assert sum(h.multiplicity for h in g.hops) == len(g.edges)
    assert np.all(g.bottlenecks >= 0.5)
    assert np.all(g.lengths <= g.cutoff + 1e-4)


def test_edge_id_format_and_orientation():
    hops = find_hops(real_structures()["Li3N"], "mp-2251")
    for h in hops:
        parts = h.edge_id.split("_")
        assert parts[0] == "mp-2251"
        assert [int(p) for p in parts[1:]] == [h.source, h.target, *h.offset]
        assert h.source <= h.target
    assert sorted(round(h.length, 3) for h in hops) == [2.106, 2.862]


def test_bottleneck_rejects_edges_through_atoms():
    # Li chain along a with an F halfway: the 4 A edge passes through F and is rejected;
    # Li's next image at 8 A also passes through the F, so the structure cannot percolate
    s = Structure(Lattice.orthorhombic(4.0, 6.0, 6.0), ["Li", "F"], [[0, 0, 0], [0.5, 0, 0]])
    with pytest.raises(StructureError) as exc:
        hop_graph(s, "chain", cutoff=5.0)
    assert exc.value.reason == "no_percolating_hop"
    g = hop_graph(s, "chain", cutoff=7.0, bottleneck=0.5)  # 6 A hops along b and c are free
    assert g.max_dim == 2 and len(g.hops) == 1 and g.hops[0].length == pytest.approx(6.0)


def test_bad_structures_have_reasons():
    no_li = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(StructureError) as exc:
        hop_graph(no_li, "x")
    assert exc.value.reason == "no_mobile_ion"
    overlap = Structure(Lattice.cubic(4.0), ["Li", "F"], [[0, 0, 0], [0.01, 0, 0]])
    with pytest.raises(StructureError) as exc:
        hop_graph(overlap, "x")
    assert exc.value.reason == "overlapping_atoms"
    disordered = Structure(Lattice.cubic(4.0), [{"Li": 0.5, "Na": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(StructureError) as exc:
        hop_graph(disordered, "x")
    assert exc.value.reason == "disordered"


def test_percolation_barriers_follow_orbit_barriers():
    s = real_structures()["LiFePO4"]
    g = hop_graph(s, "m")
    li = np.nonzero(np.array(s.atomic_numbers) == 3)[0]
    barriers = np.array([0.3 if h.length < 3.1 else 1.0 + 0.1 * k for k, h in enumerate(g.hops)])
    thr = percolation_barriers(g, barriers, li)
    assert thr[0] == pytest.approx(0.3)
    assert thr[0] <= thr[1] <= thr[2]
    assert thr[2] <= barriers.max()
    # a missing (failed) barrier on the channel hop removes 1D percolation at 0.3 eV
    b2 = barriers.copy()
    b2[0] = np.nan
    assert percolation_barriers(g, b2, li)[0] > 0.3
    # only the channel hops have barriers: 1D at 0.3 eV, 2D and 3D never ("does not percolate" = inf)
    b3 = np.where([h.length < 3.1 for h in g.hops], 0.3, np.nan)
    thr3 = percolation_barriers(g, b3, li)
    assert thr3[0] == pytest.approx(0.3)
    assert np.isposinf(thr3[1:]).all()
    # no barrier at all: never percolates
    assert np.isposinf(percolation_barriers(g, np.full(len(g.hops), np.nan), li)).all()


@functools.lru_cache(maxsize=1)
def _cells():
    from litraj_data.leaderboard.reference.hops.api import as_atoms

    rng = np.random.default_rng(7)
    out = []
    structures = real_structures()
    for name in ("Li2O", "Li3N", "LiCoO2", "LiFePO4"):
        out.append((name, structures[name]))
        p = structures[name].copy()
        p.perturb(0.05, min_distance=0.01)  # every site moved a little: no symmetry left
        out.append((name + "-perturbed", p))
    # a skewed triclinic cell with a few Li: long edges re-gather the atoms several times
    lat = Lattice.from_parameters(4.1, 5.3, 6.2, 71.0, 103.0, 84.0)
    out.append(("triclinic", Structure(lat, ["Li", "Li", "O", "Li", "F"], rng.uniform(0, 1, (5, 3)))))
    return [(n, as_atoms(s)) for n, s in out]


def test_bottlenecks_equal_the_edge_by_edge_loop_exactly():
    from litraj_data.leaderboard.reference.hops.graph import bottlenecks, collect_edges

    for name, at in _cells():
        cell = at.cell.array
        frac = np.linalg.solve(cell.T, at.positions.T).T
        edges, _ = collect_edges(cell, frac, at.numbers, 3, 8.0)
        assert len(edges), name
        got, ref = bottlenecks(cell, frac, edges), bottlenecks_reference(cell, frac, edges)
        assert np.array_equal(got, ref), (name, np.abs(got - ref).max())
        # small gathering batches: the chunked path gives the same values
        from litraj_data.leaderboard.reference.hops import graph

        orig = graph._segment_distances
        try:
            graph._segment_distances = lambda *a, **k: orig(*a, **{**k, "max_pairs": 7})
            assert np.array_equal(bottlenecks(cell, frac, edges), ref), name
        finally:
            graph._segment_distances = orig


def test_collected_edges_are_canonical_unique_and_sorted():
    from litraj_data.leaderboard.reference.hops.graph import collect_edges

    for name, at in _cells():
        cell = at.cell.array
        frac = np.linalg.solve(cell.T, at.positions.T).T
        edges, lengths = collect_edges(cell, frac, at.numbers, 3, 8.0)
        keys = [tuple(int(v) for v in e) for e in edges]
        assert keys == [canonical_edge(e[0], e[1], np.array(e[2:])) for e in keys], name
        assert len(set(keys)) == len(keys), name
        assert np.all(np.diff(np.round(lengths, 6)) >= 0) and lengths.max() <= 8.0, name
        for (s, t, *o), L in zip(edges, lengths):
            d = (frac[t] + np.array(o) - frac[s]) @ cell
            assert abs(np.linalg.norm(d) - L) < 1e-12
