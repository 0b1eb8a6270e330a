"""Every leaderboard task runs end to end on the embedded sample, offline, and says it is the sample.

For each task of ``tasks.yaml``: a submission made from the sample's truth plus noise is
validated (``litraj submit validate``), scored (``litraj score --source sample``) and all
records are rendered (``litraj leaderboard render``), with ``HF_HUB_OFFLINE=1
LITRAJ_OFFLINE=1`` and an empty cache. Then a release made from the sample must carry the
sample's identity in every file, and a score against that release must still be tagged.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from litraj_data import load_litraj
from litraj_data.cli import main
from litraj_data.leaderboard.scoring import get_task, list_tasks

ALL_SAMPLE_DATASETS = ("BVEL13k", "nebBVSE122k", "nebDFT2k", "MPLiTrj", "MPLiTrj_subsample")


@pytest.fixture
def offline(monkeypatch, isolated_cache):
    monkeypatch.setenv("LITRAJ_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return isolated_cache


def _run(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def _submission(task_id: str, folder: Path, rng: np.random.Generator) -> Path:
    """Predictions for every scored id of ``task_id``: the sample's truth plus noise."""
    task = get_task(task_id)
    truth = task.load_truth(source="sample").table
    assert len(truth) > 0, f"{task_id}: the sample's {task.split} split is empty"
    if task.kind == "scalar":
        path = folder / "pred.csv"
        pd.DataFrame({task.id_column: truth[task.id_column],
                      "prediction": truth[task.target].astype(float) + rng.normal(0, 0.05, len(truth))}
                     ).to_csv(path, index=False)
        return path
    if task.kind == "efs":
        path = folder / "pred.parquet"
        pd.DataFrame({"config_id": truth["config_id"],
                      "energy": truth["energy"] + 0.01 * truth["numbers"].apply(len),
                      "forces": [(np.asarray(list(f), dtype=float) + rng.normal(0, 0.02, (len(f), 3))).tolist()
                                 for f in truth["forces"]],
                      "stress": [(np.asarray(list(s), dtype=float) + 0.001).tolist() for s in truth["stress"]]}
                     ).to_parquet(path, index=False)
        return path
    # bands: the sample's relaxed band, one atom nudged, the profile stretched by 10 %
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    out = folder / "bands"
    out.mkdir()
    for r in truth.itertuples(index=False):
        pos = np.array([np.asarray(list(img), dtype=float) for img in r.relaxed_positions])
        pos = np.stack([np.stack(list(img)) for img in pos]) if pos.dtype == object else pos
        pos[:, 0, 0] += 0.03
        e = np.asarray(r.relaxed_energies, dtype=float)
        e = e.min() + 1.1 * (e - e.min())
        cell = np.stack([np.asarray(v, dtype=float) for v in r.relaxed_cell])
        frames = []
        for k in range(len(pos)):
            a = Atoms(numbers=list(r.band_numbers), positions=pos[k], cell=cell, pbc=True)
            a.info["edge_id"] = r.edge_id
            a.calc = SinglePointCalculator(a, energy=float(e[k]))
            frames.append(a)
        write(out / f"{r.edge_id}.xyz", frames, format="extxyz")
    return out


@pytest.mark.parametrize("name", ALL_SAMPLE_DATASETS)
def test_every_dataset_has_a_test_split_in_the_sample(name, offline):
    ds = load_litraj(name, split="test", source="sample")
    assert ds.num_rows > 0
    dd = load_litraj(name, source="sample")
    ids = {s: set(dd[s]["material_id"]) for s in dd}
    assert set(dd) == {"train", "val", "test"} and all(dd[s].num_rows > 0 for s in dd)
    assert not (ids["test"] & (ids["train"] | ids["val"])), "a structure in test and in train/val"


def test_readme_first_example_runs_offline_on_the_sample(offline):
    from litraj_data.loaders.convert import to_ase

    test = load_litraj("nebDFT2k", split="test", source="sample")
    atoms = list(to_ase(test))
    assert atoms and all(a.numbers[-1] == 0 for a in atoms)  # dummy X at the hop centroid, last
    assert all(np.isfinite(a.info["em_dft"]) for a in atoms)


