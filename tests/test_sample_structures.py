"""Tests of the embedded sample's crystal structures (builders/sample_structures.*)."""
from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest
import yaml

from litraj_data.builders import sample_structures as ss
from litraj_data.errors import DataFormatError, StructureError

ENTRIES = ss.load_sample_structures()
IDS = [e.material_id for e in ENTRIES]
_REPORTS: dict[str, dict] = {}


def _report(entry: ss.SampleEntry) -> dict:
    if entry.material_id not in _REPORTS:
        _REPORTS[entry.material_id] = ss.check_sample_entry(entry)
    return _REPORTS[entry.material_id]


def _by_id(mid: str) -> ss.SampleEntry:
    return next(e for e in ENTRIES if e.material_id == mid)


def test_size_and_unique_ids() -> None:
    assert len(ENTRIES) >= ss.MIN_SAMPLE_SIZE
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_id_follows_formula_and_spacegroup(entry: ss.SampleEntry) -> None:
    assert entry.material_id == f"sample-{entry.formula}-{entry.spacegroup}"
    assert entry.source in {"pymatgen", "literature"}
    assert entry.citation.strip()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_entry_passes_all_checks(entry: ss.SampleEntry) -> None:
    report = _report(entry)
    assert report["ok"], report["problems"]
    s = entry.structure
    assert s.is_ordered
    assert "Li" in {el.symbol for el in s.composition.elements}
    assert s.composition.reduced_formula == entry.formula
    assert report["spacegroup_found"] == entry.spacegroup
    assert report["min_distance"] >= ss.MIN_DISTANCE
    assert len(s) <= ss.MAX_ATOMS and s.volume < ss.MAX_VOLUME
    # BVAnalyzer valences must balance the charge.
    assert sum(report["bv_valences"]) == 0


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_oxidation_states_decorated_and_neutral(entry: ss.SampleEntry) -> None:
    s = entry.structure
    oxi = [getattr(site.specie, "oxi_state", None) for site in s]
    assert all(o is not None for o in oxi), "every sample entry records oxidation states"
    assert abs(sum(oxi)) < 1e-6
    # Decorated states agree with BVAnalyzer's independent assignment.
    report = _report(entry)
    assert [int(round(o)) for o in oxi] == report["bv_valences"]


def test_deterministic_and_fresh_copies() -> None:
    again = ss.load_sample_structures()
    for a, b in zip(ENTRIES, again):
        assert a.material_id == b.material_id
        assert [str(x.specie) for x in a.structure] == [str(x.specie) for x in b.structure]
        np.testing.assert_array_equal(a.structure.frac_coords, b.structure.frac_coords)
        np.testing.assert_array_equal(a.structure.lattice.matrix, b.structure.lattice.matrix)
    # Mutating a returned structure must not leak into the next call.
    again[0].structure.translate_sites([0], [0.1, 0.0, 0.0])
    third = ss.load_sample_structures()
    np.testing.assert_array_equal(third[0].structure.frac_coords, ENTRIES[0].structure.frac_coords)
    assert np.all((ENTRIES[0].structure.frac_coords >= 0) & (ENTRIES[0].structure.frac_coords < 1))


def test_known_geometry() -> None:
    # Independent physical facts, not derived from the YAML.
    licoo2 = _by_id("sample-LiCoO2-166").structure
    co = [i for i, x in enumerate(licoo2) if x.specie.symbol == "Co"][0]
    d = sorted(n.nn_distance for n in licoo2.get_neighbors(licoo2[co], 2.5))
    assert len(d) == 6 and 1.88 < d[0] < 1.96  # CoO6 octahedron, Co-O ~1.92 Å
    lif = _by_id("sample-LiF-225").structure
    assert lif.lattice.a == pytest.approx(4.0263)
    li3n = _by_id("sample-Li3N-191").structure
    assert li3n.composition["Li"] == 3 and len(li3n) == 4
    po4 = _by_id("sample-Li3PO4-31").structure
    p = [i for i, x in enumerate(po4) if x.specie.symbol == "P"][0]
    dp = sorted(n.nn_distance for n in po4.get_neighbors(po4[p], 1.8))
    assert len(dp) == 4 and all(1.50 < x < 1.58 for x in dp)  # PO4 tetrahedron


def test_yaml_records_formula_and_citation() -> None:
    raw = yaml.safe_load(ss.SAMPLE_YAML.read_text())["entries"]
    assert [r["id"] for r in raw] == IDS
    for r in raw:
        assert re.fullmatch(r"sample-\S+-\d+", r["id"])
        if r["source"] == "literature":
            cit = r["citation"]
            assert cit["authors"] and cit["journal"] and int(cit["year"]) > 1900
            assert r["confidence"] in {"high", "medium"}


