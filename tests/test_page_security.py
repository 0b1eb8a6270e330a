"""The leaderboard page escapes what strangers write, by construction, and forbids any script but its own.

Hostile text goes into every field that reaches the page: the model name, every model-card
field that is shown, task notes, chemsys and ids of the truth (the per-element heatmap and the
parity tooltips), and a hand-edited score record (``leaderboard render`` reads records that
others send). The page is then parsed (only our two ``<script>`` elements, no ``on*``
attribute, only ``http(s)``/``#`` links, the embedded JSON round-trips) and opened in headless
Chromium: no payload may run (they try to set ``document.title``, mark ``<body>`` or add an
element), while the page's own script must (``data-ready="1"``).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from test_scoring_support import band_truth, predictions_for, scalar_truth, write_band_files, write_metadata

from litraj_data.leaderboard.page.render import SCRIPT, content_security_policy, render_html, safe_url
from litraj_data.leaderboard.scoring import read_metadata, read_submission, score_submission


def _mark(k: int) -> str:
    return f"document.body.setAttribute('data-pwned','{k}');document.title='PWNED{k}'"


#: every way out of a text node, an attribute, an SVG <title>, the JSON <script> block or a URL
PAYLOADS = [
    f"<script>{_mark(1)}</script>",
    "<!--<script>",
    f"</script><script>{_mark(2)}</script>",
    f"\"><svg onload=\"{_mark(3)}\">",
    f"'><img src=x onerror=\"{_mark(4)}\">",
    f"</title><script>{_mark(5)}</script>",
    f"javascript:{_mark(6)}",
    f"\u2028\u2029</style><script>{_mark(7)}</script>",
    f"{{{{7*7}}}}<iframe srcdoc=\"<script>parent.{_mark(8)}</script>\">",
]
HOSTILE = " ".join(PAYLOADS)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _hostile_card(tmp_path: Path) -> Path:
    from importlib import resources

    card = yaml.safe_load(resources.files("litraj_data.leaderboard.scoring").joinpath(
        "data/example_model_card.yaml").read_text())
    card.update(model_name=f"Evil{PAYLOADS[3]}", model_version=PAYLOADS[1], notes=HOSTILE,
                repo="https://example.org/\"onmouseover=\"" + _mark(9).replace(" ", ""),
                paper_doi="10.1234/\"><script>" + _mark(10).replace(" ", "") + "</script>")
    card["authors"][0].update(name=HOSTILE, affiliation=HOSTILE)
    card["checkpoint"]["url"] = "https://x.org/" + PAYLOADS[0].replace(" ", "")
    card["license"] = {"code": PAYLOADS[2], "checkpoint": PAYLOADS[4]}
    card["environment"]["packages"] = {PAYLOADS[5]: "1.0.0"}
    card["training_data"]["datasets"] = [PAYLOADS[6], PAYLOADS[7]]
    card["hyperparameters"] = {PAYLOADS[8]: HOSTILE}
    card["tasks"] = {"nebDFT2k/em": {"hardware": HOSTILE, "wall_time_s": 12.0}}
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(card))
    return path


def _records(tmp_path: Path) -> list[dict]:
    truth = scalar_truth()
    truth.table["chemsys"] = [f"Li-O-{PAYLOADS[i % len(PAYLOADS)]}" for i in range(len(truth.table))]
    path = tmp_path / "pred.csv"
    predictions_for(truth).to_csv(path, index=False)
    meta = read_metadata(_hostile_card(tmp_path))
    recs = [score_submission(read_submission(path, truth.task), truth, meta, n_boot=0)]
    legacy = read_metadata(write_metadata(tmp_path / "legacy.yaml", model=HOSTILE, url=PAYLOADS[6],
                                          hardware=HOSTILE, task="nebDFT2k/em", wall_time_s=3.0))
    recs.append(score_submission(read_submission(path, truth.task), truth, legacy, n_boot=0))
    bt = band_truth()
    folder = write_band_files(bt, tmp_path / "bands", shift=0.02, scale=1.2)
    band_meta = read_metadata(write_metadata(tmp_path / "band.yaml", model=PAYLOADS[2]))
    rec = score_submission(read_submission(folder, bt.task), bt, band_meta, n_boot=0)
    # a hand-edited record, as `leaderboard render --submissions` may be sent: ids, notes, label
    rec["items"]["id"] = [f"{i}{PAYLOADS[k % len(PAYLOADS)]}" for k, i in enumerate(rec["items"]["id"])]
    rec["notes"] = list(rec.get("notes") or []) + PAYLOADS
    recs.append(rec)
    return recs


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.handlers: list[tuple[str, str]] = []
        self.hrefs: list[str] = []
        self.title = ""
        self._in: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.handlers += [(tag, k) for k in a if k.lower().startswith("on")]
        for k in ("href", "src", "action", "formaction", "xlink:href"):
            if k in a and tag != "img":
                self.hrefs.append(a[k])
        if tag in ("script", "title", "body"):
            self._in, self._text = tag, ""
            if tag == "script":
                self.scripts.append({"attrs": a, "text": ""})
            if tag == "body":
                self.body = a

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1]["text"] += data
        elif self._in == "title" and not self.title:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "title" and self._in == "title" and not self.title:
            self.title = self._text
        if tag in ("script", "title"):
            self._in = None


def test_hostile_names_stay_text_in_the_html(tmp_path):
    index = render_html(_records(tmp_path), tmp_path / "site", plots=True)
    text = index.read_text()
    audit = _Audit()
    audit.feed(text)
    assert audit.handlers == []  # no on* attribute anywhere (ours are attached by the script)
    assert len(audit.scripts) == 2
    own, data = audit.scripts
    assert own["attrs"] == {} and own["text"] == SCRIPT
    assert data["attrs"] == {"type": "application/json", "id": "litraj-data"}
    assert all(c not in data["text"] for c in "<>&\u2028\u2029")
    doc = json.loads(data["text"])  # the escapes mean the same characters to JSON.parse
    labels = [m["label"] for t in doc["tasks"].values() for m in t["models"]]
    assert any(PAYLOADS[2] in label for label in labels)
    assert all(h.startswith(("#", "https://")) or h.startswith("http://") for h in audit.hrefs), audit.hrefs
    assert not any("javascript:" in h.lower() or '"' in h or "<" in h for h in audit.hrefs)
    assert audit.title == "LiTraj leaderboard"
    csp = content_security_policy()
    import html
    import re

    metas = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', text)
    assert [html.unescape(m) for m in metas] == [csp] and text.index(metas[0]) < text.index("<script>")
    assert "unsafe-inline" not in csp and "default-src 'none'" in csp and "script-src 'sha256-" in csp
    # the texts are on the page, escaped (shown as text, not dropped)
    assert "&lt;script&gt;document.body.setAttribute(" in text and "&lt;!--&lt;script&gt;" in text
    assert 'data-element="&lt;script&gt;document.body.setAttribute(' in text or "&lt;img src=x" in text


def test_safe_url_keeps_only_http_links():
    assert safe_url("https://example.org/a?b=1") == "https://example.org/a?b=1"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:x", "data:text/html,x", "https://x.org/\"onmouseover=x",
                "https://x.org/<script>", " vbscript:x", "//evil.org", None, 3):
        assert safe_url(bad) is None, bad


def test_no_payload_runs_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium binary on PATH (install Debian's chromium package to run this test)")
    index = render_html(_records(tmp_path), tmp_path / "site", plots=True)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
             "--virtual-time-budget=5000"]
    dom = subprocess.run([browser, *flags, "--dump-dom", index.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    audit = _Audit()
    audit.feed(dom)
    assert audit.body.get("data-ready") == "1"  # the page's own script ran to its end under the CSP
    assert "data-pwned" not in audit.body and audit.title == "LiTraj leaderboard"
    assert audit.handlers == [] and len(audit.scripts) == 2
    assert "PWNED" not in dom.split("<body", 1)[0]
    # a control: the same payload, placed raw in a copy without the escaping, would run -- but the CSP
    # still stops it (so the two defences are independent)
    raw = index.with_name("raw.html")
    raw.write_text(index.read_text().replace("</body>", f"{PAYLOADS[0]}</body>"))
    out = subprocess.run([browser, *flags, "--dump-dom", raw.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    raw_audit = _Audit()
    raw_audit.feed(out)
    assert raw_audit.body.get("data-ready") == "1" and "data-pwned" not in raw_audit.body
    # and without the CSP it does run: the check above can fail
    import re

    bare = index.with_name("bare.html")
    bare.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy" content="[^"]*">', "",
                           raw.read_text()))
    out = subprocess.run([browser, *flags, "--dump-dom", bare.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    bare_audit = _Audit()
    bare_audit.feed(out)
    assert bare_audit.body.get("data-pwned") == "1"
