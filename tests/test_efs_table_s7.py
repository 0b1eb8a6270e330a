"""MPLiTrj/efs scored like the paper's Table S7: TM and stage subsets, pooled force metrics."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from litraj_data.chemistry import SPECIFIC_TM, has_specific_tm
from litraj_data.leaderboard.scoring import Truth
from litraj_data.leaderboard.scoring.score import score_submission, stage_of
from litraj_data.leaderboard.scoring.submission import read_submission
from litraj_data.leaderboard.scoring.tasks import get_task


def _truth_and_pred(tmp_path):
    rng = np.random.default_rng(1)
    rows, pred = [], []
    kinds = ["source", "band", "band", "target", "band", "band", "source", "band"]
    for i, kind in enumerate(kinds):
        n = 4 + i
        numbers = [3] * (n - 2) + ([26, 8] if i % 2 else [9, 8])  # odd rows hold Fe
        f = rng.normal(size=(n, 3))
        s = rng.normal(0, 0.01, 6)
        e = -4.0 * n + rng.normal()
        rows.append({"config_id": f"mp-{i}_0_1_0_0_0:{kind}:{i}:0", "numbers": numbers, "energy": e,
                     "forces": f.tolist(), "stress": s.tolist()})
        pred.append({"config_id": rows[-1]["config_id"], "energy": e + rng.normal(0, 0.05) * n,
                     "forces": (f + rng.normal(0, 0.1 + 0.3 * (i % 2), f.shape)).tolist(),
                     "stress": (s + rng.normal(0, 0.002, 6)).tolist()})
    truth = Truth.from_tables(get_task("MPLiTrj/efs"), {"test": pd.DataFrame(rows),
                                                         "train": pd.DataFrame({"config_id": ["x"]})})
    path = tmp_path / "efs.parquet"
    pd.DataFrame(pred).to_parquet(path)
    return truth, pd.DataFrame(rows), pd.DataFrame(pred), path


def _numpy_reference(rows, pred, mask):
    # independent computation: concatenate components, use numpy's own MAE / RMSE / corrcoef
    t, p = rows[mask], pred[mask]
    n = t.numbers.apply(len).to_numpy()
    de = p.energy.to_numpy() / n - t.energy.to_numpy() / n
    ft = np.concatenate([np.ravel(x) for x in t.forces])
    fp = np.concatenate([np.ravel(x) for x in p.forces])
    ds = np.concatenate([np.ravel(x) for x in p.stress]) - np.concatenate([np.ravel(x) for x in t.stress])
    return {"mae": np.mean(np.abs(de)), "rmse": np.sqrt(np.mean(de ** 2)),
            "forces_mae": np.mean(np.abs(fp - ft)), "forces_rmse": np.sqrt(np.mean((fp - ft) ** 2)),
            "forces_rp": np.corrcoef(ft, fp)[0, 1], "stress_mae": np.mean(np.abs(ds)),
            "stress_rmse": np.sqrt(np.mean(ds ** 2)), "n_force_components": ft.size}


def test_efs_subsets_equal_numpy(tmp_path):
    truth, rows, pred, path = _truth_and_pred(tmp_path)
    rec = score_submission(read_submission(path, truth.task), truth, n_boot=200, seed=3)
    tm = rows.numbers.apply(lambda z: 26 in z).to_numpy()
    band = rows.config_id.str.contains(":band:").to_numpy()
    masks = {"all": np.ones(len(rows), bool), "w/o TM": ~tm, "with TM": tm,
             "end-point relaxation": ~band, "band optimisation": band}
    assert list(rec["subsets"]) == list(masks)
    for name, mask in masks.items():
        got, want = rec["subsets"][name], _numpy_reference(rows, pred, mask)
        assert got["n"] == mask.sum()
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-10), (name, key)
        ci = got["ci95_forces_stress"]
        assert ci["forces_mae"][0] <= got["forces_mae"] <= ci["forces_mae"][1]
        assert got["ci95"]["mae"] is not None
    # noisier forces on the TM rows: the subsets separate them as Table S7 does
    assert rec["subsets"]["with TM"]["forces_rmse"] > rec["subsets"]["w/o TM"]["forces_rmse"]
    again = score_submission(read_submission(path, truth.task), truth, n_boot=200, seed=3)
    assert again["subsets"]["with TM"]["ci95_forces_stress"] == rec["subsets"]["with TM"]["ci95_forces_stress"]


def test_release_rows_have_no_stage(tmp_path):
    truth, rows, pred, _ = _truth_and_pred(tmp_path)
    ids = {c: f"test-{i}" for i, c in enumerate(rows.config_id)}
    rows = rows.assign(config_id=rows.config_id.map(ids))
    pred = pred.assign(config_id=pred.config_id.map(ids))
    truth = Truth.from_tables(truth.task, {"test": rows})
    pred.to_parquet(tmp_path / "p.parquet")
    rec = score_submission(read_submission(tmp_path / "p.parquet", truth.task), truth, n_boot=0)
    assert list(rec["subsets"]) == ["all", "w/o TM", "with TM"]
    assert any("do not say their stage" in n for n in rec["notes"])
    assert stage_of("test-3") is None and stage_of("x", '{"kind": "target"}') == "end-point relaxation"


def test_tm_rule_agrees_with_nebdft2k_flag(tmp_path):
    """MPLiTrj rows of a hop get the TM flag that nebDFT2k stores for that hop."""
    from fixtures_raw.make_raw_runs import cached_raw_runs

    from litraj_data.builders.raw_neb import build_from_raw
    from litraj_data.store.shards import read_shard

    raw = cached_raw_runs(tmp_path)
    out = tmp_path / "out"
    neb = build_from_raw("nebDFT2k", raw, out)
    traj = build_from_raw("MPLiTrj", raw, out, splits_from=out / "nebDFT2k")

    def table(path):
        files = sorted(p for p in path.rglob("*.arrow"))
        return pa.concat_tables([read_shard(p) for p in files]).to_pandas()

    flags = dict(zip(*table(out / "nebDFT2k").pipe(lambda d: (d.edge_id, d.has_specific_TM))))
    configs = table(out / "MPLiTrj")
    configs = configs[configs.edge_id.isin(flags)]  # hops that nebDFT2k keeps (converged ones)
    assert len(configs) and neb["path"] and traj["path"]
    for r in configs.itertuples():
        assert has_specific_tm(r.numbers) == bool(flags[r.edge_id])
    # the generated raw runs (Li-Mn-free) only exercise the False side; the rule's True side:
    assert has_specific_tm([3, 26, 8]) and set(SPECIFIC_TM) == {"Co", "Cr", "Fe", "Mn", "Mo", "Ni", "V", "W"}


def test_bench_efs_chgnet(tmp_path):
    """``bench_efs`` with CHGNet (weights in its wheel): batched values equal CHGNet's calculator."""
    pytest.importorskip("chgnet")
    from litraj_data.leaderboard.reference.umlip.efs import bench_efs
    from litraj_data.leaderboard.reference.umlip.runners import get_provider
    from litraj_data.loaders import load_litraj
    from litraj_data.loaders.convert import row_to_atoms
    from litraj_data.testing import write_release

    folder = write_release("MPLiTrj", tmp_path, {"train": 1, "val": 1, "test": 4}, make_zip=False)
    provider = get_provider("chgnet")
    out = tmp_path / "sub.parquet"
    summary = bench_efs(provider, out, "MPLiTrj", "test", source=folder, batch_size=3)
    assert summary["task"] == "MPLiTrj/efs" and summary["n_configs"] == 4
    assert (tmp_path / "sub.parquet.metadata.yaml").is_file()
    sub = pd.read_parquet(out)
    ds = load_litraj("MPLiTrj", split="test", source=folder)
    for i, r in enumerate(sub.itertuples()):
        atoms = row_to_atoms(ds[i])
        atoms.calc = provider.calculator()
        # CHGNet runs in float32 and a batch sums in another order: ~1e-5 of a total energy (seen: 3.5e-4 eV of 59 eV)
        assert r.energy == pytest.approx(atoms.get_potential_energy(), rel=1e-5, abs=1e-4)
        assert np.allclose(np.stack(r.forces), atoms.get_forces(), atol=1e-4)
        assert np.allclose(np.asarray(r.stress, float), atoms.get_stress(voigt=True), atol=1e-5)
    truth = Truth.from_tables(get_task("MPLiTrj/efs"), {"test": ds.to_pandas()})
    rec = score_submission(read_submission(out, truth.task), truth, n_boot=0)
    assert rec["subsets"]["all"]["n"] == 4 and rec["subsets"]["all"]["forces_rp"] is not None


