"""Rendering: Markdown, JSON, plots, the static HTML page (parsed, and in headless Chromium)."""
from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from test_scoring_support import band_truth, predictions_for, scalar_truth, write_band_files, write_metadata

from litraj_data.leaderboard.page.render import json_document, markdown_board, render_html
from litraj_data.leaderboard.scoring import build_board, load_records, read_metadata, read_submission, score_submission


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
    head = text.split("<body>")[0]
    # no remote assets: no external script, stylesheet or font (the SVG namespace URI is not a fetch)
    assert "function sortTable" in text and "<script src" not in text and "<link" not in text
    assert "url(" not in head and "@import" not in head
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


def _driven_copy(text: str, script: str) -> str:
    """The page with a test's driving script appended and the CSP meta removed.

    The CSP allows the page's own script only (by hash): a script the test adds would be refused,
    which tests/test_page_security.py relies on. Here the test drives the page's own functions.
    """
    import re

    text, n = re.subn(r'<meta http-equiv="Content-Security-Policy" content="[^"]*">', "", text)
    assert n == 1
    return text.replace("</body>", script)


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
    clicked.write_text(_driven_copy(index.read_text(), f"<script>sortTable({th});sortTable({th});</script></body>"))
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
    from litraj_data.leaderboard.page.render import write_text_atomic

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


# ------------------------------------------------------------------ sample label, notes, plots


def test_sample_scored_records_say_sample_everywhere(tmp_path, capsys):
    truth = scalar_truth("nebBVSE122k/em")
    truth.origin = "sample"  # what Task.load_truth(source="sample") sets
    path = tmp_path / "pred.csv"
    predictions_for(truth).to_csv(path, index=False)
    meta = read_metadata(write_metadata(tmp_path / "m.yaml", model="MyNet"))
    rec = score_submission(read_submission(path, truth.task), truth, meta, n_boot=0)
    assert rec["sample"] is True and rec["data"] == "sample" and any(n.startswith("sample:") for n in rec["notes"])
    assert json.loads(json_document([rec]))["records"][0]["sample"] is True
    md = markdown_board(build_board([rec]))
    assert f"### nebBVSE122k/em (nebBVSE122k {truth.task.version}, embedded sample, not the test split, eV)" in md
    assert "test split, eV" not in md.replace("not the test split, eV", "")
    line = next(ln for ln in md.splitlines() if ln.startswith("| MyNet 1.0 [sample] |"))
    assert "scored by litraj-data on the embedded sample" in line
    row = next(r for r in build_board([rec])["nebBVSE122k/em"]["rows"] if r["kind"] == "submission")
    assert row["sample"] is True and row["model"] == "MyNet 1.0 [sample]"
    text = render_html([rec], tmp_path / "site", plots=False).read_text()
    assert 'class="submission sample"' in text and "<strong>embedded sample</strong>, not the test split" in text
    # a record of the full split is not marked
    truth.origin = None
    full = score_submission(read_submission(path, truth.task), truth, meta, n_boot=0)
    assert full["sample"] is False and "[sample]" not in markdown_board(build_board([full]))


def test_table_notes_fit_each_task():
    board = build_board([])
    bvel = " ".join(board["BVEL13k/E_1D"]["notes"])
    assert "structures scored" in bvel and "hops" not in bvel and "does not state n" in bvel
    assert all(r["n"] is None for r in board["BVEL13k/E_1D"]["rows"])
    neb = " ".join(board["nebDFT2k/umlip_neb"]["notes"])
    assert "hops the paper scored where it states it (Table 4" in neb
    assert {r["n"] for r in board["nebDFT2k/umlip_neb"]["rows"] if r["table"] == "Table 4"} == {761, 454}
    assert "does not state n" in " ".join(board["nebDFT2k/em"]["notes"])


def test_png_plots_are_large_and_carry_the_metric(scored):
    from matplotlib.image import imread

    from litraj_data.leaderboard.page.render import plot_record

    rec, tmp = scored
    paths = plot_record(rec, tmp / "plots")
    img = imread(paths["parity"])
    assert img.shape[0] >= 850 and img.shape[1] >= 950  # 6.4 x 6.0 in at 150 dpi (was 4.2 x 4 in at 110)
    # the metric is drawn: compare with the same figure without text is hard, so check the text source
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seen = []
    orig = plt.Figure.savefig

    def spy(fig, *a, **k):
        seen.append(" ".join(t.get_text() for ax in fig.axes for t in [*ax.texts, ax.title,
                                                                         *(ax.get_legend().get_texts() if ax.get_legend() else []),
                                                                         *ax.get_xticklabels()]))
        return orig(fig, *a, **k)

    plt.Figure.savefig = spy
    try:
        plot_record(rec, tmp / "plots2")
    finally:
        plt.Figure.savefig = orig
    mae = f"{rec['subsets']['all']['mae']:.3f}"
    assert f"MAE = {mae} eV" in seen[0] and f"n = {rec['subsets']['all']['n']}" in seen[0]
    assert "MAE" in seen[1] and "n = " in seen[1]


# ------------------------------------------------------------------ the interactive page


