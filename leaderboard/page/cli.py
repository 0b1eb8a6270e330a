"""``litraj submit validate``, ``litraj score`` and ``litraj leaderboard ...`` commands.

Wire with ``register(subparsers)``; every command returns an int exit code: 0 success,
1 invalid submission, 2 other errors (unknown task, unreadable dataset or record).
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from litraj_data.cli.options import add_cache_dir_option, add_json_option, add_out_option, add_source_option
from litraj_data.cli.output import emit, fail
from litraj_data.errors import LitrajError
from litraj_data.io import atomic_write_json

# The scoring and page modules import pandas and scipy: each command imports what it uses
# when it runs, so that `litraj score --help` (and every other command) starts at once.

__all__ = ["register"]


def _emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    emit(args, payload["records"], text, indent=2, **{k: v for k, v in payload.items() if k != "records"})


def _fail(args: argparse.Namespace, file: str, exc: Exception, code: int) -> int:
    from litraj_data.leaderboard.scoring.submission import SubmissionInvalid

    issues = [i.as_dict() for i in exc.issues] if isinstance(exc, SubmissionInvalid) else \
        [{"reason": getattr(exc, "reason", "error"), "message": str(exc)}]
    return fail(args, file, exc, code=code, valid=False, issues=issues)


def _load(args: argparse.Namespace):
    from litraj_data.leaderboard.scoring.submission import read_metadata, read_submission
    from litraj_data.leaderboard.scoring.tasks import get_task

    task = get_task(args.task)
    meta = read_metadata(args.metadata) if getattr(args, "metadata", None) else None
    sub = read_submission(args.file, task)
    truth = task.load_truth(source=args.source, cache_dir=getattr(args, "cache_dir", None))
    return task, meta, sub, truth


def _cmd_validate(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.scoring.submission import SubmissionInvalid, validate

    try:
        task, meta, sub, truth = _load(args)
    except SubmissionInvalid as exc:
        return _fail(args, args.file, exc, 1)
    except LitrajError as exc:
        return _fail(args, args.file, exc, 2)
    issues = validate(sub, truth, meta)
    if issues:
        return _fail(args, args.file, SubmissionInvalid(issues), 1)
    n = len(sub.ids)
    record: dict[str, Any] = {"file": args.file, "task": task.id, "valid": True, "n_predictions": n,
                              "failed_declared": sorted(sub.failed_ids)}
    text = f"{args.file}: valid submission for {task.id} ({n} predictions)"
    if meta is not None:
        record["metadata"] = {"file": args.metadata, "model_card": "complete" if meta.get("card") else "legacy",
                              "card_missing": meta.get("card_missing", [])}
        if not meta.get("card"):
            text += (f"\n{args.metadata}: legacy metadata, accepted; a model card would also state "
                     + ", ".join(meta.get("card_missing", [])) + " (see docs/leaderboard.md, Model cards)")
    if truth.origin == "sample":
        record["sample"] = True
        text += "\nnote: checked against the embedded sample, not the task's split"
    _emit(args, {"records": [record]}, text)
    return 0


def _cmd_card(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.scoring.submission import SubmissionInvalid, read_metadata

    if args.example:
        print(resources.files("litraj_data.leaderboard.scoring").joinpath("data/example_model_card.yaml")
              .read_text(encoding="utf-8"), end="")
        return 0
    if not args.files:
        print("litraj submit card: give model card files, or --example for a template", file=sys.stderr)
        return 2
    records, bad = [], False
    for f in args.files:
        try:
            meta = read_metadata(f)
        except SubmissionInvalid as exc:
            bad = True
            records.append({"file": f, "valid": False, "issues": [i.as_dict() for i in exc.issues]})
            continue
        records.append({"file": f, "valid": True, "model": meta["model"], "model_version": meta.get("model_version"),
                        "model_card": "complete" if meta.get("card") else "legacy",
                        "card_missing": meta.get("card_missing", [])})
    if args.json:
        emit(args, records, "", indent=2)
    else:
        for r in records:
            if not r["valid"]:
                print(f"{r['file']}: invalid\n" + "\n".join(f"  - [{i['reason']}] {i['message']}" for i in r["issues"]))
            elif r["model_card"] == "legacy":
                print(f"{r['file']}: legacy metadata of {r['model']} (accepted); a model card would also state "
                      + ", ".join(r["card_missing"]))
            else:
                print(f"{r['file']}: valid model card of {r['model']} {r['model_version']}")
    return 1 if bad else 0


def _cmd_score(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.page.render import json_document, markdown_board, plot_record
    from litraj_data.leaderboard.scoring.board import build_board
    from litraj_data.leaderboard.scoring.score import score_submission
    from litraj_data.leaderboard.scoring.submission import SubmissionInvalid

    exclude: list[str] = []
    try:
        task, meta, sub, truth = _load(args)
        if args.exclude_ids:
            exclude = [ln.strip() for ln in Path(args.exclude_ids).read_text().splitlines() if ln.strip()]
        record = score_submission(sub, truth, meta, n_boot=args.bootstrap, seed=args.seed,
                                  threshold=args.threshold, exclude_ids=exclude, protocol=args.protocol)
    except SubmissionInvalid as exc:
        return _fail(args, args.file, exc, 1)
    except (LitrajError, OSError) as exc:
        return _fail(args, args.file, exc, 2)
    if args.plots:
        record["plots"] = plot_record(record, args.plots)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.out, record)
        record["record_file"] = str(args.out)
    board = build_board([record], tasks=[task.id])
    from litraj_data.leaderboard.scoring.stages import stage_text

    text = "\n\n".join(t for t in (markdown_board(board), stage_text(record.get("stage_resolved"))) if t)
    _emit(args, json.loads(json_document([record])), text)
    return 0


def _records(args: argparse.Namespace) -> list[dict[str, Any]]:
    from litraj_data.leaderboard.scoring.board import load_records

    return load_records(args.submissions or [])


def _cmd_render(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.page.render import render_html

    try:
        records = _records(args)
        index = render_html(records, args.html, tasks=args.task or None, plots=not args.no_plots)
    except LitrajError as exc:
        return _fail(args, str(args.html), exc, 2)
    _emit(args, {"records": [{"file": str(index), "tasks": sorted({r["task"] for r in records}),
                              "submissions": len(records)}]}, f"wrote {index}")
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.page.render import markdown_board
    from litraj_data.leaderboard.scoring.board import build_board

    try:
        records = _records(args)
        board = build_board(records, include_reference=not args.no_reference, tasks=args.task or None)
    except LitrajError as exc:
        return _fail(args, "leaderboard", exc, 2)
    payload = {"records": [{"file": row.get("file") or "reference", "task": t, **{k: v for k, v in row.items()
                                                                                  if k != "file"}}
                           for t, e in board.items() for row in e["rows"]]}
    _emit(args, payload, markdown_board(board))
    return 0


def _cmd_tasks(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.scoring.tasks import get_task, list_tasks

    tasks = [get_task(t) for t in list_tasks()]
    payload = {"records": [{"file": "tasks.yaml", "task": t.id, "dataset": t.dataset, "version": t.version,
                            "split": t.split, "kind": t.kind, "id_column": t.id_column, "target": t.target,
                            "unit": t.unit, "subsets": list(t.subsets)} for t in tasks]}
    text = "\n".join(f"{t.id:26s} {t.dataset} {t.version} {t.split:5s} {t.kind:6s} {t.description}" for t in tasks)
    _emit(args, payload, text)
    return 0


def _dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="predictions file (CSV/Parquet) or band folder/extxyz/Parquet")
    p.add_argument("--task", required=True, help="task id, e.g. nebDFT2k/em (see `litraj leaderboard tasks`)")
    p.add_argument("--metadata", help="model card YAML (model_name, authors with ORCID, checkpoint, licence, "
                   "environment, training_data, ...; docs/leaderboard.md) or legacy metadata YAML")
    add_source_option(p, "the task's dataset (the truth)")
    add_cache_dir_option(p)
    add_json_option(p)


def register(subparsers: Any) -> None:
    """Add ``submit``, ``score`` and ``leaderboard`` to the ``litraj`` command."""
    submit = subparsers.add_parser("submit", help="check a leaderboard submission")
    ssub = submit.add_subparsers(dest="submit_command", required=True)
    val = ssub.add_parser("validate", help="validate predictions against a task (scores nothing)")
    _dataset_args(val)
    val.set_defaults(func=_cmd_validate)
    card = ssub.add_parser("card", help="validate model cards (or print an example with --example)")
    card.add_argument("files", nargs="*", help="model card YAML files")
    card.add_argument("--example", action="store_true", help="print an example model card")
    add_json_option(card)
    card.set_defaults(func=_cmd_card)

    sc = subparsers.add_parser("score", help="validate and score a submission")
    _dataset_args(sc)
    sc.add_argument("--plots", help="folder for parity and error-violin PNGs")
    add_out_option(sc, "write the score record (JSON) here, for `leaderboard render`")
    sc.add_argument("--threshold", type=float, help="screening threshold for fast conductors (task unit)")
    sc.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no intervals)")
    sc.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    sc.add_argument("--exclude-ids", help="file of ids to drop (hops failed by other compared models)")
    sc.add_argument("--protocol", default="default",
                    help="default (the task's rules), or paper-table5: score models fine-tuned on LiTraj on all "
                         "nebDFT2k hops as the paper's Table 5 did, labelled as including fine-tuning hops, with "
                         "the test split beside it (nebDFT2k/umlip_neb_all)")
    sc.set_defaults(func=_cmd_score)

    lb = subparsers.add_parser("leaderboard", help="leaderboard tables and page")
    lsub = lb.add_subparsers(dest="leaderboard_command", required=True)
    rd = lsub.add_parser("render", help="write the static HTML leaderboard")
    rd.add_argument("--html", required=True, help="output folder (index.html + plots/)")
    rd.add_argument("--submissions", nargs="*", help="score records (JSON) or folders of them")
    rd.add_argument("--task", action="append", help="only this task (repeatable)")
    rd.add_argument("--no-plots", action="store_true")
    add_json_option(rd)
    rd.set_defaults(func=_cmd_render)
    tb = lsub.add_parser("table", help="print the leaderboard (Markdown or JSON)")
    tb.add_argument("--submissions", nargs="*", help="score records (JSON) or folders of them")
    tb.add_argument("--task", action="append", help="only this task (repeatable)")
    tb.add_argument("--no-reference", action="store_true", help="leave out the paper's rows")
    add_json_option(tb)
    tb.set_defaults(func=_cmd_table)
    tk = lsub.add_parser("tasks", help="list the tasks")
    add_json_option(tk)
    tk.set_defaults(func=_cmd_tasks)