# -- the stage-resolved metric set: end points vs band vs transition region -------------------------

def _band_hop(hop: str, rng, soft_saddle: float, soft_elsewhere: float = 1.0, steps: int = 3, images: int = 5):
    """Rows of one hop: source/target relaxations and ``steps`` band steps of ``images`` images.

    The band's energy profile peaks at image 2 (the saddle); predicted forces are the DFT forces
    times ``soft_saddle`` there, times ``soft_elsewhere`` everywhere else (plus small noise).
    """
    rows, pred = [], []
    numbers = [3] * 6 + [8] * 6

    def add(kind, step, image, energy, scale):
        f = rng.normal(0, 1.0, (len(numbers), 3))
        cid = f"{hop}:{kind}:{step}:{image}"
        rows.append({"config_id": cid, "numbers": numbers, "energy": energy, "forces": f.tolist()})
        pred.append({"config_id": cid, "energy": energy + rng.normal(0, 0.01),
                     "forces": (scale * f + rng.normal(0, 0.01, f.shape)).tolist()})

    for step in range(4):
        add("source", step, 0, -50.0 - 0.1 * step, soft_elsewhere)
        add("target", step, images - 1, -50.2 - 0.1 * step, soft_elsewhere)
    for step in range(steps):
        for image in range(1, images - 1):
            energy = -50.0 + 0.8 * np.sin(np.pi * image / (images - 1)) - 0.05 * step  # peak at image 2
            add("band", step, image, energy, soft_saddle if image == 2 else soft_elsewhere)
    return rows, pred


