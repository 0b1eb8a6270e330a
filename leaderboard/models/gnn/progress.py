"""Loss per epoch on stderr (a tqdm bar over epochs) and the history kept for ``run.json``."""
from __future__ import annotations

import math
import sys
import time
from typing import Any

from litraj_data.lazy import lazy_import

__all__ = ["epoch_progress"]


def _value(metrics: dict[str, Any], key: str) -> float | None:
    v = metrics.get(key)
    if v is None:
        return None
    v = float(v.detach().cpu()) if hasattr(v, "detach") else float(v)
    return v if math.isfinite(v) else None


def epoch_progress(epochs: int, train_key: str, val_key: str, history: list[dict[str, Any]],
                   label: str = "train") -> Any:
    """A Lightning callback: after each validation, one history entry and a bar update.

    Parameters
    ----------
    epochs
        ``max_epochs`` (the bar's total; early stopping ends it sooner).
    train_key, val_key
        Names of the epoch-level training loss and validation metric the library logs.
    history
        List the callback appends ``{"epoch", "train_loss", "val_mae", "lr", "epoch_s"}`` to
        (``epoch_s``: wall seconds of the epoch, training and validation).
    """
    L = lazy_import("lightning")
    from tqdm.auto import tqdm

    class _EpochProgress(L.Callback):
        def __init__(self) -> None:
            self.bar = None
            self.t0 = time.perf_counter()

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            # stderr: stdout is reserved for the one JSON document of --json
            self.bar = tqdm(total=epochs, desc=label, unit="epoch", file=sys.stderr, dynamic_ncols=True)

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            # validation has run; the epoch's training loss is reduced only after this hook,
            # so the entry is completed at the next epoch's start (or at the end of training)
            m = trainer.callback_metrics
            lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else None
            history.append({"epoch": int(trainer.current_epoch) + 1, "train_loss": None,
                            "val_mae": _value(m, val_key), "lr": lr, "epoch_s": time.perf_counter() - self.t0})

        def _complete(self, trainer: Any) -> None:
            if not history or history[-1]["train_loss"] is not None:
                return
            entry = history[-1]
            entry["train_loss"] = _value(trainer.callback_metrics, train_key)
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix({k: f"{v:.4g}" for k, v in entry.items()
                                     if k not in ("epoch", "epoch_s") and v is not None})

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self._complete(trainer)
            self.t0 = time.perf_counter()

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            self._complete(trainer)
            if self.bar is not None:
                self.bar.close()

    return _EpochProgress()
