"""The ``litraj`` command line: one layer that every command uses.

* :mod:`.main` -- the table of commands (name, one-line help, ``"module:function"``) and
  the lazy dispatch: a command's module is imported only when it runs or shows its help;
* :mod:`.options` -- the shared options (``--source``/``--version``/``--cache-dir``,
  ``--json``, ``--out``, ``--threads``, ``--device``, ``--verbose``), one help text each;
* :mod:`.output` -- the one JSON document / text output and the one error record;
* :mod:`.progress` -- the one tqdm factory (stderr) and the third-party noise filter;
* :mod:`.core` -- the data commands (list, info, cite, export, verify, cache, build).

The console script is ``litraj = "litraj_data.cli:main"``. Importing this package imports
:mod:`.main` (light: the command table, argparse, the shared options), and binds ``main`` to the
*function* after the submodule is loaded: the import system sets the package attribute ``main``
to the submodule when it first loads it, so a lazy import here would let ``from litraj_data.cli
import main`` return the module once anything had imported ``litraj_data.cli.main``.
"""
from __future__ import annotations

from litraj_data.cli.main import main

__all__ = ["main"]
