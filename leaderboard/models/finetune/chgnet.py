"""Fine-tuning CHGNet with its own ``chgnet.trainer.Trainer`` and ``StructureData``.

Labels go in as CHGNet's own MPtrj pipeline expects them: energy per atom (eV/atom),
forces (eV/A) and the *VASP* stress (kbar, VASP sign), which ``StructureData`` turns into
CHGNet's GPa with its factor -0.1. Our rows carry the ASE stress (eV/A^3, ASE sign), so
``vasp_kbar = -10 * 160.2177 * ase``.

The kept weights are the Trainer's ``bestE_*.pth.tar`` (lowest validation energy MAE,
the model CHGNet's own Trainer evaluates on a test set). Before the ``after`` evaluation
that state is loaded back into the in-memory model, so ``after`` and
``val_predictions.parquet`` are the model at the end of training, and the written file
must reproduce them (tested).
"""
from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from litraj_data.errors import LitrajError
from litraj_data.lazy import lazy_from
from litraj_data.leaderboard.models.finetune.data import Configs
from litraj_data.leaderboard.models.finetune.errors import FinetuneError
from litraj_data.leaderboard.models.finetune.metrics import Prediction
from litraj_data.leaderboard.models.finetune.protocol import Protocol
from litraj_data.trust import load_torch

__all__ = ["WEIGHTS_NAME", "base_model", "finetune_chgnet", "structure_data"]

WEIGHTS_NAME = "chgnet_finetuned.pth.tar"
_EV_A3_TO_GPA = 160.21766208


def base_model(weights: str | None, trust: bool = False) -> Any:
    """The CHGNet to start from: the wheel's 0.3.0 or a local ``.pth.tar``.

    A local file is read by :func:`litraj_data.trust.load_torch` (tensors and plain data only)
    unless ``trust``; CHGNet's own ``from_file`` would unpickle anything.
    """
    CHGNet = lazy_from("chgnet.model", "CHGNet")

    with contextlib.redirect_stdout(sys.stderr):  # CHGNet prints banners on stdout
        if not weights:
            return CHGNet.load(verbose=False)
        if trust:
            return CHGNet.from_file(weights)
        try:
            state = load_torch(weights, what="--weights")
        except LitrajError as exc:
            raise FinetuneError(str(exc), reason=exc.reason) from None
        if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
            raise FinetuneError(f"--weights {weights}: not a CHGNet checkpoint (no 'model' entry)",
                                reason="weights_invalid")
        return CHGNet.from_dict(state["model"])


def structure_data(configs: Configs, shuffle: bool) -> Any:
    """``chgnet.data.dataset.StructureData`` of the configurations (VASP-convention stress)."""
    StructureData = lazy_from("chgnet.data.dataset", "StructureData")
    from ase.stress import voigt_6_to_full_3x3_stress
    from pymatgen.io.ase import AseAtomsAdaptor

    structures, energies, forces, stresses = [], [], [], []
    for a in configs.atoms:
        structures.append(AseAtomsAdaptor.get_structure(a))
        energies.append(float(a.get_potential_energy()) / len(a))
        forces.append(np.asarray(a.get_forces(), float))
        stresses.append(-10.0 * _EV_A3_TO_GPA * voigt_6_to_full_3x3_stress(np.asarray(a.get_stress(), float)))
    with contextlib.redirect_stdout(sys.stderr):
        return StructureData(structures, energies, forces, stresses=stresses, structure_ids=list(configs.ids),
                             shuffle=shuffle)


def predict_model(model: Any, configs: Configs, batch_size: int) -> list[Prediction]:
    """Energies (total, eV) and forces of an in-memory CHGNet (its own ``predict_structure``)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    structures = [AseAtomsAdaptor.get_structure(a) for a in configs.atoms]
    preds = model.predict_structure(structures, task="ef", batch_size=batch_size)
    preds = [preds] if isinstance(preds, dict) else preds
    return [(float(p["e"]) * len(a), np.asarray(p["f"], float)) for p, a in zip(preds, configs.atoms)]


def finetune_chgnet(train: Configs, val: Configs, out: Path, work: Path, protocol: Protocol, epochs: int,
                    device: str, weights: str | None = None, seed: int = 0, trust: bool = False) -> dict[str, Any]:
    """Fine-tune CHGNet; write ``out/chgnet_finetuned.pth.tar``.

    Returns
    -------
    dict
        ``weights`` (file name in ``out``), ``after_predictions`` (the in-memory model at the
        end of training on ``val``), ``best_epoch``, ``history`` (CHGNet's MAE per epoch).
    """
    get_loader = lazy_from("chgnet.data.dataset", "get_loader")
    Trainer = lazy_from("chgnet.trainer", "Trainer")

    model = base_model(weights, trust)
    train_loader = get_loader(structure_data(train, shuffle=True), batch_size=protocol.batch_size,
                              pin_memory=False)
    val_loader = get_loader(structure_data(val, shuffle=False), batch_size=protocol.batch_size, pin_memory=False)
    trainer = Trainer(model=model, targets="efs", energy_loss_ratio=protocol.energy_weight,
                      force_loss_ratio=protocol.force_weight, stress_loss_ratio=protocol.stress_weight,
                      optimizer="Adam", scheduler="CosLR", criterion=protocol.loss, epochs=epochs,
                      learning_rate=protocol.lr, use_device=device, print_freq=1, torch_seed=seed, data_seed=seed)
    save_dir = work / "chgnet_checkpoints"
    with contextlib.redirect_stdout(sys.stderr):  # the Trainer's per-batch progress lines go to stderr
        trainer.train(train_loader, val_loader, save_dir=str(save_dir))
    best = sorted(save_dir.glob("bestE_*.pth.tar"))
    if not best:
        raise FinetuneError(f"CHGNet's Trainer wrote no bestE checkpoint in {save_dir} (NaN loss?)",
                            reason="training_failed")
    # CHGNet's own trainer file, read the restricted way: the file written to OUT must load
    # without --trust wherever it is sent, and this proves it does
    state = load_torch(best[-1], what="CHGNet trainer checkpoint")
    trainer.model.load_state_dict(state["model"]["state_dict"])
    trainer.model.eval()
    tmp = out / f".{WEIGHTS_NAME}.tmp"
    shutil.copyfile(best[-1], tmp)
    tmp.replace(out / WEIGHTS_NAME)  # atomic: a crash never leaves half a checkpoint
    with contextlib.redirect_stdout(sys.stderr):
        preds = predict_model(trainer.model, val, protocol.batch_size)  # on the training device
    history = {k: {s: list(v) for s, v in d.items() if s != "test"} for k, d in trainer.training_history.items()}
    return {"weights": WEIGHTS_NAME, "after_predictions": preds, "best_checkpoint": best[-1].name,
            # CHGNet counts epochs from 0; the card counts from 1, as sevenn does
            "best_epoch": int(best[-1].name.split("_")[1].removeprefix("epoch")) + 1, "history": history}
