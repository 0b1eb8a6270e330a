"""Text reports of a board: Markdown tables and the JSON document of score records.

The scoring layer's own output (``litraj score``, ``litraj leaderboard table``, the baselines'
quick start); the HTML page (:mod:`litraj_data.leaderboard.page`) builds on it.
"""
from __future__ import annotations

from typing import Any

from litraj_data.io import dumps_json
from litraj_data.leaderboard.scoring.reference import CITATION, DOI, REPORTED_NOTE
from litraj_data.leaderboard.scoring.score import SAMPLE_LABEL
from litraj_data.leaderboard.scoring.tasks import get_task

__all__ = ["markdown_table", "markdown_board", "json_document"]

_SCALAR_COLS = [("mae", "MAE"), ("rmse", "RMSE"), ("r2", "R²"), ("rp", "R_p"), ("slope", "slope")]
_EFS_COLS = [("mae", "E MAE (eV/atom)"), ("rmse", "E RMSE (eV/atom)"), ("forces_mae", "F MAE (eV/Å)"),
             ("forces_rmse", "F RMSE (eV/Å)"), ("forces_rp", "F R_p"), ("stress_mae", "S MAE (eV/Å³)"),
             ("stress_rmse", "S RMSE (eV/Å³)")]



def _columns(task_id: str) -> list[tuple[str, str]]:
    task = get_task(task_id)
    if task.kind == "efs":
        return _EFS_COLS
    cols = list(_SCALAR_COLS)
    if task.kind == "bands":
        cols.append(("pa_mae", "PA-MAE (Å)"))
    return cols


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _source(row: dict[str, Any]) -> str:
    if row["kind"] == "reference":
        return f"{REPORTED_NOTE} ({row['table']})"
    return row["status"]


def markdown_table(task_id: str, rows: list[dict[str, Any]]) -> str:
    """Markdown table of one task's leaderboard rows."""
    cols = _columns(task_id)
    head = ["Model", "Subset", *[c[1] for c in cols], "n", "Source"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row["model"]), str(row["subset"]), *[_fmt(row.get(k)) for k, _ in cols],
                 _fmt(row.get("n")), _source(row)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def markdown_board(board: dict[str, dict[str, Any]]) -> str:
    """Markdown of a whole board: one section per task, notes and the citation."""
    parts = []
    for task_id, entry in board.items():
        task = entry["task"]
        data = f"{task.split} split"
        if entry["records"] and all(r.get("sample") for r in entry["records"]):
            data = f"embedded {SAMPLE_LABEL}, not the {task.split} split"
        elif any(r.get("sample") for r in entry["records"]):
            data += f"; rows marked [{SAMPLE_LABEL}] are scored on the embedded {SAMPLE_LABEL}"
        parts.append(f"### {task_id} ({task.dataset} {task.version}, {data}, {task.unit})\n")
        parts.append(markdown_table(task_id, entry["rows"]))
        parts += [f"\n- {n}" for n in entry["notes"]]
        parts.append("")
    parts.append(f"Reference rows: {CITATION} doi:{DOI}")
    return "\n".join(parts) + "\n"


def json_document(records: list[dict[str, Any]], *, with_items: bool = False) -> str:
    """One JSON document ``{"records": [...]}`` (per-item arrays left out unless asked for)."""
    out = []
    for r in records:
        r = dict(r)
        if not with_items:
            r.pop("items", None)
        out.append(r)
    return dumps_json({"records": out}, indent=2)
