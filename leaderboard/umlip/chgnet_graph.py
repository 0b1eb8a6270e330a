"""CHGNet crystal graphs with a vectorised line graph (bond graph).

CHGNet's converter builds the atom graph in C but the line graph (every pair of short
bonds sharing an atom: the angles of its three-body interactions) in a nested Python
loop, which takes ~20% of a CHGNet NEB step on a CPU. :func:`line_graph` computes the same
rows, in the same order, from the graph's edge arrays with numpy; tests check that the
result is identical to CHGNet's own (``tests/test_umlip.py``). Anything unexpected in the
graph makes it fall back to CHGNet's method.
"""
from __future__ import annotations

import copy
import types
from typing import Any

import numpy as np


def line_graph(graph: Any, cutoff: float) -> tuple[Any, Any]:
    """``(bond_graph, undirected2directed)`` exactly as ``Graph.line_graph_adjacency_list``
    (as integer arrays instead of lists: the converter turns either into the same tensors).

    Rows ``[atom, undirected bond 1, directed bond 1, undirected bond 2, directed bond 2]``:
    for every undirected bond not longer than ``cutoff``, for each of its two ends (with the
    directed bond leaving that end), every other directed bond leaving the same atom that
    is shorter than ``cutoff``, in the order the atom lists its bonds.
    """
    directed = graph.directed_edges_list
    undirected = graph.undirected_edges_list
    if len(directed) != 2 * len(undirected):
        return graph.__class__.line_graph_adjacency_list(graph, cutoff)  # CHGNet raises its own error
    n_dir = len(directed)
    d_undirected = np.fromiter((e.info["undirected_edge_index"] for e in directed), np.int64, n_dir)
    d_distance = np.fromiter((e.info["distance"] for e in directed), np.float64, n_dir)
    u_ends = [e.nodes for e in undirected]
    u_dirs = [e.info["directed_edge_index"] for e in undirected]
    if any(len(d) != 2 for d in u_dirs):
        return graph.__class__.line_graph_adjacency_list(graph, cutoff)
    undirected2directed = np.fromiter((d[0] for d in u_dirs), np.int64, len(u_dirs))
    # the bonds leaving each atom, in the order the atom lists them, kept if shorter than cutoff
    short = d_distance < cutoff
    leaving: list[np.ndarray] = []
    for node in graph.nodes:
        order = np.fromiter((e.index for group in node.neighbors.values() for e in group), np.int64)
        leaving.append(order[short[order]])
    u_distance = np.fromiter((e.info["distance"] for e in undirected), np.float64, len(undirected))
    keep = np.flatnonzero(~(u_distance > cutoff))
    if keep.size == 0:
        return [], undirected2directed
    centres, bonds, dirs = [], [], []
    for u in keep.tolist():
        for centre, d in zip(u_ends[u], u_dirs[u]):
            centres.append(centre)
            bonds.append(u)
            dirs.append(d)
    lists = [leaving[c] for c in centres]
    sizes = np.fromiter((len(x) for x in lists), np.int64, len(lists))
    others = np.concatenate(lists) if lists else np.zeros(0, np.int64)
    centre = np.repeat(np.asarray(centres, np.int64), sizes)
    bond = np.repeat(np.asarray(bonds, np.int64), sizes)
    first = np.repeat(np.asarray(dirs, np.int64), sizes)
    mask = others != first
    rows = np.stack([centre, bond, first, d_undirected[others], others], axis=1)[mask]
    return rows, undirected2directed


def fast_converter(converter: Any) -> Any:
    """A copy of a CHGNet ``CrystalGraphConverter`` whose graphs use :func:`line_graph`."""
    fast = copy.copy(converter)
    make = converter.create_graph

    def create_graph(*args: Any, **kwargs: Any) -> Any:
        graph = make(*args, **kwargs)
        graph.line_graph_adjacency_list = types.MethodType(line_graph, graph)
        return graph

    fast.create_graph = create_graph
    return fast
