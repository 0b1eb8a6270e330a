"""Errors of the uMLIP runners (each names what to do)."""
from __future__ import annotations

from litraj_data.errors import LitrajError


class ModelUnavailable(LitrajError):
    """A model that cannot be built here.

    ``reason``: ``unknown_model``, ``model_not_installed``, ``weights_missing``,
    ``weights_invalid`` or ``device``.
    """

    reason = "model_unavailable"
