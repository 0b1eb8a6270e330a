"""Hostile release archives: every bad input gets a named reason and file:line, never a traceback."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from litraj_data.builders.from_release import import_release
from litraj_data.errors import DataFormatError
from litraj_data.testing import HOSTILE_SPLIT_FILE_EDITS, write_release


@pytest.fixture()
def release(tmp_path) -> Path:
    """An unpacked BVEL13k release (3/2/2 structures) to damage."""
    write_release("BVEL13k", tmp_path / "src", {"train": 3, "val": 2, "test": 2}, seed=1)
    return tmp_path / "src" / "BVEL13k"


def _edit(path: Path, fn) -> None:
    path.write_bytes(fn(path.read_bytes()))


CASES = HOSTILE_SPLIT_FILE_EDITS


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_split_file_is_refused_with_reason_and_line(release, tmp_path, case):
    fn, reason, where = CASES[case]
    _edit(release / "BVEL13k_train.xyz", fn)
    with pytest.raises(DataFormatError) as err:
        import_release("BVEL13k", release, tmp_path / "out", check_counts=False, progress=False)
    assert err.value.reason == reason, str(err.value)
    assert re.search(where, str(err.value)), str(err.value)
    assert not (tmp_path / "out" / "BVEL13k" / "1.0.0").exists()  # nothing half-built is published


def test_inf_barrier_is_the_documented_no_percolation_value(release, tmp_path):
    _edit(release / "BVEL13k_train.xyz", lambda d: re.sub(rb"E_3D=[0-9.e+-]+", b"E_3D=inf", d, count=1))
    _edit(release / "BVEL13k_index.csv", lambda d: d)  # the index value for E_3D still differs: refused
    with pytest.raises(DataFormatError, match="in the frame but") as err:
        import_release("BVEL13k", release, tmp_path / "out", check_counts=False, progress=False)
    assert err.value.reason == "index_mismatch"
    (release / "BVEL13k_index.csv").unlink()
    built = import_release("BVEL13k", release, tmp_path / "out2", check_counts=False, progress=False)
    assert (built / "manifest.json").is_file()


def test_duplicate_ids_are_refused(release, tmp_path):
    text = (release / "BVEL13k_train.xyz").read_text()
    ids = re.findall(r"material_id=(\S+)", text)
    (release / "BVEL13k_train.xyz").write_text(text.replace(f"material_id={ids[1]}", f"material_id={ids[0]}"))
    (release / "BVEL13k_index.csv").unlink()
    with pytest.raises(DataFormatError, match=f"duplicate material_id '{ids[0]}'") as err:
        import_release("BVEL13k", release, tmp_path / "out", check_counts=False, progress=False)
    assert err.value.reason == "duplicate_id"


def test_a_frame_missing_from_the_index_is_refused(release, tmp_path):
    lines = (release / "BVEL13k_index.csv").read_text().splitlines()
    (release / "BVEL13k_index.csv").write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    with pytest.raises(DataFormatError, match="is not in the index") as err:
        import_release("BVEL13k", release, tmp_path / "out", check_counts=False, progress=False)
    assert err.value.reason == "index_mismatch"


def test_a_second_member_with_a_split_name_does_not_shadow_the_real_one(release, tmp_path):
    archive = tmp_path / "BVEL13k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(release.iterdir()):
            zf.write(p, f"BVEL13k/{p.name}")
        zf.writestr("extra/BVEL13k_train.xyz", "1\n\nLi 0 0 0\n")
    with pytest.raises(DataFormatError, match="2 files named BVEL13k_train.xyz") as err:
        import_release("BVEL13k", archive, tmp_path / "out", check_counts=False, progress=False)
    assert err.value.reason == "member_shadowing"


def test_the_cli_prints_no_traceback_for_bad_data(release, tmp_path, capsys):
    from litraj_data.cli import main

    _edit(release / "BVEL13k_train.xyz", CASES["non_utf8"][0])
    assert main(["build", "from-release", "BVEL13k", "--source", str(release), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not_utf8" in err
