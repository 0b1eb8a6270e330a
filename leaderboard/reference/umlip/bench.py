"""``litraj bench umlip``: a uMLIP-NEB submission for the ``nebDFT2k/umlip_neb`` task.

``--model bvse`` runs the paper's Table 4 BVSE row instead (:func:`bench_bvse`): BVSE-NEB as a
universal pair potential with a fixed framework, on the same hops, into the same submission
layout, scored like any uMLIP (barrier errors and PA-MAE).

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


#: ``--model`` value of the BVSE row (not a uMLIP of the registry: no weights, no package)
BVSE_MODEL = "bvse"


def bvse_metadata(task: str, split: str, settings: Any, cutoff: float, wall_time_s: float | None) -> dict[str, Any]:
    """Submission metadata of the BVSE-NEB row (the legacy metadata vocabulary)."""
    from dataclasses import asdict

    from litraj_data._version import __version__

    return {"model": "BVSE-NEB", "model_version": __version__, "authors": None,
            "url": "https://github.com/AIRI-Institute/LiTraj",
            "training_data": "none: softBV bond-valence pair parameters (Chen, Wong & Adams 2019); framework fixed",
            "fine_tuned_on_litraj": False,
            "hyperparameters": {"neb": {k: v for k, v in asdict(settings).items()
                                        if k in ("k", "climb", "fmax", "steps")}, "cutoff": cutoff,
                                "framework": "fixed (only the moving Li moves)"},
            "date": _dt.date.today().isoformat(), "task": task, "split": split,
            "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 3),
            "hardware": f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"}


def bench_bvse(out: str | os.PathLike, dataset: str = "nebDFT2k", split: str = "test", source: Any = None,
               limit: int | None = None, cache_dir: Any = None, protocol: Any = "paper",
               progress=None) -> dict[str, Any]:
    """BVSE-NEB on every hop of a nebDFT2k split -> a band submission (the paper's Table 4 BVSE row).

    Each hop's initial band is optimised by :func:`~litraj_data.leaderboard.reference.hops.images_neb.bvse_images_neb`
    (the nebBVSE122k BVSE-NEB, framework fixed). Output as :func:`bench_umlip`: ``OUT/bands``
    (one extxyz per hop, ``failed.txt``), ``OUT/results.jsonl`` (resumable) and
    ``OUT/metadata.yaml``.

    Parameters
    ----------
    out : path
        Output folder.
    dataset, split, source, limit, cache_dir
        Which hops (as :func:`~litraj_data.leaderboard.reference.neb.hops.hops_from_dataset`).
    protocol : str or NEBSettings
        BVSE-NEB settings (the paper's by default).
    progress : callable, optional
        Called with each new record (its ``start(total, skipped)`` first, when it has one).

    Returns
    -------
    dict
        As :func:`bench_umlip`'s summary.
    """
    import time

    from litraj_data.errors import LitrajError
    from litraj_data.leaderboard.reference.hops.api import _settings
    from litraj_data.leaderboard.reference.hops.energy import DEFAULT_CUTOFF
    from litraj_data.leaderboard.reference.hops.images_neb import bvse_images_neb
    from litraj_data.leaderboard.reference.neb.harness import ResultSink
    from litraj_data.leaderboard.reference.neb.metrics import run_metrics

    task = task_of(dataset, split)
    settings = _settings(protocol, None)
    t0 = time.perf_counter()
    sink = ResultSink(out)
    todo, skipped = [], 0
    for hop in hops_from_dataset(dataset, split=split, source=source, limit=limit, cache_dir=cache_dir):
        if hop.edge_id in sink.done:
            skipped += 1
        else:
            todo.append(hop)
    if progress is not None and hasattr(progress, "start"):
        progress.start(len(todo), skipped)
    done = failed = 0
    for hop in todo:
        t = time.perf_counter()
        rec: dict[str, Any] = {"edge_id": hop.edge_id, "model": BVSE_MODEL, "n_images": len(hop.images),
                               "n_atoms": len(hop.images[0]), **hop.meta}
        frames = None
        try:
            run = bvse_images_neb(hop.images, settings)
            r = run.result
            frames = run.frames
            rec.update(barrier=float(r.barrier), converged=bool(r.converged), neb_converged=bool(r.converged),
                       steps=int(r.steps), fmax=float(r.fmax), energies=[float(e) for e in r.energies],
                       mover=run.mover, error=None)
        except (LitrajError, ValueError, ArithmeticError) as exc:  # a hop BVSE cannot describe: a failed
            # hop of the submission (failed.txt), never an aborted run
            rec.update(barrier=None, converged=False, neb_converged=False, steps=None, fmax=None,
                       error={"reason": getattr(exc, "reason", type(exc).__name__), "message": str(exc)})
            failed += 1
        rec["wall_time"] = time.perf_counter() - t
        sink.write(rec, frames)
        done += 1
        if progress is not None:
            progress(rec)
    sink.write_failed_list()
    wall = time.perf_counter() - t0
    records = {r["edge_id"]: r for r in read_records(out) if "edge_id" in r}
    total = sum(float(r.get("wall_time") or 0.0) for r in records.values())
    meta = atomic_write_text(Path(out) / "metadata.yaml", yaml.safe_dump(
        bvse_metadata(task, split, settings, DEFAULT_CUTOFF, total), sort_keys=False))
    ok = [r for r in records.values() if r.get("error") is None and r.get("converged")]
    errs = [abs(r["barrier"] - r["em_dft"]) for r in ok if r.get("em_dft") is not None]
    return {"done": done, "skipped": skipped, "failed": failed, "out": str(out), "wall_time": wall,
            **run_metrics(list(records.values()), wall_time=wall, new_hops=done),
            "task": task, "submission": str(Path(out) / BANDS), "metadata": str(meta), "n_hops": len(records),
            "n_converged": len(ok), "mae_vs_dft": (sum(errs) / len(errs)) if errs else None}


def run_bench_bvse(args: Any) -> int:
    """``litraj bench umlip --model bvse``: exit 0, 1 when hops failed, 2 on unusable input.

    The NEB options ``--fmax``, ``--steps``, ``--k`` and ``--no-climb`` apply; the options of
    a uMLIP (weights, device, batching, optimiser, retries, workers) do not and are refused.
    """
    import sys
    from dataclasses import replace

    from litraj_data.errors import LitrajError
    from litraj_data.io import dumps_json
    from litraj_data.leaderboard.reference.hops.bvse_band_neb import PROTOCOLS

    def fail(exc: Exception) -> int:
        if args.json:
            print(dumps_json({"records": [{"file": str(args.out), "ok": False,
                                           "reason": getattr(exc, "reason", "bad_option"), "error": str(exc)}]}))
        print(f"error: {exc}", file=sys.stderr)
        return 2

    unused = [flag for flag, bad in (
        ("--weights", args.weights is not None), ("--device cuda", args.device != "cpu"),
        ("--workers", args.workers != 1), ("--scheduler", args.scheduler is not None),
        ("--image-by-image", args.image_by_image), ("--batch-hops", args.batch_hops is not None),
        ("--batch-atoms", args.batch_atoms is not None), ("--max-batch-atoms", args.max_batch_atoms is not None),
        ("--optimizer", args.optimizer != "FIRE"), ("--initial-path", args.initial_path != "given"),
        ("--two-stage", args.two_stage), ("--retry", bool(args.retry))) if bad]
    if unused:
        return fail(ValueError(f"--model bvse is BVSE-NEB with a fixed framework (FIRE, climbing image, "
                               f"from the hop's initial band); it takes no {', '.join(unused)}"))
    if not (args.fmax > 0 and args.steps >= 0 and args.k > 0):
        return fail(ValueError(f"--fmax and --k must be > 0 and --steps >= 0, got {args.fmax}, {args.k}, {args.steps}"))
    settings = replace(PROTOCOLS["paper"], k=float(args.k), climb=not args.no_climb, fmax=float(args.fmax),
                       steps=int(args.steps))
    try:
        summary = bench_bvse(args.out, args.dataset, args.split, args.source, args.limit, args.cache_dir, settings)
    except (LitrajError, ValueError, OSError) as exc:  # OSError: a --source path that does not exist
        return fail(exc)
    if args.json:
        print(dumps_json({"records": [{"file": summary["submission"], "ok": True, **summary}]}))
    else:
        mae = ("" if summary["mae_vs_dft"] is None
               else f"; MAE vs em_dft (converged hops) {summary['mae_vs_dft']:.4f} eV")
        print(f"{summary['task']}: BVSE-NEB on {summary['n_hops']} hops ({summary['n_converged']} converged, "
              f"{summary['failed']} failed, {summary['skipped']} resumed) -> {summary['submission']} + "
              f"{summary['metadata']}{mae}")
    return 1 if summary["failed"] else 0


def bench_umlip(provider: UMLIPProvider | Callable[[], UMLIPProvider], out: str | os.PathLike,
                dataset: str = "nebDFT2k", split: str = "test", source: Any = None, limit: int | None = None,
                workers: int = 1, scheduler: Any = None, config: NEBConfig = NEBConfig(), cache_dir: Any = None,
                progress=None) -> dict[str, Any]:
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
