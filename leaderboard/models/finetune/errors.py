"""The errors ``litraj finetune`` raises (each names a ``reason``)."""
from __future__ import annotations

from litraj_data.errors import LitrajError

__all__ = ["FinetuneError"]


class FinetuneError(LitrajError):
    """A fine-tuning run that cannot start or finish.

    ``reason``: ``unknown_model``, ``empty_subset``, ``no_stage``, ``empty_split``,
    ``model_not_installed``, ``weights_missing``, ``training_failed``, ``out_not_empty``,
    ``bad_option``.
    """

    reason = "finetune"
