"""Builders of small truth tables and submissions shared by the scoring/render tests.

No tests here: the file only carries helpers (the tests folder is on sys.path).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from litraj_data.leaderboard.scoring import Truth, get_task


def scalar_truth(task_id: str = "nebDFT2k/em", n_test: int = 12, seed: int = 1) -> Truth:
    """Truth of a scalar task: train/val/test tables with ids, targets and TM flags."""
    task = get_task(task_id)
    rng = np.random.default_rng(seed)
    tables = {}
    for split, n in (("train", 6), ("val", 4), ("test", n_test)):
        ids = [f"mp-{split}{i}_0_1_0_0_0" if task.id_column == "edge_id" else f"mp-{split}{i}" for i in range(n)]
        df = pd.DataFrame({task.id_column: ids, task.target: rng.uniform(0.1, 1.5, n)})
        if "has_specific_TM" in task.truth_columns():
            df["has_specific_TM"] = np.arange(n) % 3 == 0
        tables[split] = df
    return Truth.from_tables(task, tables, version=task.version)


def predictions_for(truth: Truth, noise: float = 0.1, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = truth.table
    col = truth.task.id_column
    return pd.DataFrame({col: t[col], "prediction": t[truth.task.target] + rng.normal(0, noise, len(t))})


def write_metadata(path: Path, **overrides) -> Path:
    import yaml

    meta = {"model": "TestModel", "model_version": "1.0", "authors": ["A. Tester"], "url": None,
            "training_data": "LiTraj nebDFT2k train", "fine_tuned_on_litraj": False,
            "hyperparameters": {"alpha": 1.0}, "date": "2025-01-01"}
    meta.update(overrides)
    path.write_text(yaml.safe_dump(meta))
    return path


CELL = np.diag([8.0, 8.5, 9.0])
NUMBERS = np.array([3, 3, 8, 8, 15])


def _band(em: float, n_images: int = 5) -> tuple[np.ndarray, np.ndarray]:
    # One Li hops 2 A along x across the periodic boundary; the rest sit still.
    start = np.array([[7.5, 1.0, 1.0], [4.0, 4.0, 4.0], [2.0, 6.0, 3.0], [6.0, 2.0, 7.0], [3.0, 3.0, 6.0]])
    frames = []
    for k in range(n_images):
        pos = start.copy()
        pos[0, 0] = (7.5 + 2.0 * k / (n_images - 1)) % 8.0
        frames.append(pos)
    s = np.linspace(0, 1, n_images)
    energies = -20.0 + em * np.sin(np.pi * s) ** 2
    return np.stack(frames), energies


def band_truth(task_id: str = "nebDFT2k/umlip_neb", n_test: int = 6) -> Truth:
    task = get_task(task_id)
    tables = {}
    rng = np.random.default_rng(5)
    for split, n in (("train", 3), ("test", n_test)):
        rows = []
        for i in range(n):
            em = float(rng.uniform(0.2, 1.0))
            pos, e = _band(em)
            rows.append({"edge_id": f"mp-{split}{i}_0_1_0_0_0", "em_dft": em, "has_specific_TM": i % 2 == 1,
                         "band_numbers": NUMBERS.tolist(), "relaxed_positions": pos.tolist(),
                         "relaxed_cell": CELL.tolist(), "relaxed_energies": e.tolist(),
                         "band_pbc": [True, True, True]})
        tables[split] = pd.DataFrame(rows)
    return Truth.from_tables(task, tables, version=task.version)


def write_band_files(truth: Truth, folder: Path, shift: float = 0.05, scale: float = 1.1,
                     failed: tuple[str, ...] = ()) -> Path:
    """One extxyz per hop: reference band shifted by ``shift`` A (x of atom 2), energies scaled."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    folder.mkdir(parents=True, exist_ok=True)
    for r in truth.table.itertuples(index=False):
        pos = np.array(r.relaxed_positions, dtype=float)
        pos[:, 2, 0] += shift
        e = np.array(r.relaxed_energies)
        e = e.min() + scale * (e - e.min())
        frames = []
        for k in range(len(pos)):
            a = Atoms(numbers=r.band_numbers, positions=pos[k], cell=np.array(r.relaxed_cell), pbc=True)
            a.info["edge_id"] = r.edge_id
            if r.edge_id in failed:
                a.info["converged"] = False
            a.calc = SinglePointCalculator(a, energy=float(e[k]))
            frames.append(a)
        write(folder / f"{r.edge_id}.xyz", frames, format="extxyz")
    return folder
