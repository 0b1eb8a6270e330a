"""The dataset registry: one declarative card per dataset, read from YAML.

The cards live next to this module (``datasets/*.yaml``, shared column blocks in
``blocks.yaml``, the paper's BibTeX in ``citation.bib``). Adding a dataset means adding a
card, not code: builders, loaders and the CLI all read their columns, splits and sources
from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, Union

from pydantic import Field

from litraj_data.errors import RegistryError, UnknownDatasetError
from litraj_data.io import did_you_mean
from litraj_data.registry.validation import Strict, validate_document
from litraj_data.yamlsafe import load_yaml

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
    allow_inf: bool = False


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
    #: physics rules every row obeys (``rules:`` of the card, see :class:`RulesEntry`), with defaults filled in
    rules: dict[str, Any] = field(default_factory=lambda: RulesEntry().model_dump())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}; columns: {', '.join(self.column_names)}")

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


# --------------------------------------------------------------------------- card schema

ColumnKind = Literal[COLUMN_KINDS]  # type: ignore[valid-type]


class ColumnEntry(Strict):
    """One column of a card (``from`` defaults to the column's name)."""

    name: str
    type: ColumnKind
    from_: str | None = Field(default=None, alias="from")
    nullable: bool = False
    unit: str | None = None
    description: str = ""
    allow_inf: bool = False


class IncludeEntry(Strict):
    """``{include: BLOCK}``: the columns of a shared block; ``description`` prefixes theirs."""

    include: str
    description: str | None = None


class SplitFilesRelease(Strict):
    """An official release with one extxyz per split (and optionally an index CSV)."""

    url: str
    archive: str
    folder: str
    layout: Literal["split_files"]
    split_file: str
    index: str | None = None
    index_key: str | None = None


class IndexTrajectoriesRelease(Strict):
    """nebDFT2k's release: an index with splits, two band files per hop, a centroid file."""

    url: str
    archive: str
    folder: str
    layout: Literal["index_trajectories"]
    index: str
    index_key: str
    split_column: str = "_split"
    centroids: str
    init_file: str
    relaxed_file: str


class RulesEntry(Strict):
    """``rules:`` of a card: what every row must satisfy, checked on import and on builds.

    Applied by :func:`litraj_data.structures.check_row` (see its docstring and
    ``docs/formats.md``). ``non_negative`` names the barrier columns: ``max - min`` of a
    profile, so never below zero; ``barrier_tolerance`` (eV) forgives the last digits of a
    flat profile written through text by other tools.
    """

    min_atoms: int = Field(default=1, ge=1)
    periodic: bool = True
    positive_volume: bool = True
    dummy_atoms: int | None = Field(default=None, ge=0)
    band_dummy_atoms: int | None = Field(default=None, ge=0)
    min_band_images: int = Field(default=3, ge=2)
    non_negative: tuple[str, ...] = ()
    barrier_tolerance: float = Field(default=1e-6, ge=0, allow_inf_nan=False)
    chemsys_from_frames: bool = True


class Card(Strict):
    """A dataset card (``datasets/NAME.yaml``)."""

    name: str
    version: str
    description: str
    license: str
    homepage: str
    row_id: str
    task_targets: tuple[str, ...] = ()
    splits: dict[Literal["train", "val", "test"], int]
    release: Union[SplitFilesRelease, IndexTrajectoriesRelease] = Field(discriminator="layout")
    columns: list[Union[IncludeEntry, dict[str, Any]]]
    rules: RulesEntry = Field(default_factory=RulesEntry)


def _read_yaml(relpath: str) -> Any:
    text = resources.files(__name__).joinpath(relpath).read_text(encoding="utf-8")
    return load_yaml(text, relpath)


def _parse_columns(raw: list[Any], blocks: dict[str, list[Any]], source: str,
                   prefix: str = "") -> tuple[ColumnSpec, ...]:
    columns: list[ColumnSpec] = []
    for k, entry in enumerate(raw):
        if isinstance(entry, IncludeEntry) or (isinstance(entry, dict) and "include" in entry):
            inc = entry if isinstance(entry, IncludeEntry) else validate_document(IncludeEntry, entry, source)
            if inc.include not in blocks:
                raise RegistryError(f"{source}: columns[{k}].include: unknown column block {inc.include!r} "
                                    f"(blocks.yaml has {', '.join(blocks)})")
            note = f"{inc.description}: " if inc.description else ""
            columns += _parse_columns(blocks[inc.include], blocks, f"blocks.yaml:{inc.include}", note)
            continue
        col = validate_document(ColumnEntry, entry, f"{source}: columns[{k}]")
        columns.append(ColumnSpec(name=col.name, kind=col.type, source=col.from_ or col.name,
                                  nullable=col.nullable, unit=col.unit, description=prefix + col.description,
                                  allow_inf=col.allow_inf))
    names = [c.name for c in columns]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise RegistryError(f"{source}: duplicated columns {sorted(duplicated)}")
    return tuple(columns)


def parse_card(raw: Any, source: str, blocks: dict[str, list[Any]] | None = None) -> DatasetConfig:
    """A validated :class:`DatasetConfig` from a parsed card.

    Raises
    ------
    RegistryError
        An unknown or missing key, a wrong type, an unknown column block or kind, a
        ``row_id`` or target that is not a column; the message names ``source`` and the key.
    """
    blocks = _read_yaml("blocks.yaml") if blocks is None else blocks
    card = validate_document(Card, raw, source)
    columns = _parse_columns(card.columns, blocks, source)
    names = {c.name for c in columns}
    for key, value in ([("row_id", card.row_id)] + [(f"task_targets[{i}]", t) for i, t in enumerate(card.task_targets)]
                       + [(f"rules.non_negative[{i}]", c) for i, c in enumerate(card.rules.non_negative)]):
        if value not in names:
            raise RegistryError(f"{source}: {key}: {value!r} is not a column of the card")
    return DatasetConfig(
        name=card.name, version=card.version, description=card.description.strip(), license=card.license,
        homepage=card.homepage, row_id=card.row_id, task_targets=tuple(card.task_targets),
        splits={k: card.splits[k] for k in ("train", "val", "test") if k in card.splits},
        release=card.release.model_dump(), columns=columns, rules=card.rules.model_dump(),
    )


@lru_cache(maxsize=None)
def _load_all() -> dict[str, DatasetConfig]:
    blocks = _read_yaml("blocks.yaml")
    configs: dict[str, DatasetConfig] = {}
    folder = resources.files(__name__).joinpath("datasets")
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".yaml"):
            continue
        cfg = parse_card(load_yaml(item.read_text(encoding="utf-8"), item.name), item.name, blocks)
        if f"{cfg.name}.yaml" != item.name:
            raise RegistryError(f"{item.name}: name: {cfg.name!r} does not match the file name")
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
    raise UnknownDatasetError(
        f"unknown dataset {name!r}.{did_you_mean(name, configs)} Registered datasets: {', '.join(configs)}",
        reason="unknown_dataset",
    )


def info(name: str) -> DatasetConfig:
    """The card of dataset ``name`` (description, licence, splits, columns, source, version)."""
    return get_config(name)


def citation_bibtex() -> str:
    """BibTeX of the LiTraj paper (cite it whenever you use the data)."""
    return resources.files(__name__).joinpath("citation.bib").read_text(encoding="utf-8")
