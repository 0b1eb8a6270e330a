"""Leaderboard outputs: Markdown tables, JSON documents, parity/violin plots, a static HTML page.

The HTML page is one self-contained ``index.html`` (inline CSS and a few lines of inline JS
for sorting) plus PNG plots in ``plots/``; it works when opened from the file system.

Everything on the page that a record carries (model names, card fields, chemsys, task notes)
was written by someone else, so the page is escaped by construction:

* the HTML is one Jinja2 template with autoescape on: every ``{{ value }}`` is escaped unless it
  is :class:`markupsafe.Markup` made by :func:`~litraj_data.leaderboard.page.figures.el` (which
  escapes what it wraps);
* the SVG figures are built only through ``el`` (:mod:`~litraj_data.leaderboard.page.figures`);
* the embedded JSON writes ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\uXXXX`` escapes;
* links are written only for ``http``/``https`` URLs (a ``javascript:`` URL stays text);
* a Content-Security-Policy ``<meta>`` allows the page's own inline script and style by their
  sha256 hashes and nothing else: no other script, no inline handler, no ``javascript:`` URL,
  no remote fetch. The page still works from ``file://``.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from litraj_data.io import atomic_write_text, dumps_json
from litraj_data.lazy import lazy_import
from litraj_data.leaderboard.page.figures import (
    COLOURS,
    PAGE_CSS,
    PAGE_JS,
    el,
    filter_controls,
    heatmap_svg,
    json_block,
    pareto_svg,
    parity_svg,
    profile_viewer,
    violin_svg,
)
from litraj_data.leaderboard.scoring.board import build_board, model_label
from litraj_data.leaderboard.scoring.modelcard import runtime_of
from litraj_data.leaderboard.scoring.reference import CITATION, DOI, REPORTED_NOTE
from litraj_data.leaderboard.scoring.report import (
    _columns,
    _fmt,
    _source,
    json_document,
    markdown_board,
    markdown_table,
)
from litraj_data.leaderboard.scoring.score import SAMPLE_LABEL
from litraj_data.leaderboard.scoring.tasks import get_task
from litraj_data.registry import citation_bibtex

__all__ = ["markdown_table", "markdown_board", "json_document", "plot_record", "render_html",
           "write_text_atomic", "content_security_policy", "safe_url"]
# (the first three are re-exported from scoring.report)

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
    matplotlib = lazy_import("matplotlib")

    matplotlib.use("Agg")
    plt = lazy_import("matplotlib.pyplot")

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
    # a file name from a model name: safe characters, bounded length (names are anyone's text),
    # and a short hash so that two long names with the same start do not overwrite each other
    full = f"{task.id}_{model_label(record)}"
    stem = _slug(full)
    if len(stem) > 80:
        stem = f"{stem[:80]}_{hashlib.sha256(full.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"
    # matplotlib reads "$...$" as mathtext: a model name is plain text (a bad formula would crash savefig)
    label = model_label(record).replace("$", r"\$")
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

#: the page's one inline script and one inline style (hashed into the Content-Security-Policy)
SCRIPT = _JS + PAGE_JS
STYLE = _CSS + PAGE_CSS

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<style>{{ style }}</style>
<script>{{ script }}</script>
</head><body>
<h1>{{ title }}</h1>
<p>Tasks of the LiTraj benchmark. Bold rows are submissions scored by litraj-data; italic rows are the paper's \
published numbers, <em>{{ reported_note }}</em>; rows tagged <em>{{ sample_label }}</em> were scored on the embedded \
sample, not the task's split. Click a column header to sort; filter with the controls above each table.</p>
<p>{% for t in tasks %}{% if not loop.first %} · {% endif %}<a href="#{{ t.slug }}">{{ t.id }}</a>{% endfor %}</p>
{% for t in tasks %}
<section id="{{ t.slug }}"><h2>{{ t.id }}</h2>
<p>{{ t.description }}. Dataset {{ t.dataset }} {{ t.version }}, {% if t.sample_only %}<strong>embedded \
{{ sample_label }}</strong>, not the {{ t.split }} split{% else %}{{ t.split }} split{% endif %}, unit {{ t.unit }}.</p>
{{ t.filters }}
<table class="board" data-task="{{ t.id }}" data-slug="{{ t.slug }}"><thead><tr>
{%- for h in t.head %}<th>{{ h }}</th>{% endfor %}</tr></thead><tbody>
{%- for row in t.rows %}<tr class="{{ row.classes }}" data-model="{{ row.model }}" data-subset="{{ row.subset }}">
{%- for c in row.cells %}<td data-v="{{ c[0] }}">{{ c[1] }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>
{% if t.notes %}<ul>{% for n in t.notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
{{ t.figures }}
{% for s in t.submissions %}<h3>{{ s.label }}</h3>
{% if s.plots %}<details class="plots"><summary>PNG figures</summary>
{%- for kind, src in s.plots %}<img alt="{{ kind }} plot of {{ s.label }}" src="{{ src }}">{% endfor %}</details>
{%- endif %}
<dl class="card">{% for k, v in s.card %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}</dl>
<details><summary>model metadata</summary><pre>{{ s.raw }}</pre></details>
{% endfor %}</section>
{% endfor %}
<h2>Citation</h2><p>{{ citation }} <a href="https://doi.org/{{ doi }}">doi:{{ doi }}</a></p><pre>{{ bibtex }}</pre>
{{ data_block }}
</body></html>
"""

