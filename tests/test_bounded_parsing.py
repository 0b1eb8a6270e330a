"""Hostile archives and streams: the importer refuses them with a named reason, in bounded memory.

Every archive is made here with :mod:`zipfile` (nothing big is committed). Classes of attack:
huge lines, zip bombs, encrypted / unsupported / corrupt members, duplicate and traversal
member names, too many members, huge frames; and, with hypothesis, arbitrary byte strings
fed to the extxyz reader.
"""
from __future__ import annotations

import io
import shutil
import struct
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litraj_data.builders.from_release import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits, ReleaseArchive, import_release
from litraj_data.errors import DataFormatError
from litraj_data.store.extxyz import ReadLimits, iter_extxyz_frames

GOOD_FRAME = ('2\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3 material_id=mp-1 E_1D=0.5 E_2D=0.6 '
              'E_3D=0.7 pbc="T T T"\nLi 0 0 0\nF 2 2 2\n')


def _zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _release(tmp_path: Path, train: bytes, **extra: bytes) -> Path:
    members = {f"BVEL13k/BVEL13k_{s}.xyz": GOOD_FRAME.replace("mp-1", f"mp-{s}").encode() for s in ("val", "test")}
    members["BVEL13k/BVEL13k_train.xyz"] = train
    members.update(extra)
    return _zip(tmp_path / "BVEL13k.zip", members)


def _refused(archive: Path, tmp_path: Path, limits: ArchiveLimits | None = None) -> DataFormatError:
    with pytest.raises(DataFormatError) as exc:
        import_release("BVEL13k", archive, tmp_path / "out", progress=False, limits=limits, check_counts=False)
    assert not (tmp_path / "out" / "BVEL13k" / "1.0.0").exists()  # nothing published
    return exc.value


_refused_at_open = _refused


# --------------------------------------------------------------------------- lines and frames


def test_a_huge_line_is_refused_by_the_line_cap(tmp_path):
    # 8 MiB of one line, deflated to a few KB; the ratio cap is lifted so that the line cap acts
    line = b"2\n" + b"a" * (8 << 20) + b"\nLi 0 0 0\nF 1 1 1\n"
    archive = _release(tmp_path, line)
    lifted = replace(DEFAULT_ARCHIVE_LIMITS, max_ratio=1e12)
    err = _refused(archive, tmp_path, lifted)
    assert err.reason == "line_too_long" and "BVEL13k_train.xyz:2" in str(err)


def test_the_same_archive_is_refused_as_a_zip_bomb_by_default(tmp_path):
    big = b"2\n" + b"a" * (40 << 20) + b"\nLi 0 0 0\nF 1 1 1\n"
    err = _refused_at_open(_release(tmp_path, big), tmp_path)
    assert err.reason == "compression_ratio" and "BVEL13k_train.xyz" in str(err)


def test_a_frame_larger_than_the_frame_cap_is_refused(tmp_path):
    atoms = "".join(f"Li {i} 0 0\n" for i in range(2000))
    frame = GOOD_FRAME.split("\n")[1]
    stream = io.StringIO(f"2000\n{frame}\n{atoms}")
    with pytest.raises(DataFormatError) as exc:
        list(iter_extxyz_frames(stream, label="x.xyz", limits=ReadLimits(max_line_chars=1 << 16,
                                                                          max_frame_chars=4096)))
    assert exc.value.reason == "frame_too_large" and "x.xyz:1" in str(exc.value)


def test_an_atom_count_beyond_the_frame_cap_is_refused_before_reading():
    stream = io.StringIO("99999999999\n")
    with pytest.raises(DataFormatError) as exc:
        list(iter_extxyz_frames(stream, label="x.xyz"))
    assert exc.value.reason == "frame_too_large"


# --------------------------------------------------------------------------- members


