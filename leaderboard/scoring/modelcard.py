"""Model cards of leaderboard submissions, validated by a schema (as matbench-discovery's model YAML).

A *model card* is a YAML file that states who made the model, where its code and checkpoint
are, under which licence, in which pinned environment it ran, what it was trained on (and
whether any LiTraj test data was seen), how large it is, its hyperparameters, and the
hardware and wall time of every task it was run on::

    model_name: MyNet
    model_version: 1.2.0
    date_added: 2025-05-01
    authors:
      - {name: A. Tester, orcid: 0000-0002-1825-0097, affiliation: Somewhere}
    repo: https://github.com/me/mynet
    paper_doi: 10.1234/mynet            # null when there is no paper
    checkpoint: {url: https://example.org/mynet.pt, sha256: <64 hex>}   # null: trained in place
    license: {code: MIT, checkpoint: CC-BY-4.0}
    environment: {python: "3.11", packages: {torch: 2.3.1, mynet: 1.2.0}}
    training_data:
      datasets: [MPtrj]
      fine_tuned_on_litraj: false
      litraj_test_data_seen: false
    n_parameters: 412525                # null: not a parametric model
    hyperparameters: {cutoff: 5.0}
    tasks:
      nebDFT2k/umlip_neb: {hardware: 1x NVIDIA A100 40GB, wall_time_s: 5400}

Unknown keys are errors naming the file and the key (:func:`litraj_data.registry.validation.validate_document`).

The 8-field metadata YAML that ``litraj baseline predict`` and ``litraj bench umlip`` write
(``model, model_version, authors, url, training_data, fine_tuned_on_litraj,
hyperparameters, date``) is still accepted: :func:`parse_metadata` checks its keys against
the legacy vocabulary (unknown key = error, too) and reports which card fields it lacks.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any, Mapping

from pydantic import Field, field_validator, model_validator

from litraj_data.errors import RegistryError
from litraj_data.registry.validation import Strict, validate_document

__all__ = ["ModelCard", "LegacyMetadata", "LEGACY_FIELDS", "LEGACY_EXTRA_FIELDS", "CARD_ONLY_FIELDS", "is_card",
           "parse_metadata", "runtime_of", "orcid_ok"]

#: the fields every legacy metadata YAML states (null where not applicable)
LEGACY_FIELDS = ("model", "model_version", "authors", "url", "training_data", "fine_tuned_on_litraj",
                 "hyperparameters", "date")
#: optional legacy keys: written by `litraj bench umlip` (provider facts, task, wall time) and
#: `litraj baseline predict` (dataset_version); ``name`` is an old spelling of ``model``
LEGACY_EXTRA_FIELDS = ("dataset_version", "name", "task", "split", "weights", "device", "package",
                       "max_batch_atoms", "wall_time_s", "hardware", "n_parameters",
                       # written by the uMLIP provider of a fine-tuned model (base model, data version, ...)
                       "fine_tune")
#: what a full card states that legacy metadata does not (listed by `submit validate`)
CARD_ONLY_FIELDS = ("authors[].orcid", "repo", "paper_doi", "checkpoint", "license", "environment",
                    "training_data.litraj_test_data_seen", "n_parameters", "tasks")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_ORCID = re.compile(r"^(?:https://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")
_URL = re.compile(r"^(?:https?|hf|s3|gs)://\S+$")
# a pinned version is an exact release, not a range: "2.3.1", "0.3.0", "1.0.0rc1", "2.3.1+cu121"
_PINNED = re.compile(r"^\d+(?:\.\d+)*(?:[a-z]+\d*)?(?:\.post\d+)?(?:\.dev\d+)?(?:\+[\w.]+)?$")


def orcid_ok(orcid: str) -> bool:
    """``True`` when ``orcid`` is an ORCID iD (bare or as URL) whose check digit is right (ISO 7064 11,2)."""
    m = _ORCID.match(orcid.strip())
    if not m:
        return False
    digits = m.group(1).replace("-", "")
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return digits[-1] == ("X" if check == 10 else str(check))


def _text(v: Any) -> Any:
    # YAML reads 1.0 as a float and 2025-05-01 as a date; both are meant as text here
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    return v


def _plain_number(v: Any) -> Any:
    # true/false and text are not numbers here: pydantic would read True as 1 and "12" as 12.0,
    # and a string that reached the page crashed `leaderboard render` (f"{wall:.0f}")
    if isinstance(v, (bool, str)):
        raise ValueError(f"{v!r} is not a number")
    return v


class Author(Strict):
    """One author; ``orcid`` is checked (format and check digit)."""

    name: str = Field(min_length=1)
    orcid: str | None = None
    affiliation: str | None = None
    email: str | None = None
    github: str | None = None

    @field_validator("orcid")
    @classmethod
    def _orcid(cls, v: str | None) -> str | None:
        if v is not None and not orcid_ok(v):
            raise ValueError(f"{v!r} is not an ORCID iD (0000-0000-0000-000X, check digit included)")
        return None if v is None else _ORCID.match(v.strip()).group(1)


class Checkpoint(Strict):
    """Where the weights are and their sha256 (so a rerun uses the same model)."""

    url: str
    sha256: str

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not _URL.match(v):
            raise ValueError(f"{v!r} is not a URL (https://, hf://, s3://, gs://)")
        return v

    @field_validator("sha256", mode="before")
    @classmethod
    def _sha_text(cls, v: Any) -> Any:
        if isinstance(v, (int, float)):  # YAML read an all-digit hash as a number (leading zeros lost)
            raise ValueError("sha256 was read as a number: quote it (sha256: \"...\")")
        return v

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str) -> str:
        v = v.lower().removeprefix("sha256:")
        if not _SHA256.match(v):
            raise ValueError("sha256 must be 64 hexadecimal digits")
        return v


class License(Strict):
    """Licences of the code and of the checkpoint (SPDX identifiers where there is one)."""

    code: str
    checkpoint: str | None = None


class Environment(Strict):
    """The pinned environment: the Python version and exact versions of the packages that matter."""

    python: str
    packages: dict[str, str] = Field(min_length=1)
    cuda: str | None = None

    @field_validator("python", "cuda", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return _text(v)

    @field_validator("packages", mode="before")
    @classmethod
    def _pinned(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            return v
        out = {str(k): _text(val) for k, val in v.items()}
        loose = [f"{k}: {val}" for k, val in out.items() if not isinstance(val, str) or not _PINNED.match(val)]
        if loose:
            raise ValueError(f"packages must be pinned to exact versions (e.g. torch: 2.3.1), got {loose}")
        return out


class TrainingData(Strict):
    """What the model was trained on; LiTraj data it saw is stated, test data separately.

    ``fine_tuned_on_litraj`` is true for every model that saw LiTraj training data (the tasks
    that score all splits exclude them); ``from_scratch`` says that it was *trained* on LiTraj
    from random weights rather than fine-tuned from a pretrained model (the page labels it so).
    """

    datasets: list[str] = Field(min_length=1)
    fine_tuned_on_litraj: bool
    litraj_test_data_seen: bool
    litraj_splits_seen: list[str] = []
    from_scratch: bool | None = None


class TaskRun(Strict):
    """Hardware and wall time of the run that produced one task's predictions."""

    hardware: str
    wall_time_s: float = Field(ge=0, allow_inf_nan=False)
    notes: str | None = None

    @field_validator("wall_time_s", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        return _plain_number(v)


class ModelCard(Strict):
    """A submission's model card (see the module docstring for an example)."""

    model_name: str = Field(min_length=1)
    model_version: str
    date_added: str
    authors: list[Author] = Field(min_length=1)
    repo: str | None
    paper_doi: str | None
    checkpoint: Checkpoint | None
    license: License
    environment: Environment
    training_data: TrainingData
    n_parameters: int | None = Field(ge=0)
    hyperparameters: dict[str, Any]
    tasks: dict[str, TaskRun] = Field(min_length=1)
    dataset_version: str | None = None
    notes: str | None = None

    @field_validator("model_version", "date_added", "dataset_version", mode="before")
    @classmethod
    def _texts(cls, v: Any) -> Any:
        return _text(v)

    @field_validator("n_parameters", mode="before")
    @classmethod
    def _count(cls, v: Any) -> Any:
        return _plain_number(v)

    @field_validator("repo")
    @classmethod
    def _repo(cls, v: str | None) -> str | None:
        if v is not None and not _URL.match(v):
            raise ValueError(f"{v!r} is not a URL")
        return v

    @field_validator("paper_doi")
    @classmethod
    def _doi(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip().removeprefix("https://doi.org/").removeprefix("doi:")
        if not _DOI.match(v):
            raise ValueError(f"{v!r} is not a DOI (10.NNNN/...)")
        return v

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, v: dict[str, TaskRun]) -> dict[str, TaskRun]:
        from litraj_data.io import did_you_mean
        from litraj_data.leaderboard.scoring.tasks import list_tasks

        known = list_tasks()
        for task_id in v:
            if task_id not in known:
                raise ValueError(f"unknown task {task_id!r}.{did_you_mean(task_id, known)}")
        return v

    @model_validator(mode="after")
    def _test_seen_implies_litraj(self) -> "ModelCard":
        td = self.training_data
        if td.litraj_test_data_seen and not td.fine_tuned_on_litraj:
            raise ValueError("training_data: litraj_test_data_seen is true, so fine_tuned_on_litraj must be true")
        return self


class LegacyMetadata(Strict):
    """The types of the 8-field legacy metadata and its optional keys (see the module docstring).

    Text fields take numbers and dates as text (YAML reads ``1.0`` and ``2025-05-01`` as
    such); numbers must be finite, non-negative and not true/false. ``fine_tuned_on_litraj``
    is left as given: a non-boolean is a ``metadata`` issue of the submission, named there.
    """

    model: str | None = None
    name: str | None = None
    model_version: str | None = None
    authors: str | list[str] | None = None
    url: str | None = None
    training_data: str | None = None
    fine_tuned_on_litraj: Any = None
    hyperparameters: dict[str, Any] | None = None
    date: str | None = None
    dataset_version: str | None = None
    task: str | None = None
    split: str | None = None
    weights: str | None = None
    device: str | None = None
    package: str | None = None
    hardware: str | None = None
    max_batch_atoms: int | None = Field(default=None, ge=1)
    n_parameters: int | None = Field(default=None, ge=0)
    wall_time_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    fine_tune: dict[str, Any] | None = None

    @field_validator("model", "name", "model_version", "url", "training_data", "date", "dataset_version", "task",
                     "split", "weights", "device", "package", "hardware", mode="before")
    @classmethod
    def _texts(cls, v: Any) -> Any:
        return _text(v)

    @field_validator("max_batch_atoms", "n_parameters", "wall_time_s", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return _plain_number(v)


def is_card(doc: Mapping[str, Any]) -> bool:
    """A model card names the model with ``model_name``; legacy metadata with ``model``."""
    return "model_name" in doc


def _legacy_view(card: ModelCard) -> dict[str, Any]:
    # the flat fields the scorer, the tables and older records read, derived from the card
    return {
        "model": card.model_name, "model_version": card.model_version,
        "authors": [a.name for a in card.authors], "url": card.repo,
        "training_data": ", ".join(card.training_data.datasets),
        "fine_tuned_on_litraj": card.training_data.fine_tuned_on_litraj,
        "hyperparameters": dict(card.hyperparameters), "date": card.date_added,
        **({"dataset_version": card.dataset_version} if card.dataset_version else {}),
    }


def parse_metadata(doc: Any, source: str) -> dict[str, Any]:
    """Validate a parsed metadata YAML (a model card or legacy metadata) read from ``source``.

    Returns
    -------
    dict
        The flat legacy fields (``model``, ``model_version``, ..., ``fine_tuned_on_litraj``)
        plus ``card``: the validated card as a JSON-ready dict, or ``None`` for legacy
        metadata, and ``card_missing``: the card fields legacy metadata lacks.

    Raises
    ------
    RegistryError
        Not a mapping, an unknown key (named with ``source``), or a card value of the wrong
        type or form (ORCID check digit, sha256, DOI, unpinned package, unknown task).
    """
    if not isinstance(doc, Mapping):
        raise RegistryError(f"{source}: (top level): a model card must be a YAML mapping "
                            f"(model_name, model_version, authors, ...), got {type(doc).__name__}")
    if is_card(doc):
        try:
            card = validate_document(ModelCard, dict(doc), source)
        except RegistryError as exc:
            from litraj_data.io import did_you_mean

            # a misspelt top-level key ("licence") gets the spelling the schema knows
            hints = [f"{k!r}:{did_you_mean(str(k), ModelCard.model_fields)}" for k in doc
                     if k not in ModelCard.model_fields and did_you_mean(str(k), ModelCard.model_fields)]
            raise RegistryError(str(exc) + ("" if not hints else " (" + "; ".join(hints) + ")")) from None
        return {**_legacy_view(card), "card": card.model_dump(mode="json"), "card_missing": []}
    known = set(LEGACY_FIELDS) | set(LEGACY_EXTRA_FIELDS)
    unknown = [k for k in doc if k not in known]
    if unknown:
        from litraj_data.io import did_you_mean

        lines = [f"{source}: {k}: unknown key.{did_you_mean(str(k), sorted(known | set(ModelCard.model_fields)))}"
                 for k in unknown]
        raise RegistryError("; ".join(lines) + " (legacy metadata keys: " + ", ".join(LEGACY_FIELDS)
                            + "; a model card starts with model_name)")
    legacy = validate_document(LegacyMetadata, dict(doc), source)
    meta = {k: getattr(legacy, k) for k in doc}  # the keys given, their values typed
    if "model" not in meta and "name" in meta:
        meta["model"] = meta.pop("name")
    meta.update(card=None, card_missing=list(CARD_ONLY_FIELDS))
    return meta


def runtime_of(meta: Mapping[str, Any] | None, task_id: str) -> tuple[float | None, str | None]:
    """``(wall_time_s, hardware)`` of ``task_id`` from a record's metadata (card or legacy)."""
    if not meta:
        return None, None
    card = meta.get("card") or {}
    run = (card.get("tasks") or {}).get(task_id)
    # records are JSON files a user may hand over (not only what `score` wrote): a wall time that
    # is not a finite number is no wall time
    if run:
        return _finite_or_none(run.get("wall_time_s")), _text_or_none(run.get("hardware"))
    if meta.get("wall_time_s") is not None and meta.get("task") in (None, task_id):
        wall = _finite_or_none(meta["wall_time_s"])
        return wall, _text_or_none(meta.get("hardware")) if wall is not None else None
    return None, None


def _finite_or_none(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        return None
    return float(v)


def _text_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) else None
