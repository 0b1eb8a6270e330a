"""NequIP and Allegro trained with nequip's own Lightning stack.

The splits are written as extxyz files (target in ``info['target']``, mapped to nequip's
``total_energy``) and read by nequip's ``ASEDataModule`` with its transforms
(``ChemicalSpeciesToAtomTypeMapper`` over the fixed type list including the dummy ``X``,
``NeighborListTransform`` at ``r_max``). The network is nequip's ``NequIPGNNModel`` or
allegro's ``AllegroModel`` with ``do_derivatives=False`` (energy-only: the barrier is the
model's summed "energy"); ``NequIPLightningModule`` minimises ``EnergyOnlyLoss`` (total
energy MSE) with Adam, ``ReduceLROnPlateau`` on the validation MAE and early stopping, as
the paper states. These are the objects ``nequip-train`` instantiates from its hydra config;
``run.json`` records the same config dicts.

Normalisation follows nequip's energy-only recipe: per-type energy shift = mean per-atom
target, scale = its standard deviation, ``avg_num_neighbors`` from the training structures.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from litraj_data.io import atomic_writer
from litraj_data.lazy import lazy_from, lazy_import
from litraj_data.leaderboard.models.gnn.data import TYPE_NAMES, GraphSplit
from litraj_data.leaderboard.models.gnn.progress import epoch_progress
from litraj_data.leaderboard.models.gnn.trainer import FitResult, load_best, load_state, make_trainer

__all__ = ["model_config", "build_module", "fit", "write_xyz", "build_network"]

_MONITOR = "val0_epoch/weighted_sum"   # = total-energy MAE with the metric coefficients below
_SOLE = "sole_model"                   # nequip's key of a single model in its ModuleDict
# AllegroModel's MLP sizes beyond the width of its latent MLP (the builder's defaults when absent)
_ALLEGRO_MLP = ("allegro_mlp_hidden_layers_depth", "scalar_embed_mlp_hidden_layers_depth",
                "scalar_embed_mlp_hidden_layers_width", "readout_mlp_hidden_layers_depth",
                "readout_mlp_hidden_layers_width")


def _statistics(train: GraphSplit, r_max: float) -> dict[str, float]:
    from ase.neighborlist import neighbor_list

    n = np.array([len(a) for a in train.atoms], dtype=float)
    per_atom = train.y / n
    sample = train.atoms[: min(len(train.atoms), 200)]  # a mean: a few hundred structures fix it
    neigh = [len(neighbor_list("i", a, r_max)) / len(a) for a in sample]
    return {"per_atom_mean": float(np.mean(per_atom)), "per_atom_std": float(np.std(per_atom) or 1.0),
            "avg_num_neighbors": float(np.mean(neigh) or 1.0)}


def model_config(arch: str, model_hp: dict[str, Any], stats: dict[str, float], seed: int) -> dict[str, Any]:
    """The ``model`` dict of a nequip config (``_target_`` and builder arguments)."""
    common = {"seed": int(seed), "model_dtype": model_hp["model_dtype"], "r_max": float(model_hp["r_max"]),
              "type_names": list(TYPE_NAMES), "num_layers": int(model_hp["num_layers"]),
              "l_max": int(model_hp["l_max"]), "parity": bool(model_hp["parity"]), "do_derivatives": False,
              "avg_num_neighbors": stats["avg_num_neighbors"],
              "per_type_energy_shifts": stats["per_atom_mean"], "per_type_energy_scales": stats["per_atom_std"]}
    if arch == "nequip":
        return {"_target_": "nequip.model.NequIPGNNModel", **common,
                "num_features": int(model_hp["num_features"]), "radial_mlp_depth": int(model_hp["radial_mlp_depth"]),
                "radial_mlp_width": int(model_hp["radial_mlp_width"]), "num_bessels": int(model_hp["num_bessels"])}
    return {"_target_": "allegro.model.AllegroModel", **common,
            "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
                                      "num_bessels": int(model_hp["num_bessels"])},
            "num_scalar_features": int(model_hp["num_scalar_features"]),
            "num_tensor_features": int(model_hp["num_tensor_features"]),
            "allegro_mlp_hidden_layers_width": int(model_hp["allegro_mlp_hidden_layers_width"]),
            **{key: int(model_hp[key]) for key in _ALLEGRO_MLP if key in model_hp}}


@contextlib.contextmanager
def nequip_state(seed: int | None = None) -> Iterator[None]:
    """nequip's global state (float64 default dtype, its e3nn flags) inside, the caller's dtype after.

    nequip's builders refuse to run before ``set_global_state`` (``nequip-train`` calls it);
    it sets torch's default dtype to float64 for the whole process, which would leak into
    M3GNet runs and anything else in the same process, so the dtype is restored on exit.
    """
    torch = lazy_import("torch")
    global_state = lazy_from("nequip.utils", "global_state")

    before = torch.get_default_dtype()
    global_state.set_global_state()  # first call only: also seeds every RNG with 123
    torch.set_default_dtype(global_state._GLOBAL_DTYPE)
    if seed is not None:
        L = lazy_import("lightning")

        L.seed_everything(seed, workers=True, verbose=False)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def build_module(model_cfg: dict[str, Any], train_hp: dict[str, Any], num_datasets: dict[str, int]) -> Any:
    """nequip's ``NequIPLightningModule`` for an energy-only regression."""
    NequIPLightningModule = lazy_from("nequip.train", "NequIPLightningModule")

    return NequIPLightningModule(
        model=model_cfg, num_datasets=num_datasets,
        optimizer={"_target_": "torch.optim.Adam", "lr": float(train_hp["lr"])},
        lr_scheduler={"scheduler": {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                                    "factor": float(train_hp["lr_factor"]), "patience": int(train_hp["lr_patience"])},
                      "monitor": _MONITOR, "interval": "epoch", "frequency": 1},
        loss={"_target_": "nequip.train.EnergyOnlyLoss", "per_atom_energy": False},
        val_metrics={"_target_": "nequip.train.EnergyOnlyMetrics", "coeffs": {"total_energy_mae": 1.0}},
        test_metrics={"_target_": "nequip.train.EnergyOnlyMetrics", "coeffs": {"total_energy_mae": 1.0}})