def _score_rows(tmp_path, rows, pred):
    truth = Truth.from_tables(get_task("MPLiTrj/efs"), {"test": pd.DataFrame(rows)})
    path = tmp_path / "stages.parquet"
    pd.DataFrame(pred).to_parquet(path)
    return score_submission(read_submission(path, truth.task), truth, n_boot=0)


def test_stage_resolved_finds_softening_planted_at_the_saddle(tmp_path):
    rng = np.random.default_rng(5)
    rows, pred = [], []
    for hop in ("mp-1_0_1_0_0_0", "mp-2_0_3_0_0_0"):
        r, p = _band_hop(hop, rng, soft_saddle=0.6)
        rows += r
        pred += p
    rec = _score_rows(tmp_path, rows, pred)
    st = rec["stage_resolved"]
    assert list(st["stages"]) == ["end points", "band", "transition region"]
    ts, ep, band = (st["stages"][k] for k in ("transition region", "end points", "band"))
    # 2 hops x 3 steps: one transition configuration per (hop, step), each at image 2
    assert ts["n"] == 6 and ep["n"] == 16 and band["n"] == 18
    assert ts["forces_slope"] == pytest.approx(0.6, abs=0.02)
    assert ep["forces_slope"] == pytest.approx(1.0, abs=0.02)
    # the whole band mixes 1 softened image in 3: its slope lies between
    assert ts["forces_slope"] < band["forces_slope"] < ep["forces_slope"]
    assert st["softening_at_saddle"] is True
    assert st["contrast"]["forces_slope"] == pytest.approx(ts["forces_slope"] - ep["forces_slope"])
    assert st["contrast"]["forces_slope_ratio"] == pytest.approx(0.6, abs=0.03)
    assert st["contrast"]["forces_mae"] > 0.2  # 0.4 * E|F| ~ 0.32 eV/A at the saddle, ~0.008 elsewhere
    # independent numpy check of the transition region's pooled force errors
    mask = np.array([r["config_id"].endswith(":2") and ":band:" in r["config_id"] for r in rows])
    ft = np.concatenate([np.ravel(r["forces"]) for r, m in zip(rows, mask) if m])
    fp = np.concatenate([np.ravel(p["forces"]) for p, m in zip(pred, mask) if m])
    assert ts["forces_mae"] == pytest.approx(np.mean(np.abs(fp - ft)), rel=1e-10)
    assert ts["forces_rmse"] == pytest.approx(np.sqrt(np.mean((fp - ft) ** 2)), rel=1e-10)
    assert ts["forces_slope"] == pytest.approx(np.polyfit(ft, fp, 1)[0], rel=1e-8)


