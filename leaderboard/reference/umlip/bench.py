"""``litraj bench umlip``: a uMLIP-NEB submission for the ``nebDFT2k/umlip_neb`` task.

Output::

    OUT/bands/{edge_id}.xyz   optimised bands (the submission; failed.txt declares failures)
    OUT/metadata.yaml         submission metadata (model, version, training data, protocol)
    OUT/results.jsonl         per-hop records (barrier, converged, steps, fmax, wall time, error)
"""
from __future__ import annotations

import copy
import datetime as _dt
import itertools
import os
import platform
from pathlib import Path
from typing import Any, Callable

import yaml

from litraj_data.io import atomic_write_text
from litraj_data.leaderboard.reference.neb.config import NEBConfig
from litraj_data.leaderboard.reference.neb.harness import BANDS, read_records, run_hops
from litraj_data.leaderboard.reference.neb.hops import hops_from_dataset
from litraj_data.leaderboard.reference.umlip.runners import UMLIPProvider

def task_of(dataset: str, split: str) -> str:
    """Leaderboard task a (dataset, split) run is scored on."""
    if dataset.lower() != "nebdft2k":
        raise ValueError(f"uMLIP-NEB bands are benchmarked on nebDFT2k, got {dataset!r}")
    return "nebDFT2k/umlip_neb_all" if split in ("all", None) else "nebDFT2k/umlip_neb"


def hardware_of(provider: UMLIPProvider) -> str:
    """What the run ran on, for the metadata's ``hardware`` (device, CPU, core count)."""
    cpu = platform.processor() or platform.machine()
    return f"{provider.device} ({cpu}, {os.cpu_count()} cores)"


def write_metadata(path: str | os.PathLike, provider: UMLIPProvider, task: str, config: NEBConfig,
                   split: str, authors: str | None = None, wall_time_s: float | None = None) -> Path:
    """Write the submission metadata YAML atomically.

    ``wall_time_s`` (summed over the hops' records) and ``hardware`` feed the leaderboard's
    runtime-vs-MAE plot.
    """
    # url, training_data and fine_tuned_on_litraj come from the model's registry card (and the
    # fine-tune card of a ``--weights DIR`` folder) through provider.metadata()
    meta: dict[str, Any] = provider.metadata()
    meta.update(authors=authors, hyperparameters={"neb": config.as_dict()},
                date=_dt.date.today().isoformat(), task=task, split=split,
                wall_time_s=None if wall_time_s is None else round(float(wall_time_s), 3),
                hardware=hardware_of(provider))
    return atomic_write_text(path, yaml.safe_dump(meta, sort_keys=False))


def preflight(provider: UMLIPProvider) -> UMLIPProvider:
    """``provider.check()`` without building the model: name, weights, package, device.

    The model is loaded only once the hops are known to be readable, so an unavailable dataset
    fails in a second, not after loading CHGNet.
    """
    probe = copy.copy(provider)
    probe._model = lambda: None  # the checks of check() that load nothing; the model is built later
    probe.check()
    return provider


def bench_umlip(provider: UMLIPProvider | Callable[[], UMLIPProvider], out: str | os.PathLike, dataset: str = "nebDFT2k", split: str = "test",
                source: Any = None, limit: int | None = None, workers: int = 1, scheduler: Any = None,
                config: NEBConfig = NEBConfig(), cache_dir: Any = None, progress=None) -> dict[str, Any]:
    """Run the uMLIP-NEB protocol on a nebDFT2k split and write a leaderboard submission.

    Parameters
    ----------
    provider : UMLIPProvider or callable
        The model, or a factory called only after the hops have been read (so that an
        unavailable dataset fails before a model is loaded).
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
    # the data source first: a missing or offline source must fail before a model is loaded
    hops = hops_from_dataset(dataset, split=split, source=source, limit=limit, cache_dir=cache_dir)
    first = next(hops, None)  # the generator opens the dataset at its first row: fail here if it cannot
    hops = itertools.chain([] if first is None else [first], hops)
    if not isinstance(provider, UMLIPProvider):
        provider = provider()
    summary = run_hops(hops, provider, out, config, workers=workers, scheduler=scheduler, progress=progress)
    records = {r["edge_id"]: r for r in read_records(out)}
    wall = sum(float(r.get("wall_time") or 0.0) for r in records.values())
    meta = write_metadata(Path(out) / "metadata.yaml", provider, task, config, split, wall_time_s=wall)
    ok = [r for r in records.values() if r.get("error") is None and r.get("converged")]
    errs = [abs(r["barrier"] - r["em_dft"]) for r in ok if r.get("em_dft") is not None]
    summary.update(task=task, submission=str(Path(out) / BANDS), metadata=str(meta), n_hops=len(records),
                   n_converged=len(ok), mae_vs_dft=(sum(errs) / len(errs)) if errs else None)
    return summary
