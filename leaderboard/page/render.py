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
from litraj_data.leaderboard.scoring.modelcard import runtime_of
from litraj_data.leaderboard.page.figures import (COLOURS, PAGE_CSS, PAGE_JS, filter_controls, heatmap_svg, json_block,
                                                  parity_svg, pareto_svg, profile_viewer, violin_svg)
from litraj_data.leaderboard.scoring.reference import CITATION, DOI, REPORTED_NOTE
from litraj_data.leaderboard.scoring.score import SAMPLE_LABEL
from litraj_data.leaderboard.scoring.tasks import get_task
from litraj_data.leaderboard.scoring.report import _columns, _fmt, _source, json_document, markdown_board, markdown_table

__all__ = ["markdown_table", "markdown_board", "json_document", "plot_record", "render_html",
           "write_text_atomic"]  # the first three re-exported from scoring.report

#: figure size (inches) and resolution of the PNG plots
FIGSIZE = (6.4, 6.0)
DPI = 150

def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Create ``path``'s folder, then :func:`litraj_data.io.atomic_write_text` (kept for importers).

    The file gets the umask's mode (0644 under umask 022), so a web server can serve it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


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

    # large enough to read in a paper or on a slide, with the numbers that matter written on them
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    lo, hi = float(min(y.min(), yhat.min())), float(max(y.max(), yhat.max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, ls="--")
    for name, mask in groups:
        if mask.any():
            gmae = float(np.abs(yhat[mask] - y[mask]).mean())
            ax.scatter(y[mask], yhat[mask], s=18, alpha=0.7,
                       label=f"{name}: MAE {gmae:.3f} {unit}, n = {int(mask.sum())}")
    mae = float(np.abs(yhat - y).mean())
    ax.text(0.97, 0.04, f"MAE = {mae:.3f} {unit}\nn = {y.size}", transform=ax.transAxes, ha="right",
            va="bottom", fontsize=13, bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f"{task.target} true ({unit})", fontsize=12)
    ax.set_ylabel(f"predicted ({unit})", fontsize=12)
    ax.set_title(f"{task.id}\n{label}", fontsize=12)
    ax.legend(fontsize=10, loc="upper left")
    fig.tight_layout()
    parity = out_dir / f"{stem}_parity.png"
    fig.savefig(parity)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(FIGSIZE[0], FIGSIZE[1] * 0.8), dpi=DPI)
    data = [(yhat - y)[m] for _, m in groups if m.sum() > 0]
    names = [f"{n}\nMAE {float(np.abs(d).mean()):.3f}, n = {d.size}" for (n, m), d in
             zip([g for g in groups if g[1].sum() > 0], data)]
    if all(d.size > 1 for d in data):
        ax.violinplot(data, showmedians=True)
    else:  # a violin needs two points; fall back to a strip
        for i, d in enumerate(data, 1):
            ax.scatter(np.full(d.size, i), d, s=18)
    ax.axhline(0, color="0.5", lw=1, ls="--")
    ax.set_xticks(range(1, len(names) + 1), names, fontsize=11)
    ax.set_ylabel(f"prediction − true ({unit})", fontsize=12)
    ax.set_title(f"errors: {label}", fontsize=12)
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
    out = [f'<table class="board" data-task="{html.escape(task_id)}" data-slug="{_slug(task_id)}"><thead><tr>']
    out += [f'<th onclick="sortTable(this)">{html.escape(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        ci = (row.get("ci95") or {}).get("mae")
        ci_text = f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else None
        classes = row["kind"] + (" sample" if row.get("sample") else "")
        out.append(f'<tr class="{classes}" data-model="{html.escape(str(row["model"]))}" '
                   f'data-subset="{html.escape(str(row["subset"]))}">')
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


def _card_html(meta: dict[str, Any], task_id: str) -> str:
    """The model card (or legacy metadata) of one submission as a definition list."""
    card = meta.get("card")
    items: list[tuple[str, str]] = []
    if card:
        authors = []
        for a in card["authors"]:
            name = html.escape(a["name"])
            if a.get("orcid"):
                name += f' (<a href="https://orcid.org/{html.escape(a["orcid"])}">ORCID {html.escape(a["orcid"])}</a>)'
            authors.append(name)
        items.append(("authors", ", ".join(authors)))
        if card.get("repo"):
            items.append(("repository", f'<a href="{html.escape(card["repo"])}">{html.escape(card["repo"])}</a>'))
        if card.get("paper_doi"):
            doi = html.escape(card["paper_doi"])
            items.append(("paper", f'<a href="https://doi.org/{doi}">doi:{doi}</a>'))
        ck = card.get("checkpoint")
        items.append(("checkpoint", "none (trained in place)" if not ck else
                      f'<a href="{html.escape(ck["url"])}">{html.escape(ck["url"])}</a> sha256 '
                      f'<code>{html.escape(ck["sha256"])}</code>'))
        lic = card["license"]
        items.append(("licence", html.escape(f"code {lic['code']}" + (f", checkpoint {lic['checkpoint']}"
                                                                      if lic.get("checkpoint") else ""))))
        env = card["environment"]
        items.append(("environment", html.escape(f"Python {env['python']}; " + ", ".join(
            f"{k}=={v}" for k, v in env["packages"].items()))))
        td = card["training_data"]
        items.append(("training data", html.escape(", ".join(td["datasets"]) + f"; fine-tuned on LiTraj: "
                                                   f"{'yes' if td['fine_tuned_on_litraj'] else 'no'}; LiTraj test "
                                                   f"data seen: {'yes' if td['litraj_test_data_seen'] else 'no'}")))
        items.append(("parameters", "–" if card.get("n_parameters") is None else f"{card['n_parameters']:,}"))
    else:
        items.append(("model card", "legacy metadata (no ORCID, checkpoint, licence or pinned environment stated)"))
    wall, hardware = runtime_of(meta, task_id)
    if wall is not None:
        items.append(("wall time", html.escape(f"{wall:.0f} s on {hardware or 'unstated hardware'}")))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    raw = {k: v for k, v in meta.items() if k not in ("card_missing",)}
    return (f'<dl class="card">{dl}</dl><details><summary>model metadata</summary><pre>'
            + html.escape(dumps_json(raw, indent=2)) + "</pre></details>")


def _figures(task: Any, recs: list[dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    """Inline SVG figures of one task's records and the profile data of its viewer."""
    recs = [r for r in recs if r.get("items") and r["items"].get("y")]
    if not recs:
        return "", None
    figs, groups, pareto, heat = [], [], [], []
    for j, rec in enumerate(recs):
        label = model_label(rec)
        it = rec["items"]
        y, yhat = np.asarray(it["y"], float), np.asarray(it["yhat"], float)
        figs.append(parity_svg(label, y, yhat, it["id"], task.unit, task.target, COLOURS[j % len(COLOURS)]))
        groups.append((label, yhat - y))
        wall, hardware = runtime_of(rec.get("model"), task.id)
        mae = (rec["subsets"].get("all") or next(iter(rec["subsets"].values())))["mae"]
        if wall is not None and mae is not None:
            pareto.append({"model": label, "mae": mae, "wall_time_s": wall, "hardware": hardware})
        if it.get("chemsys"):
            heat.append((label, list(it["chemsys"]), np.abs(yhat - y)))
    figs.append(violin_svg(groups, task.unit, f"{task.id}: errors"))
    figs.append(pareto_svg(pareto, task.unit, f"{task.id}: runtime vs MAE"))
    if heat:
        figs.append(heatmap_svg(heat, task.unit, f"{task.id}: MAE by element"))
    data = None
    if task.kind == "bands":
        models = []
        for rec in recs:
            it = rec["items"]
            prof = {i: {"pred": p, "ref": r} for i, p, r in zip(it["id"], it.get("profile_pred") or [],
                                                                 it.get("profile_ref") or [])}
            if prof:
                models.append({"label": model_label(rec), "profiles": prof})
        if models:
            data = {"models": models}
            figs.append(profile_viewer(_slug(task.id), task.unit))
    return '<div class="figs">' + "".join(figs) + "</div>", data


def render_html(records: list[dict[str, Any]], out_dir: str | os.PathLike, *,
                tasks: list[str] | None = None, plots: bool = True, title: str = "LiTraj leaderboard") -> Path:
    """Write the interactive leaderboard page ``out_dir/index.html`` (+ ``plots/*.png``).

    The page is offline and self-contained: tables sortable (click a header) and filterable
    (model name, subset, paper rows, sample-scored rows), inline SVG parity and error-violin
    plots, a runtime-vs-MAE Pareto plot (wall times from the model cards), a per-element error
    heatmap and, for NEB tasks, a per-hop energy-profile viewer (prediction vs DFT).

    Parameters
    ----------
    records
        Score records; their per-item values feed the figures.
    out_dir
        Output folder (created; files written atomically, world-readable under umask 022).
    tasks
        Task ids to show (default: tasks with records, or all tasks with reference rows).
    plots
        Also write the PNG parity and violin plots of every submission to ``plots/``.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    out_dir = Path(out_dir)
    board = build_board(records, tasks=tasks)
    body = [f"<h1>{html.escape(title)}</h1>",
            "<p>Tasks of the LiTraj benchmark. Bold rows are submissions scored by litraj-data; "
            f"italic rows are the paper's published numbers, <em>{REPORTED_NOTE}</em>; rows tagged "
            f"<em>{SAMPLE_LABEL}</em> were scored on the embedded sample, not the task's split. "
            "Click a column header to sort; filter with the controls above each table.</p>"]
    nav = " · ".join(f'<a href="#{_slug(t)}">{html.escape(t)}</a>' for t in board)
    body.append(f"<p>{nav}</p>")
    page_data: dict[str, Any] = {"tasks": {}}
    for task_id, entry in board.items():
        task = entry["task"]
        slug = _slug(task_id)
        data_text = f"{html.escape(task.split)} split"
        if entry["records"] and all(r.get("sample") for r in entry["records"]):
            data_text = f"<strong>embedded {SAMPLE_LABEL}</strong>, not the {html.escape(task.split)} split"
        body.append(f'<section id="{slug}"><h2>{html.escape(task_id)}</h2>')
        body.append(f"<p>{html.escape(task.description.rstrip('.'))}. Dataset {html.escape(task.dataset)} "
                    f"{html.escape(task.version)}, {data_text}, unit {html.escape(task.unit)}.</p>")
        body.append(filter_controls(slug, task.subsets))
        body.append(_html_table(task_id, entry["rows"]))
        if entry["notes"]:
            body.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in entry["notes"]) + "</ul>")
        figs, data = _figures(task, entry["records"])
        body.append(figs)
        if data:
            page_data["tasks"][slug] = data
        for rec in entry["records"]:
            label = model_label(rec)
            body.append(f"<h3>{html.escape(label)}</h3>")
            if plots and rec.get("items"):
                paths = plot_record(rec, out_dir / "plots")
                imgs = "".join(f'<img alt="{k} plot of {html.escape(label)}" src="plots/{Path(p).name}">'
                               for k, p in paths.items())
                body.append(f'<details class="plots"><summary>PNG figures</summary>{imgs}</details>')
            body.append(_card_html(rec.get("model") or {}, task.id))
        body.append("</section>")
    body.append(f"<h2>Citation</h2><p>{html.escape(CITATION)} "
                f'<a href="https://doi.org/{DOI}">doi:{DOI}</a></p><pre>{html.escape(citation_bibtex())}</pre>')
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}{PAGE_CSS}</style><script>{_JS}{PAGE_JS}</script></head><body>{''.join(body)}"
            f"{json_block(page_data)}</body></html>\n")
    index = out_dir / "index.html"
    write_text_atomic(index, page)
    return index
