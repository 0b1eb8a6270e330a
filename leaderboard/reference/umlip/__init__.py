"""uMLIP runners, batched band evaluation, ``litraj bench umlip`` and ``litraj screen``."""
from __future__ import annotations

from litraj_data.leaderboard.reference.umlip.errors import ModelUnavailable
from litraj_data.leaderboard.reference.umlip.runners import MODELS, UMLIPProvider, get_provider, get_spec, list_models

__all__ = ["ModelUnavailable", "MODELS", "UMLIPProvider", "get_provider", "get_spec", "list_models"]