def test_encrypted_member_is_refused(tmp_path):
    archive = _release(tmp_path, GOOD_FRAME.encode())
    data = bytearray(archive.read_bytes())
    # set the "encrypted" flag bit in every local and central header of the archive
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        while pos != -1:
            flags = struct.unpack_from("<H", data, pos + offset)[0]
            struct.pack_into("<H", data, pos + offset, flags | 0x1)
            pos = data.find(sig, pos + 4)
    archive.write_bytes(bytes(data))
    assert _refused_at_open(archive, tmp_path).reason == "encrypted_member"


def test_unsupported_compression_is_refused(tmp_path):
    archive = _release(tmp_path, GOOD_FRAME.encode())
    data = bytearray(archive.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # compression method -> 99 (AES)
        pos = data.find(sig)
        while pos != -1:
            struct.pack_into("<H", data, pos + offset, 99)
            pos = data.find(sig, pos + 4)
    archive.write_bytes(bytes(data))
    err = _refused_at_open(archive, tmp_path)
    assert err.reason == "unsupported_compression" and "method 99" in str(err)


def test_corrupt_deflate_data_is_a_named_reason(tmp_path):
    frames = GOOD_FRAME * 2000
    archive = _release(tmp_path, frames.encode())
    data = bytearray(archive.read_bytes())
    info = zipfile.ZipFile(archive).getinfo("BVEL13k/BVEL13k_train.xyz")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(start + 50, start + info.compress_size - 10, 7):
        data[k] ^= 0x5A  # damage the deflate stream, not the headers
    archive.write_bytes(bytes(data))
    err = _refused_at_open(archive, tmp_path)
    assert err.reason in ("corrupt_member", "truncated", "bad_frame", "not_utf8")
    assert "BVEL13k_train.xyz" in str(err)


def test_not_a_zip_is_bad_zip(tmp_path):
    archive = tmp_path / "BVEL13k.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 10)
    assert _refused_at_open(archive, tmp_path).reason == "bad_zip"


def test_truncated_zip_is_bad_zip(tmp_path):
    archive = _release(tmp_path, (GOOD_FRAME * 50).encode())
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert _refused_at_open(archive, tmp_path).reason == "bad_zip"


def test_duplicate_member_names_are_refused(tmp_path):
    archive = tmp_path / "BVEL13k.zip"
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate while writing it
        _zip(archive, {f"BVEL13k/BVEL13k_{s}.xyz": GOOD_FRAME.encode() for s in ("train", "val", "test")})
        with zipfile.ZipFile(archive, "a") as zf:
            zf.writestr("BVEL13k/BVEL13k_train.xyz", GOOD_FRAME.encode())
    assert _refused_at_open(archive, tmp_path).reason == "duplicate_member"


@pytest.mark.parametrize("name", ["BVEL13k/../../etc/BVEL13k_train.xyz", "/abs/BVEL13k_train.xyz",
                                  "BVEL13k/C:evil.xyz", "BVEL13k/a\x01b.xyz", "BVEL13k//x.xyz"])
def test_traversal_and_odd_member_names_are_refused(tmp_path, name):
    archive = _release(tmp_path, GOOD_FRAME.encode(), **{name: b"x"})
    assert _refused_at_open(archive, tmp_path).reason == "unsafe_name"


def test_hidden_and_macos_members_are_ignored_not_refused(tmp_path):
    archive = _release(tmp_path, GOOD_FRAME.encode(), **{"__MACOSX/BVEL13k/._BVEL13k_train.xyz": b"\0\x05junk",
                                                         "BVEL13k/.DS_Store": b"\0junk"})
    arch = ReleaseArchive(archive)
    try:
        assert "BVEL13k_train.xyz" in arch.names() and ".DS_Store" not in arch.names()
        arch.require("BVEL13k_train.xyz", "train split")  # no shadowing by the resource fork
    finally:
        arch.close()


def test_too_many_members_and_too_large_members_are_refused(tmp_path):
    archive = _release(tmp_path, GOOD_FRAME.encode(), **{f"BVEL13k/extra{i}.txt": b"" for i in range(20)})
    with pytest.raises(DataFormatError) as exc:
        ReleaseArchive(archive, replace(DEFAULT_ARCHIVE_LIMITS, max_members=10))
    assert exc.value.reason == "too_many_members"
    with pytest.raises(DataFormatError) as exc:
        ReleaseArchive(archive, replace(DEFAULT_ARCHIVE_LIMITS, max_member_bytes=100))
    assert exc.value.reason == "archive_member_too_large"


def test_an_index_larger_than_the_whole_member_cap_is_refused(tmp_path):
    index = b"material_id,chemsys,_split,E_1D,E_2D,E_3D\n" + b"mp-1,F-Li,train,0.5,0.6,0.7\n" * 100
    archive = _release(tmp_path, GOOD_FRAME.encode(), **{"BVEL13k/BVEL13k_index.csv": index})
    with pytest.raises(DataFormatError) as exc:
        import_release("BVEL13k", archive, tmp_path / "out", progress=False,
                       limits=replace(DEFAULT_ARCHIVE_LIMITS, max_whole_member_bytes=1000))
    assert exc.value.reason == "archive_member_too_large" and "BVEL13k_index.csv" in str(exc.value)


def test_a_huge_line_in_the_index_is_refused_before_pandas(tmp_path):
    index = b"material_id,chemsys,_split,E_1D,E_2D,E_3D\nmp-1," + b"F" * (2 << 20) + b",train,0.5,0.6,0.7\n"
    archive = _release(tmp_path, GOOD_FRAME.encode(), **{"BVEL13k/BVEL13k_index.csv": index})
    err = _refused_at_open(archive, tmp_path)
    assert err.reason == "line_too_long" and "BVEL13k_index.csv:2" in str(err)


def test_a_folder_with_a_link_out_of_it_is_refused(tmp_path):
    folder = tmp_path / "BVEL13k"
    folder.mkdir()
    for s in ("train", "val", "test"):
        (folder / f"BVEL13k_{s}.xyz").write_text(GOOD_FRAME)
    outside = tmp_path / "secret.xyz"
    outside.write_text(GOOD_FRAME)
    (folder / "BVEL13k_index.csv").symlink_to(outside)
    with pytest.raises(DataFormatError) as exc:
        ReleaseArchive(folder)
    assert exc.value.reason == "unsafe_name"


# --------------------------------------------------------------------------- any bytes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400) | st.text(alphabet="0123456789 \n.-eEinfaLiFXT=\"", max_size=300).map(str.encode))
def test_any_bytes_give_frames_or_a_named_reason(data):
    """Arbitrary input never escapes as anything but ``DataFormatError`` (no traceback)."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    try:
        for _line, atoms in iter_extxyz_frames(stream, label="fuzz.xyz", size=len(data),
                                               limits=ReadLimits(max_line_chars=128, max_frame_chars=4096)):
            assert len(atoms.positions) == len(atoms)
    except DataFormatError as exc:
        assert exc.reason != "bad_format" and str(exc).startswith("fuzz.xyz")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["BVEL13k/BVEL13k_train.xyz", "BVEL13k/../x", "BVEL13k/a/b/c.xyz", ".hidden",
                                 "BVEL13k/BVEL13k_val.xyz", "BVEL13k/x y.xyz", "__MACOSX/../../z", "~/x",
                                 "BVEL13k/BVEL13k_test.xyz", "BVEL13k/\u00e9.xyz"]), min_size=1, max_size=6),
       st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
def test_any_member_listing_opens_or_is_refused_with_a_reason(tmp_path, names, method):
    work = tmp_path / f"z{abs(hash((tuple(names), method)))}"
    work.mkdir()
    archive = work / "BVEL13k.zip"
    with zipfile.ZipFile(archive, "w", compression=method) as zf:
        for name in dict.fromkeys(names):
            zf.writestr(name, GOOD_FRAME)
    try:
        import_release("BVEL13k", archive, work / "out", progress=False, check_counts=False)
    except DataFormatError as exc:
        assert exc.reason != "bad_format"
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- calculator inputs


def _p1_cif(path: Path, n: int, a: float = 4.03) -> Path:
    rows = "\n".join(f"Li{i} Li {((i * 0.6180339) % 1):.6f} {((i * 0.4142135) % 1):.6f} {((i * 0.7320508) % 1):.6f} 1"
                     for i in range(n))
    path.write_text(f"data_x\n_cell_length_a {a}\n_cell_length_b {a}\n_cell_length_c {a}\n_cell_angle_alpha 90\n"
                    "_cell_angle_beta 90\n_cell_angle_gamma 90\n_symmetry_space_group_name_H-M 'P 1'\n"
                    "loop_\n_symmetry_equiv_pos_as_xyz\n'x, y, z'\n"
                    "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
                    f"_atom_site_fract_z\n_atom_site_occupancy\n{rows}\n")
    return path


def test_check_structure_caps_and_reasons():
    from ase import Atoms
    from pymatgen.core import Lattice, Structure

    from litraj_data.errors import StructureError
    from litraj_data.structures import StructureLimits, check_structure, structure_limits

    cases = [
        (Atoms("LiF", positions=[[0, 0, 0], [1e11, 1e11, 1e11]], cell=[1e12] * 3, pbc=True), {}, "cell_too_large"),
        (Atoms("Li" * 3000, positions=np.random.default_rng(0).random((3000, 3)) * 30, cell=[30] * 3, pbc=True), {},
         "too_many_atoms"),
        (Structure(Lattice.cubic(4.0), [{"Li": 0.5, "Na": 0.5}, "F"], [[0, 0, 0], [0.5, 0.5, 0.5]]), {}, "disordered"),
        (Atoms("LiF", positions=[[0, 0, 0], [1, 1, 1]], cell=[[4, 0, 0], [4, 1e-5, 0], [0, 0, 4]], pbc=True), {},
         "degenerate_cell"),
        (Atoms("LiF", positions=[[0, 0, 0], [1, 1, 1]], cell=[[np.nan, 0, 0], [0, 4, 0], [0, 0, 4]], pbc=True), {},
         "degenerate_cell"),
        (Atoms(), {}, "no_atoms"),
        (Atoms("LiF", positions=[[0, 0, 0], [1, 1, 1]], cell=[30] * 3, pbc=True), {"resolution": 0.01},
         "grid_too_large"),
    ]
    for structure, kwargs, reason in cases:
        with pytest.raises(StructureError) as exc:
            check_structure(structure, "s", **kwargs)
        assert exc.value.reason == reason, (reason, str(exc.value))
    fine = Atoms("LiF", positions=[[0, 0, 0], [2, 2, 2]], cell=[4] * 3, pbc=True)
    check_structure(fine, resolution=0.2)
    with structure_limits(max_atoms=1):
        with pytest.raises(StructureError, match="--max-atoms"):
            check_structure(fine)
    with structure_limits(max_grid_points=10**12):
        check_structure(cases[-1][0], resolution=0.01)  # raised cap: accepted
    check_structure(cases[1][0], limits=StructureLimits(max_atoms=5000))


def test_cli_calculators_refuse_hostile_structures_without_traceback(tmp_path):
    import json
    import subprocess
    import sys

    from pymatgen.core import Lattice, Structure

    Structure(Lattice.cubic(1e12), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(tmp_path / "huge.cif"))
    Structure(Lattice.cubic(4.0), [{"Li": 0.5, "Na": 0.5}, "F"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(
        filename=str(tmp_path / "disordered.cif"))
    _p1_cif(tmp_path / "big.cif", 10_000)  # pymatgen would parse this for minutes
    files = [str(tmp_path / n) for n in ("huge.cif", "disordered.cif", "big.cif")]
    expected = {"huge.cif": "cell_too_large", "disordered.cif": "disordered", "big.cif": "too_many_atoms"}
    for command in ("features", "bvel"):
        proc = subprocess.run([sys.executable, "-m", "litraj_data.cli.main", command, *files, "--json"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        records = json.loads(proc.stdout)["records"]
        assert {Path(r["file"]).name: r["reason"] for r in records} == expected
