"""The layering contracts (pyproject.toml [tool.importlinter]) hold, and they can fail."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "lint_imports.py"

pytestmark = pytest.mark.skipif(shutil.which("lint-imports") is None,
                                reason="import-linter is not installed (it is in the test extra)")


def _script():
    spec = importlib.util.spec_from_file_location("lint_imports", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_keeps_every_layering_contract():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


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
