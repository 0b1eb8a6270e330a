"""Batched band evaluators: the images of a band in as few forward passes as pay off.

One pass over a whole band removes the per-call overhead of image-by-image evaluation,
which dominates for small cells and on GPUs. On a CPU a large batch is compute-bound and
can be slower than single images (measured with ``benchmarks/bench_umlip.py`` on 2 CPU
cores: two 31-atom images take SevenNet-0 1.57x as long in one pass as in two; CHGNet's
whole 63-atom band in one pass is 1.3x slower than one image per pass), so images are
grouped into chunks of at most ``max_batch_atoms`` atoms: the whole band on a GPU, a few
small images at a time on a CPU.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from ase import Atoms

from litraj_data.lazy import lazy_from, lazy_import

#: Default atoms per forward pass by model and device (see the module docstring). On 2 CPU
#: cores (``benchmarks/bench_umlip.py``) CHGNet gains from pairs of ~30-atom images, while
#: SevenNet-0 is compute-bound sooner: two 15-atom images in one pass cost 0.73x of two
#: passes, two 23-atom images 1.03x, two 31-atom images 1.57x.
MAX_BATCH_ATOMS = {"chgnet": {"cpu": 64, "cuda": 100_000}, "sevennet": {"cpu": 32, "cuda": 100_000}}


def chunks(images: Sequence[Atoms], max_atoms: int) -> list[list[int]]:
    """Consecutive image indices grouped so that each group holds <= ``max_atoms`` atoms
    (an image larger than that forms a group of its own)."""
    groups: list[list[int]] = []
    size = 0
    for i, img in enumerate(images):
        if groups and size + len(img) <= max_atoms:
            groups[-1].append(i)
            size += len(img)
        else:
            groups.append([i])
            size = len(img)
    return groups


class CHGNetBandEvaluator:
    """CHGNet energies and forces of several structures per forward pass.

    The graphs are built per image (CHGNet's converter) and evaluated together. Forces come
    from one plain backward pass of the total energy: CHGNet's own ``predict_graph`` (and
    so ``CHGNetCalculator``) differentiates with ``create_graph=True`` (kept for training)
    and ``CHGNetCalculator`` also computes stress and magnetic moments, which a NEB never
    reads. Graphs are built with numpy (:mod:`.chgnet_graph`: CHGNet's own tensors, without
    its per-bond Python objects). Same numbers, less work; if CHGNet's internals
    differ from the version this was written against (0.3-0.4), its public ``predict_graph``
    and converter are used instead.
    """

    def __init__(self, model: Any, device: str = "cpu", max_batch_atoms: int | None = None) -> None:
        self.model = model
        self.device = device
        self.max_batch_atoms = max_batch_atoms or MAX_BATCH_ATOMS["chgnet"].get(device, 64)
        self.fast = True
        from litraj_data.leaderboard.reference.umlip.chgnet_graph import fast_converter

        self.converter = fast_converter(model.graph_converter)  # identical graphs, built with numpy

    def evaluate(self, images: Sequence[Atoms]) -> list[tuple[float, np.ndarray]]:
        results: list[tuple[float, np.ndarray]] = []
        for group in chunks(images, self.max_batch_atoms):
            results.extend(self._energy_forces([self._graph(images[i]) for i in group]))
        return results

    def _graph(self, atoms: Atoms) -> Any:
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(atoms)
        try:
            return self.converter(structure).to(self.device)
        except (AttributeError, TypeError, KeyError):  # other CHGNet graph internals: CHGNet's own converter
            if self.converter is self.model.graph_converter:
                raise
            self.converter = self.model.graph_converter
            return self.converter(structure).to(self.device)

    def _energy_forces(self, graphs: list) -> list[tuple[float, np.ndarray]]:
        if self.fast:
            try:
                return self._direct(graphs)
            except (AttributeError, TypeError, KeyError):  # other CHGNet internals: public path
                self.fast = False
        preds = self.model.predict_graph(graphs, task="ef", batch_size=len(graphs))
        preds = [preds] if isinstance(preds, dict) else preds
        return [(float(p["e"]) * (g.atomic_number.shape[0] if self.model.is_intensive else 1),
                 np.asarray(p["f"], dtype=float)) for p, g in zip(preds, graphs)]

    def _direct(self, graphs: list) -> list[tuple[float, np.ndarray]]:
        torch = lazy_import("torch")
        BatchedGraph = lazy_from("chgnet.model.model", "BatchedGraph")

        model = self.model
        model.eval()
        comp = 0 if model.composition_model is None else model.composition_model(graphs)
        batched = BatchedGraph.from_graphs(graphs, bond_basis_expansion=model.bond_basis_expansion,
                                           angle_basis_expansion=model.angle_basis_expansion, compute_stress=False)
        pred = model._compute(batched, compute_force=False, compute_stress=False, compute_magmom=False)
        n = torch.tensor([g.atomic_number.shape[0] for g in graphs], dtype=pred["e"].dtype, device=pred["e"].device)
        energy = pred["e"] + comp  # per atom when the model is intensive (as predict_graph reports it)
        total = energy * n if model.is_intensive else energy
        grads = torch.autograd.grad(total.sum(), batched.atom_positions)
        return [(float(e), -g.detach().cpu().numpy().astype(float)) for e, g in zip(total.detach().cpu(), grads)]


class SevenNetBandEvaluator:
    """SevenNet energies and forces of several structures as one batched graph.

    Parameters
    ----------
    model : AtomGraphSequential
        A SevenNet model (its own copy: it is switched to batch mode).
    cutoff : float
        Graph cutoff of the checkpoint (A).
    """

    def __init__(self, model: Any, cutoff: float, device: str = "cpu", modal: str | None = None,
                 max_batch_atoms: int | None = None) -> None:
        self.model = model
        self.cutoff = float(cutoff)
        self.device = device
        self.modal = modal
        self.max_batch_atoms = max_batch_atoms or MAX_BATCH_ATOMS["sevennet"].get(device, 32)
        self.model.set_is_batch_data(True)

    def evaluate(self, images: Sequence[Atoms]) -> list[tuple[float, np.ndarray]]:
        out: list[tuple[float, np.ndarray]] = []
        for group in chunks(images, self.max_batch_atoms):
            out.extend(self._evaluate([images[i] for i in group]))
        return out

    def _evaluate(self, images: Sequence[Atoms]) -> list[tuple[float, np.ndarray]]:
        KEY = lazy_import("sevenn._keys")
        AtomGraphData = lazy_from("sevenn.atom_graph_data", "AtomGraphData")
        unlabeled_atoms_to_graph = lazy_from("sevenn.train.dataload", "unlabeled_atoms_to_graph")
        Batch = lazy_from("torch_geometric.data", "Batch")

        data = []
        for img in images:
            d = AtomGraphData.from_numpy_dict(unlabeled_atoms_to_graph(img, self.cutoff, with_shift=False))
            if self.modal:
                d[KEY.DATA_MODALITY] = self.modal
            data.append(d)
        batch = Batch.from_data_list(data).to(self.device)
        out = self.model(batch)
        energies = out[KEY.PRED_TOTAL_ENERGY].detach().cpu().numpy().reshape(-1)
        forces = out[KEY.PRED_FORCE].detach().cpu().numpy()
        results, start = [], 0
        for img, e in zip(images, energies):
            results.append((float(e), forces[start:start + len(img)].astype(float)))
            start += len(img)
        return results
