"""``litraj bench umlip ...`` and ``litraj screen FILE... --model NAME``.

Exit codes: 0 success, 1 some hops/structures failed, 2 unusable input (unknown model,
missing weights, unreadable dataset).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from litraj_data.cli.options import (
    add_cache_dir_option,
    add_device_option,
    add_json_option,
    add_out_option,
    add_source_option,
)
from litraj_data.cli.output import emit, fail
from litraj_data.errors import LitrajError
from litraj_data.leaderboard.reference.neb.config import INITIAL_PATHS, OPTIMIZERS, RETRIES, NEBConfig
from litraj_data.leaderboard.reference.neb.progress import HopProgress
from litraj_data.leaderboard.reference.umlip.runners import list_models
from litraj_data.structures import add_limit_options, with_limits
from litraj_data.trust import TRUST_HELP


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help=f"uMLIP: {', '.join(list_models())} "
                   "(bench umlip also takes bvse: BVSE-NEB with a fixed framework, the paper's Table 4 row)")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="weights file/folder, or a `litraj finetune` folder (model_card.yaml); required for models "
                        "whose weights are not in their package (see `litraj models`)")
    p.add_argument("--trust", action="store_true", help=TRUST_HELP)
    add_device_option(p)
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address (tcp://host:8786): one task per hop")
    g = p.add_argument_group("NEB protocol (defaults: the paper's)")
    g.add_argument("--fmax", type=float, default=0.1, help="force threshold, eV/A (0.1)")
    g.add_argument("--steps", type=int, default=100, help="max FIRE steps of the band (100)")
    g.add_argument("--endpoint-steps", type=int, default=100, help="max FIRE steps per end point (100)")
    g.add_argument("--k", type=float, default=5.0, help="spring constant, eV/A^2 (5.0)")
    g.add_argument("--no-climb", action="store_true", help="plain NEB without climbing image")
    g.add_argument("--no-relax-endpoints", action="store_true", help="keep the end points as given")
    g.add_argument("--image-by-image", action="store_true",
                   help="ASE's NEB with one calculator per image, one hop at a time (the reference path)")
    g.add_argument("--batch-hops", type=int, default=None, metavar="N",
                   help="hops in flight sharing each model call (default: as many as fit --batch-atoms)")
    g.add_argument("--batch-atoms", type=int, default=None, metavar="N",
                   help="atom budget of one model call over all hops in flight (default: max(1024, --max-batch-atoms))")
    g.add_argument("--max-batch-atoms", type=int, default=None, metavar="N",
                   help="atoms per batched forward pass (default on cpu: 64 for chgnet, 32 for sevennet-0; "
                        "the whole band on cuda)")
    r = p.add_argument_group("robust convergence (off by default: the paper's protocol)")
    r.add_argument("--optimizer", choices=list(OPTIMIZERS), default="FIRE", help="ASE optimiser (FIRE)")
    r.add_argument("--initial-path", choices=list(INITIAL_PATHS), default="given",
                   help="given (the hop's BVSE-NEB band), idpp or linear between the relaxed end points")
    r.add_argument("--two-stage", action="store_true",
                   help="plain NEB to --stage1-fmax first, then the climbing image to --fmax")
    r.add_argument("--stage1-fmax", type=float, default=0.5, help="first-stage force threshold, eV/A (0.5)")
    r.add_argument("--retry", nargs="+", choices=list(RETRIES), default=[], metavar="RUNG",
                   help=f"retry ladder for unconverged bands, in order: {', '.join(RETRIES)}")
    add_json_option(p)


def register(subparsers: Any) -> None:
    """Add ``bench`` (with ``umlip``) and ``screen`` to an argparse sub-parser collection."""
    bench = subparsers.add_parser("bench", help="benchmark runs that produce leaderboard submissions")
    sub = bench.add_subparsers(dest="bench_kind", metavar="KIND")
    sub.required = True
    p = sub.add_parser("umlip", help="uMLIP-NEB on nebDFT2k -> nebDFT2k/umlip_neb submission",
                       description="Relax end points and run CI-NEB with a universal potential from each hop's "
                                   "initial (BVSE-NEB) band; writes OUT/bands (submission), metadata.yaml and "
                                   "results.jsonl. Rerunning with the same --out resumes.")
    p.add_argument("--dataset", default="nebDFT2k")
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    add_out_option(p, "output folder: bands/ (the submission), metadata.yaml, results.jsonl (a record per hop as it "
                      "finishes)", required=True)
    add_source_option(p)
    add_cache_dir_option(p)
    p.add_argument("--limit", type=int, default=None, help="first N hops only")
    _add_model_options(p)
    p.set_defaults(func=run_bench)

    e = sub.add_parser("efs", help="uMLIP energies/forces/stresses on MPLiTrj -> MPLiTrj/efs submission",
                       description="Predict energy, forces and stress of every configuration of a split "
                                   "(batched for chgnet) into a Parquet submission for litraj leaderboard score; "
                                   "the metadata goes beside it as OUT.metadata.yaml.")
    e.add_argument("--model", required=True, help=f"uMLIP: {', '.join(list_models())}")
    e.add_argument("--weights", default=None, metavar="PATH",
                   help="weights file/folder, or a `litraj finetune` folder (model_card.yaml); required for models "
                        "whose weights are not in their package (see `litraj models`)")
    e.add_argument("--trust", action="store_true", help=TRUST_HELP)
    add_device_option(e)
    e.add_argument("--dataset", default="MPLiTrj", choices=["MPLiTrj", "MPLiTrj_subsample"])
    e.add_argument("--split", default="test", choices=["train", "val", "test"])
    add_source_option(e)
    add_cache_dir_option(e)
    add_out_option(e, "submission Parquet file", required=True)
    e.add_argument("--limit", type=int, default=None, help="first N configurations only")
    e.add_argument("--batch-size", type=int, default=16, help="structures per forward pass (16)")
    e.add_argument("--fine-tuned", action="store_true", help="the weights were trained on LiTraj data")
    add_json_option(e)
    e.set_defaults(func=run_bench_efs, max_batch_atoms=None)

    s = subparsers.add_parser("screen", help="uMLIP percolation barriers of structures",
                              description="Hop graph (edges < cutoff, bottleneck) -> uMLIP-NEB per "
                                          "symmetry-inequivalent hop -> 1D/2D/3D percolation barriers.")
    s.add_argument("files", nargs="+", help="structure files or folders (CIF, POSCAR, extxyz, JSON)")
    s.add_argument("--cutoff", type=float, default=6.0, help="longest hop, A (6.0)")
    s.add_argument("--bottleneck", type=float, default=0.5, help="min segment-atom distance, A (0.5)")
    s.add_argument("--min-width", type=float, default=8.0, help="min supercell width, A (8.0)")
    add_out_option(s, "keep records and bands here, a record per hop as it finishes (resumable)")
    _add_model_options(s)
    add_limit_options(s)  # --max-atoms, --max-volume, --max-grid-points
    s.set_defaults(func=with_limits(run_screen))


def _config(args: argparse.Namespace) -> NEBConfig:
    if args.image_by_image and (args.batch_hops is not None or args.batch_atoms is not None):
        raise ValueError("--image-by-image runs one hop at a time: drop --batch-hops/--batch-atoms")
    return NEBConfig(relax_endpoints=not args.no_relax_endpoints, endpoint_fmax=args.fmax,
                     endpoint_steps=args.endpoint_steps, k=args.k, climb=not args.no_climb, fmax=args.fmax,
                     steps=args.steps, batched=not args.image_by_image, optimizer=args.optimizer,
                     initial_path=args.initial_path, two_stage=args.two_stage, stage1_fmax=args.stage1_fmax,
                     retries=tuple(args.retry), batch_hops=args.batch_hops, batch_atoms=args.batch_atoms)


def _max_steps(config: NEBConfig) -> int:
    """Most optimiser steps one hop may take: both end points, every band stage, every retry (an upper bound)."""
    ends = 2 * config.endpoint_steps if config.relax_endpoints else 0
    band = config.steps * (2 if config.two_stage else 1)
    return ends + band * (1 + len(config.retries))


def _error(args: argparse.Namespace, file: str, exc: Exception) -> int:
    return fail(args, file, exc, code=2)


def _provider(args: argparse.Namespace):
    from litraj_data.leaderboard.reference.umlip.runners import get_provider

    with contextlib.redirect_stdout(sys.stderr):
        return get_provider(args.model, args.weights, args.device, max_batch_atoms=args.max_batch_atoms,
                            trust=args.trust)


def run_bench(args: argparse.Namespace) -> int:
    """``litraj bench umlip``."""
    from litraj_data.leaderboard.reference.umlip.bench import BVSE_MODEL, bench_umlip, preflight, run_bench_bvse

    if args.model.lower() == BVSE_MODEL:  # the paper's Table 4 BVSE row (no weights, no uMLIP provider)
        return run_bench_bvse(args)
    from litraj_data.leaderboard.reference.umlip.runners import get_provider

    try:
        config = _config(args)
        # cheap model checks (name, weights, package) first, then the data source, then the model
        preflight(get_provider(args.model, args.weights, args.device, check=False,
                               max_batch_atoms=args.max_batch_atoms, trust=args.trust))
        with contextlib.redirect_stdout(sys.stderr):  # model chatter must not corrupt --json
            summary = bench_umlip(lambda: _provider(args), args.out, args.dataset, args.split, args.source, args.limit,
                                  args.workers, args.scheduler, config, args.cache_dir,
                                  progress=HopProgress(f"{args.model} uMLIP-NEB", max_steps=_max_steps(config)))
    except (LitrajError, ValueError, ImportError, OSError) as exc:  # OSError: a --source path that does not exist
        return _error(args, args.out, exc)
    record = {"file": summary["submission"], "ok": True, **summary}
    lines = [f"{summary['task']}: {summary['n_hops']} hops ({summary['n_converged']} converged, "
             f"{summary['skipped']} resumed) -> {summary['submission']} + {summary['metadata']}",
             f"convergence rate {_pct(summary['convergence_rate'])}, success within 0.05 / 0.1 eV of em_dft "
             f"{_pct(summary['success_0.05'])} / {_pct(summary['success_0.1'])}, "
             f"{_fmt0(summary['hops_per_hour'])} hops/h"]
    if summary["mae_vs_dft"] is not None:
        lines.append(f"MAE vs em_dft (converged hops): {summary['mae_vs_dft']:.4f} eV")
    emit(args, [record], "\n".join(lines))
    return 1 if summary["failed"] else 0


def run_bench_efs(args: argparse.Namespace) -> int:
    """``litraj bench efs``."""
    from litraj_data.leaderboard.reference.umlip.bench import preflight
    from litraj_data.leaderboard.reference.umlip.efs import bench_efs
    from litraj_data.leaderboard.reference.umlip.runners import get_provider

    try:
        if args.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
        preflight(get_provider(args.model, args.weights, args.device, check=False, trust=args.trust))
        progress = None if args.json else (lambda n: print(f"  {n} configurations", file=sys.stderr))
        with contextlib.redirect_stdout(sys.stderr):  # model chatter must not corrupt --json
            summary = bench_efs(lambda: _provider(args), args.out, args.dataset, args.split, args.source,
                                args.limit, args.batch_size, args.cache_dir, progress, args.fine_tuned)
    except (LitrajError, ValueError, ImportError, OSError) as exc:
        return _error(args, args.out, exc)
    emit(args, [{"file": summary["submission"], "ok": True, **summary}],
         f"{summary['task']}: {summary['n_configs']} configurations ({summary['configs_per_s']} /s) -> "
         f"{summary['submission']} + {summary['metadata']}")
    return 0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _fmt0(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def run_screen(args: argparse.Namespace) -> int:
    """``litraj screen``."""
    from litraj_data.leaderboard.reference.umlip.bench import preflight
    from litraj_data.leaderboard.reference.umlip.runners import get_provider
    from litraj_data.leaderboard.reference.umlip.screen import screen_structure
    from litraj_data.structures import check_structure, iter_structure_files, read_structures

    try:
        config = _config(args)
        # cheap model checks (name, weights, package) first; the model itself loads only once a
        # structure has passed its checks, so a bad input fails in a second, not after model start-up
        preflight(get_provider(args.model, args.weights, args.device, check=False,
                               max_batch_atoms=args.max_batch_atoms, trust=args.trust))
    except (LitrajError, ValueError) as exc:
        return _error(args, args.files[0], exc)
    records: list[dict[str, Any]] = []
    todo: list[tuple[int, str, str, Any]] = []  # (record slot, file, name, structure) that passed the checks
    for path in iter_structure_files(args.files):
        try:
            pairs = read_structures(path)
        except LitrajError as exc:
            records.append({"file": str(path), "ok": False, "reason": exc.reason, "error": str(exc)})
            continue
        for name, structure in pairs:
            try:
                check_structure(structure, name)  # atom count, cell volume and shape before any uMLIP work
            except LitrajError as exc:
                records.append({"file": str(path), "material_id": name, "ok": False, "reason": exc.reason,
                                "error": str(exc)})
                continue
            todo.append((len(records), str(path), name, structure))
            records.append({})
    failed = len(records) > len(todo)
    if todo:
        try:
            provider = _provider(args)
        except (LitrajError, ValueError) as exc:
            return _error(args, args.files[0], exc)
    for slot, path, name, structure in todo:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                rec = screen_structure(structure, name, provider, args.out, args.cutoff, args.bottleneck,
                                       config, args.workers, args.scheduler, args.min_width,
                                       progress=HopProgress(f"{name} ({args.model})", max_steps=_max_steps(config)))
            rec = {"file": path, "ok": True, **rec}
            failed |= any(h["error"] for h in rec["hops"])
        except LitrajError as exc:
            rec = {"file": path, "material_id": name, "ok": False, "reason": exc.reason, "error": str(exc)}
            failed = True
        records[slot] = rec
    emit(args, records, lambda: "\n".join(_screen_text(rec) for rec in records))
    return 1 if failed else 0


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


def _screen_text(rec: dict[str, Any]) -> str:
    if not rec["ok"]:
        return f"{rec['file']}: {rec['reason']}: {rec['error']}"
    p, b = rec["percolation"], rec["percolation_bvse"]
    lines = [f"{rec['material_id']} ({rec['file']}): {rec['n_hops']} hops, max dim {rec['max_dim']}",
             "  E_1D / E_2D / E_3D  uMLIP " + " / ".join(_fmt(p[k]) for k in ("E_1D", "E_2D", "E_3D"))
             + "   BVSE " + " / ".join(_fmt(b[k]) for k in ("E_1D", "E_2D", "E_3D")) + " eV"]
    m = rec.get("metrics") or {}
    if m:
        lines.append(f"  converged {m['n_converged']}/{rec['n_hops']} ({_pct(m['convergence_rate'])}), "
                     f"{_fmt0(m['hops_per_hour'])} hops/h this run")
    lines.append(f"  {'edge_id':<28} {'L/A':>6} {'mult':>4} {'BVSE':>7} {'uMLIP':>7} conv  steps")
    for h in rec["hops"]:
        note = f"  {h['error']['reason']}" if h["error"] else ""
        lines.append(f"  {h['edge_id']:<28} {h['length']:6.3f} {h['multiplicity']:4d} {_fmt(h['em_bvse']):>7} "
                     f"{_fmt(h['em_umlip']):>7} {str(h['converged']):5} {h['steps']}{note}")
    return "\n".join(lines)
