"""The raw readers' native band-file parser gives ase.io.read's frames exactly, and hands anything unusual to ASE."""
from __future__ import annotations

import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixAtoms, FixCartesian

from litraj_data.builders.raw_runs.band_xyz import NotPlain, parse_band_xyz, read_band_xyz
from litraj_data.errors import DataFormatError

sys.path.insert(0, str(Path(__file__).parent))
from fixtures_raw.make_raw_runs import cached_raw_runs  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
#: what ase.io.read raises on a bad extxyz (XYZError is an OSError; UnicodeDecodeError a ValueError)
ASE_READ_ERRORS = (OSError, ValueError, KeyError, IndexError, StopIteration)


def _same_value(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN == NaN here


def assert_same_atoms(fast: Atoms, ref: Atoms, where: str) -> None:
    """Everything the readers (and users) can see of a frame: arrays, info, cell, pbc, constraints, results."""
    assert np.array_equal(fast.numbers, ref.numbers), where
    assert np.array_equal(fast.positions, ref.positions), where
    assert np.array_equal(fast.cell.array, ref.cell.array), where
    assert np.array_equal(fast.pbc, ref.pbc), where
    assert sorted(fast.arrays) == sorted(ref.arrays), where
    for k in ref.arrays:
        assert _same_value(fast.arrays[k], ref.arrays[k]), (where, k)
    assert list(fast.info) == list(ref.info), where
    for k in ref.info:
        assert _same_value(fast.info[k], ref.info[k]), (where, k, fast.info[k], ref.info[k])
    assert [c.todict() for c in fast.constraints] == [c.todict() for c in ref.constraints], where
    assert type(fast.calc) is type(ref.calc), where
    if ref.calc is not None:
        assert list(fast.calc.results) == list(ref.calc.results), where
        for k, v in ref.calc.results.items():
            assert _same_value(fast.calc.results[k], v), (where, k)
        assert fast.get_potential_energy() == ref.get_potential_energy()
        if "forces" in ref.calc.results:
            assert np.array_equal(fast.get_forces(), ref.get_forces())  # constraints applied alike


def _compare_file(path: Path) -> int:
    ref = ase.io.read(path, index=":", format="extxyz")
    fast = parse_band_xyz(path.read_text())  # the native path itself, not a fallback
    assert len(fast) == len(ref)
    for k, (a, b) in enumerate(zip(fast, ref)):
        assert_same_atoms(a, b, f"{path} frame {k}")
    return len(ref)


def _frames(seed: int, n: int = 4) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = Atoms(["Li", "O", "Co", "Li", "Fe", "P", "O", "O"],
                  positions=rng.normal(scale=3.0, size=(8, 3)) * 10.0 ** rng.uniform(-3, 2),
                  cell=rng.normal(scale=5.0, size=(3, 3)), pbc=[True, k % 2 == 0, True])
        a.set_constraint(FixAtoms(indices=[1, 2, 4]))
        a.arrays["oxi_states"] = rng.integers(-3, 4, 8).astype(float)
        a.arrays["tags_i"] = rng.integers(-5, 5, 8)
        a.info.update(step=k, label="image", flag=bool(k % 2), temperature=float(rng.uniform(0, 1000)),
                      vec=rng.normal(size=3), ivec=rng.integers(0, 9, 4), tiny=1e-300, big=-1.5e300)
        results = dict(energy=float(rng.normal(-100, 50)), free_energy=float(rng.normal(-100, 50)),
                       forces=rng.normal(size=(8, 3)), stress=rng.normal(size=6))
        a.calc = SinglePointCalculator(a, **results)
        out.append(a)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_generated_files_read_as_ase_reads_them(tmp_path, seed):
    p = tmp_path / "traj_final.xyz"
    ase.io.write(p, _frames(seed), format="extxyz")
    assert _compare_file(p) == 4
    for k, (a, b) in enumerate(zip(read_band_xyz(p), ase.io.read(p, index=":"))):
        assert_same_atoms(a, b, f"frame {k}")


def test_frames_without_results_and_cartesian_masks(tmp_path):
    a = Atoms("Li2O", positions=[[0, 0, 0], [1.5, 0.1, 0], [0.7, 0.7, 0.7]], cell=np.eye(3) * 4.0, pbc=True)
    a.set_constraint([FixCartesian(0, mask=[True, False, True])])
    b = a.copy()
    b.set_constraint()  # no move_mask column at all
    p = tmp_path / "traj_init.xyz"
    ase.io.write(p, [a], format="extxyz")
    assert _compare_file(p) == 1
    ase.io.write(p, [b, b], format="extxyz")
    assert _compare_file(p) == 2
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))  # written on Windows
    assert _compare_file(p) == 2


def test_the_generated_authors_runs_read_as_ase_reads_them(tmp_path_factory):
    root = cached_raw_runs(tmp_path_factory.getbasetemp())
    files = sorted(root.rglob("traj_*.xyz"))
    assert len(files) == 6
    assert sum(_compare_file(f) for f in files) == 30


def test_shared_fixture_band_files_when_present():
    files = sorted(SHARED.rglob("traj_*.xyz")) if SHARED.is_dir() else []
    if not files:
        pytest.skip("no authors' band files among the shared fixtures")
    for f in files:
        _compare_file(f)


