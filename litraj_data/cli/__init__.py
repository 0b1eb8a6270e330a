"""The ``litraj`` command line: one layer that every command uses.

* :mod:`.main` -- the table of commands (name, one-line help, ``"module:function"``) and
  the lazy dispatch: a command's module is imported only when it runs or shows its help;
* :mod:`.options` -- the shared options (``--source``/``--version``/``--cache-dir``,
  ``--json``, ``--out``, ``--threads``, ``--device``, ``--verbose``), one help text each;
* :mod:`.output` -- the one JSON document / text output and the one error record;
* :mod:`.progress` -- the one tqdm factory (stderr) and the third-party noise filter;
* :mod:`.core` -- the data commands (list, info, cite, export, verify, cache, build).

The console script is ``litraj = "litraj_data.cli:main"``. Importing this package costs
nothing: :func:`main` imports :mod:`.main` when called.
"""
from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``litraj`` command (see :func:`litraj_data.cli.main.main`); returns the exit status."""
    from litraj_data.cli.main import main as _main

    return _main(argv)
