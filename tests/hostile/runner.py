"""Run a batch of ``litraj`` command lines in this interpreter, one isolated case at a time.

Usage: ``python runner.py CASES.json RESULTS.json``. ``CASES.json`` is a list of
``{"id", "argv", "cwd", "env", "timeout"}``. For each case the environment is updated, the
working folder changed, file descriptors 1 and 2 pointed at files (so that what C code and
child processes print is caught too), and :func:`litraj_data.cli.main.main` called under an
alarm. The result records the exit status, what was printed, and whether an exception left
``main`` (its traceback is then in ``stderr``, as the interpreter would have printed it).

One interpreter for a command's whole batch keeps the corpus fast (the heavy imports are paid
once); the parent test compares the file tree before and after to find any write outside a
case's ``out/`` and ``cache/`` folders.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import traceback


class CaseTimeout(BaseException):
    """The case ran past its alarm (a BaseException so that no ``except Exception`` swallows it)."""


def _alarm(signum, frame):  # noqa: ARG001 -- the signal handler's signature
    raise CaseTimeout("alarm")


def _run_case(case: dict, main) -> dict:
    base_env = dict(os.environ)
    os.environ.update(case["env"])
    os.chdir(case["cwd"])
    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(out_f.fileno(), 1)
    os.dup2(err_f.fileno(), 2)
    rc: object
    escaped = None
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(case["timeout"]))
    try:
        rc = main(list(case["argv"]))
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code if isinstance(exc.code, int) else 2
    except CaseTimeout:
        rc, escaped = "timeout", "timeout"
    except BaseException as exc:  # noqa: BLE001 -- the point: record anything that leaves main()
        traceback.print_exc()
        rc, escaped = "exception", type(exc).__name__
    finally:
        signal.alarm(0)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        os.environ.clear()
        os.environ.update(base_env)
    texts = []
    for f in (out_f, err_f):
        f.seek(0)
        texts.append(f.read(400_000).decode("utf-8", "replace"))
        f.close()
    return {"id": case["id"], "rc": rc, "stdout": texts[0], "stderr": texts[1], "escaped": escaped}


def run(cases_path: str, results_path: str) -> None:
    """Run every case of ``cases_path``; write the results after each one (a kill keeps the others)."""
    from litraj_data.cli.main import main

    with open(cases_path) as fh:
        cases = json.load(fh)
    results = []
    for case in cases:
        results.append(_run_case(case, main))
        with open(results_path + ".tmp", "w") as fh:
            json.dump(results, fh)
        os.replace(results_path + ".tmp", results_path)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
