"""NEB harness: records, bands, resumability, failure records, batching, scale-out (EMT Cu)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from litraj_data.errors import DataFormatError
from litraj_data.leaderboard.reference.neb import (
    CalculatorEvaluator,
    FactoryProvider,
    HopInput,
    NEBConfig,
    attach_batched,
    check_band,
    read_records,
    run_hop,
    run_hops,
)

FAST = NEBConfig(fmax=0.05, steps=60, endpoint_fmax=0.05, endpoint_steps=60)


def cu_vacancy_hop(edge_id: str = "Cu_0_1_0_0_0", n_images: int = 5, shift: float = 0.0) -> HopInput:
    """Nearest-neighbour vacancy hop in a 2x2x2 fcc Cu supercell (31 atoms), straight-line band."""
    sc = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
    target = 1  # neighbour of atom 0 at a/2 (1, 1, 0)
    end = sc.positions[target].copy()
    del sc[target]
    sc.positions[1:] += shift
    start = sc.positions[0].copy()
    images = []
    for t in np.linspace(0, 1, n_images):
        img = sc.copy()
        img.positions[0] = start + t * (end - start)
        images.append(img)
    return HopInput(edge_id, images, {"material_id": "Cu"})


class EMTProvider:
    """Picklable provider: EMT per image, optional batched evaluator over EMT."""

    def __init__(self, batched: bool = False) -> None:
        self.key = f"emt-batched={batched}"
        self.batched = batched

    def calculator(self):
        return EMT()

    def evaluator(self):
        return CalculatorEvaluator(EMT()) if self.batched else None


class Raising(Calculator):
    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        raise RuntimeError("model crashed")


class NaNCalc(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results["energy"] = float("nan")


class Exploding(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results["forces"] = self.results["forces"] * 1e6


def test_single_hop_record_and_band():
    rec, frames = run_hop(cu_vacancy_hop(), FactoryProvider(EMT, "emt"), FAST)
    assert rec["error"] is None and rec["converged"]
    assert rec["fmax"] <= FAST.fmax
    energies = np.array([f.get_potential_energy() for f in frames])
    assert rec["barrier"] == pytest.approx(energies.max() - energies.min(), abs=1e-12)
    # EMT Cu vacancy migration: a few tenths of an eV, saddle in the middle of a symmetric hop
    assert 0.2 < rec["barrier"] < 1.5
    assert int(np.argmax(energies)) == len(frames) // 2
    assert abs(energies[0] - energies[-1]) < 1e-3  # symmetric end points after relaxation
    assert all(f.info["edge_id"] == "Cu_0_1_0_0_0" for f in frames)


def test_batched_equals_image_by_image():
    hop = cu_vacancy_hop()
    ref, _ = run_hop(hop, EMTProvider(batched=False), FAST)
    bat, _ = run_hop(hop, EMTProvider(batched=True), FAST)
    assert bat["batched"] and not ref["batched"]
    assert bat["barrier"] == pytest.approx(ref["barrier"], abs=1e-3)
    assert bat["steps"] == ref["steps"]
    # one batched call per step evaluates only the moved images (end points are cached)
    assert bat["evaluations"] <= 2 + FAST.endpoint_steps * 2 + (bat["steps"] + 1) * (len(hop.images) - 2) + 2


def test_attach_batched_one_call_per_step():
    hop = cu_vacancy_hop()
    images = [a.copy() for a in hop.images]
    group = attach_batched(images, CalculatorEvaluator(EMT()))
    e = [img.get_potential_energy() for img in images]
    assert group.calls == 1 and group.evaluated == len(images)
    images[2].positions[0] += 0.05
    images[3].positions[0] += 0.05
    images[2].get_forces()
    assert group.calls == 2 and group.evaluated == len(images) + 2
    assert images[3].get_potential_energy() != e[3]  # refreshed in the same call
    assert group.calls == 2


def test_end_points_relax_in_lock_step_as_fire_alone():
    """Both end points follow FIRE.run's own path; a batched group evaluates them in one call per step."""
    from ase.optimize import FIRE

    from oracles import relax_together

    hop = cu_vacancy_hop(shift=0.0)
    ends = [hop.images[0].copy(), hop.images[-1].copy()]
    ends[1].positions[5] += (0.15, -0.1, 0.05)  # the two relaxations take different numbers of steps
    alone = []
    for atoms in ends:
        ref = atoms.copy()
        ref.calc = EMT()
        opt = FIRE(ref, logfile=None)
        ok = opt.run(fmax=0.05, steps=60)
        alone.append((opt.nsteps, bool(ok), ref.positions.copy()))
    assert alone[0][0] != alone[1][0]

    together = [a.copy() for a in ends]
    group = attach_batched(together, CalculatorEvaluator(EMT()))
    result = relax_together(together, 0.05, 60, 1e3, ["end 0", "end 1"])
    for (steps, ok, positions), (n, conv), atoms in zip(alone, result, together):
        assert (n, conv) == (steps, ok)
        assert np.abs(atoms.positions - positions).max() < 1e-10
    # one call per lock step while both move, then one per step of the slower one
    assert group.calls == max(a[0] for a in alone) + 1
    assert group.evaluated == sum(a[0] for a in alone) + 2

    short = [a.copy() for a in ends]
    for atoms in short:
        atoms.calc = EMT()
    assert [conv for _, conv in relax_together(short, 0.05, 2, 1e3, ["a", "b"])] == [False, False]


