"""``litraj bench efs``: energies, forces and stresses of an MPLiTrj split -> an ``efs`` submission.

Output::

    OUT                     Parquet keyed by config_id: energy (eV), forces (eV/A), stress (Voigt, eV/A^3)
    OUT.metadata.yaml       submission metadata (model, version, training data, hardware, wall time)

CHGNet predicts ``batch_size`` structures per forward pass (its own ``predict_structure``);
the other models go through their ASE calculator one configuration at a time, because the
batched band evaluators of :mod:`.batched` compute no stress.
"""
from __future__ import annotations

import datetime as _dt
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import yaml

from litraj_data.io import atomic_write_text, atomic_writer
from litraj_data.leaderboard.reference.umlip.bench import hardware_of
from litraj_data.leaderboard.reference.umlip.runners import UMLIPProvider

__all__ = ["bench_efs", "efs_task_of", "predict_efs"]

#: CHGNet reports stress in GPa; ASE (and the submission format) use eV/A^3
_GPA_TO_EV_A3 = 1.0 / 160.21766208


def efs_task_of(dataset: str) -> str:
    """Leaderboard task of an efs run on ``dataset`` (MPLiTrj or MPLiTrj_subsample)."""
    names = {"mplitrj": "MPLiTrj/efs", "mplitrj_subsample": "MPLiTrj_subsample/efs"}
    if dataset.lower() not in names:
        raise ValueError(f"energies/forces/stresses are benchmarked on MPLiTrj or MPLiTrj_subsample, got {dataset!r}")
    return names[dataset.lower()]


def _iter_atoms(dataset: str, split: str, source: Any, cache_dir: Any, limit: int | None) -> Iterator[tuple[str, Any]]:
    from litraj_data.loaders import load_litraj
    from litraj_data.loaders.convert import row_to_atoms

    ds = load_litraj(dataset, split=split, source=source, cache_dir=cache_dir)
    n = len(ds) if limit is None else min(limit, len(ds))
    for i in range(n):
        row = ds[i]
        yield str(row["config_id"]), row_to_atoms(row)


def _voigt(stress: Any) -> np.ndarray:
    s = np.asarray(stress, float)
    if s.size == 9:  # CHGNet returns the full tensor: ASE Voigt order xx yy zz yz xz xy
        m = s.reshape(3, 3)
        return np.array([m[0, 0], m[1, 1], m[2, 2], m[1, 2], m[0, 2], m[0, 1]])
    return s.ravel()


def predict_efs(provider: UMLIPProvider, atoms: list[Any],
                batch_size: int = 16) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Total energy (eV), forces (eV/A) and Voigt stress (eV/A^3, ASE sign) of each structure."""
    if provider.spec.name == "chgnet":
        from pymatgen.io.ase import AseAtomsAdaptor

        model = provider._model()["evaluator"]().model  # the loaded CHGNet, shared with the calculator
        structures = [AseAtomsAdaptor.get_structure(a) for a in atoms]
        preds = model.predict_structure(structures, task="efs", batch_size=batch_size)
        preds = [preds] if isinstance(preds, dict) else preds
        # CHGNet's energy is per atom (intensive); its stress has the sign of CHGNetCalculator's
        return [(float(p["e"]) * len(a), np.asarray(p["f"], float), _voigt(p["s"]) * _GPA_TO_EV_A3)
                for p, a in zip(preds, atoms)]
    out = []
    for a in atoms:
        a = a.copy()
        a.calc = provider.calculator()
        out.append((float(a.get_potential_energy()), np.asarray(a.get_forces(), float),
                    np.asarray(a.get_stress(voigt=True), float)))
    return out


def bench_efs(provider: UMLIPProvider | Callable[[], UMLIPProvider], out: str | os.PathLike, dataset: str = "MPLiTrj",
              split: str = "test", source: Any = None, limit: int | None = None, batch_size: int = 16,
              cache_dir: Any = None, progress: Callable[[int], None] | None = None,
              fine_tuned: bool = False) -> dict[str, Any]:
    """Predict a split of MPLiTrj and write an ``efs`` submission and its metadata.

    Parameters
    ----------
    provider : UMLIPProvider or callable
        The model, or a factory called after the first row was read (an unavailable dataset
        fails before a model is loaded).
    out : path
        Parquet file of the submission; the metadata goes to ``OUT.metadata.yaml``.
    dataset, split, source, cache_dir, limit
        Which configurations (``load_litraj`` arguments; ``limit``: the first N only).
    batch_size : int
        Structures per forward pass (CHGNet) and per written chunk.
    fine_tuned : bool
        The weights were trained on LiTraj data (the metadata's ``fine_tuned_on_litraj``).

    Returns
    -------
    dict
        ``task``, ``submission``, ``metadata``, ``n_configs``, ``wall_time_s``, ``configs_per_s``.
    """
    task = efs_task_of(dataset)
    rows = _iter_atoms(dataset, split, source, cache_dir, limit)
    first = next(rows, None)  # open the dataset before building the model
    if not isinstance(provider, UMLIPProvider):
        provider = provider()
    records: list[dict[str, Any]] = []
    batch: list[tuple[str, Any]] = [] if first is None else [first]
    t0 = time.perf_counter()

    def flush() -> None:
        for (cid, _), (e, f, s) in zip(batch, predict_efs(provider, [a for _, a in batch], batch_size)):
            records.append({"config_id": cid, "energy": e, "forces": f.tolist(), "stress": s.tolist()})
        if progress is not None:
            progress(len(records))
        batch.clear()

    for item in rows:
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    wall = time.perf_counter() - t0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(out, "wb") as fh:  # a crash never leaves half a submission; Parquet whatever the suffix
        pd.DataFrame(records, columns=["config_id", "energy", "forces", "stress"]).to_parquet(fh, index=False)
    meta = provider.metadata()
    # --fine-tuned marks weights trained on LiTraj data that carry no fine-tune card; a
    # ``litraj finetune`` folder already says so through provider.metadata()
    meta.update(authors=None, fine_tuned_on_litraj=bool(fine_tuned) or bool(meta.get("fine_tuned_on_litraj")),
                hyperparameters={"batch_size": batch_size},
                date=_dt.date.today().isoformat(), task=task, split=split, wall_time_s=round(wall, 3),
                hardware=hardware_of(provider))
    meta_path = atomic_write_text(out.with_name(out.name + ".metadata.yaml"), yaml.safe_dump(meta, sort_keys=False))
    return {"task": task, "submission": str(out), "metadata": str(meta_path), "n_configs": len(records),
            "wall_time_s": round(wall, 3), "configs_per_s": round(len(records) / wall, 3) if wall > 0 else None}