def _interactive_records(tmp_path):
    """A scalar record with chemsys and a card wall time, and two band records (profiles)."""
    import yaml

    truth = scalar_truth()
    systems = ["Li-O-P", "Li-Fe-O-P", "Li-O-S", "Li-Co-O"]
    truth.table["chemsys"] = [systems[i % 4] for i in range(len(truth.table))]
    path = tmp_path / "pred.csv"
    predictions_for(truth).to_csv(path, index=False)
    card = yaml.safe_load(resources_card())
    card["tasks"] = {"nebDFT2k/em": {"hardware": "2 CPU cores", "wall_time_s": 30}}
    (tmp_path / "card.yaml").write_text(yaml.safe_dump(card))
    recs = [score_submission(read_submission(path, truth.task), truth, read_metadata(tmp_path / "card.yaml"), n_boot=0)]
    fast = read_metadata(write_metadata(tmp_path / "fast.yaml", model="FastNet", task="nebDFT2k/em", wall_time_s=2.0))
    p2 = tmp_path / "pred2.csv"
    predictions_for(truth, noise=0.3, seed=5).to_csv(p2, index=False)
    recs.append(score_submission(read_submission(p2, truth.task), truth, fast, n_boot=0))
    bt = band_truth()
    for name, shift in (("BandA", 0.02), ("BandB", 0.1)):
        folder = write_band_files(bt, tmp_path / name, shift=shift, scale=1.2)
        meta = read_metadata(write_metadata(tmp_path / f"{name}.yaml", model=name))
        recs.append(score_submission(read_submission(folder, bt.task), bt, meta, n_boot=0))
    return recs, bt


def resources_card() -> str:
    from importlib import resources

    return resources.files("litraj_data.leaderboard.scoring").joinpath("data/example_model_card.yaml").read_text()


def test_interactive_page_static_parts(tmp_path):
    recs, bt = _interactive_records(tmp_path)
    assert recs[2]["items"]["profile_pred"][0][0] == 0.0 and len(recs[2]["items"]["profile_ref"][0]) == 5
    text = render_html(recs, tmp_path / "site", plots=False).read_text()
    assert text.count('<svg class="plot parity"') == 4 and text.count('<svg class="plot violin"') == 2
    assert 'class="plot pareto"' in text and 'data-points="2"' in text and 'data-front="2"' in text
    assert "No submission of this task states its wall time" in text  # the band task has no runtime
    assert 'class="plot heatmap"' in text and 'data-element="Fe"' in text
    assert 'class="profile-viewer" data-task="nebDFT2k_umlip_neb"' in text and 'id="litraj-data"' in text
    assert "ORCID 0000-0002-1825-0097" in text and "sha256 <code>3f1c2a9e" in text and "30 s on 2 CPU cores" in text
    mine = f"MAE = {recs[0]['subsets']['all']['mae']:.3f} eV, n = {recs[0]['subsets']['all']['n']}"
    assert mine in text
    # element cell values are the MAE of the items containing the element
    import numpy as np

    it = recs[0]["items"]
    fe = np.array(["Fe" in cs.split("-") for cs in it["chemsys"]])
    err = np.abs(np.array(it["yhat"]) - np.array(it["y"]))[fe].mean()
    assert f'data-element="Fe" data-model="MyNet 1.2.0" data-mae="{err:.6g}" data-n="{int(fe.sum())}"' in text


def test_interactive_page_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium binary on PATH (install Debian's chromium package to run this test)")
    import re

    recs, bt = _interactive_records(tmp_path)
    index = render_html(recs, tmp_path / "site", plots=False)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"]

    def dom(page):
        return subprocess.run([browser, *flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                              capture_output=True, text=True, timeout=120).stdout

    out = dom(index)
    assert 'data-ready="1"' in out  # the page's script ran to the end
    viewer = out[out.index('class="profile-viewer"'):]
    viewer = viewer[:viewer.index("</svg>")]
    first = sorted(bt.table.edge_id)[0]
    assert viewer.count("<option") == 2 + len(bt.table)  # two models, every hop
    assert f'class="pv-title">{first} (BandA 1.0)' in viewer
    assert 'data-series="prediction"' in viewer and 'data-series="DFT"' in viewer
    ref_barrier = float(bt.table.set_index("edge_id").at[first, "em_dft"])
    shown = re.search(r"DFT: barrier ([0-9.]+)", viewer)
    assert shown and abs(float(shown.group(1)) - ref_barrier) < 2e-3
    assert re.search(r'class="f-count">\d+ of \d+ rows', out)

    # drive the controls: pick the second model and the last hop; filter the table by name
    last = sorted(bt.table.edge_id)[-1]
    script = ("<script>document.addEventListener('DOMContentLoaded',function(){"
              "var b=document.querySelector('.profile-viewer');var m=b.querySelector('.pv-model');m.value='1';"
              "m.dispatchEvent(new Event('change'));b.querySelector('.pv-hop').value='" + last + "';"
              "drawProfile('nebDFT2k_umlip_neb');"
              "var f=document.querySelector('.filters[data-task=\"nebDFT2k_em\"]');f.querySelector('.f-text').value='fastnet';"
              "f.querySelector('.f-reference').checked=false;filterTable('nebDFT2k_em');});</script></body>")
    clicked = index.with_name("driven.html")
    clicked.write_text(_driven_copy(index.read_text(), script))
    out = dom(clicked)
    assert f'class="pv-title">{last} (BandB 1.0)' in out
    table = out[out.index('data-slug="nebDFT2k_em"'):]
    table = table[:table.index("</table>")]
    visible = re.findall(r'<tr class="(submission|reference)( sample)?"[^>]*data-model="([^"]+)"', table)
    hidden = re.findall(r'<tr class="[^"]*hidden[^"]*"', table)
    assert [m for _, _, m in visible] == ["FastNet 1.0"] * 3 and len(hidden) == 3 + 12
    assert "3 of 18 rows" in out

    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,2400", index.as_uri()],
                   capture_output=True, timeout=120)
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[0] >= 2000
    flat = img.reshape(-1, img.shape[-1])[:, :3]
    assert flat.std(axis=0).max() > 0.05 and len({tuple(c) for c in (flat[::97] * 255).astype(int)}) > 20
