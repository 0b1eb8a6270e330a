"""Rendering: Markdown, JSON, plots, the static HTML page (parsed, and in headless Chromium)."""
from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from litraj_data.leaderboard.scoring import (build_board, load_records, read_metadata, read_submission,
                                             score_submission)
from litraj_data.leaderboard.scoring.render import json_document, markdown_board, render_html
from test_scoring_support import (band_truth, predictions_for, scalar_truth, write_band_files,
                                  write_metadata)


class _Tables(HTMLParser):
    """Rows of every <table class="board">: {task: [[cell text, ...], ...]} plus <img> sources."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._task = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "board" in (a.get("class") or ""):
            self._task = a["data-task"]
            self.tables[self._task] = []
        elif tag == "tr" and self._task:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif tag == "img":
            self.images.append(a["src"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._task].append(self._row)
            self._row = None
        elif tag == "table":
            self._task = None


@pytest.fixture()
def scored(tmp_path):
    truth = scalar_truth()
    path = tmp_path / "pred.csv"
    predictions_for(truth).to_csv(path, index=False)
    meta = read_metadata(write_metadata(tmp_path / "m.yaml", model="MyNet"))
    rec = score_submission(read_submission(path, truth.task), truth, meta, n_boot=200, seed=1)
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "mynet.json").write_text(json.dumps(rec))
    return rec, tmp_path


def test_markdown_has_submission_and_reference_rows(scored):
    rec, _ = scored
    md = markdown_board(build_board([rec]))
    assert "### nebDFT2k/em" in md
    line = next(ln for ln in md.splitlines() if ln.startswith("| MyNet 1.0 | all"))
    assert f"{rec['subsets']['all']['mae']:.3f}" in line and "scored by litraj-data" in line
    assert "| RF-tl | all | 0.250 | 0.380 | 0.800 |" in md and "reported, not rerun (Table 3)" in md
    assert "doi:10.1038/s41524-025-01571-z" in md


def test_json_round_trip(scored):
    rec, tmp = scored
    doc = json.loads(json_document([rec]))
    assert "items" not in doc["records"][0] and doc["records"][0]["file"].endswith("pred.csv")
    again = load_records([tmp / "records"])
    assert again[0]["subsets"] == rec["subsets"]
    assert again[0]["subsets"]["all"]["ci95"]["mae"][0] <= rec["subsets"]["all"]["mae"]
    (tmp / "bad.json").write_text("{not json")
    with pytest.raises(Exception, match="cannot read score record"):
        load_records([tmp / "bad.json"])


def test_html_page_tables_plots_metadata(scored):
    rec, tmp = scored
    index = render_html(load_records([tmp / "records"]), tmp / "site")
    text = index.read_text()
    parser = _Tables()
    parser.feed(text)
    rows = parser.tables["nebDFT2k/em"]
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Model", "Subset", "MAE"] and header[8].startswith("precision (fast: < 0.5 eV")
    mine = [r for r in body if r[0] == "MyNet 1.0"]
    assert {r[1] for r in mine} == {"all", "w/o TM", "with TM"}
    first = next(r for r in mine if r[1] == "all")
    assert first[10] == f"{rec['subsets']['all']['screening']['roc_auc']:.3f}"
    assert first[-2] == str(rec["subsets"]["all"]["n"])
    assert any(r[0] == "KNN-tl" and r[-1] == "reported, not rerun (Table 3)" for r in body)
    assert len(body) == 3 + 12
    assert sorted(parser.images) == sorted(f"plots/{p.name}" for p in (tmp / "site" / "plots").glob("*.png"))
    assert len(parser.images) == 2 and all((tmp / "site" / src).stat().st_size > 1000 for src in parser.images)
    assert "function sortTable" in text and "http" not in text.split("<body>")[0]  # no remote assets
    assert "TestModel" not in text and "MyNet" in text and "@article{dembitskiy2025litraj" in text


def test_band_board_drops_hops_failed_by_any_model(tmp_path):
    truth = band_truth()
    ids = list(truth.table.edge_id)
    recs = []
    for name, failed in (("A", (ids[0],)), ("B", (ids[1],))):
        folder = write_band_files(truth, tmp_path / name, shift=0.02, scale=1.2, failed=failed)
        meta = read_metadata(write_metadata(tmp_path / f"{name}.yaml", model=name))
        recs.append(score_submission(read_submission(folder, truth.task), truth, meta, n_boot=0))
    assert recs[0]["subsets"]["all"]["n"] == len(ids) - 1
    board = build_board(recs)["nebDFT2k/umlip_neb"]
    mine = [r for r in board["rows"] if r["kind"] == "submission" and r["subset"] == "all"]
    assert [r["n"] for r in mine] == [len(ids) - 2, len(ids) - 2]
    assert any("2 hops failed by at least one" in n for n in board["notes"])
    md = markdown_board(build_board(recs))
    assert "PA-MAE" in md and "failed" in md


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_page_in_headless_chromium(scored):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium binary on PATH (install Debian's chromium package to run this test)")
    rec, tmp = scored
    index = render_html([rec], tmp / "site")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"]
    dom = subprocess.run([browser, *flags, "--dump-dom", index.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    parser = _Tables()
    parser.feed(dom)
    assert any(r[0] == "MyNet 1.0" for r in parser.tables["nebDFT2k/em"])
    # the inline sorting script works: click the MAE header twice (descending) in a copy of the page
    clicked = index.with_name("clicked.html")
    th = "document.querySelectorAll('table.board th')[2]"
    clicked.write_text(index.read_text().replace("</body>", f"<script>sortTable({th});sortTable({th});</script></body>"))
    dom = subprocess.run([browser, *flags, "--dump-dom", clicked.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    parser = _Tables()
    parser.feed(dom)
    maes = [float(r[2]) for r in parser.tables["nebDFT2k/em"][1:]]
    assert maes == sorted(maes, reverse=True) and maes[0] == 0.4  # M3GNet of Table 3 is the largest
    shot = tmp / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,900", index.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 5000
    # the screenshot shows a rendered page, not a blank one: more than one distinct colour
    from matplotlib.image import imread

    img = imread(shot)
    assert img.reshape(-1, img.shape[-1]).std(axis=0).max() > 0.01


def test_rendered_files_are_world_readable(scored, capsys):
    """`leaderboard render --html` writes a page a web server (another user) can read: 0644 under umask 022."""
    import os
    import stat

    from litraj_data.cli import main
    from litraj_data.leaderboard.scoring.render import write_text_atomic

    rec, tmp = scored
    old = os.umask(0o022)
    try:
        assert main(["leaderboard", "render", "--html", str(tmp / "site"), "--submissions", str(tmp / "records")]) == 0
        write_text_atomic(tmp / "new" / "page.md", "x")  # the name importers use, folder created
    finally:
        os.umask(old)
    capsys.readouterr()
    written = [tmp / "site" / "index.html", *sorted((tmp / "site" / "plots").glob("*.png")), tmp / "new" / "page.md"]
    assert len(written) == 4
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert not list((tmp / "site").glob(".*.tmp"))  # no temporary file left behind
