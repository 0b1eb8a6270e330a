"""Multi-hop lock-step NEB: same physics as ASE image by image, shared calls, refill, budget,
failure attribution, robust-convergence options and run metrics (EMT Cu, fast)."""
from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT

from litraj_data.leaderboard.reference.neb import CalculatorEvaluator, NEBConfig, read_records, run_hop, run_hops
from litraj_data.leaderboard.reference.neb.lockstep import run_lockstep
from litraj_data.leaderboard.reference.neb.metrics import run_metrics

from tests.test_neb_harness import FAST, EMTProvider, cu_vacancy_hop

LOOSE = NEBConfig(**{**FAST.as_dict(), "fmax": 0.1, "endpoint_fmax": 0.1})  # the paper's thresholds


class RecordingEvaluator(CalculatorEvaluator):
    """EMT image by image, remembering the structures and atoms of every call."""

    def __init__(self, fail_on_atoms: int | None = None) -> None:
        super().__init__(EMT())
        self.calls: list[list[int]] = []
        self.fail_on_atoms = fail_on_atoms

    def evaluate(self, images):
        self.calls.append([len(a) for a in images])
        if self.fail_on_atoms is not None and any(len(a) == self.fail_on_atoms for a in images):
            raise RuntimeError("model cannot handle this cell")
        return super().evaluate(images)


class RecordingProvider(EMTProvider):
    def __init__(self, fail_on_atoms: int | None = None, max_batch_atoms: int | None = None) -> None:
        super().__init__(batched=True)
        self.ev = RecordingEvaluator(fail_on_atoms)
        self.max_batch_atoms = max_batch_atoms

    def evaluator(self):
        return self.ev


def hops(n: int = 4):
    """Distinct hops: other atoms shifted, 5 or 7 images."""
    return [cu_vacancy_hop(f"Cu_{i}", n_images=5 if i % 2 == 0 else 7, shift=0.03 * i) for i in range(n)]


def by_id(results):
    return {r["edge_id"]: r for r, _ in results}


def test_multi_hop_equals_image_by_image_and_shares_calls():
    hs = hops(3)
    ref = by_id(run_lockstep(hs, EMTProvider(batched=False), LOOSE))
    prov = RecordingProvider()
    bat = by_id(run_lockstep(hs, prov, NEBConfig(**{**LOOSE.as_dict(), "batch_hops": 3})))
    for h in hs:
        a, b = ref[h.edge_id], bat[h.edge_id]
        assert a["error"] is None and b["error"] is None and a["converged"] and b["converged"]
        assert abs(a["barrier"] - b["barrier"]) < 1e-3  # within 1 meV (here: same arithmetic)
        assert a["steps"] == b["steps"] and a["endpoint_steps"] == b["endpoint_steps"]
        assert not a["batched"] and b["batched"]
        assert a["model_calls"] == a["evaluations"] > 0  # image by image: one call per structure
    # every hop was served by the shared calls: far fewer calls than hops x their own calls
    assert len(prov.ev.calls) < sum(bat[h.edge_id]["model_calls"] for h in hs)
    assert max(len(c) for c in prov.ev.calls) > 7  # some call held images of several hops
    assert all(bat[h.edge_id]["model_calls"] <= len(prov.ev.calls) for h in hs)


def test_refill_and_atom_budget_bound_the_calls():
    hs = hops(3)
    one_hop = max(sum(len(img) for img in h.images) for h in hs)  # 7 images x 31 atoms
    prov = RecordingProvider()
    recs = by_id(run_lockstep(hs, prov, NEBConfig(**{**LOOSE.as_dict(), "batch_hops": 2})))
    assert len(recs) == 3 and all(r["converged"] for r in recs.values())
    assert max(sum(c) for c in prov.ev.calls) <= 2 * one_hop  # never more than 2 hops in flight
    # refill: the waiting hops joined while others were in flight, so calls hold two hops
    # long after the first pair finished (more calls of >= 2 hops than one hop alone needs)
    two = [c for c in prov.ev.calls if sum(c) > one_hop]
    assert len(two) > max(r["model_calls"] for r in recs.values()) // 2
    # an atom budget below two hops: one hop in flight at a time
    prov = RecordingProvider()
    results = list(run_lockstep(hs[:2], prov, NEBConfig(**{**LOOSE.as_dict(), "batch_atoms": one_hop + 1})))
    assert len(results) == 2
    assert max(sum(c) for c in prov.ev.calls) <= one_hop + 1