def test_resume_skips_finished(tmp_path):
    hops = [cu_vacancy_hop("a_0_1_0_0_0"), cu_vacancy_hop("b_0_1_0_0_0", n_images=4)]
    s1 = run_hops(hops[:1], FactoryProvider(EMT, "emt"), tmp_path, FAST)
    assert s1["done"] == 1
    before = (tmp_path / "results.jsonl").read_text()
    s2 = run_hops(hops, FactoryProvider(EMT, "emt"), tmp_path, FAST)
    assert s2["skipped"] == 1 and s2["done"] == 1
    records = read_records(tmp_path)
    assert [r["edge_id"] for r in records] == ["a_0_1_0_0_0", "b_0_1_0_0_0"]
    assert (tmp_path / "results.jsonl").read_text().startswith(before)
    assert (tmp_path / "bands" / "b_0_1_0_0_0.xyz").exists()
    s3 = run_hops(hops, FactoryProvider(EMT, "emt"), tmp_path, FAST)
    assert s3["done"] == 0 and s3["skipped"] == 2


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    run_hops([cu_vacancy_hop("a_0_1_0_0_0")], FactoryProvider(EMT, "emt"), tmp_path, FAST)
    with open(tmp_path / "results.jsonl", "a") as fh:
        fh.write('{"edge_id": "b_0_1_0_0_0", "barr')  # killed mid-write
    assert [r["edge_id"] for r in read_records(tmp_path)] == ["a_0_1_0_0_0"]
    s = run_hops([cu_vacancy_hop("b_0_1_0_0_0")], FactoryProvider(EMT, "emt"), tmp_path, FAST)
    assert s["done"] == 1
    assert [r["edge_id"] for r in read_records(tmp_path)] == ["a_0_1_0_0_0", "b_0_1_0_0_0"]


def test_torn_line_is_cut_and_its_hop_recomputed(tmp_path):
    """A run killed while writing hop b's record: the torn line goes, b runs again, a does not."""
    hops = [cu_vacancy_hop("a_0_1_0_0_0"), cu_vacancy_hop("b_0_1_0_0_0", n_images=4)]
    run_hops(hops[:1], FactoryProvider(EMT, "emt"), tmp_path, FAST)
    whole = (tmp_path / "results.jsonl").read_bytes()
    with open(tmp_path / "results.jsonl", "ab") as fh:
        fh.write(b'{"edge_id": "b_0_1_0_0_0", "barrier": 0.4')  # no newline: torn
    s = run_hops(hops, FactoryProvider(EMT, "emt"), tmp_path, FAST)
    assert s["skipped"] == 1 and s["done"] == 1  # b had no whole record: recomputed
    text = (tmp_path / "results.jsonl").read_bytes()
    assert text.startswith(whole) and text.endswith(b"\n")
    lines = text.decode().splitlines()
    assert len(lines) == 2 and [json.loads(ln)["edge_id"] for ln in lines] == ["a_0_1_0_0_0", "b_0_1_0_0_0"]
    assert json.loads(lines[1])["error"] is None


class CrashOnB:
    """Provider whose worker process dies (hard exit) on a 30-atom band."""

    key = "crash-on-4"

    def calculator(self):
        return _CrashingEMT()

    def evaluator(self):
        return None