UNUSUAL = {
    "escaped quote": 'note="a \\"b\\"" ',
    "bracket value": "vals=[1,2,3] ",
    "key without value": "have_energy ",
    "json value": 'meta="_JSON {\\"a\\": 1}" ',
    "empty value": 'empty="" ',
}


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_unusual_comment_lines_go_to_ase(tmp_path, name):
    p = tmp_path / "band.xyz"
    ase.io.write(p, _frames(0, 2), format="extxyz")
    lines = p.read_text().split("\n")
    lines[1] = UNUSUAL[name] + lines[1]
    p.write_text("\n".join(lines))
    with pytest.raises(NotPlain):
        parse_band_xyz(p.read_text())
    try:
        ref = ase.io.read(p, index=":", format="extxyz")
    except ASE_READ_ERRORS:  # ASE refuses it: ours must refuse it with a named error
        with pytest.raises(DataFormatError):
            read_band_xyz(p)
        return
    got = read_band_xyz(p)  # falls back: ASE's frames
    for k, (a, b) in enumerate(zip(got, ref)):
        assert_same_atoms(a, b, f"{name} frame {k}")


def test_cut_and_odd_files_give_ase_result_or_named_error(tmp_path):
    p = tmp_path / "traj_final.xyz"
    ase.io.write(p, _frames(1, 3), format="extxyz")
    full = p.read_text()
    lines = full.split("\n")
    cases = {
        "cut mid-frame": "\n".join(lines[:-4]) + "\n",
        "extra column": full.replace("\nLi ", "\nLi 1.0 ", 1),
        "blank line then more": "\n".join(lines[:12]) + "\n\n" + "\n".join(lines[12:]),
        "VEC line": "\n".join(lines[:10]) + "\nVEC1 1 0 0\n" + "\n".join(lines[10:]),
        "bad count": "x\n" + full,
        "unknown element": full.replace("\nCo ", "\nQq ", 1),
        "logical t": "\n".join(lines[:2] + [lines[2].replace(" T ", " t ").replace(" F ", " f ")] + lines[3:]),
    }
    for name, text in cases.items():
        p.write_text(text)
        with pytest.raises(NotPlain):
            parse_band_xyz(text)
        try:
            ref = ase.io.read(p, index=":", format="extxyz")
        except ASE_READ_ERRORS:  # ASE's error becomes a named DataFormatError on ASE's path
            with pytest.raises(DataFormatError) as err:
                read_band_xyz(p)
            assert err.value.reason in ("truncated", "read_error", "empty"), name
            continue
        got = read_band_xyz(p)
        assert len(got) == len(ref), name
        for k, (a, b) in enumerate(zip(got, ref)):
            assert_same_atoms(a, b, f"{name} frame {k}")


def test_ulm_and_missing_files_go_to_ase(tmp_path):
    p = tmp_path / "source.xyz"
    ase.io.write(p, _frames(2, 2), format="traj")  # a trajectory under an .xyz name, as the authors' FIRE wrote
    got = read_band_xyz(p)
    for k, (a, b) in enumerate(zip(got, ase.io.read(p, index=":", format="traj"))):
        assert_same_atoms(a, b, f"ulm frame {k}")
    with pytest.raises(DataFormatError) as err:
        read_band_xyz(tmp_path / "absent.xyz")
    assert err.value.reason == "missing_file"
    bad = tmp_path / "latin1.xyz"
    bad.write_bytes(b"1\ncomment=\xe9t\xe9 Properties=species:S:1:pos:R:3\nLi 0 0 0\n")  # not UTF-8: ASE's path
    try:
        ref = ase.io.read(bad, index=":", format="extxyz")
    except UnicodeDecodeError:
        with pytest.raises(DataFormatError):
            read_band_xyz(bad)
    else:  # a locale that decodes it: the same frames
        assert_same_atoms(read_band_xyz(bad)[0], ref[0], "latin-1")


def _same_fields(a, b, where: str) -> None:
    """Dataclass fields equal, arrays by value and dtype."""
    from dataclasses import fields, is_dataclass

    items = [(f.name, getattr(a, f.name), getattr(b, f.name)) for f in fields(a)] if is_dataclass(a) \
        else list(zip(sorted(vars(a)), [vars(a)[k] for k in sorted(vars(a))], [vars(b)[k] for k in sorted(vars(a))]))
    for name, x, y in items:
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray), (where, name)
            assert x.dtype == y.dtype and np.array_equal(x, y), (where, name)
        else:
            assert x == y, (where, name, x, y)


def test_authors_reader_gives_what_its_ase_path_gives(tmp_path_factory, monkeypatch):
    """Bands, convergence records and every configuration equal those of the all-ASE path."""
    from litraj_data.builders.raw_runs import authors, convergence
    from litraj_data.builders.raw_runs.files import read_frames

    root = cached_raw_runs(tmp_path_factory.getbasetemp())
    runs = sorted(p for p in root.iterdir() if p.name.endswith(".neb"))

    def read_all():
        out = []
        for p in runs:
            hop = authors.read_authors_run(p)
            out.append((hop, list(hop.iter_configs())))
        return out

    fast = read_all()
    monkeypatch.setattr(authors, "read_band_xyz", read_frames)  # ASE's extxyz parser
    monkeypatch.setattr(authors, "iter_traj_frames", lambda p: iter(read_frames(p)))  # ASE's Trajectory
    monkeypatch.setattr(convergence, "_StoredResults", SinglePointCalculator)  # ASE's calculator
    slow = read_all()
    n = 0
    for (hf, cf), (hs, cs) in zip(fast, slow):
        for part in ("initial", "final", "convergence"):
            _same_fields(getattr(hf, part), getattr(hs, part), f"{hf.hop_id} {part}")
        assert len(cf) == len(cs)
        for k, (a, b) in enumerate(zip(cf, cs)):
            _same_fields(a, b, f"{hf.hop_id} config {k}")
        n += len(cf)
    assert n > 50
