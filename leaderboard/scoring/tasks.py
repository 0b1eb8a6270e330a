"""The leaderboard's tasks (read from ``tasks.yaml``) and their truth tables.

A task binds a dataset card, a dataset version and an evaluation split to an id column, a
target and a scorer kind (``scalar``, ``bands``, ``efs``). ``Task.load_truth`` reads the
truth through ``litraj_data.loaders.load_litraj``; tests and offline users build a
:class:`Truth` directly with :meth:`Truth.from_tables`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from litraj_data.errors import DataFormatError, LitrajError, UnknownDatasetError
from litraj_data.io import did_you_mean
from litraj_data.yamlsafe import YamlError, read_yaml

__all__ = ["Task", "Truth", "list_tasks", "get_task", "load_tasks_file", "SUBSET_RULES"]

# Subset name -> rule on the truth table. "w/o TM"/"with TM" follow the paper (Table 4).
# The stage subsets (Table S7's "-vac" ablation trains on end-point relaxations only) read a
# ``stage`` column that the efs scorer derives per configuration; rows without one are in
# neither stage subset, and an empty subset is left out of the record.
SUBSET_RULES = {
    "all": lambda df: np.ones(len(df), dtype=bool),
    "w/o TM": lambda df: ~_tm_flags(df),
    "with TM": lambda df: _tm_flags(df),
    "end-point relaxation": lambda df: _stage_is(df, "end-point relaxation"),
    "band optimisation": lambda df: _stage_is(df, "band optimisation"),
}

BAND_COLUMNS = ("band_numbers", "relaxed_positions", "relaxed_cell", "relaxed_energies", "band_pbc")
EFS_COLUMNS = ("numbers", "energy", "forces", "stress")
#: read when the dataset has them, never required: chemsys feeds the per-element error heatmap
OPTIONAL_COLUMNS = ("relaxed_energies", "band_pbc", "stress", "chemsys", "info_extra")


def _stage_is(df: pd.DataFrame, stage: str) -> np.ndarray:
    if "stage" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return (df["stage"] == stage).fillna(False).to_numpy(bool)


def _tm_flags(df: pd.DataFrame) -> np.ndarray:
    if "has_specific_TM" not in df.columns:
        raise DataFormatError("truth table has no has_specific_TM column: cannot form TM subsets",
                              reason="missing_column")
    flags = df["has_specific_TM"]
    if flags.isna().any():
        raise DataFormatError(f"has_specific_TM is null for {int(flags.isna().sum())} rows: "
                              "cannot form TM subsets", reason="missing_column")
    return flags.astype(bool).to_numpy()


@dataclass(frozen=True)
class Task:
    """One leaderboard task, e.g. ``nebDFT2k/em``.

    Attributes mirror the keys of ``tasks.yaml``; ``split`` is ``test`` or ``all``.
    """

    id: str
    dataset: str
    version: str
    split: str
    kind: str
    id_column: str
    target: str
    unit: str
    description: str
    metrics: tuple[str, ...]
    subsets: tuple[str, ...] = ("all",)
    screening_threshold: float | None = None
    unit_check: float | None = None
    tl_feature: str | None = None
    requires_not_finetuned: bool = False
    reference: Mapping[str, str] | None = None

    @property
    def short_target(self) -> str:
        """The task's own name after the slash (``E_1D``, ``em``, ``umlip_neb``)."""
        return self.id.split("/", 1)[1]

    def truth_columns(self) -> list[str]:
        """Columns of the evaluation split that scoring needs."""
        cols = [self.id_column]
        if self.kind == "scalar":
            cols.append(self.target)
        elif self.kind == "bands":
            cols += [self.target, *BAND_COLUMNS]
        else:
            # info_extra may say the configuration's stage (kind: source/target/band)
            cols += [*EFS_COLUMNS, "info_extra"]
        # efs rows carry no TM flag: the scorer derives it from the atomic numbers
        if self.kind != "efs" and any(s in ("w/o TM", "with TM") for s in self.subsets):
            cols.append("has_specific_TM")
        cols.append("chemsys")
        return cols

    def load_truth(self, source: str | None = None, cache_dir: str | None = None) -> "Truth":
        """Read the truth table of this task with ``load_litraj``.

        Parameters
        ----------
        source
            Where the dataset comes from, with the meaning of ``load_litraj(source=)``
            (``"sample"`` for the embedded sample, a local folder, the Hub, ...).
        cache_dir
            Cache folder passed on to ``load_litraj``.

        Returns
        -------
        Truth
            Rows of the evaluation split plus the ids of the other splits (to recognise
            predictions made on the wrong split).
        """
        from litraj_data.loaders import load_litraj, manifest_of  # late: the loader pulls in datasets

        dd = load_litraj(self.dataset, split=None, version=self.version, source=source,
                         cache_dir=cache_dir)
        from_sample = str(source) == "sample"
        try:
            man = manifest_of(self.dataset, version=self.version, source=source, cache_dir=cache_dir)
            version = str(man.version)
            # a copy of the sample (a release or folder made from it) still says what it is
            from_sample = from_sample or bool(man.data.get("sample"))
        except (LitrajError, OSError):  # the loader opened it, so only the version label is unknown
            version = _dataset_version(dd)
        tables: dict[str, Any] = {}
        wanted = self.truth_columns()
        eval_splits = set(dd.keys()) if self.split == "all" else {self.split}
        for split_name in dd.keys():
            ds = dd[split_name]
            if split_name in eval_splits:
                present = [c for c in wanted if c in ds.column_names]
                tables[split_name] = ds.select_columns(present)
            else:
                tables[split_name] = ds.select_columns([self.id_column])
        truth = Truth.from_tables(self, tables, version=version)
        # the embedded sample is a few rows of the split, not the split: records and pages say so
        truth.origin = "sample" if from_sample else None
        return truth


