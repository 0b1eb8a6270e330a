"""The dataset registry: one declarative card per dataset, read from YAML.

The cards live next to this module (``datasets/*.yaml``, shared column blocks in
``blocks.yaml``, the paper's BibTeX in ``citation.bib``). Adding a dataset means adding a
card, not code: builders, loaders and the CLI all read their columns, splits and sources
from here.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from litraj_data.errors import UnknownDatasetError

__all__ = ["ColumnSpec", "DatasetConfig", "list_datasets", "info", "get_config", "citation_bibtex"]

COLUMN_KINDS = (
    "string", "float64", "int32", "int64", "bool", "json",
    "int32_list", "float64_list", "vec3_list", "vec3_list_list", "mat3", "bool3", "voigt6",
)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a dataset: its name, kind (see ``COLUMN_KINDS``) and provenance.

    ``source`` says where an importer reads the value: ``info.KEY`` (extxyz ``atoms.info``),
    ``index.KEY`` (the release's index CSV), ``calc.KEY`` (single-point calculator results),
    ``atoms.*`` (structure arrays), ``init.*``/``relaxed.*``/``band.*`` (NEB bands) or
    ``row_id`` (an id the importer makes).
    """

    name: str
    kind: str
    source: str
    nullable: bool = False
    unit: str | None = None
    description: str = ""


@dataclass(frozen=True)
class DatasetConfig:
    """The card of one dataset (what ``litraj info NAME`` shows)."""

    name: str
    version: str
    description: str
    license: str
    homepage: str
    row_id: str
    task_targets: tuple[str, ...]
    splits: dict[str, int]
    release: dict[str, Any]
    columns: tuple[ColumnSpec, ...]
    pending_in_sample: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}; columns: {', '.join(self.column_names)}")

    @property
    def has_structure(self) -> bool:
        return "positions" in self.column_names

    @property
    def has_bands(self) -> bool:
        return "relaxed_positions" in self.column_names

    @property
    def bibtex(self) -> str:
        return citation_bibtex()

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (for ``--json`` and dataset cards)."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "license": self.license,
            "homepage": self.homepage,
            "row_id": self.row_id,
            "task_targets": list(self.task_targets),
            "splits": dict(self.splits),
            "release_url": self.release.get("url"),
            "columns": [
                {"name": c.name, "kind": c.kind, "nullable": c.nullable, "unit": c.unit,
                 "description": c.description}
                for c in self.columns
            ],
            "citation": citation_bibtex(),
        }


def _read_yaml(relpath: str) -> Any:
    text = resources.files(__name__).joinpath(relpath).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _parse_columns(raw: list[dict], blocks: dict[str, list[dict]], dataset: str) -> tuple[ColumnSpec, ...]:
    columns: list[ColumnSpec] = []
    for entry in raw:
        if "include" in entry:
            block = entry["include"]
            if block not in blocks:
                raise ValueError(f"card {dataset}: unknown column block {block!r}")
            columns += _parse_columns(blocks[block], blocks, dataset)
            continue
        kind = entry["type"]
        if kind not in COLUMN_KINDS:
            raise ValueError(f"card {dataset}: column {entry['name']!r} has unknown type {kind!r}")
        columns.append(ColumnSpec(
            name=entry["name"], kind=kind, source=entry.get("from", entry["name"]),
            nullable=bool(entry.get("nullable", False)), unit=entry.get("unit"),
            description=str(entry.get("description", "")),
        ))
    names = [c.name for c in columns]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise ValueError(f"card {dataset}: duplicated columns {sorted(duplicated)}")
    return tuple(columns)


@lru_cache(maxsize=None)
def _load_all() -> dict[str, DatasetConfig]:
    blocks = _read_yaml("blocks.yaml")
    configs: dict[str, DatasetConfig] = {}
    folder = resources.files(__name__).joinpath("datasets")
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".yaml"):
            continue
        raw = yaml.safe_load(item.read_text(encoding="utf-8"))
        cfg = DatasetConfig(
            name=raw["name"], version=str(raw["version"]), description=raw["description"].strip(),
            license=raw["license"], homepage=raw["homepage"], row_id=raw["row_id"],
            task_targets=tuple(raw.get("task_targets", ())), splits=dict(raw["splits"]),
            release=dict(raw.get("release", {})),
            columns=_parse_columns(raw["columns"], blocks, raw["name"]),
            pending_in_sample=tuple(raw.get("pending_in_sample", ())),
        )
        configs[cfg.name] = cfg
    return configs


def list_datasets() -> list[str]:
    """Names of the registered datasets, e.g. ``['BVEL13k', 'MPLiTrj', ...]``."""
    return list(_load_all())


def get_config(name: str) -> DatasetConfig:
    """The card of ``name``; an unknown name raises with the closest registered match.

    Raises
    ------
    UnknownDatasetError
        When ``name`` is not registered (case is forgiven: ``bvel13k`` finds ``BVEL13k``).
    """
    configs = _load_all()
    if name in configs:
        return configs[name]
    by_lower = {k.lower(): k for k in configs}
    if name.lower() in by_lower:
        return configs[by_lower[name.lower()]]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.5)
    hint = f" Did you mean {by_lower[close[0]]!r}?" if close else ""
    raise UnknownDatasetError(
        f"unknown dataset {name!r}.{hint} Registered datasets: {', '.join(configs)}",
        reason="unknown_dataset",
    )


def info(name: str) -> DatasetConfig:
    """The card of dataset ``name`` (description, licence, splits, columns, source, version)."""
    return get_config(name)


def citation_bibtex() -> str:
    """BibTeX of the LiTraj paper (cite it whenever you use the data)."""
    return resources.files(__name__).joinpath("citation.bib").read_text(encoding="utf-8")