def test_a_failing_hop_is_blamed_alone(tmp_path):
    hs = hops(3)
    hs[1].images = [img.repeat((1, 1, 2)) for img in hs[1].images]  # 62 atoms: the model "cannot" do it
    prov = RecordingProvider(fail_on_atoms=62)
    summary = run_hops(hs, prov, tmp_path, NEBConfig(**{**LOOSE.as_dict(), "batch_hops": 3}))
    recs = {r["edge_id"]: r for r in read_records(tmp_path)}
    assert recs["Cu_1"]["error"]["reason"] == "model_error"
    assert "cannot handle" in recs["Cu_1"]["error"]["message"]
    alone = {h.edge_id: run_hop(h, EMTProvider(batched=False), LOOSE)[0] for h in (hs[0], hs[2])}
    for eid, ref in alone.items():
        assert recs[eid]["error"] is None
        assert abs(recs[eid]["barrier"] - ref["barrier"]) < 1e-3
    assert summary["failed"] == 1 and summary["n_hops"] == 3
    assert summary["convergence_rate"] == pytest.approx(2 / 3)
    assert (tmp_path / "bands" / "failed.txt").read_text().splitlines()[1:] == ["Cu_1"]


class TooBigEvaluator(RecordingEvaluator):
    """Refuses any call of more than one hop's worth of atoms (an out-of-memory stand-in)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def evaluate(self, images):
        if sum(len(a) for a in images) > self.limit:
            raise MemoryError("batch too large")
        return super().evaluate(images)


def test_a_shared_call_that_fails_only_together_is_said_and_recovered():
    hs = hops(2)
    prov = RecordingProvider()
    prov.ev = TooBigEvaluator(limit=max(sum(len(img) for img in h.images) for h in hs))
    with pytest.warns(RuntimeWarning, match="MemoryError: batch too large.*smaller --batch-hops"):
        recs = by_id(run_lockstep(hs, prov, NEBConfig(**{**LOOSE.as_dict(), "batch_hops": 2})))
    assert all(r["error"] is None and r["converged"] for r in recs.values())  # nothing lost


def test_protocol_steps_as_ase_neb_fire_run():
    """The lock-step protocol moves the band exactly as ASE's own NEB + FIRE.run."""
    from ase.mep import NEB
    from ase.optimize import FIRE

    hop = cu_vacancy_hop(shift=0.02)
    cfg = NEBConfig(**{**FAST.as_dict(), "relax_endpoints": False, "batched": False})
    rec, frames = run_hop(hop, EMTProvider(batched=False), cfg)
    images = [img.copy() for img in hop.images]
    for img in images:
        img.calc = EMT()
    neb = NEB(images, k=cfg.k, climb=cfg.climb, method=cfg.method)
    opt = FIRE(neb, logfile=None)
    ok = opt.run(fmax=cfg.fmax, steps=cfg.steps)
    assert rec["steps"] == opt.nsteps and rec["neb_converged"] == ok
    for a, b in zip(frames, images):
        assert np.abs(a.positions - b.positions).max() < 1e-10


@pytest.mark.parametrize("optimizer", ["LBFGS", "MDMin"])  # BFGS: same code path, 3x slower here
def test_other_optimizers_converge_and_agree(optimizer):
    hop = cu_vacancy_hop()
    ref, _ = run_hop(hop, EMTProvider(batched=False), LOOSE)
    cfg = NEBConfig(**{**LOOSE.as_dict(), "optimizer": optimizer, "steps": 200, "endpoint_steps": 200})
    ibi, _ = run_hop(hop, EMTProvider(batched=False), cfg)
    bat, _ = run_hop(hop, EMTProvider(batched=True), cfg)
    assert ibi["converged"] and bat["converged"] and ibi["optimizer"] == optimizer
    assert abs(ibi["barrier"] - bat["barrier"]) < 1e-3 and ibi["steps"] == bat["steps"]
    assert abs(ibi["barrier"] - ref["barrier"]) < 0.02  # the same saddle, another optimiser


