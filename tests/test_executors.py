"""One scale-out rule for builders: local processes or a Dask cluster (``--scheduler``)."""
from __future__ import annotations

import hashlib
import operator
from functools import partial
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from litraj_data.executors import dask_client, map_unordered


def _shards(version_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(version_dir.glob("*.arrow"))}


def _rocksalt(a: float, anion: str) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Li", anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.mark.parametrize("workers", [1, 2])
def test_map_unordered_local_gives_every_index_once(workers):
    got = dict(map_unordered(partial(operator.mul, 3), range(20), workers=workers, in_flight=3))
    assert got == {i: 3 * i for i in range(20)}


def test_map_unordered_rejects_zero_workers():
    with pytest.raises(ValueError, match="workers"):
        list(map_unordered(abs, [1], workers=0))


def test_unreachable_scheduler_fails_fast():
    pytest.importorskip("distributed")
    from litraj_data.errors import SchedulerError

    with pytest.raises(SchedulerError, match="cannot reach the Dask scheduler") as exc:
        dask_client("tcp://127.0.0.1:1")
    assert exc.value.reason == "scheduler_unreachable"


def test_builder_cli_reports_an_unreachable_scheduler(tmp_path, capsys):
    pytest.importorskip("distributed")
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.cli import main

    cif = tmp_path / "LiF.cif"
    get_sample_structure("sample-LiF-225").to(filename=str(cif))
    rc = main(["build", "BVEL13k", "--structures", str(cif), "--out", str(tmp_path / "out"),
               "--scheduler", "tcp://127.0.0.1:1"])
    assert rc == 1
    assert "scheduler_unreachable" in capsys.readouterr().err
    assert not (tmp_path / "out" / "BVEL13k").exists()  # nothing half-built is published


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cl:
        yield cl


def test_map_unordered_on_dask(cluster):
    got = dict(map_unordered(partial(operator.mul, 5), range(12), scheduler=cluster.scheduler_address,
                             in_flight=4))
    assert got == {i: 5 * i for i in range(12)}


def test_bvel13k_builder_on_dask_equals_local(tmp_path, cluster):
    from litraj_data.builders.bvel13k import build_bvel13k

    structures = [("LiF", _rocksalt(4.03, "F")), ("LiCl", _rocksalt(5.13, "Cl")), ("LiBr", _rocksalt(5.50, "Br"))]
    splits = {"LiF": "train", "LiCl": "val", "LiBr": "test"}
    local = build_bvel13k(structures, tmp_path / "local", splits=splits, progress=False, resolution=0.5, k=None)
    dask = build_bvel13k(structures, tmp_path / "dask", splits=splits, scheduler=cluster.scheduler_address,
                         progress=False, resolution=0.5, k=None)
    assert _shards(local) == _shards(dask) and len(_shards(dask)) == 3


def test_raw_builder_on_dask_equals_local(tmp_path_factory, tmp_path, cluster):
    """nebDFT2k from generated raw hop runs through the cluster: the same shards as locally."""
    from fixtures_raw.make_raw_runs import cached_raw_runs

    from litraj_data.builders.raw_neb import build_from_raw

    raw = cached_raw_runs(tmp_path_factory.getbasetemp())
    a = build_from_raw("nebDFT2k", raw, tmp_path / "local", include_unconverged=True)
    b = build_from_raw("nebDFT2k", raw, tmp_path / "dask", include_unconverged=True,
                       scheduler=cluster.scheduler_address)
    assert a["rows"] == b["rows"] and a["failures"] == b["failures"] and sum(a["rows"].values()) == 3
    assert _shards(Path(a["path"])) == _shards(Path(b["path"]))


def _dies_on_three(x: int) -> int:
    import os

    if x == 3:
        os._exit(5)  # a segfault / OOM kill as the pool sees it
    if x == 5:
        raise ValueError("five is bad")
    return 10 * x


def _as_record(item: int, exc: BaseException) -> tuple[str, int, str]:
    return ("failed", item, type(exc).__name__)


@pytest.mark.parametrize("start_method", [None, "spawn"])
def test_dead_worker_becomes_a_record_and_the_rest_still_run(start_method):
    got = dict(map_unordered(_dies_on_three, range(10), workers=2, in_flight=4, on_error=_as_record,
                             start_method=start_method, threads_per_worker=1))
    assert got.pop(3) == ("failed", 3, "BrokenProcessPool")  # only the item its dead worker held
    assert got.pop(5) == ("failed", 5, "ValueError")
    assert got == {i: 10 * i for i in range(10) if i not in (3, 5)}


def test_without_on_error_a_dead_worker_still_raises():
    from concurrent.futures.process import BrokenProcessPool

    with pytest.raises(BrokenProcessPool):
        list(map_unordered(_dies_on_three, range(5), workers=2))  # 3 kills its worker; no 5 to race


def test_on_error_in_this_process():
    got = dict(map_unordered(_dies_on_three, [1, 5, 2], workers=1, on_error=_as_record))
    assert got == {0: 10, 1: ("failed", 5, "ValueError"), 2: 20}


def test_on_error_on_dask(cluster):
    got = dict(map_unordered(_dies_on_three, [1, 5, 2], scheduler=cluster.scheduler_address, on_error=_as_record))
    assert got == {0: 10, 1: ("failed", 5, "ValueError"), 2: 20}
