"""The importer checks the physics: every bad row is refused with a named reason and its file:line.

Releases are written here in the official layout (small folders, nothing committed), then one
attack is applied, drawn by hypothesis: per-atom columns declared with the wrong width, NaN,
negative barriers, dummy X where a dataset has none (or the wrong count), 0-atom frames,
zero-volume cells, an index chemsys that disagrees with the frames, broken NEB bands. The
rules come from the cards (``rules:`` in ``registry/datasets/*.yaml``).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litraj_data.builders.from_release import import_release
from litraj_data.errors import DataFormatError, RegistryError
from litraj_data.registry import get_config, parse_card
from litraj_data.structures import check_row

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

LATTICE = "4.03 0 0 0 4.03 0 0 0 4.03"


def _frame(atoms: list[tuple[str, tuple[float, ...]]], info: str, *, lattice: str = LATTICE,
           props: str = "species:S:1:pos:R:3") -> str:
    lines = [f"{len(atoms)}", f'Lattice="{lattice}" Properties={props} {info} pbc="T T T"']
    lines += [" ".join([sym] + [repr(float(x)) for x in values]) for sym, values in atoms]
    return "\n".join(lines) + "\n"


LIF = [("Li", (0.0, 0.0, 0.0)), ("F", (2.015, 2.015, 2.015))]


def _bvel(root: Path, edit: dict) -> Path:
    """A BVEL13k release folder with one frame per split (train frame 0 under ``edit``)."""
    folder = root / "BVEL13k"
    folder.mkdir(parents=True)
    index = ["material_id,chemsys,_split,E_1D,E_2D,E_3D"]
    for k, split in enumerate(("train", "val", "test")):
        atoms, lattice, props = list(LIF), LATTICE, "species:S:1:pos:R:3"
        e = [0.4, 0.5, 0.6]
        chemsys = "F-Li"
        if split == "train":
            atoms = edit.get("atoms", atoms)
            lattice = edit.get("lattice", lattice)
            e = edit.get("energies", e)
            chemsys = edit.get("chemsys", chemsys)
        info = f"material_id=mp-{k} E_1D={e[0]!r} E_2D={e[1]!r} E_3D={e[2]!r}"
        (folder / f"BVEL13k_{split}.xyz").write_text(_frame(atoms, info, lattice=lattice, props=props))
        index.append(f"mp-{k},{chemsys},{split},{e[0]!r},{e[1]!r},{e[2]!r}")
    (folder / "BVEL13k_index.csv").write_text("\n".join(index) + "\n")
    return folder


def _import(name: str, folder: Path, out: Path) -> Path:
    return import_release(name, folder, out, progress=False, check_counts=False)


def _refusal(name: str, folder: Path, out: Path) -> DataFormatError:
    with pytest.raises(DataFormatError) as exc:
        _import(name, folder, out)
    assert not (out / name / "1.0.0").exists()  # an official release is refused as a whole
    return exc.value


def test_the_clean_release_imports(tmp_path):
    built = _import("BVEL13k", _bvel(tmp_path, {}), tmp_path / "out")
    assert (built / "manifest.json").is_file()


# --------------------------------------------------------------------------- BVEL13k: drawn attacks

finite = st.floats(min_value=-50, max_value=50, allow_nan=False)


@st.composite
def bvel_attack(draw):
    kind = draw(st.sampled_from(["nan_position", "zero_atoms", "dummy_x", "coplanar_cell", "zero_cell",
                                 "negative_barrier", "nan_barrier", "chemsys_mismatch", "chemsys_html",
                                 "inf_cell"]))
    atoms = list(LIF)
    if kind == "nan_position":
        i, j = draw(st.integers(0, 1)), draw(st.integers(0, 2))
        pos = list(atoms[i][1])
        pos[j] = float("nan")
        atoms[i] = (atoms[i][0], tuple(pos))
        return kind, {"atoms": atoms}, "non_finite"
    if kind == "zero_atoms":
        return kind, {"atoms": []}, "no_atoms"
    if kind == "dummy_x":
        at = tuple(draw(st.tuples(finite, finite, finite)))
        return kind, {"atoms": atoms + [("X", at)]}, "dummy_count"
    if kind == "coplanar_cell":
        t = draw(st.floats(min_value=0.5, max_value=2.0))
        return kind, {"lattice": f"4 0 0 0 4 0 {4 * t!r} {4 * (1 - t)!r} 0"}, "degenerate_cell"
    if kind == "zero_cell":
        return kind, {"lattice": "0 0 0 0 0 0 0 0 0"}, "degenerate_cell"
    if kind == "inf_cell":
        return kind, {"lattice": "inf 0 0 0 4 0 0 0 4"}, "non_finite"
    if kind == "negative_barrier":
        which = draw(st.integers(0, 2))
        e = [0.4, 0.5, 0.6]
        e[which] = -draw(st.floats(min_value=2e-6, max_value=10.0))
        return kind, {"energies": e}, "negative_barrier"
    if kind == "nan_barrier":
        e = [0.4, 0.5, 0.6]
        e[draw(st.integers(0, 2))] = float("nan")
        return kind, {"energies": e}, "non_finite"
    if kind == "chemsys_mismatch":
        other = draw(st.sampled_from(["Li", "F", "Li-O", "F-Li-Na", "Cl-Li"]))
        return kind, {"chemsys": other}, "chemsys_mismatch"
    return kind, {"chemsys": "<svg onload=alert(1)>"}, "chemsys_mismatch"


@SETTINGS
@given(bvel_attack())
def test_bvel13k_attacks_are_refused_naming_the_frame(tmp_path, attack):
    kind, edit, reason = attack
    work = tmp_path / f"w{abs(hash(repr(attack)))}"
    try:
        err = _refusal("BVEL13k", _bvel(work, edit), work / "out")
        assert err.reason == reason, (kind, str(err))
        assert str(err).startswith("BVEL13k_train.xyz:1"), str(err)  # file:line of the frame
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("value, ok", [(-5e-7, True), (-0.0, True), (0.0, True), (-2e-6, False), (-0.3, False)])
def test_barrier_tolerance_is_1e_6_ev(tmp_path, value, ok):
    folder = _bvel(tmp_path, {"energies": [value, 0.5, 0.6]})
    if ok:
        _import("BVEL13k", folder, tmp_path / "out")
    else:
        assert _refusal("BVEL13k", folder, tmp_path / "out").reason == "negative_barrier"


def test_inf_barrier_is_still_allowed_where_the_card_says_so(tmp_path):
    _import("BVEL13k", _bvel(tmp_path, {"energies": [0.4, 0.5, float("inf")]}), tmp_path / "out")
    with pytest.raises(DataFormatError) as exc:
        _import("BVEL13k", _bvel(tmp_path / "b", {"energies": [0.4, 0.5, float("-inf")]}), tmp_path / "out2")
    assert exc.value.reason == "non_finite"


# --------------------------------------------------------------------------- nebBVSE122k: the count of X


def _neb_bvse(root: Path, n_x: int) -> Path:
    folder = root / "nebBVSE122k"
    folder.mkdir(parents=True)
    index = ["material_id,chemsys,_split,em,edge_id"]
    for k, split in enumerate(("train", "val", "test")):
        count = n_x if split == "train" else 1
        atoms = list(LIF) + [("X", (1.0 + 0.1 * j, 1.0, 1.0)) for j in range(count)]
        edge = f"mp-{k}_0_1_0_0_0"
        info = f"edge_id={edge} material_id=mp-{k} em=0.3"
        (folder / f"nebBVSE122k_{split}.xyz").write_text(_frame(atoms, info))
        index.append(f"mp-{k},F-Li,{split},0.3,{edge}")
    (folder / "nebBVSE122k_index.csv").write_text("\n".join(index) + "\n")
    return folder


@SETTINGS
@given(st.integers(0, 4))
def test_nebbvse122k_hops_carry_exactly_one_x(tmp_path, n_x):
    work = tmp_path / f"x{n_x}"
    try:
        folder = _neb_bvse(work, n_x)
        if n_x == 1:
            _import("nebBVSE122k", folder, work / "out")
        else:
            err = _refusal("nebBVSE122k", folder, work / "out")
            assert err.reason == "dummy_count" and str(err).startswith("nebBVSE122k_train.xyz:1")
            assert f"holds {n_x} dummy atoms" in str(err)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- MPLiTrj: per-atom widths


def _mplitrj(root: Path, forces_width: int, energy: str = "-10.5", natoms: int = 2) -> Path:
    folder = root / "MPLiTrj"
    folder.mkdir(parents=True)
    for split in ("train", "val", "test"):
        width = forces_width if split == "train" else 3
        props = f"species:S:1:pos:R:3:forces:R:{width}"
        atoms = [(sym, pos + tuple(0.01 * (i + 1) for i in range(width)))
                 for sym, pos in (LIF * natoms)[:natoms]]
        stress = "0.001 0 0 0 0.001 0 0 0 0.001"
        info = f'energy={energy if split == "train" else "-10.5"} stress="{stress}"'
        (folder / f"MPLiTrj_{split}.xyz").write_text(_frame(atoms, info, props=props))
    return folder


@SETTINGS
@given(st.integers(1, 9), st.integers(2, 6))
def test_forces_declared_with_the_wrong_width_are_refused(tmp_path, width, natoms):
    work = tmp_path / f"f{width}-{natoms}"
    try:
        folder = _mplitrj(work, width, natoms=natoms)
        if width == 3:
            _import("MPLiTrj", folder, work / "out")
            return
        err = _refusal("MPLiTrj", folder, work / "out")
        assert err.reason == "bad_shape" and "forces" in str(err), str(err)
        assert str(err).startswith("MPLiTrj_train.xyz:1")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_a_frame_without_energy_names_the_frame(tmp_path):
    folder = _mplitrj(tmp_path, 3)
    text = (folder / "MPLiTrj_train.xyz").read_text()
    (folder / "MPLiTrj_train.xyz").write_text(re.sub(r"energy=\S+ ", "", text, count=1))
    err = _refusal("MPLiTrj", folder, tmp_path / "out")
    assert err.reason == "missing_value" and str(err).startswith("MPLiTrj_train.xyz:1: energy is missing")


@pytest.mark.parametrize("energy", ["nan", "inf", "-inf"])
def test_non_finite_energy_is_refused(tmp_path, energy):
    err = _refusal("MPLiTrj", _mplitrj(tmp_path, 3, energy=energy), tmp_path / "out")
    assert err.reason == "non_finite" and "energy" in str(err)


# --------------------------------------------------------------------------- nebDFT2k: bands


@pytest.fixture(scope="module")
def dft_release(tmp_path_factory):
    from litraj_data.testing import write_release

    root = tmp_path_factory.mktemp("dft")
    return write_release("nebDFT2k", root, {"train": 2, "val": 1, "test": 1}, make_zip=False)


def _edit_dft(release: Path, work: Path, attack: str) -> Path:
    folder = work / "nebDFT2k"
    shutil.copytree(release, folder)
    index = (folder / "nebDFT2k_index.csv").read_text().splitlines()
    edge = index[1].split(",")[1]
    relaxed = folder / f"{edge}_relaxed.xyz"
    text = relaxed.read_text()
    if attack == "image_with_other_atoms":
        # the second image loses its last atom
        frames = re.split(r"(?m)^(?=\d+\n)", text)
        frames = [f for f in frames if f]
        lines = frames[1].splitlines()
        lines[0] = str(int(lines[0]) - 1)
        frames[1] = "\n".join(lines[:-1]) + "\n"
        relaxed.write_text("".join(frames))
    elif attack == "two_images":
        frames = [f for f in re.split(r"(?m)^(?=\d+\n)", text) if f]
        relaxed.write_text(frames[0] + frames[-1])
        init = folder / f"{edge}_init.xyz"
        frames = [f for f in re.split(r"(?m)^(?=\d+\n)", init.read_text()) if f]
        init.write_text(frames[0] + frames[-1])
    elif attack == "forces_width":
        relaxed.write_text(text.replace("forces:R:3", "forces:R:2").replace("\n", "\n", 1))
        # drop the last force component of each atom line so the declared width parses
        lines = relaxed.read_text().splitlines()
        out = []
        for line in lines:
            parts = line.split()
            out.append(" ".join(parts[:-1]) if len(parts) == 7 else line)
        relaxed.write_text("\n".join(out) + "\n")
    elif attack == "negative_em_dft":
        cols = index[1].split(",")
        cols[5] = "-0.25"
        index[1] = ",".join(cols)
        (folder / "nebDFT2k_index.csv").write_text("\n".join(index) + "\n")
    elif attack == "x_in_band":
        frames = [f for f in re.split(r"(?m)^(?=\d+\n)", text) if f]
        fixed = []
        for f in frames:
            lines = f.splitlines()
            lines[2] = "X" + lines[2][lines[2].index(" "):]
            fixed.append("\n".join(lines) + "\n")
        relaxed.write_text("".join(fixed))
        init = folder / f"{edge}_init.xyz"
        frames = [f for f in re.split(r"(?m)^(?=\d+\n)", init.read_text()) if f]
        fixed = []
        for f in frames:
            lines = f.splitlines()
            lines[2] = "X" + lines[2][lines[2].index(" "):]
            fixed.append("\n".join(lines) + "\n")
        init.write_text("".join(fixed))
    elif attack == "centroid_without_x":
        cen = folder / "nebDFT2k_centroids.xyz"
        frames = [f for f in re.split(r"(?m)^(?=\d+\n)", cen.read_text()) if f]
        lines = frames[0].splitlines()
        lines[0] = str(int(lines[0]) - 1)
        frames[0] = "\n".join(l for l in lines if not l.startswith("X ")) + "\n"
        cen.write_text("".join(frames))
    return folder


DFT_ATTACKS = {
    "image_with_other_atoms": "bad_band",
    "two_images": "bad_band",
    "forces_width": "bad_shape",
    "negative_em_dft": "negative_barrier",
    "x_in_band": "dummy_count",
    "centroid_without_x": "dummy_count",
}


def test_the_clean_nebdft2k_release_imports(dft_release, tmp_path):
    _import("nebDFT2k", dft_release, tmp_path / "out")


@pytest.mark.parametrize("attack", sorted(DFT_ATTACKS))
def test_nebdft2k_band_attacks_are_refused(dft_release, tmp_path, attack):
    err = _refusal("nebDFT2k", _edit_dft(dft_release, tmp_path, attack), tmp_path / "out")
    assert err.reason == DFT_ATTACKS[attack], str(err)
    assert "nebDFT2k_index.csv:2" in str(err) or "_relaxed.xyz" in str(err) or "_init.xyz" in str(err), str(err)


# --------------------------------------------------------------------------- the rules are card data


def test_rules_are_validated_as_card_data():
    from importlib import resources

    import yaml

    raw = yaml.safe_load(resources.files("litraj_data.registry").joinpath("datasets/BVEL13k.yaml").read_text())
    assert get_config("BVEL13k").rules["dummy_atoms"] == 0
    assert get_config("nebBVSE122k").rules["dummy_atoms"] == 1
    bad = dict(raw, rules={"dummy_atomz": 0})
    with pytest.raises(RegistryError, match="dummy_atomz"):
        parse_card(bad, "BVEL13k.yaml")
    bad = dict(raw, rules={"non_negative": ["E_4D"]})
    with pytest.raises(RegistryError, match="E_4D"):
        parse_card(bad, "BVEL13k.yaml")
    bad = dict(raw, rules={"barrier_tolerance": -1})
    with pytest.raises(RegistryError, match="barrier_tolerance"):
        parse_card(bad, "BVEL13k.yaml")


def test_check_row_is_the_one_check_and_names_where():
    config = get_config("MPLiTrj")
    row = {"config_id": "run7:final:0:1", "numbers": np.array([3, 9]), "positions": np.zeros((2, 3)),
           "cell": np.eye(3) * 4, "pbc": [True] * 3,
           "energy": -1.0, "forces": np.zeros((1, 3))}
    with pytest.raises(DataFormatError, match=r"^run7/OUTCAR: forces has shape \(1, 3\)") as exc:
        check_row(row, config, "run7/OUTCAR")
    assert exc.value.reason == "bad_shape"
    row["forces"] = np.zeros((2, 3))
    check_row(row, config, "run7/OUTCAR")
    row["pbc"] = [True, True, False]
    with pytest.raises(DataFormatError) as exc:
        check_row(row, config, "x")
    assert exc.value.reason == "not_periodic"


# --------------------------------------------------------------------------- index rows: any edit


@st.composite
def index_edit(draw):
    """A line of BVEL13k_index.csv replaced by a drawn one (fields, NaN, signs, junk, long)."""
    line = draw(st.integers(1, 3))  # 1..3 are data rows (0 is the header)
    field = st.one_of(st.sampled_from(["", "nan", "NaN", "-inf", "inf", "-0.5", "1e400", "mp-0", "mp-1", "F-Li",
                                       "Li-F", "train", "test", "val", '"a,b"', "<b>x</b>", "0.4"]),
                      st.text(alphabet="0123456789.-eE", max_size=8),
                      st.text(max_size=6).filter(lambda t: "\n" not in t and "\r" not in t))
    fields = draw(st.lists(field, min_size=0, max_size=8))
    return line, ",".join(fields)


@SETTINGS
@given(index_edit())
def test_any_index_row_imports_or_is_refused_with_a_reason(tmp_path, edit):
    line, text = edit
    work = tmp_path / f"i{abs(hash(edit))}"
    try:
        folder = _bvel(work, {})
        index = folder / "BVEL13k_index.csv"
        lines = index.read_text().splitlines()
        lines[line] = text
        index.write_text("\n".join(lines) + "\n")
        try:
            _import("BVEL13k", folder, work / "out")
        except DataFormatError as exc:  # anything else is a traceback for the user
            assert exc.reason not in ("bad_format", "error"), str(exc)
            assert not (work / "out" / "BVEL13k" / "1.0.0").exists()
    finally:
        shutil.rmtree(work, ignore_errors=True)
