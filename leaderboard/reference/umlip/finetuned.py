"""Fine-tuned weights: a folder with ``model_card.yaml`` passed as ``--weights DIR``.

``litraj finetune`` writes such a folder: the weights file and a card that names the base
model (a registry name) and the file. The card is untrusted input (a folder someone sent):
the weights name must be one plain file name inside the folder, the base model must be the
model the user asked for, and unknown keys are errors naming the file and the key::

    base_model: sevennet-0          # registry name (required)
    weights: checkpoint_best.pth    # file (or folder) inside DIR (required)
    base_model_version: 0.13.0      # everything below is optional metadata
    dataset: MPLiTrj
    data_version: 1.0.0
    split: train
    subset: all                     # all | vacancy (the paper's "-vac" ablation)
    epochs: 10
    loss_weights: {energy: 1.0, force: 10.0, stress: 1.0e-6}
    hardware: cpu (x86_64, 2 cores)
    wall_time_s: 812.4
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from litraj_data.errors import RegistryError, UnsafeNameError
from litraj_data.registry.validation import Strict, validate_document
from litraj_data.store.names import inside
from litraj_data.yamlsafe import YamlError, read_yaml

__all__ = ["CARD_NAME", "FineTuneCard", "FineTuned", "resolve_finetuned"]

CARD_NAME = "model_card.yaml"


class FineTuneCard(Strict):
    """``model_card.yaml`` of a fine-tuned model (see the module docstring)."""

    base_model: str = Field(min_length=1)
    weights: str = Field(min_length=1)
    name: str | None = None  # what the model is called in records (default: BASE-ft)
    base_model_version: str | None = None
    base_weights: str | None = None
    fine_tuned: bool = True
    dataset: str | None = None
    data_version: str | None = None
    split: str | None = None
    subset: str | None = None
    epochs: int | None = None
    loss_weights: dict[str, float] | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    protocol: dict[str, Any] | None = None
    protocol_source: str | None = None
    seed: int | None = None
    best_checkpoint: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] | None = None
    device: str | None = None
    hardware: str | None = None
    wall_time_s: float | None = None
    date: str | None = None
    litraj_data_version: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class FineTuned:
    """A resolved fine-tuned model: its folder, weights file and card."""

    folder: Path
    weights: Path
    card: FineTuneCard
    card_path: Path = field(repr=False)

    def metadata(self) -> dict[str, Any]:
        """What records and submission metadata say about the fine-tuning (JSON-ready)."""
        c = self.card
        keep = ("base_model", "base_model_version", "dataset", "data_version", "split", "subset", "epochs",
                "loss_weights", "learning_rate", "batch_size", "hardware", "wall_time_s", "date")
        out = {k: getattr(c, k) for k in keep if getattr(c, k) is not None}
        return {"fine_tuned": True, **out, "card": str(self.card_path)}

    def training_data(self, base: str) -> str:
        """``base`` training data plus the LiTraj data the model was fine-tuned on."""
        c = self.card
        what = " ".join(str(v) for v in (c.dataset or "LiTraj", c.data_version) if v)
        detail = ", ".join(f"{k} {v}" for k, v in (("split", c.split), ("subset", c.subset)) if v)
        return f"{base} + {what}" + (f" ({detail})" if detail else "")


def _date_text(doc: Any) -> Any:
    # YAML reads 2026-12-01 as a date; the card means text
    if isinstance(doc, dict):
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in doc.items()}
    return doc


def resolve_finetuned(folder: str | Path, model: str) -> FineTuned | None:
    """The fine-tuned model in ``folder``, or ``None`` when ``folder`` holds no ``model_card.yaml``.

    Parameters
    ----------
    folder : path
        What the user passed as ``--weights``.
    model : str
        The registry name of the requested model (``--model``): the card's ``base_model``
        must name the same model (aliases allowed).

    Raises
    ------
    RegistryError
        The card is not YAML, has an unknown or missing key, names a weights file outside the
        folder (``..``, absolute path, a link leading out), a weights file that does not exist,
        or another base model (``reason``: ``invalid_card``, ``weights_missing``, ``wrong_base_model``).
    """
    folder = Path(folder)
    card_path = folder / CARD_NAME
    if not folder.is_dir() or not card_path.is_file():
        return None
    try:
        doc = read_yaml(card_path)  # bounded: aliases, depth, size and .inf refused with their own reason
    except YamlError as exc:
        raise RegistryError(f"cannot read the fine-tuned model card: {exc}",
                            reason="invalid_card" if exc.reason == "bad_yaml" else exc.reason) from None
    try:
        card = validate_document(FineTuneCard, _date_text(doc), str(card_path))
    except RegistryError as exc:
        raise RegistryError(str(exc), reason="invalid_card") from None
    try:
        weights = inside(folder, card.weights, "weights file")
    except UnsafeNameError as exc:
        raise RegistryError(f"{card_path}: weights: {exc}", reason="invalid_card") from None
    if not weights.exists():
        raise RegistryError(f"{card_path}: weights: {card.weights!r} is not in {folder}", reason="weights_missing")
    from litraj_data.leaderboard.reference.umlip.models import canonical_name, card_names

    names = card_names()
    base = names.get(canonical_name(card.base_model))
    if base is None:
        raise RegistryError(f"{card_path}: base_model: {card.base_model!r} is not a registered model "
                            f"(known: {', '.join(sorted(set(names.values())))})", reason="wrong_base_model")
    if base != model:
        raise RegistryError(f"{card_path}: base_model: these weights were fine-tuned from {base}, but --model is "
                            f"{model}; pass --model {base}", reason="wrong_base_model")
    return FineTuned(folder=folder, weights=weights, card=card, card_path=card_path)
