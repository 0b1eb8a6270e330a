"""Configurations of an MPLiTrj split selected for fine-tuning (``--subset``, ``--limit``).

``--subset vacancy`` is the paper's "-vac" ablation: the end-point relaxations only (the
relaxed Li-vacancy structures and their relaxation steps), no band-optimisation image.
Which stage a row belongs to is read from the row itself (``config_id`` / ``info_extra``
of rows built from raw runs, :func:`~litraj_data.leaderboard.scoring.score.stage_of`); rows
imported from the official release do not say it, and no stage is guessed for them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from litraj_data.leaderboard.models.finetune.errors import FinetuneError

__all__ = ["SUBSETS", "DATASETS", "Configs", "load_configs"]

SUBSETS = ("all", "vacancy")
DATASETS = ("MPLiTrj", "MPLiTrj_subsample")
_ENDPOINT = "end-point relaxation"


@dataclass
class Configs:
    """Selected configurations of one split: ids and ASE ``Atoms`` with DFT labels."""

    split: str
    ids: list[str]
    atoms: list[Any]
    data_version: str

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_atoms(self) -> int:
        """Atoms summed over the configurations."""
        return int(sum(len(a) for a in self.atoms))


def _iter_rows(ds: Any) -> Iterator[dict[str, Any]]:
    for i in range(len(ds)):
        yield ds[i]


def load_configs(dataset: str, split: str, source: Any = None, cache_dir: Any = None, subset: str = "all",
                 limit: int | None = None) -> Configs:
    """Configurations of ``split`` with energy, forces and stress, filtered by ``subset``.

    Parameters
    ----------
    dataset : {"MPLiTrj", "MPLiTrj_subsample"}
    split : {"train", "val", "test"}
    source, cache_dir
        As :func:`litraj_data.loaders.load_litraj`.
    subset : {"all", "vacancy"}
        ``vacancy``: end-point relaxation configurations only (the "-vac" ablation).
    limit : int, optional
        The first N selected configurations only.

    Returns
    -------
    Configs

    Raises
    ------
    FinetuneError
        ``reason="no_stage"`` for ``vacancy`` on rows that do not say their stage,
        ``reason="bad_option"`` for an unknown dataset or subset.
    """
    from litraj_data.leaderboard.scoring.score import stage_of
    from litraj_data.loaders import load_litraj
    from litraj_data.loaders.convert import row_to_atoms
    from litraj_data.registry import get_config

    if dataset not in DATASETS:
        raise FinetuneError(f"fine-tuning reads MPLiTrj or MPLiTrj_subsample, got {dataset!r}", reason="bad_option")
    if subset not in SUBSETS:
        raise FinetuneError(f"unknown subset {subset!r}; choose one of {', '.join(SUBSETS)}", reason="bad_option")
    if limit is not None and limit < 1:
        raise FinetuneError(f"--limit must be >= 1, got {limit}", reason="bad_option")
    ds = load_litraj(dataset, split=split, source=source, cache_dir=cache_dir)
    version = getattr(getattr(ds, "info", None), "version", None)
    data_version = str(version) if version else get_config(dataset).version
    ids: list[str] = []
    atoms: list[Any] = []
    for row in _iter_rows(ds):
        if subset == "vacancy":
            stage = stage_of(row["config_id"], row.get("info_extra"))
            if stage is None:
                raise FinetuneError(
                    f"{dataset} {split}: row {row['config_id']!r} does not say its stage (rows imported from the "
                    "official release carry none), so the end-point relaxations of --subset vacancy cannot be "
                    "selected; build the dataset from raw NEB runs (litraj build MPLiTrj --raw DIR) or use "
                    "--subset all", reason="no_stage")
            if stage != _ENDPOINT:
                continue
        if row.get("energy") is None or row.get("forces") is None:
            raise FinetuneError(f"{dataset} {split}: row {row['config_id']!r} has no energy/forces label",
                                reason="bad_option")
        a = row_to_atoms(row)
        if not np.all(np.isfinite(np.asarray(row["forces"], float))) or not np.isfinite(float(row["energy"])):
            raise FinetuneError(f"{dataset} {split}: row {row['config_id']!r} has a non-finite label",
                                reason="bad_option")
        ids.append(str(row["config_id"]))
        atoms.append(a)
        if limit is not None and len(ids) >= limit:
            break
    return Configs(split, ids, atoms, data_version)