def _dataset_version(dd: Any) -> str | None:
    """Version recorded by the loader, if it records one (info.version or a manifest)."""
    for split_ds in getattr(dd, "values", lambda: [dd])():
        info = getattr(split_ds, "info", None)
        version = getattr(info, "version", None)
        if version is not None and str(version) not in ("", "0.0.0"):
            return str(version)
    return None


def _to_frame(table: Any) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table.reset_index(drop=True)
    if hasattr(table, "to_pandas"):  # datasets.Dataset / pyarrow.Table
        return table.to_pandas()
    if isinstance(table, Mapping):
        return pd.DataFrame(dict(table))
    raise TypeError(f"cannot read a truth table from {type(table).__name__}")


@dataclass
class Truth:
    """Truth of one task: the rows scored and the ids of the splits not scored.

    Attributes
    ----------
    task
        The task.
    table
        One row per scored id (columns from :meth:`Task.truth_columns`), in dataset order.
    other_split_ids
        ``{split: set of ids}`` of the splits outside the evaluation split.
    version
        Dataset version the truth was read from (``None`` when the source does not say).
    origin
        ``"sample"`` when the truth is the embedded sample (a few rows, not the full split),
        else ``None``.
    """

    task: Task
    table: pd.DataFrame
    other_split_ids: dict[str, set[str]] = field(default_factory=dict)
    version: str | None = None
    origin: str | None = None

    @classmethod
    def from_tables(cls, task: Task, tables: Mapping[str, Any], version: str | None = None) -> "Truth":
        """Build the truth from ``{split: table}`` (pandas, ``datasets.Dataset`` or dict of columns).

        Raises
        ------
        DataFormatError
            When the evaluation split is absent or a needed column is missing.
        """
        eval_splits = list(tables) if task.split == "all" else [task.split]
        missing = [s for s in eval_splits if s not in tables]
        if missing:
            raise DataFormatError(f"{task.id}: truth has no {missing[0]!r} split (splits: {list(tables)})",
                                  reason="missing_split")
        frames = []
        for s in eval_splits:
            df = _to_frame(tables[s])
            df["split"] = s
            frames.append(df)
        table = pd.concat(frames, ignore_index=True)
        needed = [c for c in task.truth_columns() if c not in OPTIONAL_COLUMNS]
        absent = [c for c in needed if c not in table.columns]
        if absent:
            raise DataFormatError(f"{task.id}: truth table lacks columns {absent}", reason="missing_column")
        table[task.id_column] = table[task.id_column].astype(str)
        others = {s: set(_to_frame(t)[task.id_column].astype(str)) for s, t in tables.items()
                  if s not in eval_splits}
        return cls(task=task, table=table, other_split_ids=others, version=version)


