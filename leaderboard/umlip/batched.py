"""Batched band evaluators: the images of a band in as few forward passes as pay off.

One pass over a whole band removes the per-call overhead of image-by-image evaluation,
which dominates for small cells and on GPUs. On a CPU a large batch is compute-bound and
can even be slower than single images (measured in ``benchmarks/bench_umlip.py``: CHGNet
and SevenNet on 2 CPU cores, 5 images of 63 atoms, are 2-5x *slower* as one batch), so
images are grouped into chunks of at most ``max_batch_atoms`` atoms: the whole band on a
GPU, a few small images at a time on a CPU.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from ase import Atoms

#: Default atoms per forward pass by device (see the module docstring).
MAX_BATCH_ATOMS = {"cpu": 64, "cuda": 100_000}


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
    """CHGNet energies and forces of several structures in one batched prediction.

    The graphs are built per image (CHGNet's converter), then ``predict_graph`` runs a
    single batched forward/backward pass; energies are CHGNet's per-atom energies times the
    number of atoms, exactly as ``CHGNetCalculator`` reports them.
    """

    def __init__(self, model: Any, device: str = "cpu", max_batch_atoms: int | None = None) -> None:
        self.model = model
        self.device = device
        self.max_batch_atoms = max_batch_atoms or MAX_BATCH_ATOMS.get(device, 64)

    def evaluate(self, images: Sequence[Atoms]) -> list[tuple[float, np.ndarray]]:
        from pymatgen.io.ase import AseAtomsAdaptor

        results: list[tuple[float, np.ndarray]] = []
        for group in chunks(images, self.max_batch_atoms):
            graphs = [self.model.graph_converter(AseAtomsAdaptor.get_structure(images[i])).to(self.device)
                      for i in group]
            preds = self.model.predict_graph(graphs, task="ef", batch_size=len(graphs))
            if isinstance(preds, dict):
                preds = [preds]
            for i, p in zip(group, preds):
                n = len(images[i]) if self.model.is_intensive else 1
                results.append((float(p["e"]) * n, np.asarray(p["f"], dtype=float)))
        return results


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
        self.max_batch_atoms = max_batch_atoms or MAX_BATCH_ATOMS.get(device, 64)
        self.model.set_is_batch_data(True)

    def evaluate(self, images: Sequence[Atoms]) -> list[tuple[float, np.ndarray]]:
        out: list[tuple[float, np.ndarray]] = []
        for group in chunks(images, self.max_batch_atoms):
            out.extend(self._evaluate([images[i] for i in group]))
        return out

    def _evaluate(self, images: Sequence[Atoms]) -> list[tuple[float, np.ndarray]]:
        import sevenn._keys as KEY
        from sevenn.atom_graph_data import AtomGraphData
        from sevenn.train.dataload import unlabeled_atoms_to_graph
        from torch_geometric.data import Batch

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
