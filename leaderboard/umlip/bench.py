"""``litraj bench umlip``: a uMLIP-NEB submission for the ``nebDFT2k/umlip_neb`` task.

Output::

    OUT/bands/{edge_id}.xyz   optimised bands (the submission; failed.txt declares failures)
    OUT/metadata.yaml         submission metadata (model, version, training data, protocol)
    OUT/results.jsonl         per-hop records (barrier, converged, steps, fmax, wall time, error)
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

import yaml

from litraj_data.io import atomic_write_text
from litraj_data.leaderboard.neb.config import NEBConfig
from litraj_data.leaderboard.neb.harness import BANDS, read_records, run_hops
from litraj_data.leaderboard.neb.hops import hops_from_dataset
from litraj_data.leaderboard.umlip.runners import UMLIPProvider

TRAINING_DATA = {"chgnet": "MPtrj", "sevennet-0": "MPtrj", "mace-mp-0": "MPtrj", "m3gnet": "MPF.2021.2.8"}
URLS = {"chgnet": "https://github.com/CederGroupHub/chgnet", "sevennet-0": "https://github.com/MDIL-SNU/SevenNet",
        "mace-mp-0": "https://github.com/ACEsuit/mace-mp", "m3gnet": "https://github.com/materialsvirtuallab/matgl"}


def task_of(dataset: str, split: str) -> str:
    """Leaderboard task a (dataset, split) run is scored on."""
    if dataset.lower() != "nebdft2k":
        raise ValueError(f"uMLIP-NEB bands are benchmarked on nebDFT2k, got {dataset!r}")
    return "nebDFT2k/umlip_neb_all" if split in ("all", None) else "nebDFT2k/umlip_neb"


def write_metadata(path: str | os.PathLike, provider: UMLIPProvider, task: str, config: NEBConfig,
                   split: str, authors: str | None = None) -> Path:
    """Write the submission metadata YAML atomically."""
    meta: dict[str, Any] = provider.metadata()
    meta.update(authors=authors, url=URLS.get(provider.spec.name), training_data=TRAINING_DATA.get(provider.spec.name),
                fine_tuned_on_litraj=False, hyperparameters={"neb": config.as_dict()},
                date=_dt.date.today().isoformat(), task=task, split=split)
    return atomic_write_text(path, yaml.safe_dump(meta, sort_keys=False))


def bench_umlip(provider: UMLIPProvider, out: str | os.PathLike, dataset: str = "nebDFT2k", split: str = "test",
                source: Any = None, limit: int | None = None, workers: int = 1, scheduler: Any = None,
                config: NEBConfig = NEBConfig(), cache_dir: Any = None, progress=None) -> dict[str, Any]:
    """Run the uMLIP-NEB protocol on a nebDFT2k split and write a leaderboard submission.

    Parameters
    ----------
    provider : UMLIPProvider
    out : path
        Output folder (resumable: finished hops are skipped on rerun).
    dataset, split, source, limit, cache_dir
        Which hops (as :func:`hops_from_dataset`).
    workers, scheduler
        Local worker processes or a Dask scheduler address.
    config : NEBConfig

    Returns
    -------
    dict
        ``task``, ``submission`` (band folder), ``metadata``, run counts and a barrier summary.
    """
    task = task_of(dataset, split)
    hops = hops_from_dataset(dataset, split=split, source=source, limit=limit, cache_dir=cache_dir)
    summary = run_hops(hops, provider, out, config, workers=workers, scheduler=scheduler, progress=progress)
    meta = write_metadata(Path(out) / "metadata.yaml", provider, task, config, split)
    records = {r["edge_id"]: r for r in read_records(out)}
    ok = [r for r in records.values() if r.get("error") is None and r.get("converged")]
    errs = [abs(r["barrier"] - r["em_dft"]) for r in ok if r.get("em_dft") is not None]
    summary.update(task=task, submission=str(Path(out) / BANDS), metadata=str(meta), n_hops=len(records),
                   n_converged=len(ok), mae_vs_dft=(sum(errs) / len(errs)) if errs else None)
    return summary