_ENV = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_TEMPLATE = _ENV.from_string(_PAGE)


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def content_security_policy() -> str:
    """The page's CSP: its own inline script and style (by hash), same-folder images, nothing else.

    ``default-src 'none'`` forbids every fetch not listed; no ``'unsafe-inline'``, so an injected
    ``<script>``, an ``on*`` attribute or a ``javascript:`` URL would not run even if one got past
    the escaping. ``'self'`` images are the PNG plots beside ``index.html`` (also from ``file://``).
    """
    return (f"default-src 'none'; script-src '{_sha256(SCRIPT)}'; style-src '{_sha256(STYLE)}'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; object-src 'none'")


def safe_url(url: Any) -> str | None:
    """``url`` when it is an ``http(s)://`` URL (a link may be written), else ``None`` (shown as text)."""
    if not isinstance(url, str):
        return None
    u = url.strip()
    return u if re.match(r"^https?://[^\s\"'<>`]+$", u, flags=re.IGNORECASE) else None


def _link(url: Any, text: Any = None) -> Markup:
    href = safe_url(url)
    label = url if text is None else text
    return el("a", {"href": href}, label) if href else el("span", None, str(label))


def _cell(value: Any) -> tuple[str, str]:
    sort_value = "" if value is None else (f"{value:.10g}" if isinstance(value, float) else str(value))
    return sort_value, _fmt(value)