def test_every_task_validates_scores_and_renders_from_the_sample(offline, tmp_path, capsys):
    rng = np.random.default_rng(0)
    meta = tmp_path / "meta.yaml"
    meta.write_text("model: NoisyTruth\nmodel_version: '1'\nauthors: [A. Tester]\nurl: null\n"
                    "training_data: none\nfine_tuned_on_litraj: false\nhyperparameters: {}\ndate: '2026-01-01'\n")
    records = []
    for task_id in list_tasks():
        work = tmp_path / task_id.replace("/", "__")
        work.mkdir()
        sub = _submission(task_id, work, rng)
        code, doc = _run(capsys, "submit", "validate", str(sub), "--task", task_id, "--source", "sample")
        assert code == 0 and doc["records"][0]["valid"] is True, (task_id, doc)
        rec_path = work / "record.json"
        code, doc = _run(capsys, "score", str(sub), "--task", task_id, "--source", "sample", "--metadata", str(meta),
                         "--bootstrap", "0", "--out", str(rec_path))
        assert code == 0, (task_id, doc)
        rec = json.loads(rec_path.read_text())
        assert rec["task"] == task_id and rec["sample"] is True and rec["data"] == "sample"
        m = rec["subsets"]["all"]
        assert m["n"] > 0 and 0 < m["mae"] < 0.5, (task_id, m)  # noise, not truth, not garbage
        records.append(rec_path)
    html = tmp_path / "html"
    code, doc = _run(capsys, "leaderboard", "render", "--html", str(html), "--no-plots",
                     "--submissions", *map(str, records))
    assert code == 0
    page = (html / "index.html").read_text()
    for task_id in list_tasks():
        assert task_id in page
    assert "NoisyTruth" in page and "embedded sample" in page


def test_a_release_of_the_sample_cannot_pass_for_the_data(offline, tmp_path, capsys):
    rel = tmp_path / "rel"
    code, doc = _run(capsys, "release", "BVEL13k", "nebBVSE122k", "--source", "sample", "--version", "1.0.0",
                     "--out", str(rel))
    assert code == 0
    info = json.loads((rel / "release.json").read_text())
    assert info["version"] == "1.0.0+sample" and info["sample"] is True and info["origin"] == "embedded-sample"
    assert all(d["sample"] for d in info["datasets"])
    card = (rel / "README.md").read_text()
    assert "# LiTraj release 1.0.0+sample - EMBEDDED SAMPLE" in card and "12,807" in card  # described, not claimed
    zen = json.loads((rel / ".zenodo.json").read_text())
    assert "EMBEDDED SAMPLE" in zen["title"] and zen["version"] == "1.0.0+sample"
    assert "EMBEDDED SAMPLE" in json.loads((rel / "croissant.json").read_text())["description"]
    assert "EMBEDDED SAMPLE" in (rel / "CITATION.cff").read_text()
    for name in ("BVEL13k", "nebBVSE122k"):
        assert json.loads((rel / name / "1.0.0" / "manifest.json").read_text())["sample"] is True
        assert "EMBEDDED SAMPLE" in (rel / name / "1.0.0" / "README.md").read_text()
    # a DOI for it, or a release mixing it with built data, is refused
    code, doc = _run(capsys, "release", "BVEL13k", "--source", "sample", "--out", str(tmp_path / "r2"),
                     "--doi", "10.5281/zenodo.1")
    assert code != 0 and not (tmp_path / "r2").exists()
    # the citation says it
    code, doc = _run(capsys, "cite", "--version", "1.0.0+sample", "--source", str(rel))
    assert code == 0 and doc["records"][0]["sample"] is True and "not the LiTraj data" in doc["records"][0][
        "release_bibtex"]
    assert _run(capsys, "cite", "--version", "1.0.0", "--source", str(rel))[0] != 0
    # a score against the release folder is still tagged as the sample, and so is the cache entry
    task = get_task("BVEL13k/E_1D")
    truth = task.load_truth(source=str(rel)).table
    sub = tmp_path / "p.csv"
    pd.DataFrame({"material_id": truth["material_id"], "prediction": truth["E_1D"] + 0.1}).to_csv(sub, index=False)
    code = main(["score", str(sub), "--task", "BVEL13k/E_1D", "--source", str(rel), "--bootstrap", "0"])
    out = capsys.readouterr().out
    assert code == 0 and "[sample]" in out
    code, doc = _run(capsys, "cache", "list")
    assert doc["records"] and all(r["sample"] for r in doc["records"])


def test_verify_says_what_it_verified(offline, capsys):
    code, doc = _run(capsys, "verify", "nebDFT2k", "--source", "sample")
    assert code == 0 and doc["records"] and all(r["sample"] and r["generated"] for r in doc["records"])
    code = main(["verify", "nebDFT2k", "--source", "sample"])
    assert "EMBEDDED SAMPLE (GENERATED, NOT DFT)" in capsys.readouterr().out
    # nothing cached: nothing verified, and no download tried; the message points at the sample
    code = main(["verify", "BVEL13k"])
    err = capsys.readouterr().err
    assert code != 0 and "nothing verified" in err and "--source sample" in err
