"""The interactive parts of the leaderboard page: inline SVG drawn in Python, plain JS, no CDN.

Everything the page needs is in ``index.html`` (it works from ``file://`` and offline): the
figures are inline SVG generated here (parity, error violins, runtime-vs-MAE Pareto, per-element
error heatmap), the per-hop energy-profile viewer and the table filters are a few functions of
plain JavaScript (:data:`PAGE_JS`) that read a JSON block embedded in the page.

Escaping by construction: every element here is made by :func:`el`, which escapes each
attribute value and each text child (model names, chemsys, units, ids come from submissions
and records that strangers write); only the :class:`markupsafe.Markup` that :func:`el` itself
returns is inserted as markup. No markup is built by string formatting, and the page has no
inline event handlers (:data:`PAGE_JS` attaches them), so its Content-Security-Policy can
forbid every script but its own.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Mapping, Sequence

import numpy as np
from markupsafe import Markup, escape

from litraj_data.io import dumps_json

__all__ = ["PAGE_JS", "PAGE_CSS", "el", "parity_svg", "violin_svg", "pareto_svg", "heatmap_svg",
           "profile_viewer", "filter_controls", "json_block", "json_text", "COLOURS"]

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22")
_W, _H, _M = 460, 400, 56  # figure width, height, margin (px)
MAX_POINTS = 2000  # points drawn per parity plot (metrics always use every item)
_SVG_NS = "http://www.w3.org/2000/svg"

# element and attribute names are our own constants; checked so that a typo cannot open a hole
_TAG = re.compile(r"^[a-z][a-zA-Z0-9]*$")
_ATTR = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
_VOID = frozenset({"input", "img", "br", "meta", "hr"})  # HTML elements without content or end tag


def el(tag: str, attrs: Mapping[str, Any] | None = None, *children: Any) -> Markup:
    """One element, escaped by construction.

    Parameters
    ----------
    tag : str
        Element name (a constant of this module).
    attrs : mapping, optional
        Attribute -> value; ``None`` values are left out, ``True`` writes the bare attribute,
        everything else is written as escaped text (``"``, ``'``, ``<``, ``>``, ``&``).
        ``on*`` event handlers are refused: the page's script attaches its own.
    *children
        :class:`Markup` made by :func:`el` (inserted as is) or anything else (escaped text).

    Returns
    -------
    Markup
    """
    if not _TAG.match(tag):
        raise ValueError(f"bad element name {tag!r}")
    parts = [tag]
    for name, value in (attrs or {}).items():
        if not _ATTR.match(name) or name.startswith("on"):
            raise ValueError(f"attribute {name!r} is not allowed (inline handlers break the page's CSP)")
        if value is None or value is False:
            continue
        parts.append(name if value is True else f'{name}="{escape(str(value))}"')
    if tag in _VOID:
        if children:
            raise ValueError(f"<{tag}> has no content")
        return Markup(f"<{' '.join(parts)}>")
    inner = Markup("").join(c if isinstance(c, Markup) else escape(str(c)) for c in children if c is not None)
    return Markup(f"<{' '.join(parts)}>{inner}</{tag}>")


def _f(v: float) -> str:
    return f"{float(v):.1f}"


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (float(v) - lo) / span * (b - a)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step) + 1)]


def _text(x: Any, y: Any, content: Any, size: int = 12, anchor: str | None = None, **attrs: Any) -> Markup:
    return el("text", {"x": _f(x), "y": _f(y), "text-anchor": anchor, "font-size": size, **attrs}, content)


def _axes(x0: float, x1: float, y0: float, y1: float, xlabel: str, ylabel: str, *, logx: bool = False,
          xticks: bool = True) -> Markup:
    sx, sy = _scale(x0, x1, _M, _W - 12), _scale(y0, y1, _H - _M, 28)
    out = [el("rect", {"x": _M, "y": 28, "width": _W - 12 - _M, "height": _H - _M - 28, "fill": "#fff",
                       "stroke": "#999"})]
    for t in _ticks(x0, x1) if xticks else []:
        label = f"{10 ** t:.3g}" if logx else f"{t:g}"
        out.append(el("line", {"x1": _f(sx(t)), "x2": _f(sx(t)), "y1": _H - _M, "y2": _H - _M + 5, "stroke": "#666"}))
        out.append(_text(sx(t), _H - _M + 18, label, anchor="middle"))
    for t in _ticks(y0, y1):
        out.append(el("line", {"x1": _M - 5, "x2": _M, "y1": _f(sy(t)), "y2": _f(sy(t)), "stroke": "#666"}))
        out.append(_text(_M - 8, sy(t) + 4, f"{t:g}", anchor="end"))
    out.append(_text((_M + _W) / 2, _H - 12, xlabel, 13, "middle"))
    out.append(el("text", {"transform": f"translate(14 {(_H - _M + 28) / 2:.0f}) rotate(-90)",
                           "text-anchor": "middle", "font-size": 13}, ylabel))
    return Markup("").join(out)


def _svg(kind: str, title: str, body: Sequence[Markup], **data: Any) -> Markup:
    attrs = {"class": f"plot {kind}", "viewBox": f"0 0 {_W} {_H}", "width": _W, "height": _H, "role": "img",
             **{f"data-{k.replace('_', '-')}": v for k, v in data.items()}, "xmlns": _SVG_NS}
    return el("svg", attrs, el("title", None, title),
              _text(_W / 2, 18, title, 14, "middle", **{"font-weight": 600}), *body)


def parity_svg(label: str, y: Sequence[float], yhat: Sequence[float], ids: Sequence[str], unit: str,
               target: str, colour: str = COLOURS[0]) -> Markup:
    """Parity plot of one model: points with tooltips, the y = x line, MAE and n written on it."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    lo, hi = float(min(y.min(), yhat.min())), float(max(y.max(), yhat.max()))
    pad = 0.05 * ((hi - lo) or 1.0)
    lo, hi = lo - pad, hi + pad
    sx, sy = _scale(lo, hi, _M, _W - 12), _scale(lo, hi, _H - _M, 28)
    mae = float(np.abs(yhat - y).mean())
    body = [_axes(lo, hi, lo, hi, f"{target} true ({unit})", f"predicted ({unit})"),
            el("line", {"x1": _f(sx(lo)), "y1": _f(sy(lo)), "x2": _f(sx(hi)), "y2": _f(sy(hi)), "stroke": "#999",
                        "stroke-dasharray": "4 3"})]
    shown = np.arange(y.size)
    if y.size > MAX_POINTS:  # keep the page light (MPLiTrj has ~10^4 configurations): an even subsample
        shown = np.linspace(0, y.size - 1, MAX_POINTS).round().astype(int)
        body.append(_text(_W - 16, _H - _M - 8, f"{MAX_POINTS} of {y.size} points drawn", 11, "end"))
    for k in shown:
        i, a, b = ids[k], y[k], yhat[k]
        body.append(el("circle", {"class": "pt", "cx": _f(sx(a)), "cy": _f(sy(b)), "r": 3.5, "fill": colour,
                                  "fill-opacity": 0.7},
                       el("title", None, f"{i}: true {a:.3f}, predicted {b:.3f} {unit}")))
    body.append(_text(_M + 8, 48, f"MAE = {mae:.3f} {unit}, n = {y.size}", 14, **{"class": "metric"}))
    return _svg("parity", f"Parity: {label}", body, model=label, mae=f"{mae:.6g}", n=y.size)


def _bandwidth(values: np.ndarray) -> float:
    # Silverman's rule of thumb (numpy only, so rendering needs no scipy)
    return 1.06 * (float(values.std()) or 1e-3) * values.size ** (-1 / 5)


def _kde(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    bw = _bandwidth(values)
    d = (grid[:, None] - values[None, :]) / bw
    return np.exp(-0.5 * d * d).sum(1) / (values.size * bw * math.sqrt(2 * math.pi))


def violin_svg(groups: list[tuple[str, np.ndarray]], unit: str, title: str) -> Markup:
    """Error violins (prediction − true), one per model or subset, each labelled with MAE and n."""
    groups = [(n, np.asarray(e, float)) for n, e in groups if len(e)]
    allv = np.concatenate([e for _, e in groups])
    lo, hi = float(allv.min()), float(allv.max())
    # room for the density's tails (3 bandwidths), so a violin closes instead of being cut flat
    pad = max([0.08 * ((hi - lo) or 1.0)] + [3 * _bandwidth(e) for _, e in groups if e.size > 1])
    lo, hi = lo - pad, hi + pad
    sy = _scale(lo, hi, _H - _M, 40)
    k = len(groups)
    width = (_W - 12 - _M) / k
    body = [_axes(0, 1, lo, hi, "", f"prediction − true ({unit})", xticks=False),
            el("line", {"x1": _M, "x2": _W - 12, "y1": _f(sy(0)), "y2": _f(sy(0)), "stroke": "#999",
                        "stroke-dasharray": "4 3"})]
    grid = np.linspace(lo, hi, 60)
    for j, (name, err) in enumerate(groups):
        cx = _M + width * (j + 0.5)
        colour = COLOURS[j % len(COLOURS)]
        if err.size > 1 and err.std() > 0:
            dens = _kde(err, grid)
            half = dens / dens.max() * width * 0.42
            pts = [f"{cx + h:.1f},{sy(g):.1f}" for g, h in zip(grid, half)]
            pts += [f"{cx - h:.1f},{sy(g):.1f}" for g, h in zip(grid[::-1], half[::-1])]
            body.append(el("polygon", {"class": "violin", "points": " ".join(pts), "fill": colour,
                                       "fill-opacity": 0.45, "stroke": colour}, el("title", None, name)))
        else:  # one point (or identical errors) has no density: a strip
            body += [el("circle", {"cx": _f(cx), "cy": _f(sy(v)), "r": 3, "fill": colour}) for v in err]
        med = float(np.median(err))
        body.append(el("line", {"x1": _f(cx - width * 0.2), "x2": _f(cx + width * 0.2), "y1": _f(sy(med)),
                                "y2": _f(sy(med)), "stroke": "#000", "stroke-width": 2}))
        mae = float(np.abs(err).mean())
        body.append(_text(cx, _H - _M + 18, name[:22], 12, "middle", **{"class": "metric"}))
        body.append(_text(cx, _H - _M + 33, f"MAE {mae:.3f}, n = {err.size}", 11, "middle", **{"class": "metric"}))
    return _svg("violin", title, body, groups=k)


def pareto_svg(points: list[dict[str, Any]], unit: str, title: str) -> Markup:
    """Runtime (s, log scale) against MAE, the Pareto front (faster and more accurate) drawn through."""
    if not points:
        return el("p", {"class": "no-pareto"}, "No submission of this task states its wall time (model card: ",
                  el("code", None, "tasks.<task>.wall_time_s"), "), so there is no runtime-vs-MAE plot.")
    t = np.log10(np.maximum([p["wall_time_s"] for p in points], 1e-3))
    m = np.asarray([p["mae"] for p in points], float)
    x0, x1 = float(t.min()) - 0.3, float(t.max()) + 0.3
    y0, y1 = 0.0, float(m.max()) * 1.15 or 1.0
    sx, sy = _scale(x0, x1, _M, _W - 12), _scale(y0, y1, _H - _M, 28)
    order = np.lexsort((m, t))
    front, best = [], math.inf
    for i in order:  # sorted by runtime: a point is on the front when it beats every faster one
        if m[i] < best:
            front.append(i)
            best = m[i]
    body = [_axes(x0, x1, y0, y1, "wall time (s, log scale)", f"MAE ({unit})", logx=True)]
    if len(front) > 1:
        body.append(el("polyline", {"class": "front", "fill": "none", "stroke": "#444", "stroke-dasharray": "5 3",
                                    "points": " ".join(f"{sx(t[i]):.1f},{sy(m[i]):.1f}" for i in front)}))
    for j, p in enumerate(points):
        on = j in front
        tip = (f"{p['model']}: MAE {m[j]:.3f} {unit}, {p['wall_time_s']:.0f} s on "
               f"{p.get('hardware') or 'unstated hardware'}")
        body.append(el("circle", {"class": "pareto-pt" + (" on-front" if on else ""), "cx": _f(sx(t[j])),
                                  "cy": _f(sy(m[j])), "r": 6, "fill": COLOURS[j % len(COLOURS)],
                                  "data-model": p["model"]}, el("title", None, tip)))
        body.append(_text(sx(t[j]) + 8, sy(m[j]) - 8, str(p["model"])[:24], 11))
    return _svg("pareto", title, body, points=len(points), front=len(front))


def heatmap_svg(rows: list[tuple[str, list[str], np.ndarray]], unit: str, title: str, max_elements: int = 24) -> Markup:
    """Per-element MAE: a row per model, a column per element; a cell is the MAE of the items containing it.

    ``rows`` holds ``(model, chemsys per item, absolute error per item)``.
    """
    counts: Counter[str] = Counter()
    for _, systems, _ in rows:
        for cs in systems:
            counts.update(set(str(cs).split("-")) - {"", "None", "nan"})
    elements = [el_ for el_, _ in counts.most_common(max_elements)]
    if not elements:
        return el("p", {"class": "no-heatmap"}, "The dataset has no chemsys column: no per-element heatmap.")
    cells: list[tuple[int, int, float, int]] = []
    for r, (_, systems, err) in enumerate(rows):
        sets = [set(str(cs).split("-")) for cs in systems]
        for c, element in enumerate(elements):
            mask = np.array([element in s for s in sets])
            if mask.any():
                cells.append((r, c, float(np.abs(err[mask]).mean()), int(mask.sum())))
    vmax = max(v for _, _, v, _ in cells) or 1.0
    cw, ch, left, top = 30, 26, 150, 50
    w, h = max(left + cw * len(elements) + 20, _W), top + ch * len(rows) + 46
    body = [el("title", None, title), _text(10, 18, title, 14, **{"font-weight": 600})]
    for c, element in enumerate(elements):
        body.append(_text(left + cw * c + cw / 2, top - 8, element, 12, "middle"))
    for r, (model, _, _) in enumerate(rows):
        body.append(_text(left - 6, top + ch * r + ch / 2 + 4, str(model)[:22], 12, "end"))
    for r, c, v, n in cells:
        f = v / vmax  # white -> dark red
        colour = f"rgb({255 - int(80 * f)},{int(255 * (1 - f) * 0.9 + 20)},{int(255 * (1 - f) * 0.9 + 20)})"
        body.append(el("rect", {"class": "cell", "x": left + cw * c, "y": top + ch * r, "width": cw - 1,
                                "height": ch - 1, "fill": colour, "data-element": elements[c],
                                "data-model": rows[r][0], "data-mae": f"{v:.6g}", "data-n": n},
                       el("title", None, f"{rows[r][0]}, {elements[c]}: MAE {v:.3f} {unit} (n = {n})")))
    body.append(_text(10, h - 14, f"MAE of the items with the element (max {vmax:.3f} {unit}; hover: n)", 12))
    return el("svg", {"class": "plot heatmap", "viewBox": f"0 0 {w} {h}", "width": w, "height": h, "role": "img",
                      "xmlns": _SVG_NS, "data-elements": len(elements)}, *body)


def profile_viewer(task_slug: str, unit: str) -> Markup:
    """Controls and an empty SVG that :data:`PAGE_JS` fills with the chosen hop's energy profiles."""
    return el("div", {"class": "profile-viewer", "data-task": task_slug},
              el("div", {"class": "pv-controls"}, el("strong", None, "Energy profile per hop"), " ",
                 el("label", None, "model ", el("select", {"class": "pv-model"})), " ",
                 el("label", None, "hop ", el("select", {"class": "pv-hop"}))),
              el("svg", {"class": "plot profile", "viewBox": f"0 0 {_W} {_H}", "width": _W, "height": _H,
                         "xmlns": _SVG_NS, "data-unit": unit}))


def filter_controls(task_slug: str, subsets: Sequence[str]) -> Markup:
    """A text filter on the model name, a subset choice and row-kind switches for one task's table."""
    options = [el("option", {"value": ""}, "any")] + [el("option", {"value": s}, s) for s in subsets]
    return el("div", {"class": "filters", "data-task": task_slug},
              el("label", None, "model ", el("input", {"type": "search", "class": "f-text",
                                                       "placeholder": "filter by name"})), " ",
              el("label", None, "subset ", el("select", {"class": "f-subset"}, *options)), " ",
              el("label", None, el("input", {"type": "checkbox", "class": "f-reference", "checked": True}),
                 " paper rows"), " ",
              el("label", None, el("input", {"type": "checkbox", "class": "f-sample", "checked": True}),
                 " sample-scored rows"), " ",
              el("span", {"class": "f-count"}))


#: what JSON inside a <script> element must not contain raw: "<" (</script>, <!--), ">" and "&"
#: (HTML), and U+2028/U+2029 (line terminators in older JavaScript parsers)
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_text(data: Any) -> str:
    """``data`` as JSON safe to place inside a ``<script>`` element.

    The characters of :data:`_JSON_ESCAPES` can only occur inside JSON strings, where their
    ``\\uXXXX`` escapes mean the same to ``JSON.parse``.
    """
    text = dumps_json(data)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group(0)], text)


