"""Leaderboard outputs: Markdown tables, JSON documents, parity/violin plots, a static HTML page.

The HTML page is one self-contained ``index.html`` (inline CSS and a few lines of inline JS
for sorting) plus PNG plots in ``plots/``; it works when opened from the file system.
"""
from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from litraj_data.io import atomic_write_text, dumps_json
from litraj_data.registry import citation_bibtex
from litraj_data.leaderboard.scoring.board import build_board, model_label
from litraj_data.leaderboard.scoring.reference import CITATION, DOI, REPORTED_NOTE
from litraj_data.leaderboard.scoring.tasks import get_task

__all__ = ["markdown_table", "markdown_board", "json_document", "plot_record", "render_html",
           "write_text_atomic"]

_SCALAR_COLS = [("mae", "MAE"), ("rmse", "RMSE"), ("r2", "R²"), ("rp", "R_p"), ("slope", "slope")]
_EFS_COLS = [("mae", "E MAE (eV/atom)"), ("rmse", "E RMSE (eV/atom)"), ("forces_mae", "F MAE (eV/Å)"),
             ("forces_rmse", "F RMSE (eV/Å)"), ("stress_mae", "S MAE (eV/Å³)")]


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Create ``path``'s folder, then :func:`litraj_data.io.atomic_write_text` (kept for importers).

    The file gets the umask's mode (0644 under umask 022), so a web server can serve it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


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
        parts.append(f"### {task_id} ({task.dataset} {task.version}, {task.split} split, {task.unit})\n")
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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def plot_record(record: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, str]:
    """Parity plot and error-violin plot (PNG, Agg backend) of one score record.

    Returns
    -------
    dict
        ``{"parity": path, "violin": path}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task = get_task(record["task"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = record["items"]
    y = np.asarray(items["y"], float)
    yhat = np.asarray(items["yhat"], float)
    tm = items.get("has_specific_TM")
    groups: list[tuple[str, np.ndarray]] = [("all", np.ones(y.size, bool))]
    if tm is not None and "with TM" in task.subsets:
        flags = np.array([bool(v) for v in tm])
        groups = [("w/o TM", ~flags), ("with TM", flags)]
    label = model_label(record)
    stem = _slug(f"{task.id}_{label}")
    unit = task.unit

    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=110)
    lo, hi = float(min(y.min(), yhat.min())), float(max(y.max(), yhat.max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, ls="--")
    for name, mask in groups:
        if mask.any():
            ax.scatter(y[mask], yhat[mask], s=10, alpha=0.7, label=f"{name} (n={int(mask.sum())})")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f"{task.target} true ({unit})")
    ax.set_ylabel(f"predicted ({unit})")
    ax.set_title(f"{task.id}\n{label}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    parity = out_dir / f"{stem}_parity.png"
    fig.savefig(parity)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.2, 3.2), dpi=110)
    data = [(yhat - y)[m] for _, m in groups if m.sum() > 0]
    names = [n for n, m in groups if m.sum() > 0]
    if all(d.size > 1 for d in data):
        ax.violinplot(data, showmedians=True)
    else:  # a violin needs two points; fall back to a strip
        for i, d in enumerate(data, 1):
            ax.scatter(np.full(d.size, i), d, s=10)
    ax.axhline(0, color="0.5", lw=1, ls="--")
    ax.set_xticks(range(1, len(names) + 1), names)
    ax.set_ylabel(f"prediction − true ({unit})")
    ax.set_title(f"errors: {label}", fontsize=9)
    fig.tight_layout()
    violin = out_dir / f"{stem}_violin.png"
    fig.savefig(violin)
    plt.close(fig)
    return {"parity": str(parity), "violin": str(violin)}


_JS = """
function sortTable(th){
  var table=th.closest('table'), body=table.tBodies[0], idx=Array.prototype.indexOf.call(th.parentNode.children, th);
  var asc=th.getAttribute('data-dir')!=='asc';
  Array.prototype.forEach.call(th.parentNode.children,function(h){h.removeAttribute('data-dir');});
  th.setAttribute('data-dir', asc?'asc':'desc');
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){
    var x=a.cells[idx].getAttribute('data-v'), y=b.cells[idx].getAttribute('data-v');
    var nx=parseFloat(x), ny=parseFloat(y);
    var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:(isNaN(nx)&&!isNaN(ny)?1:(!isNaN(nx)&&isNaN(ny)?-1:String(x).localeCompare(String(y))));
    return asc?c:-c;});
  rows.forEach(function(r){body.appendChild(r);});
}
"""

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1em}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}
td:first-child,td:nth-child(2),th:first-child{text-align:left}
th{cursor:pointer;background:#f0f0f0}th[data-dir=asc]:after{content:' ▲'}th[data-dir=desc]:after{content:' ▼'}
tr.reference{color:#555;font-style:italic}tr.submission{font-weight:600}
.plots img{max-width:24em;margin-right:1em}pre{background:#f6f6f6;padding:0.6em;overflow-x:auto}
"""


