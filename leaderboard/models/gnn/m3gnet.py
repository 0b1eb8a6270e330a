"""M3GNet (matgl 4, PyG backend) trained with matgl's own ``ModelLightningModule``.

matgl's structure-property path: ``Atoms2Graph`` graphs in an ``MGLDataset``, batched by
``MGLDataLoader`` with ``collate_fn_graph``; ``ModelLightningModule`` (Adam, cosine
annealing over the run, target standardised with the training mean and std) fitted by a
Lightning ``Trainer``. The paper's settings are the defaults: cutoff 5 Å, three-body 4 Å,
``is_intensive=False`` (an extensive, summed readout). The dummy atom is the element type
``X`` of the model's ``element_types``.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from litraj_data.lazy import lazy_from, lazy_import
from litraj_data.leaderboard.models.gnn.data import TYPE_NAMES, GraphSplit
from litraj_data.leaderboard.models.gnn.progress import epoch_progress
from litraj_data.leaderboard.models.gnn.trainer import FitResult, load_best, load_state, make_trainer

__all__ = ["build_model", "fit"]

_MODEL_KEYS = ("cutoff", "threebody_cutoff", "is_intensive", "nblocks", "units", "dim_node_embedding",
               "dim_edge_embedding", "max_n", "max_l")


def build_model(model_hp: dict[str, Any]) -> Any:
    """A fresh matgl ``M3GNet`` with the run's hyperparameters and the fixed type list."""
    M3GNet = lazy_from("matgl.models", "M3GNet")

    return M3GNet(element_types=TYPE_NAMES, **{k: model_hp[k] for k in _MODEL_KEYS})


def _dataset(split: GraphSplit, cutoff: float, tmp: str, with_labels: bool) -> Any:
    Atoms2Graph = lazy_from("matgl.ext.ase", "Atoms2Graph")
    MGLDataset = lazy_from("matgl.graph.data", "MGLDataset")

    y = split.y if with_labels else np.zeros(len(split))
    # save_cache=False: matgl's cache is a torch pickle it reloads with weights_only=False
    return MGLDataset(converter=Atoms2Graph(TYPE_NAMES, cutoff=cutoff), structures=list(split.atoms),
                      labels={"target": [float(v) for v in y]}, save_cache=False, root=tmp)


def _loader(ds: Any, batch_size: int, shuffle: bool, num_workers: int) -> Any:
    from functools import partial

    collate_fn_graph = lazy_from("matgl.graph.data", "collate_fn_graph")
    DataLoader = lazy_from("torch.utils.data", "DataLoader")

    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      collate_fn=partial(collate_fn_graph, multiple_values_per_target=False))


def fit(train: GraphSplit, val: GraphSplit, model_hp: dict[str, Any], train_hp: dict[str, Any], *, epochs: int,
        device: str, out_dir: Path, init_state: dict[str, Any] | None = None, norm: dict[str, Any] | None = None,
        label: str = "m3gnet") -> FitResult:
    """Train M3GNet on ``train``, keep the best ``val`` MAE epoch.

    Parameters
    ----------
    init_state
        State dict of a pretrained M3GNet (``--init-from``) loaded before training.
    norm
        ``{"data_mean", "data_std"}`` to keep (the pretrained run's); default: the training targets'.
    """
    torch = lazy_import("torch")
    ModelLightningModule = lazy_from("matgl.utils.training", "ModelLightningModule")

    model = build_model(model_hp)
    if init_state is not None:
        load_state(model, init_state)
    # matgl's standardisation: pred * std + mean with the training targets' mean and std
    # (tried: std per mean atom count for the summed readout -- it learnt far slower)
    norm = norm or {"data_mean": float(np.mean(train.y)), "data_std": float(np.std(train.y) or 1.0)}
    module = ModelLightningModule(model=model, data_mean=norm["data_mean"], data_std=norm["data_std"],
                                  loss=train_hp["loss"], lr=float(train_hp["lr"]), decay_steps=int(epochs),
                                  decay_alpha=float(train_hp["decay_alpha"]))
    history: list[dict[str, Any]] = []
    cb = epoch_progress(epochs, "train_Total_Loss", "val_MAE", history, label)
    trainer, ckpt = make_trainer(epochs, device, out_dir, "val_MAE", [cb])
    with tempfile.TemporaryDirectory(prefix="litraj-m3gnet-") as tmp:
        tr = _dataset(train, model_hp["cutoff"], tmp, True)
        va = _dataset(val, model_hp["cutoff"], tmp, True)
        from functools import partial

        MGLDataLoader, collate_fn_graph = lazy_from("matgl.graph.data", "MGLDataLoader", "collate_fn_graph")

        train_loader, val_loader = MGLDataLoader(
            train_data=tr, val_data=va, collate_fn=partial(collate_fn_graph, multiple_values_per_target=False),
            batch_size=int(train_hp["batch_size"]), num_workers=int(train_hp["num_workers"]), pin_memory=False)
        trainer.fit(module, train_loader, val_loader)
    best_epoch, best = load_best(ckpt, module)
    module.eval()

    def predict(split: GraphSplit) -> np.ndarray:
        """matgl's forward (positions from fractional coordinates and lattice), de-standardised."""
        dev = next(module.parameters()).device
        out = []
        with tempfile.TemporaryDirectory(prefix="litraj-m3gnet-") as tmp:
            ds = _dataset(split, model_hp["cutoff"], tmp, False)
            with torch.no_grad():
                for g, lat, state_attr, _ in _loader(ds, int(train_hp["batch_size"]), False, 0):
                    pred = module(g=g.to(dev), lat=lat.to(dev), state_attr=state_attr.to(dev))
                    out.append((pred.reshape(-1) * module.data_std + module.data_mean).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    return FitResult(model=model, predict=predict, history=history, best_epoch=best_epoch, best_val_mae=best,
                     epochs_run=len(history), model_config={k: model_hp[k] for k in _MODEL_KEYS}, norm=norm)
