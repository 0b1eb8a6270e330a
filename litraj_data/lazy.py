"""The one way to import a heavy or optional third-party package at the point of use.

Why some imports are lazy: ``litraj --help`` and every light command must start without
torch, pandas, matgl and the other heavy packages (they take seconds to import), and the
optional extras (``torch``, ``chgnet``, ``sevenn``, ``mace``, ``matgl``, ``gnn``, ``features``,
``ml``, ``dask``, ``plots``...) may not be installed at all. Those packages are imported here,
at the point of use; the package's own modules are imported at the top of the module that
uses them, so that the arrows between them stay visible to a reader and to import-linter
(``.ci/lint_imports.py``, ``tests/test_layers.py``), and no import hides in a function to
dodge a cycle.

Use::

    from litraj_data.lazy import lazy_from, lazy_import

    def train(...):
        torch = lazy_import("torch")                    # import torch
        CHGNet = lazy_from("chgnet.model", "CHGNet")    # from chgnet.model import CHGNet

A missing package raises :class:`~litraj_data.errors.MissingExtraError` (reason
``missing_extra``) whose message names the extra to install, instead of a bare
``ModuleNotFoundError`` deep inside a command. :func:`extra_of` gives the extra of a package
(:data:`EXTRAS`, as declared in ``pyproject.toml``); :func:`available` tells whether a
package can be imported without importing it.
"""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

from litraj_data.errors import MissingExtraError

__all__ = ["EXTRAS", "available", "extra_of", "lazy_exports", "lazy_from", "lazy_import"]

#: top-level package -> the extra of ``pyproject.toml`` that installs it
EXTRAS: dict[str, str] = {
    "torch": "torch",
    "torch_geometric": "torch",
    "chgnet": "chgnet",
    "sevenn": "sevenn",
    "mace": "mace",
    "matgl": "matgl",
    "nequip": "gnn",
    "allegro": "gnn",
    "mattersim": "mattersim",
    "orb_models": "orb",
    "matminer": "features",
    "sklearn": "ml",
    "xgboost": "ml",
    "skops": "ml",
    "distributed": "dask",
    "dask": "dask",
    "matplotlib": "plots",
    "lightning": "gnn",  # the trainer of matgl and nequip: installed with them
}


def extra_of(module: str) -> str | None:
    """The extra that installs ``module`` (by its top-level package), or None for a core dependency."""
    return EXTRAS.get(module.split(".", 1)[0])


def available(module: str) -> bool:
    """Whether ``module`` can be found, without importing it (a broken parent package counts as absent)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that fails to import; a module with a broken __spec__
        return False


def lazy_import(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` now (at the point of use) or say which extra installs it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"torch"`` or ``"chgnet.model"``.
    extra : str, optional
        The ``litraj-data`` extra that installs it; default :func:`extra_of` ``(module)``.
        Core dependencies (pandas, scipy...) have none: their absence is a broken install.

    Returns
    -------
    module
        The imported module (cached by Python after the first call).

    Raises
    ------
    MissingExtraError
        ``missing_extra``: the package, or one of its own dependencies, cannot be imported;
        the message names the extra and keeps the underlying error.
    """
    try:
        # parents first: a package that cannot be imported (absent, or blocked with
        # sys.modules[name] = None) fails even when a submodule of it was imported earlier
        parts = module.split(".")
        for i in range(1, len(parts)):
            importlib.import_module(".".join(parts[:i]))
        return importlib.import_module(module)
    except ImportError as exc:
        extra = extra or extra_of(module)
        how = (f"pip install 'litraj-data[{extra}]'" if extra
               else "it is a dependency of litraj-data: reinstall litraj-data")
        raise MissingExtraError(f"{module} cannot be imported ({exc}): {how}", module=module, extra=extra) from exc


def lazy_from(module: str, *names: str, extra: str | None = None) -> Any:
    """``from module import name, ...`` at the point of use, through :func:`lazy_import`.

    A name that is not an attribute of ``module`` is imported as its submodule
    (``lazy_from("nequip.data", "AtomicDataDict")``), as the ``from`` statement does.

    Returns
    -------
    object or tuple
        The one object, or a tuple of them in the order of ``names``.

    Raises
    ------
    MissingExtraError
        As :func:`lazy_import`; also when a name is neither an attribute nor a submodule.
    """
    mod = lazy_import(module, extra)
    found = []
    for name in names:
        if not hasattr(mod, name):
            lazy_import(f"{module}.{name}", extra or extra_of(module))  # binds the submodule on its package
        try:
            found.append(getattr(mod, name))
        except AttributeError as exc:
            raise MissingExtraError(f"cannot import {name} from {module} ({exc}): the installed version lacks it",
                                    module=module, extra=extra or extra_of(module)) from exc
    return found[0] if len(found) == 1 else tuple(found)


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Any, Any]:
    """PEP 562 ``__getattr__`` and ``__dir__`` for a package ``__init__`` that re-exports names.

    Why: a package whose ``__init__`` imports every submodule makes ``import pkg.light_module``
    pay for all of them (``litraj bench umlip --help`` imported the NEB harness, ASE's I/O and
    scipy through ``neb/__init__``). With this, ``from pkg import Name`` still works and
    imports only the submodule that defines ``Name``, on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        Public name -> the module defining it: a submodule of ``package`` (``"harness"``) or a
        full module path (``"litraj_data.bands"``).

    Returns
    -------
    (callable, callable)
        Assign them to the package's ``__getattr__`` and ``__dir__``.
    """
    def __getattr__(name: str) -> Any:
        try:
            where = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module = importlib.import_module(where if where.startswith("litraj_data.") else f"{package}.{where}")
        return getattr(module, name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
