"""The paper's fine-tuning protocol, per model, as data.

Dembitskiy et al. (2025), Methods: MSE loss, energy / force / stress weights 1 / 10 / 1e-6
(SevenNet) and energy / force 1 / 10 (MACE), learning rate 1e-3, batch 32 (SevenNet) /
16 (MACE), the model with the best validation loss kept. The paper did not fine-tune
CHGNet; its entry uses the same weights and learning rate with batch 16 (our choice, noted
in the model card as ``protocol_source``).

Loss weights are stated for each model's own loss units: SevenNet's stress loss is in
kbar, CHGNet's in GPa (1 GPa = 10 kbar, so a squared error in GPa is 100x smaller and
CHGNet's stress weight is scaled by 100 to weigh the stress term like SevenNet's).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["Protocol", "PROTOCOLS", "MODELS", "protocol_for"]

MODELS = ("chgnet", "sevennet-0", "mace-mp-0")


@dataclass(frozen=True)
class Protocol:
    """Hyper-parameters of one fine-tuning run."""

    energy_weight: float
    force_weight: float
    stress_weight: float  # in the model's own stress-loss units (see module docstring)
    lr: float
    batch_size: int
    loss: str = "MSE"
    best: str = "validation loss"  # which checkpoint is kept
    source: str = "paper"  # "paper" or why not

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the model card."""
        return asdict(self)


PROTOCOLS: dict[str, Protocol] = {
    "sevennet-0": Protocol(1.0, 10.0, 1e-6, 1e-3, 32, best="validation TotalLoss (sevenn checkpoint_best.pth)"),
    "mace-mp-0": Protocol(1.0, 10.0, 0.0, 1e-3, 16, best="validation loss (mace run_train keeps the lowest)"),
    "chgnet": Protocol(1.0, 10.0, 1e-4, 1e-3, 16, best="validation energy MAE (chgnet Trainer bestE checkpoint)",
                       source="not in the paper: SevenNet's weights (stress weight scaled to GPa), batch 16"),
}


def protocol_for(model: str, **overrides: Any) -> Protocol:
    """The protocol of ``model`` with the non-``None`` ``overrides`` applied."""
    from litraj_data.leaderboard.models.finetune.errors import FinetuneError

    if model not in PROTOCOLS:
        raise FinetuneError(f"unknown model {model!r}; fine-tuning supports {', '.join(MODELS)}",
                            reason="unknown_model")
    changes = {k: v for k, v in overrides.items() if v is not None}
    for key in ("lr", "batch_size"):
        if key in changes and changes[key] <= 0:
            raise FinetuneError(f"--{key.replace('_', '-')} must be > 0, got {changes[key]}", reason="bad_option")
    for key in ("energy_weight", "force_weight", "stress_weight"):
        if key in changes and changes[key] < 0:
            raise FinetuneError(f"--{key.replace('_', '-')} must be >= 0, got {changes[key]}", reason="bad_option")
    if changes:
        changes.setdefault("source", "paper, with " + ", ".join(sorted(changes)) + " changed")
    return replace(PROTOCOLS[model], **changes)
