"""CHGNet crystal graphs built with numpy: CHGNet's own tensors, without its Python objects.

CHGNet's converter matches every directed bond of pymatgen's neighbour list with its
reverse in C, then turns the result into one Python object per atom and per bond, and builds
the line graph (every pair of short bonds sharing an atom: the angles of its three-body
terms) in a nested Python loop. For the tens-of-atoms supercells of a NEB that is ~20% of a
CHGNet step on a CPU, repeated for every image at every step.

:class:`FastGraphConverter` computes the same rows, in the same order, from the neighbour
list's arrays: a bond and its reverse (swapped atoms, negated image) form one undirected
bond, numbered in order of first appearance, exactly as CHGNet's ``create_graph`` numbers
them; each atom lists its bonds grouped by neighbour in order of first appearance, as
CHGNet's node dictionaries do. Tests check that the tensors are identical to CHGNet's own
(``tests/test_umlip.py``). A neighbour list that CHGNet's matching would treat specially
(a bond without its reverse, a bond listed twice) is handed to CHGNet's converter.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from litraj_data.lazy import lazy_from, lazy_import


def pair_bonds(center: np.ndarray, neighbor: np.ndarray, image: np.ndarray, n_atoms: int
               ) -> tuple[np.ndarray, np.ndarray] | None:
    """Match every directed bond with its reverse, as CHGNet's ``create_graph`` does.

    Returns
    -------
    (directed2undirected, undirected2directed) or None
        ``directed2undirected[i]``: undirected bond of directed bond ``i``, numbered in order
        of first appearance; ``undirected2directed[u]``: (first, second) directed bonds of
        ``u``, shape (n_undirected, 2). ``None`` when there are no bonds, or a bond has no
        reverse or appears twice (CHGNet then keeps a one-sided bond; not this function's job).
    """
    n = len(center)
    image = np.asarray(image, dtype=np.int64).reshape(n, 3)
    if n == 0:
        return None  # no bonds at all: CHGNet's own shapes and isolated-atom policy
    span = int(np.abs(image).max()) * 2 + 1
    offset = span // 2

    def code(c: np.ndarray, nb: np.ndarray, img: np.ndarray) -> np.ndarray:
        shifted = img + offset
        return ((c * n_atoms + nb) * span + shifted[:, 0]) * span * span + shifted[:, 1] * span + shifted[:, 2]

    forward = code(center, neighbor, image)
    backward = code(neighbor, center, -image)
    order = np.argsort(forward, kind="stable")
    sorted_codes = forward[order]
    if n > 1 and (np.diff(sorted_codes) == 0).any():
        return None  # a bond listed twice
    where = np.searchsorted(sorted_codes, backward)
    where = np.minimum(where, n - 1)
    if not (sorted_codes[where] == backward).all():
        return None  # a bond without its reverse
    partner = order[where]
    index = np.arange(n)
    first = np.minimum(index, partner)  # the bond that created the undirected bond
    creators = np.flatnonzero(first == index)
    numbering = np.empty(n, np.int64)
    numbering[creators] = np.arange(len(creators))
    directed2undirected = numbering[first]
    undirected2directed = np.stack([creators, partner[creators]], axis=1)
    return directed2undirected, undirected2directed


def leaving_bonds(center: np.ndarray, neighbor: np.ndarray, n_atoms: int) -> np.ndarray:
    """Directed bonds sorted by centre atom, each atom's grouped by neighbour in order of first
    appearance (the order of CHGNet's ``node.neighbors``), index order within a group."""
    n = len(center)
    index = np.arange(n)
    pair = center.astype(np.int64) * n_atoms + neighbor
    # first appearance of each (centre, neighbour) pair
    uniq, inverse = np.unique(pair, return_inverse=True)
    first_seen = np.full(len(uniq), n, np.int64)
    np.minimum.at(first_seen, inverse, index)
    return np.lexsort((index, first_seen[inverse], center))


def line_graph(center: np.ndarray, neighbor: np.ndarray, distance: np.ndarray,
               directed2undirected: np.ndarray, undirected2directed: np.ndarray, n_atoms: int,
               cutoff: float) -> np.ndarray:
    """Rows ``[atom, undirected bond 1, directed bond 1, undirected bond 2, directed bond 2]``
    exactly as CHGNet's ``Graph.line_graph_adjacency_list``.

    For every undirected bond not longer than ``cutoff``, for each of its two ends (with the
    directed bond leaving that end), every other directed bond leaving the same atom that is
    shorter than ``cutoff``, in the order the atom lists its bonds.
    """
    u_distance = distance[undirected2directed[:, 0]]
    keep = np.flatnonzero(~(u_distance > cutoff))
    if keep.size == 0:
        return np.zeros(0, np.int64)  # CHGNet's empty list: a tensor of shape (0,)
    order = leaving_bonds(center, neighbor, n_atoms)
    order = order[distance[order] < cutoff]  # the short bonds leaving each atom, atom by atom
    counts = np.bincount(center[order], minlength=n_atoms)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # for each kept undirected bond: its first end then its second end
    dirs = undirected2directed[keep].reshape(-1)
    bonds = np.repeat(keep, 2)
    centres = center[dirs]
    sizes = counts[centres]
    total = int(sizes.sum())
    slot = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    others = order[np.repeat(starts[centres], sizes) + slot]
    first = np.repeat(dirs, sizes)
    rows = np.stack([np.repeat(centres, sizes), np.repeat(bonds, sizes), first,
                     directed2undirected[others], others], axis=1)
    return rows[others != first]


class FastGraphConverter:
    """Drop-in for a CHGNet ``CrystalGraphConverter``: same graphs, built with numpy.

    Parameters
    ----------
    converter : chgnet.graph.CrystalGraphConverter
        The model's converter (cutoffs, isolated-atom policy; the fallback).
    """

    def __init__(self, converter: Any) -> None:
        self.converter = converter
        self.atom_graph_cutoff = converter.atom_graph_cutoff
        self.bond_graph_cutoff = converter.bond_graph_cutoff
        self.fallbacks = 0  # structures handed to CHGNet's converter (for tests)

    def __call__(self, structure: Any, graph_id: str | None = None, mp_id: str | None = None) -> Any:
        torch = lazy_import("torch")
        CrystalGraph = lazy_from("chgnet.graph.crystalgraph", "CrystalGraph")
        TORCH_DTYPE = lazy_from("chgnet.model.model", "TORCH_DTYPE")

        center, neighbor, image, distance = structure.get_neighbor_list(
            r=self.atom_graph_cutoff, sites=structure.sites, numerical_tol=1e-8)
        n_atoms = len(structure)
        center = np.asarray(center, np.int64)
        neighbor = np.asarray(neighbor, np.int64)
        paired = pair_bonds(center, neighbor, image, n_atoms)
        if paired is None:
            self.fallbacks += 1
            return self.converter(structure, graph_id=graph_id, mp_id=mp_id)
        directed2undirected, undirected2directed = paired
        bond_graph = line_graph(center, neighbor, np.asarray(distance, float), directed2undirected,
                                undirected2directed, n_atoms, self.bond_graph_cutoff)
        self._check_isolated(n_atoms, center, graph_id)
        return CrystalGraph(
            atomic_number=torch.tensor([site.specie.Z for site in structure], dtype=torch.int32),
            atom_frac_coord=torch.tensor(structure.frac_coords, dtype=TORCH_DTYPE, requires_grad=True),
            atom_graph=torch.from_numpy(np.stack([center, neighbor], axis=1).astype(np.int32)),
            neighbor_image=torch.tensor(image, dtype=TORCH_DTYPE),
            directed2undirected=torch.from_numpy(directed2undirected.astype(np.int32)),
            undirected2directed=torch.from_numpy(undirected2directed[:, 0].astype(np.int32)),
            bond_graph=torch.from_numpy(bond_graph.astype(np.int32)),
            lattice=torch.tensor(structure.lattice.matrix, dtype=TORCH_DTYPE, requires_grad=True),
            graph_id=graph_id, mp_id=mp_id, composition=structure.composition.formula,
            atom_graph_cutoff=self.atom_graph_cutoff, bond_graph_cutoff=self.bond_graph_cutoff,
        )

    def _check_isolated(self, n_atoms: int, center: np.ndarray, graph_id: str | None) -> None:
        # CHGNet's isolated-atom policy, same message
        isolated = n_atoms - len(np.unique(center))
        if not isolated:
            return
        msg = (f"Structure {graph_id=} has {isolated} isolated atom(s) with "
               f"atom_graph_cutoff={self.atom_graph_cutoff}. CHGNet calculation will likely go wrong")
        policy = getattr(self.converter, "on_isolated_atoms", "error")
        if policy == "error":
            raise ValueError(msg)
        if policy == "warn":
            print(msg, file=sys.stderr)


def fast_converter(converter: Any) -> FastGraphConverter:
    """A converter giving ``converter``'s graphs, built with numpy (:class:`FastGraphConverter`)."""
    return FastGraphConverter(converter)