class _TaskSpec(BaseModel):
    """Schema of one task in ``tasks.yaml``: an unknown key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    version: str
    split: Literal["train", "val", "test", "all"]
    kind: Literal["scalar", "bands", "efs"]
    id_column: str
    target: str
    unit: str
    description: str = ""
    metrics: tuple[str, ...] = ()
    subsets: tuple[str, ...] = ("all",)
    screening_threshold: float | None = None
    unit_check: float | None = None
    tl_feature: str | None = None
    requires_not_finetuned: bool = False
    reference: dict[str, str] | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v  # YAML reads 1.0 as a number

    @field_validator("subsets")
    @classmethod
    def _known_subsets(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in v if s not in SUBSET_RULES]
        if unknown:
            raise ValueError(f"unknown subsets {unknown} (known: {list(SUBSET_RULES)})")
        return v


class _TasksFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tasks: dict[str, _TaskSpec]


def _schema_error(path: str, exc: ValidationError) -> DataFormatError:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key {err['loc'][-1]!r} at {where}")
        else:
            problems.append(f"{where}: {err['msg']}")
    return DataFormatError(f"{path}: " + "; ".join(problems), reason="bad_format")


def load_tasks_file(path: str | Path) -> dict[str, Task]:
    """Tasks of a ``tasks.yaml`` file, validated against the schema.

    Raises
    ------
    DataFormatError
        ``bad_format``: not YAML, an unknown key (named with the file), a missing key or a
        value of the wrong type or vocabulary.
    """
    path = Path(path)
    try:
        raw = read_yaml(path)
    except YamlError as exc:  # bounded reader: aliases, depth, size and .inf are refused
        raise DataFormatError(f"{exc} ({exc.reason})", reason="bad_format") from None
    try:
        spec_file = _TasksFile.model_validate(raw)
    except ValidationError as exc:
        raise _schema_error(str(path), exc) from exc
    return {task_id: Task(id=task_id, dataset=spec.dataset, version=spec.version, split=spec.split,
                          kind=spec.kind, id_column=spec.id_column, target=spec.target, unit=spec.unit,
                          description=" ".join(spec.description.split()), metrics=spec.metrics,
                          subsets=spec.subsets, screening_threshold=spec.screening_threshold,
                          unit_check=spec.unit_check, tl_feature=spec.tl_feature,
                          requires_not_finetuned=spec.requires_not_finetuned, reference=spec.reference)
            for task_id, spec in spec_file.tasks.items()}


@lru_cache(maxsize=None)
def _load_tasks() -> dict[str, Task]:
    with resources.as_file(resources.files(__package__).joinpath("tasks.yaml")) as path:
        return load_tasks_file(path)


def list_tasks() -> list[str]:
    """Ids of all leaderboard tasks, e.g. ``['BVEL13k/E_1D', ..., 'MPLiTrj/efs']``."""
    return list(_load_tasks())


def get_task(task_id: str) -> Task:
    """The task ``task_id``; an unknown id raises with the closest match.

    Raises
    ------
    UnknownDatasetError
        When the task is not registered.
    """
    tasks = _load_tasks()
    if task_id in tasks:
        return tasks[task_id]
    by_lower = {k.lower(): k for k in tasks}
    if task_id.lower() in by_lower:
        return tasks[by_lower[task_id.lower()]]
    hint = did_you_mean(task_id, tasks)
    raise UnknownDatasetError(f"unknown task {task_id!r}.{hint} Tasks: {', '.join(tasks)}",
                              reason="unknown_task")
