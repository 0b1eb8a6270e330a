"""The coating funnel (issue 26.8) on a small chemical system built for the test.

Formation energies are chosen so that several stage values have closed forms: LiF's window is
0-6.2 V (2 x 3.1 eV per Li to F2), Li2O's upper bound 3.15 V (3 x 2.1 / 2), LiAlO2's energy
above the hull 0.3125 eV/atom against Li2O + Al2O3.
"""
from __future__ import annotations

import json
import math

import pytest
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.entries.computed_entries import ComputedEntry, ComputedStructureEntry

from litraj_data.cli.main import main
from litraj_data.errors import DataFormatError
from litraj_data.leaderboard.reference.coating import (
    CoatingCriteria,
    interface_reaction_energy,
    read_entries,
    screen_coatings,
    stability_window,
)
from litraj_data.leaderboard.reference.coating.funnel import funnel_counts

FORM = {"Li": 0.0, "Al": 0.0, "F2": 0.0, "O2": 0.0, "P": 0.0, "S": 0.0, "Co": 0.0, "Ge": 0.0,
        "LiF": -3.1, "AlF3": -3.9, "Li3AlF6": -3.45, "Li2O": -2.1, "P2O5": -2.2, "Li3PO4": -2.3,
        "Li2S": -1.5, "P2S5": -0.3, "Li10GeP2S12": -1.05, "GeS2": -0.5, "CoO": -1.2, "LiCoO2": -1.9,
        "LiAlO2": -2.6, "Al2O3": -3.4, "Li5AlO4": -2.3, "CoF2": -2.4, "Li2CoF4": -2.9}
GAPS = {"LiF": 13.6, "Li3AlF6": 8.0, "Li2O": 5.0, "Li3PO4": 5.9, "LiAlO2": 5.5, "Li5AlO4": 4.8, "LiCoO2": 2.7,
        "Li2CoF4": 6.0}


def _entries() -> list:
    out = []
    for formula, e_form in FORM.items():
        comp = Composition(formula)
        data = {"band_gap": GAPS[formula]} if formula in GAPS else {}
        if formula == "LiF":
            s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])
            out.append(ComputedStructureEntry(s, e_form * s.num_sites, data=data, entry_id="toy-LiF"))
        else:
            out.append(ComputedEntry(comp, e_form * comp.num_atoms, data=data, entry_id=f"toy-{comp.reduced_formula}"))
    return out


@pytest.fixture(scope="module")
def records():
    return {r.material_id: r for r in screen_coatings(_entries())}


@pytest.fixture()
def entries_file(tmp_path):
    path = tmp_path / "entries.json"
    path.write_text(json.dumps([e.as_dict() for e in _entries()]))
    return path


def test_closed_form_stage_values(records):
    assert records["toy-LiF"].stages["window"]["value"] == pytest.approx([0.0, 6.2], abs=1e-9)
    assert records["toy-Li2O"].stages["window"]["value"] == pytest.approx([0.0, 3.15], abs=1e-9)
    assert records["toy-LiAlO2"].stages["e_hull"]["value"] == pytest.approx(0.3125, abs=1e-6)


def test_each_stage_excludes_what_it_should(records):
    assert records["toy-Li2S"].failed_at == "band_gap"                # no band gap given
    assert records["toy-LiAlO2"].failed_at == "e_hull"
    assert records["toy-Li2CoF4"].failed_at == "inactive"
    assert records["toy-Li2CoF4"].stages["inactive"]["value"] == ["Co"]
    assert records["toy-Li2O"].failed_at == "window"                  # oxidised at 3.15 V < 4.5 V
    assert records["toy-LiF"].survived and records["toy-Li3AlF6"].survived
    # the SE and the CAM are not candidates, nor are Li-free compounds
    assert not {"toy-Li10GeP2S12", "toy-LiCoO2", "toy-AlF3"} & set(records)
    counts = funnel_counts(list(records.values()))
    assert counts["entered"] == len(records) and counts["interface_cam"] == 2


def test_interfaces_come_from_pymatgen_and_can_exclude():
    from pymatgen.analysis.interface_reactions import InterfacialReactivity
    from pymatgen.analysis.phase_diagram import PhaseDiagram

    pd = PhaseDiagram(_entries())
    energy, ratio = interface_reaction_energy(pd, "Li2O", "Li10GeP2S12")
    ir = InterfacialReactivity(Composition("Li2O"), Composition("Li10GeP2S12"), pd, norm=True, use_hull_energy=False)
    assert energy == pytest.approx(ir.minimum[1]) and energy < -0.1 and 0 < ratio < 1
    # LiF and LiCoO2 have no product below their tie line in this system
    assert interface_reaction_energy(pd, "LiF", "LiCoO2")[0] == 0.0
    # with a window Li2O covers, the LGPS interface is what removes it
    recs = {r.material_id: r for r in screen_coatings(_entries(), CoatingCriteria(window=(0.5, 3.0)))}
    assert recs["toy-Li2O"].failed_at == "interface_se"
    assert recs["toy-Li3AlF6"].failed_at == "window"                  # reduced at 0.9 V > 0.5 V


