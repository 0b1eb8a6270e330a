"""Structure checks: the layering contracts hold (and can fail), no import cycle, builders import the
physics openly, heavy imports go through litraj_data.lazy, and ruff finds nothing."""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "lint_imports.py"

needs_import_linter = pytest.mark.skipif(
    shutil.which("lint-imports") is None or importlib.util.find_spec("grimp") is None,
    reason="import-linter is not installed (it is in the test extra)")


def _script():
    spec = importlib.util.spec_from_file_location("lint_imports", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_import_linter
def test_the_package_keeps_every_layering_contract():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


@needs_import_linter
@pytest.mark.parametrize("module, line, contract", [
    ("store/manifest.py", "import litraj_data.loaders.load", "The store imports no builder"),
    ("builders/splits.py", "from litraj_data.loaders import cache", "Builders never import loaders"),
    ("leaderboard/reference/hops/graph.py", "import litraj_data.builders.bvel13k", "Layers"),
])
def test_a_forbidden_import_breaks_a_contract(tmp_path, capfd, module, line, contract):
    lint = _script()
    lint.mirror(tmp_path)
    target = tmp_path / "litraj_data" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    assert lint.run_lint(tmp_path) != 0
    out = capfd.readouterr().out
    assert "BROKEN" in out and contract in out


# --------------------------------------------------------------------------- no import cycles

#: run in a subprocess on the mirror (the editable install maps builders/, loaders/ and
#: leaderboard/ into litraj_data with a finder that grimp, walking folders, cannot see)
_CYCLES = r"""
import json, sys
import grimp

graph = grimp.build_graph("litraj_data", cache_dir=None)
index, low, on_stack, stack, cycles = {}, {}, set(), [], []
for root in sorted(graph.modules):  # Tarjan's strongly connected components, iteratively
    if root in index:
        continue
    work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
    index[root] = low[root] = len(index)
    stack.append(root)
    on_stack.add(root)
    while work:
        node, children = work[-1]
        for child in children:
            if child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                break
            if child in on_stack:
                low[node] = min(low[node], index[child])
        else:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    edges = [f"{a} -> {b} (line {d['line_number']})" for a in sorted(component)
                             for b in sorted(graph.find_modules_directly_imported_by(a)) if b in component
                             for d in graph.get_import_details(importer=a, imported=b)]
                    cycles.append(edges)
print(json.dumps({"modules": len(graph.modules), "cycles": cycles}))
"""


def _import_cycles(dest: Path) -> dict:
    lint = _script()
    lint.mirror(dest)
    proc = subprocess.run([sys.executable, "-c", _CYCLES], capture_output=True, text=True, cwd=dest,
                          env={**os.environ, "PYTHONPATH": str(dest)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@needs_import_linter
def test_no_import_cycle_among_the_package_s_modules(tmp_path):
    """No cycle at module level, imports inside functions included (grimp records both)."""
    found = _import_cycles(tmp_path)
    assert found["modules"] > 100  # the whole package was seen, builders/, loaders/, leaderboard/ included
    assert found["cycles"] == [], "\n\n".join("\n".join(c) for c in found["cycles"])


@needs_import_linter
def test_an_import_inside_a_function_that_closes_a_cycle_is_found(tmp_path):
    """The check sees a cycle that only a function-level import closes (how the two old cycles hid)."""
    lint = _script()
    lint.mirror(tmp_path)
    builds = tmp_path / "litraj_data" / "builders" / "structure_builds.py"
    splits = tmp_path / "litraj_data" / "builders" / "splits.py"
    assert "from litraj_data.builders.splits import" in builds.read_text()  # the arrow the cycle goes back along
    splits.write_text(splits.read_text() + "\n\ndef _closes_a_cycle():\n"
                      "    from litraj_data.builders import structure_builds\n    return structure_builds\n")
    proc = subprocess.run([sys.executable, "-c", _CYCLES], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    cycles = json.loads(proc.stdout)["cycles"]
    closing = "litraj_data.builders.splits -> litraj_data.builders.structure_builds"
    assert any(any(closing in edge for edge in c) for c in cycles), cycles


# --------------------------------------------------------------------------- builders call the physics openly


def _function_level_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import statement inside a function or method of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and node.module:
                    found.append((node.lineno, node.module))
                elif isinstance(node, ast.Import):
                    found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_builders_import_the_reference_physics_at_the_top():
    """Builders -> reference calculators (and every other arrow out of a builder) stands in the module's header."""
    hidden = [f"{path.relative_to(ROOT)}:{line} {module}" for path in sorted((ROOT / "builders").rglob("*.py"))
              for line, module in _function_level_imports(path) if module.startswith("litraj_data")]
    assert hidden == []


# --------------------------------------------------------------------------- lazy imports: one helper


def test_lazy_import_names_the_extra_of_a_missing_package(monkeypatch):
    from litraj_data.errors import LitrajError, MissingExtraError
    from litraj_data.lazy import extra_of, lazy_import

    monkeypatch.setitem(sys.modules, "chgnet", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "chgnet.model", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'litraj-data\[chgnet\]'") as exc:
        lazy_import("chgnet.model")
    assert exc.value.reason == "missing_extra" and exc.value.extra == "chgnet" and exc.value.name == "chgnet.model"
    assert isinstance(exc.value, ImportError) and isinstance(exc.value, LitrajError)
    assert extra_of("torch_geometric.data") == "torch" and extra_of("nequip.model") == "gnn"
    assert extra_of("numpy") is None


def test_lazy_import_returns_the_module_and_says_when_a_core_dependency_is_broken(monkeypatch):
    import json as json_module

    from litraj_data.errors import MissingExtraError
    from litraj_data.lazy import available, lazy_import

    assert lazy_import("json") is json_module
    assert available("json") and not available("litraj_no_such_package")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match="reinstall litraj-data") as exc:
        lazy_import("pandas")
    assert exc.value.extra is None


def test_optional_packages_are_imported_through_litraj_data_lazy():
    """No bare function-level import of an extra's package (or pandas): each goes through lazy_import/lazy_from.

    The exceptions: ``executors.dask_client``, whose own ``SchedulerError`` (reason
    ``dask_not_installed``) already names the extra, and ``umlip/mace_server.py``, a script run
    by the separate mace venv's python, where litraj-data is not installed.
    """
    from litraj_data.lazy import EXTRAS

    watched = set(EXTRAS) | {"pandas"}
    allowed = {("litraj_data/executors.py", "distributed"),
               ("leaderboard/reference/umlip/mace_server.py", "mace"),
               ("leaderboard/reference/umlip/mace_server.py", "torch")}
    bare = []
    for folder in ("litraj_data", "builders", "loaders", "leaderboard"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for line, module in _function_level_imports(path):
                top = module.split(".")[0]
                if top in watched and (rel, top) not in allowed:
                    bare.append(f"{rel}:{line} {module}")
    assert bare == []


# --------------------------------------------------------------------------- ruff


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (it is in the test extra)")
def test_ruff_finds_nothing():
    """``ruff check .`` with the rules of pyproject.toml ([tool.ruff]: pycodestyle, pyflakes, isort, bugbear)."""
    proc = subprocess.run(["ruff", "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_lazy_import_fails_for_a_blocked_parent_even_when_the_submodule_was_imported(monkeypatch):
    import email.mime.text  # noqa: F401 - cached in sys.modules before the parent is blocked

    from litraj_data.errors import MissingExtraError
    from litraj_data.lazy import lazy_import

    monkeypatch.setitem(sys.modules, "email.mime", None)
    with pytest.raises(MissingExtraError, match=r"email\.mime\.text cannot be imported"):
        lazy_import("email.mime.text")
