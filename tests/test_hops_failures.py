"""nebBVSE122k failures.csv: hops whose straight start is stationary by symmetry are listed (row kept)."""
from __future__ import annotations

import csv

import pyarrow as pa

from hops_structures import real_structures
from litraj_data.builders.nebbvse122k import build_nebbvse122k, hop_failures


def _hop(edge_id: str, **kw):
    return {"edge_id": edge_id, "ok": True, "em": 1.5, "converged": True, "neb_steps": 0, "fmax": 0.0, **kw}


def test_hop_failures_lists_stationary_starts_and_keeps_the_other_reasons():
    records = [{"material_id": "M", "ok": True, "result": {"hops": [
        _hop("M_0_1_0_0_0", stationary_start=True),
        _hop("M_0_2_0_0_0", stationary_start=False),
        _hop("M_0_3_0_0_0", stationary_start=True, converged=False, neb_steps=100, fmax=0.2),
        _hop("M_0_4_0_0_0"),  # a checkpoint written before the flag existed: not listed, no KeyError
    ]}}]
    rows = hop_failures(records)
    got = [(r["edge_id"], r["reason"]) for r in rows]
    assert got == [("M_0_1_0_0_0", "stationary_start"), ("M_0_3_0_0_0", "not_converged"),
                   ("M_0_3_0_0_0", "stationary_start")]
    assert "upper bound" in rows[0]["message"] and "1.500 eV" in rows[0]["message"]


def test_build_lists_the_stationary_start_hops_of_licl(tmp_path):
    # LiCl's straight hop crosses a mirror plane (tests/test_bvse_neb.py): flagged, row kept
    s = real_structures()
    version = build_nebbvse122k([("LiCl", s["LiCl"]), ("Li3N", s["Li3N"])], tmp_path,
                                splits={"LiCl": "train", "Li3N": "test"}, progress=False)
    rows = []
    for path in sorted(version.rglob("*.arrow")):
        with pa.ipc.open_stream(path) as r:
            rows += r.read_all().to_pylist()
    fails = list(csv.DictReader(open(version / "failures.csv")))
    flagged = {f["edge_id"] for f in fails if f["reason"] == "stationary_start"}
    # the flag as the calculator gives it, hop by hop (Li3N has one such hop too)
    from litraj_data.leaderboard.reference.hops.api import bvse_neb, find_hops

    expected = {h.edge_id for name in ("LiCl", "Li3N") for h in find_hops(s[name], name)
                if bvse_neb(s[name], h).stationary_start}
    assert "LiCl_1_1_-1_0_0" in flagged and flagged == expected
    assert flagged <= {r["edge_id"] for r in rows}  # listed, and the rows kept
