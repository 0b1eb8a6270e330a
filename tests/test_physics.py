"""The shared reference physics (``leaderboard.reference.physics``): periodic union-find, lattice images,
one oxidation-state rule, one pair-parameter type, and BVSE / hop percolation on top of them."""
from __future__ import annotations

import argparse
import ast
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from pymatgen.core import Lattice, Structure

from litraj_data.errors import StructureError
from litraj_data.leaderboard.reference.physics import periodic
from litraj_data.leaderboard.reference.physics.oxidation import (
    assign_oxidation_states,
    given_oxidation_states,
    oxidation_states,
)
from litraj_data.leaderboard.reference.physics.periodic import (
    PeriodicUnionFind,
    cell_images,
    extends_rank,
    lattice_images,
    percolation_thresholds,
)
from litraj_data.leaderboard.reference.physics.softbv import PairParameters, framework_parameters

from hops_structures import real_structures
from oracles import periodic_dimension

PHYSICS = Path(__file__).resolve().parents[1] / "leaderboard" / "physics"


# ------------------------------------------------------------------ periodic union-find
def test_chain_sheet_and_net_built_by_hand_have_dims_1_2_3():
    # two sites per cell: A (0) and B (1), joined A -> B in the same cell
    chain = [(0, 1, (0, 0, 0)), (1, 0, (1, 0, 0))]  # A-B-A'... along a
    sheet = chain + [(0, 1, (0, 1, 0))]  # A also bonds to B one cell up along b
    net = sheet + [(1, 1, (0, 0, 1))]  # B bonds to its own image along c
    for edges, dim in ((chain, 1), (sheet, 2), (net, 3)):
        uf = PeriodicUnionFind(2)
        ranks = [uf.union(s, t, o) for s, t, o in edges]
        assert uf.dimension == dim
        assert ranks[-1] == dim  # union returns the rank of the component it grew
        assert uf.rank(0) == uf.rank(1) == dim
        assert periodic_dimension(2, np.array([[s, t, *o] for s, t, o in edges])) == dim


def test_isolated_cluster_has_dimension_zero():
    # a triangle closed inside one cell: a cycle, but with zero net translation
    uf = PeriodicUnionFind(4)
    for s, t in ((0, 1), (1, 2), (2, 0)):
        uf.union(s, t)
    assert uf.dimension == 0 and uf.rank(0) == 0
    # the same triangle wrapping the cell once is a chain; the untouched site 3 stays 0D
    uf.union(2, 0, (0, 0, 1))
    assert uf.rank(0) == 1 and uf.rank(3) == 0 and uf.dimension == 1


def test_potentials_survive_path_compression_and_merges():
    # a long path of unions with shifts, closed far from where it started
    n = 50
    uf = PeriodicUnionFind(n)
    for i in range(n - 1):
        uf.union(i, i + 1, (1, 0, 0) if i % 7 == 0 else (0, 0, 0))
    k = sum(1 for i in range(n - 1) if i % 7 == 0)  # 7 steps along a
    root, cell = uf.find(n - 1)
    assert root == uf.find(0)[0]
    assert np.subtract(cell, uf.find(0)[1]).tolist() == [k, 0, 0]
    assert uf.dimension == 0
    # closing back with the opposite translation makes no cycle; any other one does
    uf.union(n - 1, 0, (-k, 0, 0))
    assert uf.dimension == 0
    assert uf.union(n - 1, 0, (-k, 2, 0)) == 1
    assert uf.union(n - 1, 0, (1 - k, 0, 0)) == 2
    assert uf.dimension == 2
    # merging two periodic components keeps the span of both bases
    uf2 = PeriodicUnionFind(2)
    uf2.union(0, 0, (1, 0, 0))
    uf2.union(1, 1, (0, 0, 3))
    assert uf2.rank(0) == uf2.rank(1) == 1
    uf2.union(0, 1, (5, 5, 5))
    assert uf2.rank(0) == 2


def test_add_translation_and_exact_integer_rank():
    basis: list = []
    assert not extends_rank(basis, (0, 0, 0))
    assert extends_rank(basis, (10**12, 1, 0))
    assert not extends_rank(basis, (2 * 10**12, 2, 0))  # parallel
    # nearly parallel: independent, but a float rank with default tolerance calls it parallel
    z = (10**12 + 1, 1, 0)
    assert np.linalg.matrix_rank(np.array([basis[0], z], dtype=float)) == 1
    assert extends_rank(basis, z)
    assert not extends_rank(basis, (3, 0, 0))  # in the plane z = 0
    assert extends_rank(basis, (0, 0, 1))
    uf = PeriodicUnionFind(3)
    assert uf.add_translation(2, (0, 0, 0)) == 0
    assert uf.add_translation(2, (0, 4, 0)) == 1 and uf.rank(2) == 1 and uf.rank(0) == 0


