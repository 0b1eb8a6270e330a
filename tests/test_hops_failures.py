"""nebBVSE122k failures.csv: hops whose em is an upper bound (a symmetric or already-converged straight
start) are listed with reason upper_bound, the row kept."""
from __future__ import annotations

import csv

import pyarrow as pa

from litraj_data.builders.nebbvse122k import build_nebbvse122k, hop_failures

from hops_structures import real_structures


def _hop(edge_id: str, **kw):
    return {"edge_id": edge_id, "ok": True, "em": 1.5, "converged": True, "neb_steps": 0, "fmax": 0.0, **kw}


def test_hop_failures_lists_upper_bounds_and_keeps_the_other_reasons():
    records = [{"material_id": "M", "ok": True, "result": {"hops": [
        _hop("M_0_1_0_0_0", upper_bound=True, symmetric_start=True, symmetry_elements=["2-fold axis along the path"]),
        _hop("M_0_2_0_0_0", upper_bound=False, stationary_start=False),
        _hop("M_0_3_0_0_0", upper_bound=True, converged=False, neb_steps=100, fmax=0.2),
        _hop("M_0_4_0_0_0"),  # a checkpoint written before the flags existed: not listed, no KeyError
        _hop("M_0_5_0_0_0", stationary_start=True),  # older checkpoint: only the force test -> flagged
        _hop("M_0_6_0_0_0", upper_bound=False, symmetry_broken=True, em_straight=3.25, em=1.25),
    ]}}]
    rows = hop_failures(records)
    got = [(r["edge_id"], r["reason"]) for r in rows]
    assert got == [("M_0_1_0_0_0", "upper_bound"), ("M_0_3_0_0_0", "not_converged"),
                   ("M_0_3_0_0_0", "upper_bound"), ("M_0_5_0_0_0", "upper_bound"),
                   ("M_0_6_0_0_0", "symmetry_broken")]
    assert "upper bound" in rows[0]["message"] and "1.500 eV" in rows[0]["message"]
    assert "2-fold axis along the path" in rows[0]["message"]
    assert "3.250 eV" in rows[-1]["message"] and "1.250 eV" in rows[-1]["message"]


def test_build_lists_the_upper_bound_hops_of_licl(tmp_path):
    # LiCl's straight hop crosses a mirror plane (tests/test_bvse_neb.py): flagged, row kept
    s = real_structures()
    version = build_nebbvse122k([("LiCl", s["LiCl"]), ("Li3N", s["Li3N"])], tmp_path,
                                splits={"LiCl": "train", "Li3N": "test"}, progress=False)
    rows = []
    for path in sorted(version.rglob("*.arrow")):
        with pa.ipc.open_stream(path) as r:
            rows += r.read_all().to_pylist()
    fails = list(csv.DictReader(open(version / "failures.csv")))
    flagged = {f["edge_id"] for f in fails if f["reason"] == "upper_bound"}
    # the flag as the calculator gives it, hop by hop (Li3N has one such hop too)
    from litraj_data.leaderboard.reference.hops.api import bvse_neb, find_hops

    expected = {h.edge_id for name in ("LiCl", "Li3N") for h in find_hops(s[name], name)
                if bvse_neb(s[name], h).upper_bound}
    assert "LiCl_1_1_-1_0_0" in flagged and flagged == expected
    assert flagged <= {r["edge_id"] for r in rows}  # listed, and the rows kept
