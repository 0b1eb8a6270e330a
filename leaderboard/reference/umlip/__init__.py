"""uMLIP runners, batched band evaluation, ``litraj bench umlip`` and ``litraj screen``.

The names below are served on first use (:func:`litraj_data.lazy.lazy_exports`).
"""
from __future__ import annotations

from litraj_data.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "ModelUnavailable": "errors", "MODELS": "runners", "UMLIPProvider": "runners", "get_provider": "runners",
    "get_spec": "runners", "list_models": "runners",
})

__all__ = ["ModelUnavailable", "MODELS", "UMLIPProvider", "get_provider", "get_spec", "list_models"]