def test_get_and_dict_helpers() -> None:
    table = ss.sample_structures_as_dict()
    assert list(table) == IDS
    s = ss.get_sample_structure("sample-Li2S-225")
    assert s.composition.reduced_formula == "Li2S"
    with pytest.raises(KeyError, match="unknown sample structure"):
        ss.get_sample_structure("sample-nope-1")


def _write(tmp_path, entries) -> str:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"version": 1, "entries": entries}))
    return str(p)


def _lif(**over):
    e = {
        "id": "sample-LiF-225", "formula": "LiF", "source": "literature",
        "spacegroup": "Fm-3m", "spacegroup_number": 225, "lattice": {"a": 4.0263},
        "sites": [{"el": "Li", "xyz": [0, 0, 0]}, {"el": "F", "xyz": [0.5, 0.5, 0.5]}],
        "oxidation_states": {"Li": 1, "F": -1}, "citation": "test",
    }
    e.update(over)
    return e


def test_bad_inputs_raise_clear_errors(tmp_path) -> None:
    with pytest.raises(DataFormatError, match="lacks 'formula'"):
        ss.load_sample_structures(_write(tmp_path, [{k: v for k, v in _lif().items() if k != "formula"}]))
    with pytest.raises(DataFormatError, match="duplicate sample id"):
        ss.load_sample_structures(_write(tmp_path, [_lif(), _lif()]))
    with pytest.raises(DataFormatError, match="unknown source"):
        ss.load_sample_structures(_write(tmp_path, [_lif(source="web")]))
    with pytest.raises(StructureError) as exc:
        # hexagonal lattice constants cannot carry a cubic space group
        ss.load_sample_structures(_write(tmp_path, [_lif(lattice={"a": 3.0, "c": 5.0, "gamma": 120})]))
    assert exc.value.reason == "read_error"
    with pytest.raises(DataFormatError, match="not found"):
        ss.load_sample_structures(_write(tmp_path, [{
            "id": "x", "formula": "Li2O", "source": "pymatgen", "file": "nope.json",
            "spacegroup_number": 225, "citation": "t"}]))


def test_checks_catch_wrong_data(tmp_path) -> None:
    wrong_formula = ss.load_sample_structures(_write(tmp_path, [_lif(formula="Li2F")]))[0]
    assert any("formula" in p for p in ss.check_sample_entry(wrong_formula)["problems"])
    wrong_sg = ss.load_sample_structures(_write(tmp_path, [_lif(spacegroup_number=221)]))[0]
    assert any("space group" in p for p in ss.check_sample_entry(wrong_sg)["problems"])
    squeezed = ss.load_sample_structures(_write(tmp_path, [_lif(lattice={"a": 2.2})]))[0]
    assert any("apart" in p for p in ss.check_sample_entry(squeezed)["problems"])
    dense = ss.load_sample_structures(_write(tmp_path, [_lif(density=3.5)]))[0]
    assert any("density" in p for p in ss.check_sample_entry(dense)["problems"])
    # Li2O2 (peroxide) must be refused: O- is forbidden.
    peroxide = ss.load_sample_structures(_write(tmp_path, [{
        "id": "sample-Li2O2-194", "formula": "Li2O2", "source": "pymatgen", "file": "Li2O2.json",
        "spacegroup_number": 194, "citation": "t"}]))[0]
    assert any("BVAnalyzer" in p for p in ss.check_sample_entry(peroxide)["problems"])


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ss.register(parser.add_subparsers(dest="cmd"))
    return parser.parse_args(argv)


def test_cli_json_list_and_check(capsys) -> None:
    args = _cli(["sample-structures", "--json", "--check", "sample-LiF-225", "sample-Li3N-191"])
    assert args.func(args) == 0
    doc = json.loads(capsys.readouterr().out)
    recs = doc["records"]
    assert [r["material_id"] for r in recs] == ["sample-LiF-225", "sample-Li3N-191"]
    assert all(r["ok"] and r["file"] for r in recs)


def test_cli_write_cif_roundtrip(tmp_path, capsys) -> None:
    from pymatgen.core import Structure

    args = _cli(["sample-structures", "--json", "--write", str(tmp_path), "sample-LiCoO2-166"])
    assert args.func(args) == 0
    rec = json.loads(capsys.readouterr().out)["records"][0]
    s = Structure.from_file(rec["file"])
    assert s.composition.reduced_formula == "LiCoO2"
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_unknown_id(capsys) -> None:
    args = _cli(["sample-structures", "sample-unknown-1"])
    assert args.func(args) == 2
    assert "unknown sample ids" in capsys.readouterr().err


def test_docs_table_matches_yaml() -> None:
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "sample.md"
    assert ss.sample_table_markdown(ENTRIES) in doc.read_text(encoding="utf-8")
