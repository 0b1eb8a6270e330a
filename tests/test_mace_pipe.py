"""The MACE pipe (mace_server.py <-> MacePipeCalculator) without mace: a stand-in ``mace`` package.

The stand-in's ``MACECalculator`` is ASE's EMT, so the numbers that cross the JSON pipe can be
compared with EMT run here, bit for bit. The real MACE runs in tests/test_mace_real.py (slow).
"""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from ase.build import bulk

from litraj_data.leaderboard.reference.umlip.errors import ModelUnavailable
from litraj_data.leaderboard.reference.umlip.mace_pipe import MacePipeCalculator, MaceServer, mace_python

STAND_IN = '''
__version__ = "0.0-standin"
'''
CALCULATORS = '''
from ase.calculators.emt import EMT


class MACECalculator(EMT):
    def __init__(self, model_paths, device="cpu", default_dtype="float64"):
        if open(model_paths).read() != "stand-in model":
            raise ValueError(f"{model_paths}: not a stand-in model")
        print("a banner on stdout must not reach the protocol")
        super().__init__()
'''


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "mace"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(STAND_IN)
    (pkg / "calculators.py").write_text(textwrap.dedent(CALCULATORS))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    model = tmp_path / "tiny.model"
    model.write_text("stand-in model")
    return model


def _structure():
    a = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    a.rattle(0.05, seed=3)
    return a


def test_pipe_gives_the_calculators_numbers_exactly(stand_in):
    from ase.calculators.emt import EMT

    server = MaceServer(sys.executable, str(stand_in))
    try:
        assert server.mace_version == "0.0-standin"
        a, ref = _structure(), _structure()
        a.calc, ref.calc = MacePipeCalculator(server), EMT()
        assert a.get_potential_energy() == ref.get_potential_energy()  # repr floats: exact
        assert np.array_equal(a.get_forces(), ref.get_forces())
        assert np.array_equal(a.get_stress(), ref.get_stress())
        a.positions[0] += 0.1  # ASE's cache notices the move: a new request
        ref.positions[0] += 0.1
        assert a.get_potential_energy() == ref.get_potential_energy()
        with pytest.raises(RuntimeError, match="MACE server"):
            server.compute([29, 29], [[0, 0, 0]], np.eye(3) * 5, [True] * 3)  # 2 numbers, 1 position
        assert a.get_potential_energy() == ref.get_potential_energy()  # still serving
    finally:
        server.close()
    assert server._proc.poll() == 0  # end of input ended it cleanly


def test_pipe_refuses_a_model_the_server_cannot_load(stand_in, tmp_path):
    bad = tmp_path / "other.model"
    bad.write_text("something else")
    with pytest.raises(ModelUnavailable) as info:
        MaceServer(sys.executable, str(bad))
    assert info.value.reason == "weights_invalid" and "not a stand-in model" in str(info.value)


def test_pipe_without_mace_says_model_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # no stand-in: this env has no mace either
    if __import__("importlib").util.find_spec("mace") is not None:
        pytest.skip("mace is importable in this env")
    model = tmp_path / "x.model"
    model.write_text("x")
    with pytest.raises(ModelUnavailable) as info:
        MaceServer(sys.executable, str(model))
    assert info.value.reason == "model_not_installed"


def test_mace_python_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("LITRAJ_MACE_PYTHON", raising=False)
    assert mace_python() is None
    monkeypatch.setenv("LITRAJ_MACE_PYTHON", str(tmp_path / "nope"))
    with pytest.raises(ModelUnavailable) as info:
        mace_python()
    assert info.value.reason == "model_not_installed" and "LITRAJ_MACE_PYTHON" in str(info.value)
    monkeypatch.setenv("LITRAJ_MACE_PYTHON", sys.executable)
    assert mace_python() == sys.executable


def test_untrusted_model_file_never_reaches_the_server(stand_in, tmp_path, monkeypatch):
    """build_mace checks the file the restricted way before any process starts."""
    import pickle

    from litraj_data.leaderboard.reference.umlip.builders_mlip import build_mace
    from litraj_data.trust import UnsafeWeightsError

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    hostile = tmp_path / "hostile.model"
    hostile.write_bytes(pickle.dumps(Evil()))
    monkeypatch.setenv("LITRAJ_MACE_PYTHON", sys.executable)
    started = []
    monkeypatch.setattr("litraj_data.leaderboard.reference.umlip.mace_pipe.MaceServer.__init__",
                        lambda self, *a, **k: started.append(a))
    with pytest.raises(UnsafeWeightsError):
        build_mace(str(hostile), "cpu", "float64", trusted=False)
    assert started == []