def test_window_none_when_never_stable():
    from pymatgen.analysis.phase_diagram import PhaseDiagram

    entries = _entries() + [ComputedEntry(Composition("Li2O2"), -1.5 * 4)]  # above Li2O + 1/2 O2
    assert stability_window(PhaseDiagram(entries), "Li2O2") is None


def test_bvse_barriers_of_survivors():
    from litraj_data.leaderboard.reference.hops.api import hop_barriers

    def bvse(structure, mid):
        perc = hop_barriers(structure, mid).percolation
        return {k: float(v) if math.isfinite(v) else None for k, v in zip(("E_1D", "E_2D", "E_3D"), perc)}

    recs = {r.material_id: r for r in screen_coatings(_entries(), barriers=bvse)}
    lif = recs["toy-LiF"]
    direct = hop_barriers(lif_structure := _entries()[8].structure, "toy-LiF").percolation
    assert lif_structure.composition.reduced_formula == "LiF"
    assert lif.survived and lif.percolation["E_1D"] == pytest.approx(float(direct[0]))
    # Li3AlF6 survives the thermodynamics but has no structure: the barrier stage says so
    assert recs["toy-Li3AlF6"].failed_at == "barrier"
    assert "no structure" in recs["toy-Li3AlF6"].stages["barrier"]["reason"]


def test_cli_json_and_text(entries_file, capsys):
    assert main(["coating", str(entries_file), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_id = {r["material_id"]: r for r in doc["records"]}
    assert by_id["toy-LiF"]["survived"] and by_id["toy-Li2O"]["failed_at"] == "window"
    assert all(r["file"] == str(entries_file) for r in doc["records"])
    assert main(["coating", str(entries_file), "--candidates", "toy-AlF3", "toy-LiF"]) == 0
    out = capsys.readouterr().out
    assert "toy-AlF3" in out and "out at lithium" in out and "survived" in out


@pytest.mark.parametrize("doc, reason", [
    ("not json", "bad_json"),
    ('{"@module": "os", "@class": "system", "command": "touch PWNED"}', "bad_entry"),
    ('[{"@module": "subprocess", "@class": "Popen", "args": ["touch", "PWNED"]}]', "bad_entry"),
    ('[{"@module": "pymatgen.entries.computed_entries", "@class": "ComputedEntry"}]', "bad_entry"),
    ("[]", "no_entries"),
    ('[1, 2]', "bad_entry"),
])
def test_hostile_entries_files(tmp_path, monkeypatch, capsys, doc, reason):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "e.json"
    path.write_text(doc)
    with pytest.raises(DataFormatError) as err:
        read_entries(path)
    assert err.value.reason == reason
    assert main(["coating", str(path), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["records"][0]["reason"] == reason
    assert not (tmp_path / "PWNED").exists()


def test_incomplete_chemical_system(tmp_path, capsys):
    no_ge = [e for e in _entries() if "Ge" not in {el.symbol for el in e.composition.elements}]
    path = tmp_path / "e.json"
    path.write_text(json.dumps([e.as_dict() for e in no_ge]))
    assert main(["coating", str(path), "--json"]) == 2
    rec = json.loads(capsys.readouterr().out)["records"][0]
    assert rec["reason"] == "incomplete_chemical_system" and "Ge" in rec["error"]


def test_phase_diagram_document_is_read(tmp_path):
    from monty.json import MontyEncoder
    from pymatgen.analysis.phase_diagram import PhaseDiagram

    path = tmp_path / "pd.json"
    path.write_text(json.dumps(PhaseDiagram(_entries()).as_dict(), cls=MontyEncoder))
    assert len(read_entries(path)) == len(FORM)


def test_bad_criteria():
    with pytest.raises(DataFormatError):
        CoatingCriteria(window=(4.5, 3.0))
    with pytest.raises(DataFormatError):
        CoatingCriteria(max_e_hull=float("nan"))


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_pickled_weights_are_refused_before_anything_runs(entries_file, tmp_path, monkeypatch, capsys):
    import pickle

    monkeypatch.chdir(tmp_path)
    weights = tmp_path / "evil.pt"
    weights.write_bytes(pickle.dumps(_Payload()))
    rc = main(["coating", str(entries_file), "--barriers", "chgnet", "--weights", str(weights), "--json"])
    assert rc == 2
    assert json.loads(capsys.readouterr().out)["records"][0]["reason"] in {"unsafe_weights", "weights_invalid"}
    assert not (tmp_path / "PWNED").exists()
