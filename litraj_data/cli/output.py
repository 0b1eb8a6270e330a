"""What a ``litraj`` command prints: one JSON document or text, and one error record.

The grammar (README): a reporting command with ``--json`` prints exactly one JSON document
``{"records": [...]}`` on stdout, a record per input naming its ``file``; without it, text.
Errors go to stderr as one line ``litraj CMD failed (REASON): MESSAGE``; with ``--json`` the
document still comes, holding the error record ``{"file", "ok": false, "reason", "error"}``.
Every command uses these functions, so JSON is printed one way (strict, through
:func:`litraj_data.io.dumps_json`: a non-finite number is ``null``).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Iterable, Mapping

from litraj_data.errors import LitrajError
from litraj_data.io import dumps_json

__all__ = ["emit", "error_record", "fail", "print_json", "wants_json"]


def wants_json(args: argparse.Namespace) -> bool:
    """Whether the command was asked for ``--json`` (``False`` for a parser without the option)."""
    return bool(getattr(args, "json", False))


def print_json(document: Mapping[str, Any], indent: int | None = None) -> None:
    """Print ``document`` as strict JSON on stdout (one document, one trailing newline)."""
    sys.stdout.write(dumps_json(document, indent=indent) + "\n")


def emit(args: argparse.Namespace, records: Iterable[Mapping[str, Any]], text: str | Callable[[], str],
         indent: int | None = None, **extra: Any) -> None:
    """Print the command's result: ``{"records": [...], **extra}`` with ``--json``, else ``text``.

    Parameters
    ----------
    args
        The parsed arguments (``args.json`` chooses).
    records
        The records, one per input, each naming its ``file``.
    text
        The text output, or a function making it (called only without ``--json``).
    indent
        JSON indentation (``None``: one line).
    **extra
        Top-level keys beside ``records`` (e.g. ``funnel`` counts); the document stays one.
    """
    if wants_json(args):
        print_json({"records": list(records), **extra}, indent=indent)
    else:
        out = text() if callable(text) else text
        if out:
            print(out)


def error_record(file: Any, exc: BaseException, **extra: Any) -> dict[str, Any]:
    """The one error record: ``{"file", "ok": False, "reason", "error", **extra}``.

    ``reason`` is the exception's named reason (:class:`~litraj_data.errors.LitrajError`), else
    its type name (``FileNotFoundError``...), so a script can branch on it.
    """
    # only a LitrajError's reason is a named reason (UnicodeDecodeError has a ``reason`` attribute too)
    reason = (exc.reason if isinstance(exc, LitrajError) else None) or type(exc).__name__
    return {"file": None if file is None else str(file), "ok": False, "reason": reason, "error": str(exc), **extra}


def fail(args: argparse.Namespace, file: Any, exc: BaseException, code: int = 2, command: str | None = None,
         **extra: Any) -> int:
    """Report ``exc`` (JSON error record with ``--json``, one line on stderr) and return ``code``.

    Parameters
    ----------
    args
        The parsed arguments.
    file
        The input the error is about (the record's ``file``).
    exc
        The exception; its ``reason`` names the cause.
    code
        The exit status to return (1: some input failed, 2: unusable input).
    command
        The command's name for the stderr line (default ``args.command``).
    **extra
        Extra keys of the error record (e.g. ``issues`` of an invalid submission).
    """
    rec = error_record(file, exc, **extra)
    if wants_json(args):
        print_json({"records": [rec]})
    name = command or " ".join(str(p) for p in _command_path(args))
    print(f"litraj{' ' + name if name else ''} failed ({rec['reason']}): {exc}", file=sys.stderr)
    return code


def _command_path(args: argparse.Namespace) -> list[str]:
    # "bench umlip", "baseline train": the sub-command names argparse stored on the namespace
    path = [getattr(args, "command", None)]
    path += [v for k, v in vars(args).items() if k.endswith("_command") or k in ("bench_kind", "builder")]
    return [p for p in path if p]
