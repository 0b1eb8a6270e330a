"""Test oracles: plain, slow or test-only versions of what the package computes.

Kept with the tests (not shipped in the package): each is the straightforward form that an
optimised or indirect path of the package must agree with. The BVSE landscape and
percolation oracles live in ``tests/bvse_reference.py``; the peer codes' wrappers in
``tests/hops_ions_reference.py``.

* :func:`check_split_rule`: the paper's element-coverage rule, checked on a split
  (``litraj_data.builders.splits.assign_splits`` must satisfy it);
* :func:`bottlenecks_reference`, :func:`canonical_edge`: the edge-by-edge loops that
  ``litraj_data.leaderboard.reference.hops.graph`` vectorised;
* :func:`periodic_dimension`: the dimensionality of a periodic graph, one union-find run
  (``percolation_thresholds`` sweeps the same structure by weight);
* :func:`relax_together`: FIRE relaxations advanced in lock step by the NEB protocol's
  own generators (each must follow ``FIRE(atoms).run`` exactly);
* :func:`read_grd`: reads back the VESTA ``.grd`` files that ``bvse.volumetric.write_grd`` writes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from litraj_data.builders.splits import SPLITS
from litraj_data.leaderboard.reference.hops.energy import segment_distance
from litraj_data.leaderboard.reference.neb.protocol import guard, optimise, together
from litraj_data.leaderboard.reference.physics.periodic import PeriodicUnionFind, lattice_images


def check_split_rule(split: Mapping[str, str], ids_to_elements: Mapping[str, Iterable[str]]) -> list[str]:
    """Violations of the element-coverage rule (empty when it holds).

    Every element of the test split must appear in val, every element of val in train.
    """
    have: dict[str, set[str]] = {s: set() for s in SPLITS}
    for i, s in split.items():
        have[s] |= set(ids_to_elements[i])
    out = [f"test element {e} not in val" for e in sorted(have["test"] - have["val"])]
    out += [f"val element {e} not in train" for e in sorted(have["val"] - have["train"])]
    return out


def canonical_edge(s: int, t: int, o: np.ndarray) -> tuple[int, ...]:
    """The stored orientation of one edge: the smaller of ``(s, t, o)`` and ``(t, s, -o)``."""
    a = (int(s), int(t), *map(int, o))
    b = (int(t), int(s), *map(int, -np.asarray(o)))
    return min(a, b)


def bottlenecks_reference(cell: np.ndarray, frac: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``hops.graph.bottlenecks`` edge by edge (the loop it replaced)."""
    out = np.empty(len(edges))
    cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for k, (s, t, *o) in enumerate(edges):
        a = frac[s] @ cell
        b = (frac[t] + np.asarray(o)) @ cell
        length = float(np.linalg.norm(b - a))
        if s not in cache:
            cache[s] = lattice_images(cell, frac, a, length + 1.0 + 1e-9)
        atom, shift, pos = cache[s]
        if np.linalg.norm(pos - a, axis=1).max(initial=0.0) < length + 0.5:  # re-gather for longer edges
            cache[s] = atom, shift, pos = lattice_images(cell, frac, a, length + 3.0)
        is_end = ((atom == s) & np.all(shift == 0, axis=1)) | ((atom == t) & np.all(shift == o, axis=1))
        out[k] = segment_distance(pos[~is_end], a, b).min(initial=np.inf)
    return out


def periodic_dimension(n_sites: int, edges: np.ndarray) -> int:
    """Periodic dimensionality (0-3) of the graph on ``n_sites`` sites with ``edges``.

    ``edges`` rows are ``site_a, site_b, ox, oy, oz``: site_a in cell 0 joined to site_b in
    cell ``(ox, oy, oz)``, sites numbered 0..n_sites-1.
    """
    uf = PeriodicUnionFind(n_sites)
    for s, t, *o in np.asarray(edges, dtype=np.int64).reshape(-1, 5).tolist():
        uf.union(s, t, o)
    return uf.dimension


def drive(program: Any) -> Any:
    """Run a protocol generator to its end with nothing shared (its reads evaluate on demand)."""
    while True:
        try:
            next(program)
        except StopIteration as stop:
            return stop.value


def relax_together(structures: list[Any], fmax: float, steps: int, limit: float,
                   stages: list[str]) -> list[tuple[int, bool]]:
    """Relax each structure with its own FIRE, all advanced in lock step.

    Each optimiser follows exactly the path of ``FIRE(atoms).run(fmax, steps)``; when the
    structures share a batched group, the group evaluates all of them in one model call per
    step. Returns ``(steps, converged)`` per structure.
    """
    from ase.optimize import FIRE

    def reader(atoms: Any, name: str):
        return lambda: guard(np.array([atoms.get_potential_energy()]), atoms.get_forces(), limit, name)

    return drive(together([optimise(FIRE(a, logfile=None), fmax, steps, reader(a, s))
                           for a, s in zip(structures, stages)]))


def read_grd(path: str | Path) -> np.ndarray:
    """Read back a ``.grd`` file written by ``bvse.volumetric.write_grd``."""
    lines = Path(path).read_text().splitlines()
    shape = tuple(int(x) for x in lines[2].split())
    data = np.array([float(x) for x in lines[3:] if x.strip()])
    return data.reshape(shape, order="F")