def test_percolation_thresholds_inf_when_never_reached():
    edges = np.array([[0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    dim, thr = percolation_thresholds(2, edges, np.array([0.5, 0.2, 0.1, 0.1]))
    assert dim == 2
    assert thr[0] == 0.2 and thr[1] == 0.5 and thr[2] == math.inf
    # an in-cell ring never percolates: all inf (never nan)
    dim, thr = percolation_thresholds(2, edges[2:], np.array([0.1, 0.1]))
    assert dim == 0 and np.isposinf(thr).all()
    dim, thr = percolation_thresholds(3, np.zeros((0, 5), int), np.zeros(0))
    assert dim == 0 and np.isposinf(thr).all()
    # ties: edges within ``tie`` of the lightest pending one enter with it
    dim, thr = percolation_thresholds(1, edges[:2], np.array([0.20005, 0.2]), tie=1e-4)
    assert thr.tolist() == [0.2, 0.2, math.inf]


# ------------------------------------------------------------------ lattice images
def test_lattice_and_cell_images_match_brute_force():
    cell = np.array([[4.0, 0.0, 0.0], [1.3, 3.5, 0.0], [0.4, -0.7, 5.1]])
    frac = np.array([[0.1, 0.2, 0.3], [0.9, 0.5, -0.2], [0.5, 1.4, 0.0]])
    center = np.array([0.3, 2.0, -1.0])
    radius = 6.2
    atom, shift, pos = lattice_images(cell, frac, center, radius)
    brute = set()
    for a, t in itertools.product(range(len(frac)), itertools.product(range(-6, 7), repeat=3)):
        if np.linalg.norm((frac[a] + t) @ cell - center) <= radius:
            brute.add((a, *t))
    assert {(int(a), *map(int, s)) for a, s in zip(atom, shift)} == brute
    np.testing.assert_allclose(pos, (frac[atom] + shift) @ cell)
    # every image within ``reach`` of a point of the cell is among the cell images
    images, _ = cell_images(frac, cell, 3.0)
    wrapped = frac - np.floor(frac)
    for p in (np.zeros(3), cell.sum(axis=0), np.array([0.5, 0.5, 0.5]) @ cell):
        a2, s2, _ = lattice_images(cell, wrapped, p, 3.0)
        got = {tuple(np.round(x, 8)) for x in images}
        for a, s in zip(a2, s2):
            assert tuple(np.round((wrapped[a] + s) @ cell, 8)) in got


# ------------------------------------------------------------------ one periodic code for both
def _count_calls(monkeypatch) -> dict[str, int]:
    calls = {"union": 0, "add_translation": 0}
    for name in calls:
        original = getattr(PeriodicUnionFind, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(PeriodicUnionFind, name, spy)
    return calls


def test_bvse_and_hop_percolation_run_the_same_periodic_union_find(monkeypatch):
    from litraj_data.leaderboard.reference.bvse import percolation as bvse_percolation
    from litraj_data.leaderboard.reference.bvse import percolation_levels
    from litraj_data.leaderboard.reference.hops import graph as hop_graph_module
    from litraj_data.leaderboard.reference.hops import percolation as hop_percolation
    from litraj_data.leaderboard.reference.hops.api import hop_graph
    from litraj_data.leaderboard.reference.physics import periodic_compiled

    # the grid sweep is the physics layer's compiled periodic union-find ...
    assert bvse_percolation.percolation_levels.__code__.co_names.count("grid_percolation_sweep") == 1
    assert "grid_percolation_sweep" in vars(periodic_compiled)
    assert hop_graph_module.percolation_thresholds is periodic.percolation_thresholds
    assert hop_percolation.percolation_thresholds is periodic.percolation_thresholds

    calls = _count_calls(monkeypatch)
    e = np.ones((6, 6, 6))
    e[2, :, 2] = 0.5  # a channel along b at 0.5 eV ...
    e[:, 2, 2] = 0.0  # ... crossing a channel along a at 0 eV
    res = percolation_levels(e, connectivity=6)
    assert res.levels[:2] == (0.0, 0.5) and res.levels[2] == 1.0
    # ... and agrees with the Python class, which the test oracle's sweep goes through
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from bvse_reference import percolation_levels_mst

    assert percolation_levels_mst(e, connectivity=6).levels == res.levels
    assert calls["add_translation"] > 0

    before = calls["union"]
    g = hop_graph(real_structures()["Li3N"], "Li3N")
    assert g.max_dim == 3
    assert calls["union"] > before  # and so does the hop graph

    before = calls["union"]
    li = np.nonzero(np.array(real_structures()["Li3N"].atomic_numbers) == 3)[0]
    thr = hop_percolation.percolation_barriers(g, np.full(len(g.hops), 0.25), li)
    assert thr.tolist() == [0.25, 0.25, 0.25]
    assert calls["union"] > before


def test_physics_imports_nothing_above_it():
    allowed = {"numpy", "scipy", "ase", "pymatgen", "spglib", "litraj_data.errors", "litraj_data.io",
               "__future__", "collections", "threading", "json", "math", "dataclasses", "functools", "pathlib", "typing", "pickle",
               "litraj_data.leaderboard.reference.physics", "bvlain", "numba"}
    for path in PHYSICS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                assert any(name == a or name.startswith(a + ".") for a in allowed), f"{path.name} imports {name}"


# ------------------------------------------------------------------ hops percolation: inf / null
def test_hops_cli_json_writes_null_for_a_dimension_never_reached(monkeypatch, tmp_path, capsys):
    from litraj_data.leaderboard.reference.hops import api
    from litraj_data.leaderboard.reference.hops.bvse_band_neb import NEBResult
    from litraj_data.leaderboard.reference.hops.cli import register

    s = real_structures()["LiFePO4"]
    channel = min(h.length for h in api.find_hops(s, "m"))

    def fake_neb(system, hop, *args, **kwargs):
        # only the b-axis channel hops get a barrier: 1D percolation, never 2D or 3D
        if hop.length > channel + 1e-6:
            raise StructureError("fake failure", reason="nan_energy")
        return NEBResult(0.4, True, 3, 0.01, np.zeros((3, 3)), np.zeros(3))

    monkeypatch.setattr(api, "bvse_neb", fake_neb)
    res = api.hop_barriers(s, "m")
    assert res.percolation[0] == pytest.approx(0.4)
    assert np.isposinf(res.percolation[1:]).all()  # inf, never nan

    path = tmp_path / "LiFePO4.json"
    path.write_text(json.dumps(s.as_dict()))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["hops", str(path), "--neb", "bvse", "--json"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "Infinity" not in out and "NaN" not in out
    rec = json.loads(out)["records"][0]
    assert rec["percolation_barriers"] == {"E_1D": 0.4, "E_2D": None, "E_3D": None}


# ------------------------------------------------------------------ oxidation states
def _rocksalt() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_given_states_are_used_and_missing_ones_assigned():
    s = _rocksalt()
    assert given_oxidation_states(s) is None
    assigned = oxidation_states(s)
    assert assigned.tolist() == [1] * 4 + [-1] * 4
    np.testing.assert_array_equal(assigned, assign_oxidation_states(s))
    # pymatgen species states are used as given (here deliberately not BVAnalyzer's answer)
    dec = _rocksalt()
    dec.add_oxidation_state_by_site([2, 2, 2, 2, -2, -2, -2, -2])
    assert oxidation_states(dec).tolist() == [2] * 4 + [-2] * 4
    # ASE arrays['oxi_states'] likewise
    atoms = Atoms(numbers=[3, 3, 9, 9], positions=[[0, 0, 0], [2, 2, 0], [2, 0, 2], [0, 2, 2]],
                  cell=np.eye(3) * 4.03, pbc=True)
    assert oxidation_states(atoms).tolist() == [1, 1, -1, -1]  # assigned (no array)
    atoms.set_array("oxi_states", np.array([1.5, 0.5, -1.0, -1.0]))
    assert oxidation_states(atoms, integer=False).tolist() == [1.5, 0.5, -1.0, -1.0]
    with pytest.raises(StructureError) as err:
        oxidation_states(atoms)  # integers required by default (the softBV table)
    assert err.value.reason == "oxidation_states"
    # all-zero states are what undecorated inputs report: assigned instead
    atoms.set_array("oxi_states", np.zeros(4))
    assert oxidation_states(atoms).tolist() == [1, 1, -1, -1]
    atoms.set_array("oxi_states", np.array([1.0, np.nan, -1.0, -1.0]))
    with pytest.raises(StructureError) as err:
        oxidation_states(atoms, integer=False)
    assert err.value.reason == "oxidation_states"


@pytest.mark.parametrize(
    "structure, reason",
    [
        (Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]), "no_mobile_ion"),
        (Structure(Lattice.cubic(4.0), [{"Li": 0.5, "Na": 0.5}, "F"], [[0, 0, 0], [0.5, 0.5, 0.5]]), "disordered"),
        (Structure(Lattice.cubic(3.0), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]]), "oxidation_states"),
    ],
)
def test_oxidation_failures_have_reasons(structure, reason):
    with pytest.raises(StructureError) as err:
        oxidation_states(structure)
    assert err.value.reason == reason


# ------------------------------------------------------------------ one pair-parameter type
def test_bvse_and_hops_use_the_same_pair_parameters():
    from litraj_data.leaderboard.reference.hops.api import HopSystem

    s = real_structures()["LiFePO4"]
    system = HopSystem.from_structure(s, "m")
    assert isinstance(system.params, PairParameters)
    states = oxidation_states(s)
    symbols = [site.specie.symbol for site in s]
    fw = [i for i, el in enumerate(symbols) if el != "Li"]
    bvse = framework_parameters([symbols[i] for i in fw], states[fw])
    hops = system.params.take(np.array(fw))
    for name in ("d0", "r_min", "alpha", "coulomb_prefactor", "screening", "morse"):
        np.testing.assert_array_equal(getattr(bvse, name), getattr(hops, name))
    assert hops.morse.sum() == sum(1 for i in fw if symbols[i] == "O")
    # Li-Li is a screened Coulomb repulsion in the hop model
    li = [i for i, el in enumerate(symbols) if el == "Li"]
    assert np.all(system.params.coulomb_prefactor[li] > 0) and not system.params.morse[li].any()
    with pytest.raises(StructureError) as err:
        framework_parameters(["O"], [-2], mobile=("Li", 0))
    assert err.value.reason == "oxidation_states"


def test_two_li_on_one_site_is_refused_by_both_reference_calculators():
    """A bvel or hop result for a structure with a doubled site must not pass silently."""
    from pymatgen.core import Lattice, Structure

    from litraj_data.errors import StructureError
    from litraj_data.leaderboard.reference.bvse import bvse_barriers
    from litraj_data.leaderboard.reference.hops.graph import build_hop_graph

    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s.append("Li", s[0].frac_coords + 1e-3)
    with pytest.raises(StructureError) as err:
        bvse_barriers(s, resolution=0.3, k=30)
    assert err.value.reason == "overlapping_atoms"
    with pytest.raises(StructureError) as err:
        build_hop_graph(s.lattice.matrix, s.frac_coords, np.array(s.atomic_numbers), "x")
    assert err.value.reason == "overlapping_atoms"


def test_forced_oxidation_states_are_what_bvanalyzer_assigns():
    # where BVAnalyzer's table leaves one valence per element and the charge balances, the
    # shortcut gives its answer; everything else goes to BVAnalyzer (errors included)
    from pymatgen.io.ase import AseAtomsAdaptor

    from litraj_data.leaderboard.reference.physics import oxidation as ox

    rs = real_structures()
    rocksalt = Lattice.cubic(4.2)
    li2mgo2 = Structure(Lattice.tetragonal(3.0, 6.0), ["Li", "Li", "Mg", "O", "O"],
                        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.25]])
    forced = {"Li2O": rs["Li2O"], "LiF": rs["LiF"], "Li2MgO2": li2mgo2}
    for name, s in forced.items():
        got = ox.forced_oxidation_states(s)
        assert got is not None, name
        bv = ox._bv_analyzer(ox.FORBIDDEN_SPECIES).get_valences(s)
        assert got.tolist() == [float(v) for v in bv], name
        assert ox.oxidation_states(s).tolist() == got.tolist()
        assert ox.forced_oxidation_states(AseAtomsAdaptor.get_atoms(s)).tolist() == got.tolist()
    for name in ("LiCl", "Li3N", "Li2S", "LiCoO2", "LiFePO4"):  # several candidate valences: BVAnalyzer
        assert ox.forced_oxidation_states(rs[name]) is None, name
    unbalanced = Structure(rocksalt, ["Li", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # Li+ O2-: -1 left over
    assert ox.forced_oxidation_states(unbalanced) is None
    with pytest.raises(StructureError) as err:  # BVAnalyzer's verdict, as before
        ox.oxidation_states(unbalanced)
    assert err.value.reason == "oxidation_states"
    # "O-" allowed: oxygen has two candidates, so nothing is forced
    assert ox.forced_oxidation_states(rs["Li2O"], forbidden_species=("P3-",)) is None
