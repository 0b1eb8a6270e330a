"""``failures.csv``: what a build skipped or flagged, and why; one row per input, beside the data.

Every builder writes this table through :func:`write_failures` (atomically, formula-looking
cells escaped, an empty cell for a missing key) and hands it to ``write_dataset`` as an extra
file, so that it is checksummed with the shards. The columns name each builder's unit of input:

* :data:`STRUCTURE_FIELDS`: BVEL13k, one row per structure;
* :data:`HOP_FIELDS`: nebBVSE122k, whole structures (empty ``edge_id``) and single hops;
* :data:`RAW_RUN_FIELDS`: nebDFT2k and MPLiTrj, one row per raw hop run (folder).

``reason`` is always a named reason (a ``LitrajError.reason`` or a builder's own flag such
as ``not_converged``); ``message`` says it in words.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from litraj_data.io import write_csv_atomic

STRUCTURE_FIELDS = ("material_id", "reason", "message")
HOP_FIELDS = ("material_id", "edge_id", "reason", "message")
RAW_RUN_FIELDS = ("hop_id", "path", "reason", "message")


def write_failures(rows: Iterable[Mapping[str, Any]], path: str | Path, fields: Sequence[str]) -> Path:
    """Write a failures table (CSV with header ``fields``, rows in the given order) atomically.

    Parameters
    ----------
    rows : iterable of mapping
        One per failure; keys outside ``fields`` are ignored, missing ones written empty.
    path : path
        Usually ``STAGING/failures.csv``.
    fields : sequence of str
        The columns (:data:`STRUCTURE_FIELDS`, :data:`HOP_FIELDS` or :data:`RAW_RUN_FIELDS`).

    Returns
    -------
    Path
        ``path``.
    """
    return write_csv_atomic(path, rows, fields)