def _table(task_id: str, rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows (cells as ``(sort value, text)``) of one task's table."""
    cols = _columns(task_id)
    task = get_task(task_id)
    screen = task.kind != "efs" and task.screening_threshold is not None
    thr = f" (fast: < {task.screening_threshold} {task.unit})" if screen else ""
    head = ["Model", "Subset", *[c[1] for c in cols], "95% CI of MAE"]
    head += [f"precision{thr}", "recall", "ROC-AUC"] if screen else []
    head += ["n", "Source"]
    out = []
    for row in rows:
        ci = (row.get("ci95") or {}).get("mae")
        cells = [_cell(row["model"]), _cell(row["subset"]), *[_cell(row.get(k)) for k, _ in cols],
                 (str(ci[0]) if ci else "", f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "–")]
        if screen:
            sc = row.get("screening") or {}
            cells += [_cell(sc.get(k)) for k in ("precision", "recall", "roc_auc")]
        cells += [_cell(row.get("n")), _cell(_source(row))]
        out.append({"classes": row["kind"] + (" sample" if row.get("sample") else ""), "model": str(row["model"]),
                    "subset": str(row["subset"]), "cells": cells})
    return head, out


def _yes(flag: Any) -> str:
    return "yes" if flag is True else "no"


def _training_text(td: dict[str, Any]) -> str:
    """What the card says about LiTraj data: trained from scratch, fine-tuned, or neither."""
    datasets = ", ".join(str(d) for d in td.get("datasets") or [])
    if td.get("fine_tuned_on_litraj") and td.get("from_scratch"):
        litraj = "trained on LiTraj from scratch"
    else:
        litraj = f"fine-tuned on LiTraj: {_yes(td.get('fine_tuned_on_litraj'))}"
    return f"{datasets}; {litraj}; LiTraj test data seen: {_yes(td.get('litraj_test_data_seen'))}"


def _card_items(meta: dict[str, Any], task_id: str) -> list[tuple[str, Any]]:
    """The model card (or legacy metadata) of one submission: (term, text or Markup) pairs."""
    card = meta.get("card")
    items: list[tuple[str, Any]] = []
    if card:
        authors = []
        for a in card["authors"]:
            orcid = a.get("orcid")
            authors.append(Markup("").join([el("span", None, a["name"])] + (
                [" (", el("a", {"href": f"https://orcid.org/{orcid}"}, f"ORCID {orcid}"), ")"] if orcid else [])))
        items.append(("authors", Markup(", ").join(authors)))
        if card.get("repo"):
            items.append(("repository", _link(card["repo"])))
        if card.get("paper_doi"):
            doi = card["paper_doi"]
            items.append(("paper", _link(f"https://doi.org/{doi}", f"doi:{doi}")))
        ck = card.get("checkpoint")
        items.append(("checkpoint", "none (trained in place)" if not ck else
                      Markup("").join([_link(ck["url"]), " sha256 ", el("code", None, ck["sha256"])])))
        lic = card["license"]
        items.append(("licence", f"code {lic['code']}" + (f", checkpoint {lic['checkpoint']}"
                                                           if lic.get("checkpoint") else "")))
        env = card["environment"]
        items.append(("environment", f"Python {env['python']}; " + ", ".join(
            f"{k}=={v}" for k, v in env["packages"].items())))
        items.append(("training data", _training_text(card["training_data"])))
        n = card.get("n_parameters")
        items.append(("parameters", "–" if not isinstance(n, int) else f"{n:,}"))
    else:
        items.append(("model card", "legacy metadata (no ORCID, checkpoint, licence or pinned environment stated)"))
    wall, hardware = runtime_of(meta, task_id)
    if wall is not None:
        items.append(("wall time", f"{wall:.0f} s on {hardware or 'unstated hardware'}"))
    return items


def _figures(task: Any, recs: list[dict[str, Any]]) -> tuple[Markup, dict[str, Any] | None]:
    """Inline SVG figures of one task's records and the profile data of its viewer."""
    recs = [r for r in recs if r.get("items") and r["items"].get("y")]
    if not recs:
        return Markup(""), None
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
    return el("div", {"class": "figs"}, *figs), data


def render_html(records: list[dict[str, Any]], out_dir: str | os.PathLike, *,
                tasks: list[str] | None = None, plots: bool = True, title: str = "LiTraj leaderboard") -> Path:
    """Write the interactive leaderboard page ``out_dir/index.html`` (+ ``plots/*.png``).

    The page is offline and self-contained: tables sortable (click a header) and filterable
    (model name, subset, paper rows, sample-scored rows), inline SVG parity and error-violin
    plots, a runtime-vs-MAE Pareto plot (wall times from the model cards), a per-element error
    heatmap and, for NEB tasks, a per-hop energy-profile viewer (prediction vs DFT). It is
    rendered from a Jinja2 template with autoescape and carries a Content-Security-Policy (see
    the module docstring).

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
    page_data: dict[str, Any] = {"tasks": {}}
    sections = []
    for task_id, entry in board.items():
        task = entry["task"]
        slug = _slug(task_id)
        head, rows = _table(task_id, entry["rows"])
        figures, data = _figures(task, entry["records"])
        if data:
            page_data["tasks"][slug] = data
        subs = []
        for rec in entry["records"]:
            label = model_label(rec)
            pngs = []
            if plots and rec.get("items"):
                pngs = [(k, f"plots/{Path(p).name}") for k, p in plot_record(rec, out_dir / "plots").items()]
            meta = rec.get("model") or {}
            raw = {k: v for k, v in meta.items() if k not in ("card_missing",)}
            subs.append({"label": label, "plots": pngs, "card": _card_items(meta, task.id),
                         "raw": dumps_json(raw, indent=2)})
        sections.append({
            "id": task_id, "slug": slug, "description": task.description.rstrip("."), "dataset": task.dataset,
            "version": task.version, "split": task.split, "unit": task.unit,
            "sample_only": bool(entry["records"]) and all(r.get("sample") for r in entry["records"]),
            "filters": filter_controls(slug, task.subsets), "head": head, "rows": rows,
            "notes": list(entry["notes"]), "figures": figures, "submissions": subs})
    page = _TEMPLATE.render(
        csp=content_security_policy(), title=title, style=Markup(STYLE), script=Markup(SCRIPT),
        reported_note=REPORTED_NOTE, sample_label=SAMPLE_LABEL, tasks=sections, citation=CITATION, doi=DOI,
        bibtex=citation_bibtex(), data_block=json_block(page_data))
    index = out_dir / "index.html"
    write_text_atomic(index, page)
    return index
