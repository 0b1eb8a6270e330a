"""The leaderboard, by role: ``reference`` (physics, BVSE, hops, NEB harness, uMLIP runners),
``models`` (features, baselines, GNNs, fine-tuning), ``scoring`` (tasks, submissions, metrics,
model cards, the board) and ``page`` (reports, figures, the static HTML page).

Module paths of 0.1 (``litraj_data.leaderboard.bvse``, ``...scoring.render``, ...) still import
for one minor release: :class:`_MovedModuleFinder` aliases them to their new homes with a
``DeprecationWarning`` (listed in CHANGELOG.md).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

#: old module prefix (0.1) -> new module prefix; removed in 0.3
MOVED: dict[str, str] = {
    **{f"{__name__}.{old}": f"{__name__}.reference.{old}" for old in ("physics", "bvse", "hops", "neb", "umlip")},
    **{f"{__name__}.{old}": f"{__name__}.models.{old}" for old in ("features", "baselines", "gnn", "finetune")},
    f"{__name__}.scoring.render": f"{__name__}.page.render",
    f"{__name__}.scoring.page": f"{__name__}.page.figures",
    f"{__name__}.scoring.cli": f"{__name__}.page.cli",
}


def _new_name(fullname: str) -> str | None:
    for old, new in MOVED.items():
        if fullname == old or fullname.startswith(old + "."):
            return new + fullname[len(old):]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Serve an old module path as the already-imported module of its new path."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # a throwaway module: exec_module puts the real one in its place

    def exec_module(self, module: ModuleType) -> None:
        # importlib returns whatever sys.modules holds under the old name once this returns, so the
        # new module (with its own __spec__ untouched) is what ``import old.path`` binds.
        warnings.warn(f"{module.__name__} moved to {self.new}; the old path goes away in litraj-data 0.3",
                      DeprecationWarning, stacklevel=2)
        sys.modules[module.__name__] = importlib.import_module(self.new)


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - the finder protocol
        new = _new_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new), is_package=True)


if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModuleFinder())
