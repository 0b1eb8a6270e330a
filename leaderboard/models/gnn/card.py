"""The model card of a GNN run (the schema of ``leaderboard/scoring/modelcard.py``)."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from importlib import metadata
from typing import Any

from litraj_data._version import __version__ as _package_version
from litraj_data.lazy import lazy_import

__all__ = ["hardware", "environment", "model_card"]

_PACKAGES = {"m3gnet": ("torch", "matgl", "torch_geometric", "lightning", "ase"),
             "nequip": ("torch", "nequip", "e3nn", "lightning", "ase"),
             "allegro": ("torch", "nequip", "nequip-allegro", "e3nn", "lightning", "ase")}
_DOI = {"m3gnet": "10.1038/s43588-022-00349-3", "nequip": "10.1038/s41467-022-29939-5",
        "allegro": "10.1038/s41467-023-36329-y"}
_REPO = {"m3gnet": "https://github.com/materialyzeai/matgl", "nequip": "https://github.com/mir-group/nequip",
         "allegro": "https://github.com/mir-group/allegro"}
_LICENSE = {"m3gnet": "BSD-3-Clause", "nequip": "MIT", "allegro": "MIT"}


def hardware(device: str) -> str:
    """``1x <GPU name>`` on CUDA, else the CPU and the threads torch uses."""
    torch = lazy_import("torch")

    if device == "cuda":
        return f"1x {torch.cuda.get_device_name(0)}"
    return f"CPU {_cpu_model()}, {torch.get_num_threads()} torch threads of {os.cpu_count()} cores"


def _cpu_model() -> str:
    # platform.processor() is just "x86_64" on Linux; /proc/cpuinfo names the model
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux: fall back to what platform knows
        pass
    return platform.processor() or platform.machine()


def environment(arch: str) -> dict[str, Any]:
    """Python and the exact versions of the packages the run used."""
    pkgs = {}
    for name in _PACKAGES[arch]:
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # not installed under that distribution name: leave it out
            continue
    pkgs["litraj-data"] = _package_version
    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}", "packages": pkgs}


def model_card(*, arch: str, name: str, task: Any, n_parameters: int, hyperparameters: dict[str, Any],
               wall_time_s: float, hardware: str, datasets: list[str], notes: str | None = None,
               from_scratch: bool = True) -> dict[str, Any]:
    """A complete model card for a model trained in place (no checkpoint URL).

    ``from_scratch``: trained from random weights (the default), not fine-tuned from a previous
    run (``--init-from``). Either way the model saw LiTraj training data, so
    ``fine_tuned_on_litraj`` (the flag the all-splits tasks check) is true; the page shows
    "trained on LiTraj from scratch" or "fine-tuned on LiTraj" from ``from_scratch``.
    """
    return {
        "model_name": name, "model_version": _package_version,
        "date_added": _dt.date.today().isoformat(),
        "authors": [{"name": "litraj-data GNN trainer (litraj train gnn)"}],
        "repo": _REPO[arch], "paper_doi": _DOI[arch], "checkpoint": None,
        "license": {"code": _LICENSE[arch], "checkpoint": None},
        "environment": environment(arch),
        "training_data": {"datasets": datasets, "fine_tuned_on_litraj": True, "litraj_test_data_seen": False,
                          "litraj_splits_seen": ["train", "val"], "from_scratch": bool(from_scratch)},
        "n_parameters": int(n_parameters), "hyperparameters": hyperparameters,
        "tasks": {task.id: {"hardware": hardware, "wall_time_s": round(float(wall_time_s), 2)}},
        "dataset_version": task.version, "notes": notes,
    }
