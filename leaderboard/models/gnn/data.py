"""Task splits as ASE ``Atoms`` with their targets: what every GNN backend trains on.

The centroid dummy atom (atomic number 0, ASE symbol ``X``) is kept as its own species:
every backend gets the same fixed type list (H..Pu and ``X``), so that a model pretrained on
one dataset (nebBVSE122k) has the same embedding table as the one it is fine-tuned on
(nebDFT2k), whatever elements each split happens to contain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
from ase.data import chemical_symbols

from litraj_data.leaderboard.models.gnn.errors import GNNError
from litraj_data.leaderboard.scoring.tasks import Task

__all__ = ["TYPE_NAMES", "GraphSplit", "load_splits", "check_species", "r_max_for"]

#: species every model knows: Z = 1..94 (what matgl's universal models cover) and the dummy X
TYPE_NAMES: tuple[str, ...] = tuple(chemical_symbols[1:95]) + ("X",)

_STRUCTURE = ["numbers", "positions", "cell", "pbc"]


@dataclass
class GraphSplit:
    """One split: ids, structures and targets (``nan`` where the row has no finite target)."""

    ids: list[str]
    atoms: list[Any]
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.ids)

    def labelled(self) -> "GraphSplit":
        """The rows with a finite target (null and ``inf`` = no percolation cannot be regressed on)."""
        keep = np.isfinite(self.y)
        return GraphSplit([i for i, k in zip(self.ids, keep) if k], [a for a, k in zip(self.atoms, keep) if k],
                          self.y[keep])


def r_max_for(task: Task) -> float:
    """The paper's NequIP/Allegro cutoff: 7.0 Å for BVEL13k structures, 6.0 Å for hop supercells."""
    return 7.0 if task.id_column == "material_id" else 6.0


def check_task(task: Task) -> None:
    """GNNs here regress one scalar per structure or per hop."""
    if task.kind != "scalar":
        raise GNNError(f"{task.id} is a {task.kind} task: `litraj train gnn` trains scalar tasks only "
                       "(BVEL13k/E_1D, E_2D, E_3D, nebBVSE122k/em, nebDFT2k/em)", reason="unsupported_task")


def load_splits(task: Task, splits: Iterable[str], source: str | None = None,
                cache_dir: str | None = None) -> dict[str, GraphSplit]:
    """Load ``splits`` of the task's dataset as :class:`GraphSplit` (all rows, targets as float).

    Parameters
    ----------
    task
        A scalar task.
    splits
        Split names (``train``, ``val``, ``test``).
    source, cache_dir
        As :func:`litraj_data.loaders.load_litraj`.
    """
    from litraj_data.loaders import load_litraj
    from litraj_data.loaders.convert import to_ase

    out = {}
    for split in splits:
        ds = load_litraj(task.dataset, split=split, version=task.version, source=source, cache_dir=cache_dir)
        ds = ds.select_columns([c for c in [task.id_column, task.target, *_STRUCTURE] if c in ds.column_names])
        ids = [str(v) for v in ds[task.id_column]]
        y = np.array([np.nan if v is None else float(v) for v in ds[task.target]], dtype=float)
        out[split] = GraphSplit(ids, list(to_ase(ds)), y)
    return out


def check_species(splits: dict[str, GraphSplit]) -> None:
    """Fail before training when a structure holds a species outside :data:`TYPE_NAMES`."""
    known = set(TYPE_NAMES)
    for name, split in splits.items():
        for i, atoms in zip(split.ids, split.atoms):
            bad = sorted(set(atoms.get_chemical_symbols()) - known)
            if bad:
                raise GNNError(f"{name} row {i}: species {bad} not in the models' type list (H..Pu and X)",
                               reason="unknown_element")
