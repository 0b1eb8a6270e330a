"""The error users of ``litraj train gnn`` see (each names a ``reason``)."""
from __future__ import annotations

from litraj_data.errors import LitrajError

__all__ = ["GNNError"]


class GNNError(LitrajError, ValueError):
    """A GNN run that cannot start or continue.

    ``reason`` is one of: ``unknown_arch``, ``unsupported_task``, ``too_few_rows``,
    ``unknown_element``, ``bad_hyperparameter``, ``no_cuda``, ``bad_init_from``,
    ``arch_mismatch``.
    """

    reason = "gnn_error"
