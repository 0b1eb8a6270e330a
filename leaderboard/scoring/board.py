"""Assemble leaderboard rows per task from score records and the paper's reference rows.

For ``bands`` tasks the paper's rule is applied across submissions: every hop that any
compared model failed is dropped from every model's metrics, and the table says so.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from litraj_data.errors import DataFormatError
from litraj_data.leaderboard.scoring.reference import REPORTED_NOTE, reference_rows
from litraj_data.leaderboard.scoring.score import DROP_RULE, SAMPLE_LABEL, summarise
from litraj_data.leaderboard.scoring.tasks import get_task

__all__ = ["load_records", "build_board", "model_label", "item_noun", "reference_note"]

#: what one scored item of a task is, by its id column
_NOUNS = {"material_id": "structures", "edge_id": "hops", "config_id": "configurations"}

SUBSET_ORDER = {"all": 0, "w/o TM": 1, "with TM": 2}


def load_records(paths: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Read score records: JSON files, or folders searched recursively for ``*.json``.

    A file may hold one record or a ``{"records": [...]}`` document (``litraj score --json``).

    Raises
    ------
    DataFormatError
        When a named file is not JSON or holds no record.
    """
    records: list[dict[str, Any]] = []
    for p in map(Path, paths):
        files = sorted(p.rglob("*.json")) if p.is_dir() else [p]
        for f in files:
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError, RecursionError) as exc:  # ValueError: not JSON or not UTF-8; deep nesting
                raise DataFormatError(f"cannot read score record {f}: {exc}", reason="bad_record") from exc
            found = doc.get("records", [doc]) if isinstance(doc, dict) else []
            found = [r for r in found if isinstance(r, dict) and "task" in r and "subsets" in r]
            if not found and not p.is_dir():
                raise DataFormatError(f"{f} holds no score record (run `litraj score ... --json`)",
                                      reason="bad_record")
            records += found
    return records


def model_label(record: dict[str, Any]) -> str:
    """``model version`` from the record's metadata, else the predictions file name.

    A record scored on the embedded sample ends in ``[sample]``, so it is never read as a
    result on the task's split.
    """
    meta = record.get("model") or {}
    name = meta.get("model") or Path(str(record.get("file", "submission"))).stem
    version = meta.get("model_version")
    label = f"{name} {version}" if version not in (None, "") else str(name)
    if record.get("label"):  # a scoring protocol's label (e.g. paper-table5: fine-tuning hops included)
        label += f" [{record['label']}]"
    return f"{label} [{SAMPLE_LABEL}]" if record.get("sample") else label


def item_noun(task: Any) -> str:
    """``structures``, ``hops`` or ``configurations``: what ``n`` counts in ``task``."""
    return _NOUNS.get(task.id_column, "items")


def reference_note(task: Any, refs: list[dict[str, Any]]) -> str:
    """The note under a task's table about the paper's rows and their ``n``."""
    noun = item_noun(task)
    stated = sorted({r["table"] for r in refs if r.get("n") is not None})
    note = (f"rows marked '{REPORTED_NOTE}' are the paper's published numbers, not recomputed here; "
            f"n of a submission = {noun} scored")
    if not stated:
        return note + f"; the paper does not state n for these rows (–), it scored the {task.split} split"
    return note + (f"; n of a paper row = {noun} the paper scored where it states it ({', '.join(stated)}; "
                   "the paper's hop sets can differ from this task's split: compare with care), – where it "
                   "does not")


#: subset-name suffix of the rows of a record's test-split report (tasks scored over all splits)
TEST_SPLIT_SUFFIX = " (test split)"


def _rescored(record: dict[str, Any], drop: set[str], split: str | None = None) -> dict[str, dict[str, Any]]:
    task = get_task(record["task"])
    items = pd.DataFrame(record["items"])
    items = items[~items["id"].isin(drop)]
    if split is not None:
        items = items[items["split"] == split] if "split" in items.columns else items.iloc[:0]
        if items.empty:
            return {}
    boot = next((s.get("bootstrap") for s in record["subsets"].values() if s.get("bootstrap")), None)
    return summarise(task, items, n_boot=boot["n_boot"] if boot else 0, seed=boot["seed"] if boot else 0)


def build_board(records: list[dict[str, Any]], *, include_reference: bool = True,
                tasks: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Leaderboard rows per task.

    Parameters
    ----------
    records
        Score records (:func:`~.score.score_submission`).
    include_reference
        Add the paper's rows, marked "reported, not rerun".
    tasks
        Restrict to these task ids (default: every task with a record, or every task with
        reference rows when there are no records).

    Returns
    -------
    dict
        ``{task_id: {"task", "rows", "notes", "records"}}``; a row is
        ``{"model", "subset", "n", "mae", ..., "kind": "submission"|"reference", "status"}``.
    """
    from litraj_data.leaderboard.scoring.tasks import list_tasks

    by_task: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_task.setdefault(r["task"], []).append(r)
    wanted = list(tasks) if tasks else (list(by_task) or [t for t in list_tasks() if get_task(t).reference])
    board: dict[str, dict[str, Any]] = {}
    for task_id in wanted:
        task = get_task(task_id)
        recs = by_task.get(task.id, [])
        notes: list[str] = []
        drop: set[str] = set()
        if task.kind == "bands" and len(recs) > 1:
            for r in recs:
                drop |= set((r.get("dropped") or {}).get("failed_by_this_model", []))
            notes.append(f"{DROP_RULE}; {len(drop)} hops failed by at least one of the "
                         f"{len(recs)} compared models are dropped from every row")
        elif task.kind == "bands" and recs:
            notes.append(DROP_RULE)
        for r in recs:
            notes += [f"{model_label(r)}: {n}" for n in r.get("notes", []) if not n.startswith(DROP_RULE)]
        rows: list[dict[str, Any]] = []
        for r in recs:
            if drop and not r.get("items"):  # a record printed by --json carries no per-hop values
                notes.append(f"{model_label(r)}: record has no per-hop values (write it with "
                             "`litraj score --out`), shown on its own hops, not on the common set")
            subsets = _rescored(r, drop) if drop and r.get("items") else r["subsets"]
            meta = r.get("model") or {}
            if r.get("test_split"):  # the test split alone, beside the whole-dataset rows
                split = r["test_split"]["split"]
                test = (_rescored(r, drop, split) if drop and r.get("items") else r["test_split"]["subsets"])
                subsets = {**subsets, **{f"{k}{TEST_SPLIT_SUFFIX}": v for k, v in test.items()}}
            for name, m in subsets.items():
                rows.append({
                    "model": model_label(r), "subset": name, "kind": "submission",
                    "status": "scored by litraj-data" + (f" on the embedded {SAMPLE_LABEL}" if r.get("sample") else ""),
                    "sample": bool(r.get("sample")),
                    "fine_tuned_on_litraj": meta.get("fine_tuned_on_litraj"),
                    "protocol": r.get("protocol", "default"), "label": r.get("label"),
                    "file": r.get("file"),
                    **{k: v for k, v in m.items() if k not in ("bootstrap",)},
                })
        if include_reference:
            refs = reference_rows(task)
            rows += refs
            if refs:
                notes.append(reference_note(task, refs))
        rows.sort(key=lambda row: (row["subset"].endswith(TEST_SPLIT_SUFFIX),
                                   SUBSET_ORDER.get(row["subset"].removesuffix(TEST_SPLIT_SUFFIX), 9),
                                   row["mae"] if row.get("mae") is not None else float("inf")))
        board[task.id] = {"task": task, "rows": rows, "notes": notes, "records": recs}
    return board
