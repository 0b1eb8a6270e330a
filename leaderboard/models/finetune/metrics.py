"""Energy and force errors of a model on the validation configurations (``before`` / ``after``).

Energies are compared per atom (eV/atom), as Table S7 does; forces are pooled over every
Cartesian component (eV/A), as :mod:`litraj_data.leaderboard.scoring` scores
``MPLiTrj/efs``. Predictions go through the registry's own model builders
(:class:`~litraj_data.leaderboard.reference.umlip.runners.UMLIPProvider`), so the ``after`` numbers
are those of the weights file as ``litraj bench efs --weights`` will load it.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from litraj_data.lazy import lazy_import
from litraj_data.leaderboard.models.finetune.data import Configs

__all__ = ["Prediction", "efs_errors", "predict", "write_predictions"]

#: (total energy eV, forces eV/A (N, 3))
Prediction = tuple[float, np.ndarray]


def efs_errors(configs: Configs, preds: Sequence[Prediction]) -> dict[str, Any]:
    """``n_configs``, ``energy_rmse`` / ``energy_mae`` (eV/atom), ``force_rmse`` / ``force_mae`` (eV/A)."""
    if len(preds) != len(configs):
        raise ValueError(f"{len(preds)} predictions for {len(configs)} configurations")
    n = np.array([len(a) for a in configs.atoms], float)
    e_ref = np.array([a.get_potential_energy() for a in configs.atoms], float) / n
    e_hat = np.array([p[0] for p in preds], float) / n
    f_ref = np.concatenate([np.asarray(a.get_forces(), float).ravel() for a in configs.atoms])
    f_hat = np.concatenate([np.asarray(p[1], float).ravel() for p in preds])
    de, df = e_hat - e_ref, f_hat - f_ref
    return {"n_configs": len(configs), "energy_rmse": float(np.sqrt(np.mean(de ** 2))),
            "energy_mae": float(np.mean(np.abs(de))), "force_rmse": float(np.sqrt(np.mean(df ** 2))),
            "force_mae": float(np.mean(np.abs(df)))}


def predict(provider: Any, configs: Configs, batch_size: int = 16, desc: str = "evaluate",
            progress: bool = True) -> list[Prediction]:
    """Energies and forces of every configuration with a registry provider (tqdm on stderr)."""
    from tqdm import tqdm

    from litraj_data.leaderboard.reference.umlip.efs import predict_efs

    out: list[Prediction] = []
    with tqdm(total=len(configs), desc=desc, unit="config", file=sys.stderr, disable=not progress) as bar:
        for start in range(0, len(configs), batch_size):
            chunk = [a.copy() for a in configs.atoms[start:start + batch_size]]
            for e, f, _ in predict_efs(provider, chunk, batch_size):
                out.append((float(e), np.asarray(f, float)))
            bar.update(len(chunk))
    return out


def write_predictions(path: str | Path, configs: Configs, preds: Sequence[Prediction]) -> Path:
    """Parquet ``config_id, energy, forces`` (atomic), the ``after`` model on the validation configs."""
    pd = lazy_import("pandas")

    from litraj_data.io import atomic_write_table

    df = pd.DataFrame({"config_id": configs.ids, "energy": [p[0] for p in preds],
                       "forces": [np.asarray(p[1], float).tolist() for p in preds]})
    return atomic_write_table(df, path)
