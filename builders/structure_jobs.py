"""Run a per-structure calculation over many structures: local processes or a Dask cluster, checkpointed, resumable.

Every finished structure is appended as one JSON line to ``<staging>/results.jsonl`` (a
result or a failure), so an interrupted run resumes where it stopped; results come back in
the input order whatever the order of completion.
"""
from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from litraj_data.builders.structure_builds import structure_digest
from litraj_data.errors import LitrajError
from litraj_data.executors import map_unordered
from litraj_data.io import JsonlCheckpoint, atomic_write_text, to_jsonable

CHECKPOINT = "results.jsonl"


def _call(func: Callable[[str, Any], dict], name: str, structure: Any) -> dict[str, Any]:
    """Run one job; per-structure errors become failure records instead of exceptions."""
    try:
        return {"material_id": name, "ok": True, "result": to_jsonable(func(name, structure))}
    except LitrajError as exc:
        return {"material_id": name, "ok": False, "reason": exc.reason, "message": str(exc)}
    except Exception as exc:  # a calculator bug on one structure must not stop a build
        return {"material_id": name, "ok": False, "reason": "error", "message": f"{type(exc).__name__}: {exc}"}


def _content_digest(item: Any) -> str:
    """Digest of one job's input: a structure's content, or the JSON of plain data."""
    if hasattr(item, "is_ordered") and hasattr(item, "lattice"):  # a pymatgen Structure
        return structure_digest(item)
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=repr).encode()).hexdigest()


def _call_item(func: Callable[[str, Any], dict], item: tuple[str, Any]) -> dict[str, Any]:
    return _call(func, *item)


def load_checkpoint(staging: str | Path) -> dict[str, dict[str, Any]]:
    """Records already in ``staging/results.jsonl`` (a torn last line is ignored and recomputed)."""
    return {rec["material_id"]: rec for rec in JsonlCheckpoint(Path(staging) / CHECKPOINT).records()
            if "material_id" in rec}


def run_structure_jobs(
    func: Callable[[str, Any], dict],
    structures: Sequence[tuple[str, Any]],
    staging: str | Path,
    workers: int = 1,
    progress: bool = True,
    signature: dict[str, Any] | None = None,
    scheduler: Any = None,
) -> list[dict[str, Any]]:
    """Apply ``func(name, structure) -> dict`` to every structure, with checkpoints.

    Parameters
    ----------
    func : callable
        Picklable (module-level) function; raise ``LitrajError`` for per-structure failures.
    structures : sequence of (material_id, Structure)
        Ids must be unique.
    staging : path
        Folder for ``results.jsonl`` (and ``signature.json``); created if missing.
    workers : int
        Local processes (1: run in this process).
    progress : bool
        Print ``done/total`` lines on stderr.
    signature : dict, optional
        Settings the results depend on; a checkpoint written with other settings is discarded.
    scheduler : str or distributed.Client, optional
        Dask scheduler address: one task per structure on that cluster instead of local
        processes (results are checkpointed here as they arrive).

    Returns
    -------
    list of dict
        One record per input, in input order: ``{"material_id", "ok", "result"}`` or
        ``{"material_id", "ok": False, "reason", "message"}``.
    """
    ids = [name for name, _ in structures]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate material ids: {dup[:5]}")
    staging = Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    sig_path = staging / "signature.json"
    sig_text = json.dumps(signature or {}, sort_keys=True)
    checkpoint = JsonlCheckpoint(staging / CHECKPOINT)
    if sig_path.is_file() and sig_path.read_text() != sig_text:
        checkpoint.clear()  # other settings: start afresh
    atomic_write_text(sig_path, sig_text)

    # a record is reused only for the same structure content: an edited CIF is computed again
    digests = {name: _content_digest(s) for name, s in structures}
    done = {n: {k: v for k, v in r.items() if k != "input"} for n, r in load_checkpoint(staging).items()
            if r.get("input") == digests.get(n)}
    todo = [(n, s) for n, s in structures if n not in done]
    total, t0 = len(structures), time.monotonic()
    # at most 2 jobs per worker in flight (bounded memory); results in completion order
    for _, rec in map_unordered(functools.partial(_call_item, func), todo, workers, scheduler):
        checkpoint.append({**rec, "input": digests[rec["material_id"]]})
        done[rec["material_id"]] = rec
        if progress:
            print(f"[{len(done)}/{total}] {rec['material_id']} "
                  f"{'ok' if rec['ok'] else 'failed: ' + rec['reason']} "
                  f"({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
    return [done[i] for i in ids]


def failures_table(records: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """``{material_id, reason, message}`` rows of the failed records."""
    return [
        {"material_id": r["material_id"], "reason": r["reason"], "message": r["message"]}
        for r in records if not r["ok"]
    ]