def _cell(value: Any) -> str:
    sort_value = "" if value is None else (f"{value:.10g}" if isinstance(value, float) else str(value))
    return f'<td data-v="{html.escape(sort_value)}">{html.escape(_fmt(value))}</td>'


def _html_table(task_id: str, rows: list[dict[str, Any]]) -> str:
    cols = _columns(task_id)
    task = get_task(task_id)
    screen = task.kind != "efs" and task.screening_threshold is not None
    thr = f" (fast: < {task.screening_threshold} {task.unit})" if screen else ""
    head = ["Model", "Subset", *[c[1] for c in cols], "95% CI of MAE"]
    head += [f"precision{thr}", "recall", "ROC-AUC"] if screen else []
    head += ["n", "Source"]
    out = [f'<table class="board" data-task="{html.escape(task_id)}"><thead><tr>']
    out += [f'<th onclick="sortTable(this)">{html.escape(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        ci = (row.get("ci95") or {}).get("mae")
        ci_text = f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else None
        out.append(f'<tr class="{row["kind"]}">')
        out.append(_cell(row["model"]) + _cell(row["subset"]))
        out += [_cell(row.get(k)) for k, _ in cols]
        out.append(f'<td data-v="{ci[0] if ci else ""}">{html.escape(ci_text or "–")}</td>')
        if screen:
            sc = row.get("screening") or {}
            out += [_cell(sc.get(k)) for k in ("precision", "recall", "roc_auc")]
        out.append(_cell(row.get("n")) + _cell(_source(row)))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(records: list[dict[str, Any]], out_dir: str | os.PathLike, *,
                tasks: list[str] | None = None, plots: bool = True, title: str = "LiTraj leaderboard") -> Path:
    """Write the static leaderboard page ``out_dir/index.html`` (+ ``plots/*.png``).

    Parameters
    ----------
    records
        Score records; their per-item values feed the plots.
    out_dir
        Output folder (created).
    tasks
        Task ids to show (default: tasks with records, or all tasks with reference rows).
    plots
        Draw parity and violin plots of every submission.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    out_dir = Path(out_dir)
    board = build_board(records, tasks=tasks)
    body = [f"<h1>{html.escape(title)}</h1>",
            "<p>Tasks of the LiTraj benchmark. Bold rows are submissions scored by litraj-data; "
            f"italic rows are the paper's published numbers, <em>{REPORTED_NOTE}</em>. "
            "Click a column header to sort.</p>"]
    nav = " · ".join(f'<a href="#{_slug(t)}">{html.escape(t)}</a>' for t in board)
    body.append(f"<p>{nav}</p>")
    for task_id, entry in board.items():
        task = entry["task"]
        body.append(f'<section id="{_slug(task_id)}"><h2>{html.escape(task_id)}</h2>')
        body.append(f"<p>{html.escape(task.description.rstrip('.'))}. Dataset {html.escape(task.dataset)} "
                    f"{html.escape(task.version)}, {html.escape(task.split)} split, unit {html.escape(task.unit)}.</p>")
        body.append(_html_table(task_id, entry["rows"]))
        if entry["notes"]:
            body.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in entry["notes"]) + "</ul>")
        for rec in entry["records"]:
            label = model_label(rec)
            body.append(f"<h3>{html.escape(label)}</h3>")
            if plots and rec.get("items"):
                paths = plot_record(rec, out_dir / "plots")
                imgs = "".join(f'<img alt="{k} plot of {html.escape(label)}" src="plots/{Path(p).name}">'
                               for k, p in paths.items())
                body.append(f'<div class="plots">{imgs}</div>')
            meta = rec.get("model") or {}
            body.append("<details><summary>model metadata</summary><pre>"
                        + html.escape(dumps_json(meta, indent=2)) + "</pre></details>")
        body.append("</section>")
    body.append(f"<h2>Citation</h2><p>{html.escape(CITATION)} "
                f'<a href="https://doi.org/{DOI}">doi:{DOI}</a></p><pre>{html.escape(citation_bibtex())}</pre>')
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style><script>{_JS}</script></head><body>{''.join(body)}</body></html>\n")
    index = out_dir / "index.html"
    write_text_atomic(index, page)
    return index
