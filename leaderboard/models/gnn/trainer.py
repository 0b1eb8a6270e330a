"""What the backends share: the Lightning ``Trainer`` (best-val checkpoint, early stopping, device)
and the result of a fit."""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from litraj_data.lazy import lazy_from, lazy_import
from litraj_data.leaderboard.models.gnn.errors import GNNError

__all__ = ["FitResult", "check_device", "make_trainer", "load_best", "stdout_to_stderr", "count_parameters",
           "load_state"]


@dataclass
class FitResult:
    """A trained model (best validation weights loaded) and what the run card reports."""

    model: Any                                 # the library's own network (torch.nn.Module)
    predict: Callable[[Any], np.ndarray]       # GraphSplit -> predictions
    history: list[dict[str, Any]]
    best_epoch: int | None
    best_val_mae: float | None
    epochs_run: int
    model_config: dict[str, Any] = field(default_factory=dict)   # what rebuilds the network
    norm: dict[str, Any] = field(default_factory=dict)           # target normalisation of the run


def check_device(device: str) -> str:
    """``cpu`` or ``cuda``; ``cuda`` without a visible GPU is an error (never a silent CPU run)."""
    torch = lazy_import("torch")

    if device not in ("cpu", "cuda"):
        raise GNNError(f"--device {device!r}: use cpu or cuda", reason="no_cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise GNNError(f"--device cuda: torch {torch.__version__} sees no CUDA device "
                       "(a CPU-only build or no GPU on this machine); run with --device cpu", reason="no_cuda")
    return device


def count_parameters(model: Any) -> int:
    """Trainable parameters of a torch module."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Lightning and the libraries print banners and tips: keep stdout for the JSON document."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def make_trainer(epochs: int, device: str, out_dir: Path, monitor: str, callbacks: list[Any],
                 early_stop_patience: int | None = None) -> tuple[Any, Any]:
    """A Lightning ``Trainer`` keeping the best-``monitor`` weights in ``out_dir/checkpoints/best.ckpt``.

    Returns
    -------
    tuple
        ``(trainer, checkpoint_callback)``.
    """
    L = lazy_import("lightning")
    EarlyStopping, ModelCheckpoint = lazy_from("lightning.pytorch.callbacks", "EarlyStopping", "ModelCheckpoint")

    ckpt = ModelCheckpoint(dirpath=str(out_dir / "checkpoints"), filename="best", monitor=monitor, mode="min",
                           save_top_k=1, save_weights_only=True, enable_version_counter=False)
    cbs = [ckpt, *callbacks]
    if early_stop_patience:
        cbs.append(EarlyStopping(monitor=monitor, mode="min", patience=int(early_stop_patience)))
    trainer = L.Trainer(max_epochs=int(epochs), accelerator="gpu" if device == "cuda" else "cpu", devices=1,
                        logger=False, enable_progress_bar=False, enable_model_summary=False, callbacks=cbs,
                        default_root_dir=str(out_dir), num_sanity_val_steps=0, deterministic=False)
    return trainer, ckpt


def load_best(ckpt: Any, module: Any) -> tuple[int | None, float | None]:
    """Load the best checkpoint's weights into ``module``; ``(best_epoch, best_score)``.

    The checkpoint holds weights only (``save_weights_only``), so ``weights_only=True``
    loading (no unpickling of arbitrary objects) suffices.
    """
    torch = lazy_import("torch")

    path = ckpt.best_model_path
    if not path:
        return None, None
    state = torch.load(path, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    score = ckpt.best_model_score
    return (int(state.get("epoch", -1)) + 1, None if score is None else float(score))


def load_state(model: Any, state: dict[str, Any], where: str = "--init-from") -> None:
    """Load pretrained weights strictly; keys or shapes that differ are an ``arch_mismatch``."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # load_state_dict's only error: missing/unexpected keys, shape mismatch
        raise GNNError(f"{where}: the weights do not fit the model ({exc})", reason="arch_mismatch") from None
