"""Shared fixtures: an isolated cache per test and archives in the official layout."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache and no accidental network."""
    cache = tmp_path / "litraj-cache"
    monkeypatch.setenv("LITRAJ_CACHE", str(cache))
    monkeypatch.delenv("LITRAJ_OFFLINE", raising=False)
    return cache


@pytest.fixture(scope="session")
def release_archives(tmp_path_factory):
    """All five datasets written in the official layout (zip + unpacked folder)."""
    from litraj_data.testing import write_release

    root = tmp_path_factory.mktemp("release")
    counts = {"train": 6, "val": 3, "test": 2}
    return {name: write_release(name, root, counts, seed=7)
            for name in ("BVEL13k", "nebBVSE122k", "nebDFT2k", "MPLiTrj", "MPLiTrj_subsample")}


@pytest.fixture(scope="session")
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip("the optional external test data (the project's shared fixture folder) is absent")
    return SHARED


@pytest.fixture(scope="session")
def spinel_built(tmp_path_factory) -> Path:
    """MPLiTrj rows built from the real VASP NEB fixture (one hop: every row in train)."""
    spinel = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "vasp_neb"
    if not spinel.is_dir():
        pytest.skip("the optional real VASP NEB fixture (shared fixture folder, vasp_neb) is absent")
    from litraj_data.builders.raw_neb import build_from_raw

    out = tmp_path_factory.mktemp("spinel")
    build_from_raw("MPLiTrj", spinel, out)
    return out


def quiet_import(*args, **kwargs):
    from litraj_data.builders.from_release import import_release

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_release(*args, **kwargs)