def build_network(arch: str, model_hp: dict[str, Any], seed: int = 0) -> Any:
    """The untrained network of ``model_hp`` on CPU (to count its parameters; no data needed).

    The normalisation statistics are placeholders: they are buffers or fixed scalars of the
    network and do not change its trainable parameters.
    """
    hp = {**model_hp, "r_max": 6.0 if model_hp.get("r_max") is None else model_hp["r_max"]}
    cfg = model_config(arch, hp, {"per_atom_mean": 0.0, "per_atom_std": 1.0, "avg_num_neighbors": 1.0}, seed)
    with nequip_state(seed):
        module = build_module(cfg, {"lr": 1e-3, "lr_factor": 0.5, "lr_patience": 1},
                              {"train": 1, "val": 1, "test": 1})
    return module.model[_SOLE]


def write_xyz(split: GraphSplit, path: Path, with_labels: bool) -> Path:
    """The split as extxyz, atomically; the target (if any) in ``info['target']``."""
    from ase.io import write

    frames = []
    for k, atoms in enumerate(split.atoms):
        a = atoms.copy()
        a.calc = None
        a.info = {"target": float(split.y[k])} if with_labels else {}
        a.arrays = {key: a.arrays[key] for key in ("numbers", "positions")}
        frames.append(a)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, "w") as fh:
        write(fh, frames, format="extxyz")
    return path


def _datamodule(files: dict[str, Path], r_max: float, batch_size: int, num_workers: int, seed: int) -> Any:
    ASEDataModule = lazy_from("nequip.data.datamodule", "ASEDataModule")

    transforms = [{"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper",
                   "model_type_names": list(TYPE_NAMES)},
                  {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": float(r_max)}]
    loader = {"_target_": "torch.utils.data.DataLoader", "batch_size": batch_size, "num_workers": num_workers}
    return ASEDataModule(seed=seed, train_file_path=str(files["train"]), val_file_path=str(files["val"]),
                         test_file_path=str(files["predict"]), transforms=transforms,
                         key_mapping={"target": "total_energy"},
                         train_dataloader={**loader, "shuffle": True}, val_dataloader=loader,
                         test_dataloader=loader)


def fit(arch: str, train: GraphSplit, val: GraphSplit, model_hp: dict[str, Any], train_hp: dict[str, Any], *,
        epochs: int, device: str, out_dir: Path, seed: int = 0, init_state: dict[str, Any] | None = None,
        init_config: dict[str, Any] | None = None, label: str | None = None) -> FitResult:
    """Train NequIP or Allegro on ``train``; keep the best ``val`` MAE epoch.

    Parameters
    ----------
    init_state, init_config
        Weights and ``model`` config of a pretrained run (``--init-from``): the network is
        rebuilt from that config (its normalisation included) and the weights loaded.
    """
    torch = lazy_import("torch")
    AtomicDataDict = lazy_from("nequip.data", "AtomicDataDict")

    data_dir = out_dir / "data"
    files = {"train": write_xyz(train, data_dir / "train.xyz", True), "val": write_xyz(val, data_dir / "val.xyz", True)}
    files["predict"] = files["val"]
    if init_config is not None:
        cfg = dict(init_config)
    else:
        cfg = model_config(arch, model_hp, _statistics(train, float(model_hp["r_max"])), seed)
    dm = _datamodule(files, cfg["r_max"], int(train_hp["batch_size"]), int(train_hp["num_workers"]), seed)
    with nequip_state(seed):
        module = build_module(cfg, train_hp, dm.num_datasets)
        net = module.model[_SOLE]
        if init_state is not None:
            load_state(net, init_state)
        history: list[dict[str, Any]] = []
        cb = epoch_progress(epochs, "train_loss_epoch/weighted_sum", _MONITOR, history, label or arch)
        trainer, ckpt = make_trainer(epochs, device, out_dir, _MONITOR, [cb], int(train_hp["early_stop_patience"]))
        trainer.fit(module, datamodule=dm)
        best_epoch, best = load_best(ckpt, module)
    module.eval()

    def predict(split: GraphSplit) -> np.ndarray:
        """nequip's forward over its own collated batches, in file order."""
        path = write_xyz(split, data_dir / "predict.xyz", False)
        pdm = _datamodule({"train": path, "val": path, "predict": path}, cfg["r_max"], int(train_hp["batch_size"]),
                          0, seed)
        dev = next(net.parameters()).device
        out = []
        with nequip_state(), torch.no_grad():
            pdm.setup("test")
            for batch in pdm.test_dataloader()[0]:
                batch = {k: v.to(dev) for k, v in batch.items()}
                out.append(net(batch)[AtomicDataDict.TOTAL_ENERGY_KEY].reshape(-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    return FitResult(model=net, predict=predict, history=history, best_epoch=best_epoch, best_val_mae=best,
                     epochs_run=len(history), model_config=cfg, norm={})