def test_idpp_and_two_stage():
    hop = cu_vacancy_hop()
    ref, _ = run_hop(hop, EMTProvider(batched=False), FAST)
    cfg = NEBConfig(**{**FAST.as_dict(), "initial_path": "idpp", "two_stage": True, "stage1_fmax": 0.3})
    ibi, _ = run_hop(hop, EMTProvider(batched=False), cfg)
    bat, _ = run_hop(hop, EMTProvider(batched=True), cfg)
    assert [s["stage"] for s in bat["stages"]] == ["no_climb", "climb"]
    assert not bat["stages"][0]["climb"] and bat["stages"][1]["climb"]
    assert bat["steps"] == sum(s["steps"] for s in bat["stages"]) == ibi["steps"]
    assert bat["converged"] and abs(bat["barrier"] - ibi["barrier"]) < 1e-3
    assert abs(bat["barrier"] - ref["barrier"]) < 0.02


def test_retry_ladder_runs_until_converged():
    hop = cu_vacancy_hop()
    cfg = NEBConfig(**{**FAST.as_dict(), "steps": 4, "retries": ("more_steps", "smaller_step", "perturb")})
    bat, _ = run_hop(hop, EMTProvider(batched=True), cfg)
    ibi, _ = run_hop(hop, EMTProvider(batched=False), cfg)
    names = [s["stage"] for s in bat["stages"]]
    assert names[0] == "climb" and not bat["stages"][0]["converged"]
    assert set(names[1:]) <= {"more_steps", "smaller_step", "perturb"} and len(names) >= 2
    assert names == [s["stage"] for s in ibi["stages"]]  # the perturbation is seeded by the edge id
    assert abs(bat["barrier"] - ibi["barrier"]) < 1e-3
    # without a ladder the same hop stays unconverged
    plain, _ = run_hop(hop, EMTProvider(batched=True), NEBConfig(**{**FAST.as_dict(), "steps": 4}))
    assert not plain["converged"] and len(plain["stages"]) == 1


def test_bad_options_are_refused():
    for bad in ({"optimizer": "Newton"}, {"retries": ("pray",)}, {"initial_path": "spline"}, {"batch_hops": 0},
                {"batch_atoms": 0}, {"stage1_fmax": 0}):
        with pytest.raises(ValueError):
            NEBConfig(**bad)


def test_run_metrics_oc20neb_definitions():
    recs = [{"edge_id": "a", "error": None, "converged": True, "barrier": 0.30, "em_dft": 0.32, "steps": 10,
             "model_calls": 20, "wall_time": 2.0},
            {"edge_id": "b", "error": None, "converged": True, "barrier": 0.50, "em_dft": 0.42, "steps": 30,
             "model_calls": 40, "wall_time": 4.0},
            {"edge_id": "c", "error": None, "converged": False, "barrier": 0.40, "em_dft": 0.40, "steps": 100},
            {"edge_id": "d", "error": {"reason": "nan"}, "converged": False, "barrier": None, "em_dft": 0.1}]
    m = run_metrics(recs, wall_time=36.0, new_hops=4)
    assert m["n_hops"] == 4 and m["n_converged"] == 2 and m["n_errors"] == 1
    assert m["convergence_rate"] == 0.5
    # c is spot on but did not converge: a miss (OC20NEB); d failed: a miss
    assert m["success_0.05"] == 0.25 and m["success_0.1"] == 0.5
    assert m["mae_converged"] == pytest.approx(0.05)
    assert m["hops_per_hour"] == pytest.approx(400.0)
    assert m["mean_model_calls"] == 30.0 and m["mean_steps"] == pytest.approx(140 / 3)
    assert run_metrics([])["convergence_rate"] is None