class _CrashingEMT(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        import os

        if atoms is not None and len(atoms) == 30:  # the "killer" hop below
            os._exit(3)
        super().calculate(atoms, properties, system_changes)


def test_dead_worker_becomes_a_record_through_the_shared_executor(tmp_path):
    hops = [cu_vacancy_hop(f"h{i}_0_1_0_0_0", shift=0.01 * i) for i in range(3)]
    killer = cu_vacancy_hop("k_0_1_0_0_0")
    for img in killer.images:
        del img[-1]  # 30 atoms: _CrashingEMT kills its process on it
    s = run_hops([hops[0], killer, *hops[1:]], CrashOnB(), tmp_path, FAST, workers=2)
    assert s["done"] == 4 and s["failed"] == 1
    recs = {r["edge_id"]: r for r in read_records(tmp_path)}
    assert recs["k_0_1_0_0_0"]["error"]["reason"] == "worker_crashed"
    assert "BrokenProcessPool" in recs["k_0_1_0_0_0"]["error"]["message"]
    for h in hops:  # the other hops, some in flight when the worker died, still ran
        assert recs[h.edge_id]["error"] is None and recs[h.edge_id]["barrier"] > 0.2
    assert (tmp_path / "bands" / "failed.txt").read_text().split()[-1] == "k_0_1_0_0_0"


@pytest.mark.parametrize("calc, reason", [(Raising, "model_error"), (NaNCalc, "nan"), (Exploding, "exploding_force")])
def test_failures_are_recorded_and_run_continues(tmp_path, calc, reason):
    from litraj_data.leaderboard.reference.neb.hops import HopInput as H

    good = cu_vacancy_hop("good_0_1_0_0_0")

    class Mixed:
        key = "mixed"

        def calculator(self):
            return calc()

        def evaluator(self):
            return None

    bad = run_hops([cu_vacancy_hop("bad_0_1_0_0_0")], Mixed(), tmp_path, FAST)
    ok = run_hops([good], FactoryProvider(EMT, "emt"), tmp_path, FAST)
    assert bad["failed"] == 1 and ok["failed"] == 0
    recs = {r["edge_id"]: r for r in read_records(tmp_path)}
    assert recs["bad_0_1_0_0_0"]["error"]["reason"] == reason
    assert recs["bad_0_1_0_0_0"]["barrier"] is None
    assert recs["good_0_1_0_0_0"]["error"] is None
    failed = (tmp_path / "bands" / "failed.txt").read_text().split()
    assert "bad_0_1_0_0_0" in failed and "good_0_1_0_0_0" not in failed
    assert not (tmp_path / "bands" / "bad_0_1_0_0_0.xyz").exists()
    json.dumps(recs)  # records stay JSON (no NaN)
    assert H  # imported for the type


def test_bad_band_is_a_record():
    hop = cu_vacancy_hop("x_0_1_0_0_0")
    hop.images[2] = hop.images[2][1:]
    rec, frames = run_hop(hop, FactoryProvider(EMT, "emt"), FAST)
    assert frames is None and rec["error"]["reason"] == "bad_band"
    assert rec["error"]["check"] == "atom_count_mismatch"
    json.dumps(rec, allow_nan=False)
    with pytest.raises(DataFormatError, match="atoms") as exc:
        check_band(hop.images, "x")
    assert exc.value.reason == "atom_count_mismatch"
    with pytest.raises(DataFormatError, match=">= 3") as exc:
        check_band(hop.images[:2], "x")
    assert exc.value.reason == "too_few_images"


def test_not_converged_is_declared(tmp_path):
    cfg = NEBConfig(steps=2, endpoint_steps=2)
    s = run_hops([cu_vacancy_hop()], FactoryProvider(EMT, "emt"), tmp_path, cfg)
    rec = read_records(tmp_path)[0]
    assert s["failed"] == 0 and rec["converged"] is False and rec["steps"] == 2
    from ase.io import read

    frames = read(tmp_path / "bands" / "Cu_0_1_0_0_0.xyz", ":")
    assert all(f.info["converged"] is False or f.info["converged"] == "F" for f in frames)
    assert "Cu_0_1_0_0_0" in (tmp_path / "bands" / "failed.txt").read_text()


def test_local_processes_match_serial(tmp_path):
    hops = [cu_vacancy_hop(f"h{i}_0_1_0_0_0", shift=0.01 * i) for i in range(3)]
    serial = run_hops(hops, EMTProvider(), tmp_path / "serial", FAST)
    pool = run_hops(hops, EMTProvider(), tmp_path / "pool", FAST, workers=2)
    assert serial["done"] == pool["done"] == 3
    a = {r["edge_id"]: r["barrier"] for r in read_records(tmp_path / "serial")}
    b = {r["edge_id"]: r["barrier"] for r in read_records(tmp_path / "pool")}
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=1e-9)


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    hops = [cu_vacancy_hop(f"d{i}_0_1_0_0_0", shift=0.01 * i) for i in range(3)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        s = run_hops(hops, EMTProvider(batched=True), tmp_path, FAST, scheduler=cl.scheduler_address)
    assert s["done"] == 3 and s["failed"] == 0
    recs = read_records(tmp_path)
    assert sorted(r["edge_id"] for r in recs) == [h.edge_id for h in hops]
    ref, _ = run_hop(hops[0], EMTProvider(), FAST)
    got = {r["edge_id"]: r for r in recs}[hops[0].edge_id]
    assert got["barrier"] == pytest.approx(ref["barrier"], abs=1e-3)
    # resumable on the cluster as well
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl:
        s2 = run_hops(hops, EMTProvider(), tmp_path, FAST, scheduler=cl.scheduler_address)
    assert s2["done"] == 0 and s2["skipped"] == 3