def json_block(data: Any) -> Markup:
    """``data`` as a JSON ``<script type="application/json">`` block (see :func:`json_text`)."""
    return Markup('<script type="application/json" id="litraj-data">') + Markup(json_text(data)) + Markup("</script>")


PAGE_CSS = """
.filters{margin:0.4em 0}.filters label{margin-right:1em}.f-count{color:#666}
tr.sample td:first-child:after{content:' sample';font-size:0.75em;background:#ffe08a;border-radius:3px;padding:0 0.3em;margin-left:0.4em;font-style:normal}
tr.hidden{display:none}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}svg.plot{background:#fafafa;border:1px solid #ddd;max-width:100%;height:auto}
.profile-viewer{margin:0.6em 0;display:flex;flex-direction:column;gap:0.3em}.profile-viewer select{max-width:22em}
"""

PAGE_JS = r"""
function litrajData(){
  if(!window._litraj){var el=document.getElementById('litraj-data');window._litraj=el?JSON.parse(el.textContent):{tasks:{}};}
  return window._litraj;
}
function filterTable(slug){
  var box=document.querySelector('.filters[data-task="'+slug+'"]'), table=document.querySelector('table.board[data-slug="'+slug+'"]');
  if(!box||!table)return;
  var text=box.querySelector('.f-text').value.toLowerCase(), subset=box.querySelector('.f-subset').value;
  var ref=box.querySelector('.f-reference').checked, sample=box.querySelector('.f-sample').checked, shown=0;
  Array.prototype.forEach.call(table.tBodies[0].rows,function(r){
    var ok=(!text||r.getAttribute('data-model').toLowerCase().indexOf(text)>=0)&&(!subset||r.getAttribute('data-subset')===subset)
      &&(ref||!r.classList.contains('reference'))&&(sample||!r.classList.contains('sample'));
    r.classList.toggle('hidden',!ok); if(ok)shown++;});
  box.querySelector('.f-count').textContent=shown+' of '+table.tBodies[0].rows.length+' rows';
}
function svgEl(name,attrs,text){
  var el=document.createElementNS('http://www.w3.org/2000/svg',name);
  for(var k in attrs)el.setAttribute(k,attrs[k]); if(text!==undefined)el.textContent=text; return el;
}
function initProfiles(slug){
  var box=document.querySelector('.profile-viewer[data-task="'+slug+'"]'), d=litrajData().tasks[slug];
  if(!box||!d)return;
  var ms=box.querySelector('.pv-model'), hs=box.querySelector('.pv-hop');
  d.models.forEach(function(m,i){ms.appendChild(new Option(m.label,String(i)));});
  var fill=function(){hs.innerHTML='';Object.keys(d.models[+ms.value||0].profiles).sort().forEach(function(h){hs.appendChild(new Option(h,h));});};
  ms.addEventListener('change',fill); fill(); drawProfile(slug);
}
function drawProfile(slug){
  var box=document.querySelector('.profile-viewer[data-task="'+slug+'"]'), d=litrajData().tasks[slug];
  var svg=box.querySelector('svg.profile'), m=d.models[+box.querySelector('.pv-model').value||0], hop=box.querySelector('.pv-hop').value;
  while(svg.firstChild)svg.removeChild(svg.firstChild);
  var p=m.profiles[hop]; if(!p)return;
  var series=[['prediction',p.pred,'#d62728'],['DFT',p.ref,'#1f77b4']].filter(function(s){return s[1]&&s[1].length;});
  var all=[].concat.apply([],series.map(function(s){return s[1];})), lo=Math.min.apply(null,all), hi=Math.max.apply(null,all);
  var pad=0.08*((hi-lo)||1); lo-=pad; hi+=pad;
  var W=460,H=400,M=56, n=Math.max.apply(null,series.map(function(s){return s[1].length;}));
  var sx=function(i){return M+i/Math.max(n-1,1)*(W-12-M);}, sy=function(v){return H-M-(v-lo)/(hi-lo)*(H-M-28);};
  svg.appendChild(svgEl('rect',{x:M,y:28,width:W-12-M,height:H-M-28,fill:'#fff',stroke:'#999'}));
  svg.appendChild(svgEl('text',{x:W/2,y:18,'text-anchor':'middle','font-size':14,'font-weight':600,'class':'pv-title'},hop+' ('+m.label+')'));
  svg.appendChild(svgEl('text',{x:(M+W)/2,y:H-12,'text-anchor':'middle','font-size':13},'image'));
  svg.appendChild(svgEl('text',{transform:'translate(14 '+((H-M+28)/2)+') rotate(-90)','text-anchor':'middle','font-size':13},'E − E(first image) ('+svg.getAttribute('data-unit')+')'));
  for(var i=0;i<n;i++)svg.appendChild(svgEl('text',{x:sx(i),y:H-M+18,'text-anchor':'middle','font-size':12},String(i)));
  [lo+pad,(lo+hi)/2,hi-pad].forEach(function(v){svg.appendChild(svgEl('text',{x:M-8,y:sy(v)+4,'text-anchor':'end','font-size':12},v.toFixed(2)));});
  series.forEach(function(s,k){
    var pts=s[1].map(function(v,i){return sx(i).toFixed(1)+','+sy(v).toFixed(1);}).join(' ');
    svg.appendChild(svgEl('polyline',{points:pts,fill:'none',stroke:s[2],'stroke-width':2,'class':'series','data-series':s[0]}));
    s[1].forEach(function(v,i){svg.appendChild(svgEl('circle',{cx:sx(i),cy:sy(v),r:3.5,fill:s[2]}));});
    var b=Math.max.apply(null,s[1])-Math.min.apply(null,s[1]);
    svg.appendChild(svgEl('text',{x:M+8,y:48+18*k,'font-size':13,fill:s[2],'class':'metric'},s[0]+': barrier '+b.toFixed(3)));
  });
}
function wire(){
  // every handler is attached here: the page has no inline on* attributes (its CSP would block them)
  Array.prototype.forEach.call(document.querySelectorAll('table.board th'),function(th){
    th.addEventListener('click',function(){sortTable(th);});});
  Array.prototype.forEach.call(document.querySelectorAll('.filters'),function(b){
    var slug=b.getAttribute('data-task'), run=function(){filterTable(slug);};
    b.querySelector('.f-text').addEventListener('input',run);
    ['.f-subset','.f-reference','.f-sample'].forEach(function(s){b.querySelector(s).addEventListener('change',run);});
    run();});
  Array.prototype.forEach.call(document.querySelectorAll('.profile-viewer'),function(b){
    var slug=b.getAttribute('data-task'), draw=function(){drawProfile(slug);};
    b.querySelector('.pv-model').addEventListener('change',draw);
    b.querySelector('.pv-hop').addEventListener('change',draw);});
}
document.addEventListener('DOMContentLoaded',function(){
  Object.keys(litrajData().tasks).forEach(initProfiles);
  wire();
  document.body.setAttribute('data-ready','1');
});
"""