def test_stage_resolved_uniform_softening_is_not_at_the_saddle(tmp_path):
    rng = np.random.default_rng(6)
    rows, pred = _band_hop("mp-3_0_1_0_0_0", rng, soft_saddle=0.8, soft_elsewhere=0.8)
    st = _score_rows(tmp_path, rows, pred)["stage_resolved"]
    assert st["stages"]["transition region"]["forces_slope"] == pytest.approx(0.8, abs=0.03)
    assert st["stages"]["end points"]["forces_slope"] == pytest.approx(0.8, abs=0.03)
    assert abs(st["contrast"]["forces_slope"]) < 0.05


def test_transition_mask_picks_the_highest_image_per_hop_and_step():
    from litraj_data.leaderboard.scoring.stages import parse_config_id, transition_mask

    ids = ["h:band:0:1", "h:band:0:2", "h:band:0:3", "h:band:1:1", "h:band:1:2", "h:source:0:0", "g:band:0:1",
           "test-7", "a:b:band:0:1"]
    energies = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 9.0, 0.0, 10.0, 1.0])
    assert transition_mask(ids, energies).tolist() == [False, True, False, True, False, False, True, False, True]
    assert parse_config_id("a:b:band:0:1") == ("a:b", "band", 0, 1)  # a hop id may hold colons
    assert parse_config_id("test-7") is None and parse_config_id("h:band:x:1") is None


def test_release_rows_have_no_stage_resolved_set(tmp_path):
    rng = np.random.default_rng(7)
    rows, pred = _band_hop("mp-4_0_1_0_0_0", rng, soft_saddle=0.6)
    for i, (r, p) in enumerate(zip(rows, pred)):
        r["config_id"] = p["config_id"] = f"test-{i}"
    assert _score_rows(tmp_path, rows, pred)["stage_resolved"] is None


def test_stage_resolved_on_the_real_fixture_rows(spinel_built, tmp_path):
    """The real VASP NEB rows: the transition region is the highest band image of every band step."""
    from litraj_data.leaderboard.scoring.stages import stage_resolved
    from litraj_data.loaders import load_litraj

    df = load_litraj("MPLiTrj", split="train", source=spinel_built).to_pandas()
    n = df.numbers.apply(len).to_numpy()
    ids = df.config_id.tolist()
    y = df.energy.to_numpy(float) / n
    # a prediction softened by 0.5 on the band's highest image of each step, exact elsewhere
    from litraj_data.leaderboard.scoring.bootstrap import group_sums
    from litraj_data.leaderboard.scoring.stages import transition_mask

    top = transition_mask(ids, y)
    steps = {tuple(c.split(":")[2:3]) for c in ids if ":band:" in c}
    assert top.sum() == len(steps) > 0
    for i in np.flatnonzero(top):  # each picked row is the maximum of its step
        step = ids[i].split(":")[2]
        same = [j for j, c in enumerate(ids) if ":band:" in c and c.split(":")[2] == step]
        assert y[i] == max(y[same])
    f_sums = np.array([group_sums(np.stack(f), (0.5 if t else 1.0) * np.stack(f)) for f, t in zip(df.forces, top)])
    items = pd.DataFrame({"id": ids, "y": y, "yhat": y})
    st = stage_resolved(items, f_sums)
    assert st["stages"]["end points"]["n"] == sum(":band:" not in c for c in ids)
    assert st["stages"]["transition region"]["forces_slope"] == pytest.approx(0.5)
    assert st["stages"]["end points"]["forces_slope"] == pytest.approx(1.0)
    assert st["stages"]["end points"]["energy_mae"] == 0.0 and st["softening_at_saddle"] is True


def test_stage_text_names_every_stage_and_the_verdict(tmp_path):
    from litraj_data.leaderboard.scoring.stages import stage_text

    rng = np.random.default_rng(8)
    rows, pred = _band_hop("mp-5_0_1_0_0_0", rng, soft_saddle=0.5)
    st = _score_rows(tmp_path, rows, pred)["stage_resolved"]
    text = stage_text(st)
    assert all(name in text for name in ("end points", "band", "transition region"))
    assert "softening at the saddle: yes" in text
    assert f"F slope {st['stages']['transition region']['forces_slope']:.3f}" in text
    assert stage_text(None) == ""
