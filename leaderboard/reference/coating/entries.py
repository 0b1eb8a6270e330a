"""Read the user's computed entries (pymatgen JSON) without letting the file choose what runs.

``MontyDecoder`` (and ``PhaseDiagram.from_dict``, which calls it) imports whatever module and
class a document's ``@module``/``@class`` name: a hostile file could make it import and call
anything importable. Here every entry's class is checked against a short list of pymatgen's
entry classes and built with that class's own ``from_dict``; the file size is capped before
parsing. Accepted documents: a JSON list of entries, ``{"entries": [...]}``, or a serialized
``PhaseDiagram`` (its ``all_entries``).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from litraj_data.errors import DataFormatError

#: largest entries file read (bytes); a Materials Project chemical system is a few MB
MAX_ENTRIES_BYTES = 64 * 1024 * 1024
#: largest number of entries in one file
MAX_ENTRIES = 100_000

# @class -> the pymatgen modules that may define it (both the current and the historical homes)
_ALLOWED: dict[str, tuple[str, ...]] = {
    "ComputedEntry": ("pymatgen.entries.computed_entries", "pymatgen.core.entries"),
    "ComputedStructureEntry": ("pymatgen.entries.computed_entries", "pymatgen.core.entries"),
    "GibbsComputedStructureEntry": ("pymatgen.entries.computed_entries",
                                    "pymatgen.analysis.compatibility.computed_entries"),
    "PDEntry": ("pymatgen.analysis.phase_diagram",),
}


def _entry_class(name: str) -> Any:
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.entries.computed_entries import ComputedEntry, ComputedStructureEntry, GibbsComputedStructureEntry

    return {"ComputedEntry": ComputedEntry, "ComputedStructureEntry": ComputedStructureEntry,
            "GibbsComputedStructureEntry": GibbsComputedStructureEntry, "PDEntry": PDEntry}[name]


def entry_from_dict(doc: Any, where: str) -> Any:
    """One pymatgen entry from its ``as_dict()`` document, only if its class is an allowed entry class.

    Raises
    ------
    DataFormatError
        reason ``bad_entry`` (not a document of an allowed class, or a document that class
        cannot read) or ``non_finite_energy``.
    """
    if not isinstance(doc, dict):
        raise DataFormatError(f"{where}: an entry must be a JSON object, got {type(doc).__name__}", reason="bad_entry")
    cls, module = doc.get("@class"), doc.get("@module")
    if cls not in _ALLOWED or module not in _ALLOWED[cls]:
        raise DataFormatError(f"{where}: @module/@class {module!r}/{cls!r} is not a pymatgen entry class "
                              f"({', '.join(sorted(_ALLOWED))}); nothing else is decoded", reason="bad_entry")
    try:
        entry = _entry_class(cls).from_dict(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # what from_dict raises on a malformed document
        raise DataFormatError(f"{where}: not a valid {cls} document ({type(exc).__name__}: {exc})",
                              reason="bad_entry") from None
    if not math.isfinite(float(entry.energy)):
        raise DataFormatError(f"{where}: energy {entry.energy!r} is not finite", reason="non_finite_energy")
    return entry


def read_entries(path: str | os.PathLike, max_bytes: int = MAX_ENTRIES_BYTES) -> list[Any]:
    """Entries of a pymatgen JSON file (a list, ``{"entries": [...]}``, or a ``PhaseDiagram`` document).

    Parameters
    ----------
    path : path
        The JSON file (``[e.as_dict() for e in entries]`` or ``PhaseDiagram.as_dict()``).
    max_bytes : int
        Files larger than this are refused before parsing.

    Returns
    -------
    list
        ``ComputedEntry`` / ``ComputedStructureEntry`` / ``PDEntry`` objects.

    Raises
    ------
    DataFormatError
        reasons ``read_error``, ``too_large``, ``bad_json``, ``bad_entry``, ``too_many_entries``,
        ``no_entries``.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataFormatError(f"{path}: {size} bytes, more than the {max_bytes} accepted for an entries file",
                                  reason="too_large")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: cannot read ({exc})", reason="read_error") from None
    try:
        doc = json.loads(text, parse_constant=lambda c: float(c))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DataFormatError(f"{path}: not JSON ({type(exc).__name__}: {exc})", reason="bad_json") from None
    computed = doc.get("computed_data") if isinstance(doc, dict) else None
    if isinstance(computed, dict) and isinstance(computed.get("all_entries"), list):  # PhaseDiagram.as_dict()
        docs = computed["all_entries"]
    elif isinstance(doc, dict) and isinstance(doc.get("all_entries"), list):  # older PhaseDiagram documents
        docs = doc["all_entries"]
    elif isinstance(doc, dict) and isinstance(doc.get("entries"), list):
        docs = doc["entries"]
    elif isinstance(doc, list):
        docs = doc
    else:
        raise DataFormatError(f"{path}: expected a list of entries, {{'entries': [...]}} or a PhaseDiagram document",
                              reason="bad_entry")
    if len(docs) > MAX_ENTRIES:
        raise DataFormatError(f"{path}: {len(docs)} entries, more than {MAX_ENTRIES}", reason="too_many_entries")
    if not docs:
        raise DataFormatError(f"{path}: no entries", reason="no_entries")
    return [entry_from_dict(d, f"{path}: entry {i}") for i, d in enumerate(docs)]
