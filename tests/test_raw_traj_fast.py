"""The authors' reader decodes ULM trajectories itself (builders/raw_runs/files.py::iter_traj_frames):
it must give what ``ase.io.Trajectory`` gives, and hand anything unusual to ASE."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixAtoms
from ase.io import Trajectory

from litraj_data.builders.raw_runs.common import constrained_forces, to_config
from litraj_data.builders.raw_runs.files import TrajFrame, iter_traj_frames, read_frames
from litraj_data.errors import DataFormatError


def _frames(n: int = 4, constraint: bool = True, stress: bool = True) -> list[Atoms]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        a = Atoms("Li2O", positions=rng.random((3, 3)) * 3, cell=np.diag([3.0, 3.1, 3.2]) + 0.1, pbc=True)
        if constraint:
            a.set_constraint(FixAtoms(indices=[1]))
        results = {"energy": -1.5 - i, "free_energy": -1.6 - i, "forces": rng.normal(size=(3, 3))}
        if stress:
            results["stress"] = rng.normal(size=6)
        a.calc = SinglePointCalculator(a, **results)
        out.append(a)
    return out


def _write(path: Path, frames: list[Atoms]) -> Path:
    with Trajectory(str(path), "w") as t:
        for a in frames:
            t.write(a)
    return path


def _same(c1, c2) -> None:
    for name in ("numbers", "positions", "cell", "pbc", "forces"):
        x, y = getattr(c1, name), getattr(c2, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert (c1.stress is None) == (c2.stress is None)
    if c1.stress is not None:
        assert np.array_equal(c1.stress, c2.stress)
    assert c1.energy == c2.energy and c1.extra == c2.extra


@pytest.mark.parametrize("constraint,stress", [(True, True), (False, False)])
def test_fast_frames_equal_ase_trajectory(tmp_path, constraint, stress):
    path = _write(tmp_path / "band_optim_step_0.traj", _frames(constraint=constraint, stress=stress))
    fast = list(iter_traj_frames(path))
    slow = read_frames(path)
    assert len(fast) == len(slow) and all(isinstance(f, TrajFrame) for f in fast)
    assert fast[0].numbers is fast[-1].numbers  # stored once: the same-system check runs once per file
    for i, (f, a) in enumerate(zip(fast, slow)):
        _same(to_config(f, "band", 0, i, "x"), to_config(a, "band", 0, i, "x"))
        assert np.array_equal(constrained_forces(f), a.get_forces())


def test_frame_without_results_goes_to_ase(tmp_path):
    frames = _frames(3)
    frames[1].calc = None
    path = _write(tmp_path / "s.traj", frames)
    got = list(iter_traj_frames(path))
    assert isinstance(got[0], TrajFrame) and all(isinstance(a, Atoms) for a in got[1:])
    assert [len(a.positions) for a in got] == [3, 3, 3]
    with pytest.raises(DataFormatError) as info:
        to_config(got[1], "band", 0, 1, "x")
    assert info.value.reason == "missing_energy"


def test_cut_and_missing_files_keep_their_reasons(tmp_path):
    path = _write(tmp_path / "s.traj", _frames(3))
    data = path.read_bytes()
    (tmp_path / "cut.traj").write_bytes(data[: len(data) // 2])
    for name, reasons in (("cut.traj", ("truncated", "read_error")), ("none.traj", ("missing_file",))):
        with pytest.raises(DataFormatError) as info:
            list(iter_traj_frames(tmp_path / name))
        assert info.value.reason in reasons
    (tmp_path / "empty.traj").write_bytes(b"")
    with pytest.raises(DataFormatError):
        list(iter_traj_frames(tmp_path / "empty.traj"))


def test_item_decoder_equals_ase_decode():
    import json

    from ase.io.jsonio import decode, encode

    from litraj_data.builders.raw_runs.files import _decode_item

    texts = [
        '{"pbc": [true, true, false], "numbers.": {"ndarray": [[3], "int64", 56]}, "cell": [[1.0, 0, 0], [0, 2, 0], '
        '[0, 0, 3]], "calculator.": {"name": "vasp", "parameters": {"encut": 520, "ldau_luj": {"Fe": {"L": 2}}}, '
        '"energy": -1.5}}',
        '{"parameters": {"1": "a", " -2 ": {"3": 4}}, "x": "1"}',  # digit keys: ASE turns them into ints
        encode({"when": __import__("datetime").datetime(2026, 12, 1, 10, 0, 0, 5), "z": 1 + 2j,
                "a": np.arange(4.0)}),
        '{"__ase_objtype__": "cell", "array": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}',
    ]
    for text in texts:
        ours, ref = _decode_item(text), decode(text, False)
        assert type(ours) is type(ref)
        assert repr(ours) == repr(ref), text
    assert _decode_item(texts[1]) == {"parameters": {1: "a", -2: {3: 4}}, "x": "1"}
    assert _decode_item(texts[0]) == json.loads(texts[0])


def test_neb_force_check_equals_ase_neb_with_single_point_calculators(tmp_path):
    from ase.mep import NEB

    from litraj_data.builders.raw_runs.convergence import ase_neb_force

    rng = np.random.default_rng(4)
    base = Atoms("Li2O2", positions=rng.uniform(0, 4, (4, 3)), cell=np.eye(3) * 5.0, pbc=True)
    images, energies, forces = [], [], []
    for k in range(5):
        a = base.copy()
        a.positions[0] += [0.4 * k, 0.05 * k * k, 0.0]
        a.set_constraint(FixAtoms(indices=[2, 3]))
        images.append(a)
        energies.append(float(np.sin(k)))
        forces.append(rng.normal(size=(4, 3)))
    band = []
    for a, e, f in zip(images, energies, forces):
        b = a.copy()
        b.calc = SinglePointCalculator(b, energy=e, forces=f)
        band.append(b)
    f = NEB(band, k=5.0, climb=True, method="improvedtangent").get_forces().reshape(3, -1, 3)
    expected = [float(np.linalg.norm(x, axis=1).max()) for x in f]
    assert ase_neb_force(images, np.array(energies), np.array(forces)) == expected
    assert all(a.calc is None for a in images)  # copies by default: the caller's images untouched
    own = [a.copy() for a in images]
    assert ase_neb_force(own, np.array(energies), np.array(forces), copy=False) == expected
