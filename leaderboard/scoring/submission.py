"""Read and validate leaderboard submissions.

A submission is a predictions file plus a metadata YAML:

* ``scalar`` tasks: CSV or Parquet with the task's id column (``material_id`` or
  ``edge_id``) and a ``prediction`` column (or a column named after the target, e.g.
  ``E_1D`` or ``em_dft``).
* ``bands`` tasks (``nebDFT2k/umlip_neb``): a folder with one extxyz per hop
  (``{edge_id}.xyz``, ``{edge_id}_relaxed.xyz`` or any name with ``edge_id`` in the frames'
  info), one extxyz with every band (frames carry ``edge_id``), or one Parquet of images
  (``edge_id, image, positions, energy`` and optionally ``numbers``, ``converged``).
  A hop whose optimisation failed is declared, not left out: ``converged=False`` in its
  frames / rows, or its id in ``failed.txt`` next to the files.
* ``efs`` tasks: Parquet keyed by ``config_id`` with ``energy`` (total, eV), ``forces``
  (atoms x 3, eV/A) and ``stress`` (Voigt 6, eV/A^3, ASE order).

Validation collects every problem (missing, extra, duplicate ids, wrong split, NaN/inf,
meV instead of eV, bands with wrong atom counts or order, wrong dataset version, metadata)
and :func:`check_submission` raises :class:`SubmissionInvalid` listing them all.
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

# the one Band and band check; Band is re-exported here (and by the scoring package) for importers
from litraj_data.bands import Band, band_from_frames, check_band
from litraj_data.errors import DataFormatError, LitrajError, RegistryError
from litraj_data.leaderboard.scoring.modelcard import parse_metadata
from litraj_data.leaderboard.scoring.tasks import Task, Truth
from litraj_data.registry import get_config
from litraj_data.yamlsafe import YamlError, read_yaml

__all__ = ["Issue", "SubmissionInvalid", "Band", "Submission", "read_submission", "read_metadata",
           "validate", "check_submission", "METADATA_FIELDS"]

METADATA_FIELDS = ("model", "model_version", "authors", "url", "training_data",
                   "fine_tuned_on_litraj", "hyperparameters", "date")
FIRST_FEW = 5


@dataclass
class Issue:
    """One problem with a submission: a machine-readable reason and an actionable message."""

    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, **self.details}


class SubmissionInvalid(LitrajError, ValueError):
    """A submission that cannot be scored; ``issues`` lists every problem found."""

    reason = "invalid_submission"

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        lines = [f"submission rejected ({len(self.issues)} problem(s)):"]
        lines += [f"  - [{i.reason}] {i.message}" for i in self.issues]
        super().__init__("\n".join(lines), reason=self.issues[0].reason if self.issues else None)


@dataclass
class Submission:
    """A parsed predictions file of one task (not yet validated)."""

    task: Task
    path: str
    predictions: pd.DataFrame | None = None  # scalar: [id, prediction]; efs: [config_id, energy, forces, stress]
    bands: dict[str, Band] | None = None
    failed_ids: set[str] = field(default_factory=set)
    duplicate_ids: list[str] = field(default_factory=list)
    dataset_version: str | None = None

    @property
    def ids(self) -> list[str]:
        if self.bands is not None:
            return list(self.bands) + sorted(self.failed_ids - set(self.bands))
        return list(self.predictions[self.task.id_column])


def _first(values: Any, k: int = FIRST_FEW) -> list[str]:
    return [str(v) for v in list(values)[:k]]


def _reject(reason: str, message: str, **details: Any) -> SubmissionInvalid:
    return SubmissionInvalid([Issue(reason, message, details)])


# --------------------------------------------------------------------------- reading

def _read_table(path: Path) -> tuple[pd.DataFrame, str | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, comment="#", float_precision="round_trip"), None
        if suffix in (".parquet", ".pq"):
            table = pq.read_table(path)
            meta = table.schema.metadata or {}
            version = meta.get(b"litraj_dataset_version")
            return table.to_pandas(), version.decode() if version else None
    except (ValueError, OSError, pa.ArrowException) as exc:  # corrupt file (parse errors are ValueErrors)
        raise _reject("unreadable", f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    raise _reject("unreadable", f"{path}: predictions must be .csv or .parquet, got {suffix or 'no suffix'!r}")


_BOOL_TEXT = frozenset({"true", "false", "yes", "no", "on", "off"})


def _numbers(values: pd.Series, path: Path, what: str) -> np.ndarray:
    """``values`` as floats (null -> NaN, a validation issue later); text, booleans and objects refused.

    ``"True"`` is not a prediction: pandas reads a CSV column of True/False as booleans, and
    ``pd.to_numeric`` would turn them into 1.0 and 0.0 without a word.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        raise _reject("non_numeric", f"{path}: the {what} column holds true/false, not numbers")
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_complex_dtype(values.dtype):
        return values.to_numpy(dtype=float, na_value=np.nan)
    bad = [v for v in values if isinstance(v, (bool, np.bool_, bytes, list, tuple, dict, np.ndarray, complex))
           or (isinstance(v, str) and v.strip().lower() in _BOOL_TEXT)]
    out = pd.to_numeric(values.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce")
    text = values.notna() & out.isna()
    if bad or text.any():
        first = _first(bad) if bad else _first(values[text])
        raise _reject("non_numeric", f"{path}: {len(bad) or int(text.sum())} {what} values are not numbers, "
                      f"e.g. {first}")
    return out.to_numpy(dtype=float, na_value=np.nan)


def _prediction_column(df: pd.DataFrame, task: Task, path: Path) -> str:
    for name in ("prediction", task.short_target, task.target):
        if name in df.columns:
            return name
    raise _reject("missing_column", f"{path}: no prediction column; name it 'prediction' (or "
                  f"{task.target!r}); columns found: {list(df.columns)}")


def _read_scalar(path: Path, task: Task) -> Submission:
    df, version = _read_table(path)
    if task.id_column not in df.columns:
        raise _reject("missing_column", f"{path}: no id column {task.id_column!r} for task {task.id}; "
                      f"columns found: {list(df.columns)}")
    col = _prediction_column(df, task, path)
    out = pd.DataFrame({task.id_column: df[task.id_column].astype(str),
                        "prediction": _numbers(df[col], path, "prediction")})
    dup = out[task.id_column][out[task.id_column].duplicated()].unique().tolist()
    return Submission(task=task, path=str(path), predictions=out, duplicate_ids=dup, dataset_version=version)


def _band_of(frames: list[Any], where: str) -> Band:
    # structure and energies only: finiteness is a validation issue (non_finite), not a read error
    band = band_from_frames(frames, where, energies="required", finite=False, same_cell=False, allow_dummy=True)
    band.forces = None  # not scored; frames of some tools carry NaN forces
    return band


def _edge_id_from_name(name: str) -> str:
    stem = name
    for suffix in (".extxyz", ".xyz"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    for tail in ("_relaxed", "_final", "_band", "_optimised", "_optimized"):
        if stem.endswith(tail):
            stem = stem[: -len(tail)]
    return stem


def _read_failed_list(folder: Path) -> set[str]:
    f = folder / "failed.txt"
    if not f.exists():
        return set()
    return {line.strip() for line in f.read_text().splitlines() if line.strip() and not line.startswith("#")}


def _read_bands_extxyz(paths: list[Path]) -> tuple[dict[str, Band], list[str]]:
    from ase.io import read
    from ase.io.formats import UnknownFileTypeError

    bands: dict[str, Band] = {}
    dups: list[str] = []
    for p in paths:
        try:
            frames = read(p, ":", format="extxyz")  # the format named: no guessing from content
        # what ASE raises on malformed extxyz (a bad header, a short line, text where numbers go)
        except (ValueError, KeyError, IndexError, OSError, TypeError, AttributeError, AssertionError,
                StopIteration, RuntimeError, UnknownFileTypeError) as exc:
            raise _reject("unreadable", f"cannot read band file {p}: {type(exc).__name__}: {exc}") from exc
        groups: dict[str, list[Any]] = {}
        for f in frames:
            eid = str(f.info.get("edge_id", _edge_id_from_name(p.name)))
            groups.setdefault(eid, []).append(f)
        for eid, group in groups.items():
            if eid in bands:
                dups.append(eid)
                continue
            try:
                bands[eid] = _band_of(group, f"{p}: band {eid}")
            except DataFormatError as exc:
                raise _reject("bad_band", str(exc), edge_id=eid, check=exc.reason) from exc
            except (ValueError, TypeError) as exc:  # text where the frames' energies or arrays go
                raise _reject("bad_band", f"{p}: band {eid}: {exc}", edge_id=eid) from None
    return bands, dups


def _read_bands_parquet(path: Path) -> tuple[dict[str, Band], list[str], str | None]:
    df, version = _read_table(path)
    need = ["edge_id", "image", "positions", "energy"]
    absent = [c for c in need if c not in df.columns]
    if absent:
        raise _reject("missing_column", f"{path}: band Parquet lacks columns {absent} "
                      f"(needs {need}, optional numbers, converged)")
    bands: dict[str, Band] = {}
    dups: list[str] = []
    images = _numbers(df["image"], path, "image")
    if not np.isfinite(images).all() or (images != np.round(images)).any():
        raise _reject("bad_band", f"{path}: the image column must hold whole numbers (0, 1, ...)")
    df = df.assign(image=images.astype(np.int64), energy=_numbers(df["energy"], path, "energy"))
    for eid, group in df.groupby(df["edge_id"].astype(str), sort=False):
        group = group.sort_values("image")
        if group["image"].duplicated().any():
            dups.append(eid)
        try:
            pos = np.stack([np.stack(p).astype(float) if isinstance(p, (list, np.ndarray)) else p
                            for p in group["positions"]])
            if pos.ndim != 3 or pos.shape[-1] != 3:
                raise ValueError(f"positions of shape {pos.shape}, expected (images, atoms, 3)")
            pos = pos.astype(float)
            numbers = np.asarray(group["numbers"].iloc[0]).astype(np.int64) if "numbers" in group else None
        except (ValueError, TypeError, IndexError) as exc:  # ragged, null, text or nested wrongly
            raise _reject("bad_band", f"{path}: band {eid}: positions/numbers are not numeric arrays of one "
                          f"atom count ({type(exc).__name__}: {exc})", edge_id=eid) from None
        conv = None
        if "converged" in group and group["converged"].notna().any():
            flags = group["converged"].dropna()
            if not pd.api.types.is_bool_dtype(flags.dtype) and not all(isinstance(v, (bool, np.bool_)) for v in flags):
                raise _reject("bad_band", f"{path}: band {eid}: converged must be true or false, got "
                              f"{_first(flags)}", edge_id=eid)
            conv = bool(flags.astype(bool).all())
        bands[eid] = Band(positions=pos, energies=group["energy"].to_numpy(float), numbers=numbers,
                          converged=conv)
    return bands, dups, version


def _read_bands(path: Path, task: Task) -> Submission:
    failed: set[str] = set()
    version = None
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".xyz", ".extxyz"))
        parquet = sorted(p for p in path.iterdir() if p.suffix.lower() in (".parquet", ".pq"))
        if files:
            bands, dups = _read_bands_extxyz(files)
        elif len(parquet) == 1:
            bands, dups, version = _read_bands_parquet(parquet[0])
        elif not parquet and (path / "failed.txt").is_file():
            bands, dups = {}, []  # every hop declared failed: a valid (if poor) submission
        else:
            raise _reject("unreadable", f"{path}: no band files (*.xyz / *.extxyz, or one *.parquet)")
        failed = _read_failed_list(path)
    elif path.suffix.lower() in (".parquet", ".pq"):
        bands, dups, version = _read_bands_parquet(path)
        failed = _read_failed_list(path.parent)
    elif path.suffix.lower() in (".xyz", ".extxyz"):
        bands, dups = _read_bands_extxyz([path])
        failed = _read_failed_list(path.parent)
    else:
        raise _reject("unreadable", f"{path}: bands must be a folder of extxyz, an extxyz or a Parquet")
    failed |= {eid for eid, b in bands.items() if b.converged is False}
    return Submission(task=task, path=str(path), bands=bands, failed_ids=failed, duplicate_ids=dups,
                      dataset_version=version)


def _read_efs(path: Path, task: Task) -> Submission:
    df, version = _read_table(path)
    need = [task.id_column, "energy", "forces"]
    absent = [c for c in need if c not in df.columns]
    if absent:
        raise _reject("missing_column", f"{path}: lacks columns {absent} (needs {need}, optional stress)")
    df = df.copy()
    df[task.id_column] = df[task.id_column].astype(str)
    df["energy"] = _numbers(df["energy"], path, "energy")  # null -> NaN: a non_finite issue at validation
    dup = df[task.id_column][df[task.id_column].duplicated()].unique().tolist()
    keep = [task.id_column, "energy", "forces"] + (["stress"] if "stress" in df.columns else [])
    return Submission(task=task, path=str(path), predictions=df[keep], duplicate_ids=dup,
                      dataset_version=version)


def read_submission(path: str | os.PathLike, task: Task) -> Submission:
    """Parse a predictions file (or band folder) of ``task``.

    Raises
    ------
    SubmissionInvalid
        When the file cannot be read or lacks the columns the task needs.
    """
    p = Path(path)
    if not p.exists():
        raise _reject("unreadable", f"{p}: no such file or folder")
    if task.kind == "scalar":
        return _read_scalar(p, task)
    if task.kind == "bands":
        return _read_bands(p, task)
    return _read_efs(p, task)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a submission's model card or legacy metadata YAML.

    A model card (``model_name``, authors with ORCID, checkpoint, licence, environment, ...;
    see :mod:`~litraj_data.leaderboard.scoring.modelcard`) and the 8-field metadata that
    ``litraj baseline predict`` / ``litraj bench umlip`` write are both accepted.

    Returns
    -------
    dict
        The flat fields (``model``, ``model_version``, ``fine_tuned_on_litraj``, ...), ``card``
        (the validated card, ``None`` for legacy metadata) and ``card_missing``.

    Raises
    ------
    SubmissionInvalid
        ``metadata``: not YAML, not a mapping, an unknown key (named with the file) or a card
        value of the wrong form.
    """
    p = Path(path)
    try:
        doc = read_yaml(p)
    except YamlError as exc:  # unreadable, not YAML, or refused (alias, depth, size, .inf): the reason is named
        raise _reject("metadata", f"cannot read metadata {p}: {exc} ({exc.reason})", file=str(p),
                      check=exc.reason) from None
    try:
        return parse_metadata(iso_dates(doc), str(p))
    except RegistryError as exc:
        raise _reject("metadata", str(exc), file=str(p)) from exc


def iso_dates(value: Any) -> Any:
    """``value`` with every date/datetime (YAML turns ``2024-05-01`` into one) as ISO text.

    Metadata is stored in score records, which are JSON: a date is written as its ISO text.
    """
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: iso_dates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [iso_dates(v) for v in value]
    return value


# --------------------------------------------------------------------------- validation

def _check_metadata(meta: Mapping[str, Any], task: Task) -> list[Issue]:
    issues = []
    absent = [k for k in METADATA_FIELDS if k not in meta]
    if absent:
        issues.append(Issue("metadata", f"metadata lacks {absent}; every submission states "
                            f"{', '.join(METADATA_FIELDS)} (null where not applicable)", {"missing": absent}))
    ft = meta.get("fine_tuned_on_litraj")
    if "fine_tuned_on_litraj" in meta and not isinstance(ft, bool):
        issues.append(Issue("metadata", f"fine_tuned_on_litraj must be true or false, got {ft!r}"))
    card = meta.get("card") or {}
    if (card.get("training_data") or {}).get("litraj_test_data_seen"):
        issues.append(Issue("not_allowed", f"the model card says the model saw LiTraj test data; no "
                            f"LiTraj task ({task.id} included) can score it fairly"))
    if task.requires_not_finetuned and ft is True:
        issues.append(Issue("not_allowed", f"{task.id} scores all splits and is only for models never "
                            "trained on LiTraj; submit fine-tuned models to the test-split task "
                            f"{task.id.replace('_all', '')}"))
    return issues


def _check_version(sub: Submission, truth: Truth, meta: Mapping[str, Any] | None) -> list[Issue]:
    issues = []
    want = truth.task.version
    claimed = {"predictions file": sub.dataset_version,
               "metadata": None if meta is None else meta.get("dataset_version")}
    for where, v in claimed.items():
        if v is not None and str(v) != want:
            issues.append(Issue("wrong_version", f"the {where} says dataset version {v}, but task "
                                f"{truth.task.id} is bound to {truth.task.dataset} {want}; predict on "
                                f"version {want}", {"found": str(v), "expected": want}))
    # "+KEY" is semver build metadata: the cache's key of a local copy of a release (zip or folder).
    # A full copy is the release the task is bound to; a partial one (fewer rows than the official
    # split) is not, and says so. The embedded sample is labelled as such elsewhere (truth.origin).
    base, _, build = str(truth.version).partition("+") if truth.version is not None else (None, "", "")
    if truth.version is not None and base != want:
        issues.append(Issue("wrong_version", f"the truth was loaded from {truth.task.dataset} "
                            f"{truth.version}, but task {truth.task.id} is bound to version {want}; "
                            f"load version {want}", {"found": truth.version, "expected": want}))
    elif build and truth.origin != "sample":
        official = _official_rows(truth.task)
        if official is not None and len(truth.table) != official:
            issues.append(Issue("wrong_version", f"the truth was imported from a local archive ({truth.version}) "
                                f"with {len(truth.table)} rows for {truth.task.id}, not the {official} of the "
                                f"official {truth.task.dataset} {want}: a partial or modified copy",
                                {"found": truth.version, "expected": want, "rows": len(truth.table),
                                 "official_rows": official}))
    return issues


def _official_rows(task: Task) -> int | None:
    """Rows of the official release in the task's evaluation split(s), from the dataset card."""
    splits = get_config(task.dataset).splits
    if task.split == "all":
        return sum(splits.values()) if splits else None
    return splits.get(task.split)


def _check_ids(sub: Submission, truth: Truth) -> list[Issue]:
    task = truth.task
    issues: list[Issue] = []
    if sub.duplicate_ids:
        issues.append(Issue("duplicate_ids", f"{len(sub.duplicate_ids)} ids appear more than once, e.g. "
                            f"{_first(sub.duplicate_ids)}", {"count": len(sub.duplicate_ids),
                                                              "first": _first(sub.duplicate_ids)}))
    submitted = set(sub.ids)
    expected_df = truth.table
    if task.kind == "scalar":  # rows without a finite target (null; inf = no percolation) are not scored
        expected_df = expected_df[np.isfinite(expected_df[task.target].astype(float))]
    expected = set(expected_df[task.id_column])
    all_truth = set(truth.table[task.id_column])
    outside = submitted - all_truth
    for split_name, ids in truth.other_split_ids.items():
        wrong = sorted(outside & ids)
        if wrong:
            issues.append(Issue("wrong_split", f"{len(wrong)} ids belong to the {split_name} split, not "
                                f"{task.split}, e.g. {_first(wrong)}; predict on the {task.split} split",
                                {"split": split_name, "count": len(wrong), "first": _first(wrong)}))
            outside -= ids
    if outside:
        extra = sorted(outside)
        issues.append(Issue("extra_ids", f"{len(extra)} ids are not in {task.dataset} {task.version}, e.g. "
                            f"{_first(extra)}", {"count": len(extra), "first": _first(extra)}))
    ordered_expected = [i for i in expected_df[task.id_column] if i not in submitted]
    if ordered_expected:
        issues.append(Issue("missing_ids", f"{len(ordered_expected)} of {len(expected)} {task.id_column}s "
                            f"of the {task.split} split have no prediction, e.g. {_first(ordered_expected)}"
                            + ("; a hop whose optimisation failed must be declared (converged=False or "
                               "failed.txt), not left out" if task.kind == "bands" else ""),
                            {"count": len(ordered_expected), "first": _first(ordered_expected)}))
    return issues


def _check_units(values: np.ndarray, truth_values: np.ndarray, limit: float | None, what: str,
                 unit: str) -> list[Issue]:
    if limit is None or values.size == 0:
        return []
    med = float(np.median(np.abs(values)))
    truth_med = float(np.median(np.abs(truth_values))) if truth_values.size else 0.0
    if med > limit and truth_med <= limit:
        return [Issue("looks_like_meV", f"median |{what}| is {med:.4g}, the truth's is {truth_med:.4g} "
                      f"{unit}: the values look like m{unit} instead of {unit}; divide by 1000",
                      {"median": med, "truth_median": truth_med})]
    return []


def _check_scalar(sub: Submission, truth: Truth) -> list[Issue]:
    task = truth.task
    pred = sub.predictions
    vals = pred["prediction"].to_numpy(float)
    bad = ~np.isfinite(vals)
    issues = []
    if bad.any():
        ids = pred.loc[bad, task.id_column]
        issues.append(Issue("non_finite", f"{int(bad.sum())} predictions are NaN or inf, e.g. {_first(ids)}",
                            {"count": int(bad.sum()), "first": _first(ids)}))
    truth_vals = truth.table[task.target].to_numpy(float)
    truth_vals = truth_vals[np.isfinite(truth_vals)]
    issues += _check_units(vals[~bad], truth_vals, task.unit_check, "prediction", task.unit)
    return issues


#: band-check reason -> submission issue (a band is counted once, under its first problem)
_BAND_ISSUES = {"atom_count_mismatch": "band_atoms", "species_mismatch": "band_order",
                "too_few_images": "band_images", "image_count_mismatch": "band_images",
                "nan_positions": "non_finite", "nan_energy": "non_finite", "missing_energy": "non_finite",
                "dummy_atoms": "band_order"}


def _check_bands(sub: Submission, truth: Truth) -> list[Issue]:
    task = truth.task
    rows = truth.table.set_index(task.id_column)
    found: dict[str, list[str]] = {"band_atoms": [], "band_order": [], "band_images": [], "non_finite": []}
    barriers = []
    for eid, band in sub.bands.items():
        if eid not in rows.index or eid in sub.failed_ids:
            continue
        try:
            check_band(band, eid, min_images=0, energies="required", numbers=rows.at[eid, "band_numbers"],
                       n_images=len(rows.at[eid, "relaxed_positions"]))
        except DataFormatError as exc:
            found[_BAND_ISSUES[exc.reason]].append(str(exc))
            continue
        barriers.append(band.barrier)
    counts, order, images, finite = (found[k] for k in ("band_atoms", "band_order", "band_images", "non_finite"))
    finite = [m.split(":", 1)[0] for m in finite]  # ids only, as the other non_finite issues list them
    order = [m.split(":", 1)[0] for m in order]
    issues = []
    if counts:
        issues.append(Issue("band_atoms", f"{len(counts)} bands have the wrong number of atoms, e.g. "
                            f"{counts[:FIRST_FEW]}; keep every atom of the reference band",
                            {"count": len(counts), "first": counts[:FIRST_FEW]}))
    if order:
        issues.append(Issue("band_order", f"{len(order)} bands list the atoms in another order than the "
                            f"reference band (band_numbers), e.g. {_first(order)}; keep the input order",
                            {"count": len(order), "first": _first(order)}))
    if images:
        issues.append(Issue("band_images", f"{len(images)} bands have the wrong number of images, e.g. "
                            f"{images[:FIRST_FEW]}; keep the end points and every intermediate image",
                            {"count": len(images), "first": images[:FIRST_FEW]}))
    if finite:
        issues.append(Issue("non_finite", f"{len(finite)} bands have NaN/inf energies or positions, e.g. "
                            f"{_first(finite)}; declare failed optimisations as converged=False instead",
                            {"count": len(finite), "first": _first(finite)}))
    truth_vals = truth.table[task.target].dropna().to_numpy(float)
    issues += _check_units(np.asarray(barriers), truth_vals, task.unit_check, "barrier", task.unit)
    return issues


def _check_efs(sub: Submission, truth: Truth) -> list[Issue]:
    task = truth.task
    rows = truth.table.set_index(task.id_column)
    pred = sub.predictions
    shape_bad: list[str] = []
    finite_bad: list[str] = []
    per_atom = []
    truth_per_atom = []
    for rec in pred.itertuples(index=False):
        cid = getattr(rec, task.id_column)
        if cid not in rows.index:
            continue
        n = len(rows.at[cid, "numbers"])
        try:
            forces = np.asarray(np.stack(rec.forces) if len(rec.forces) else rec.forces, dtype=float)
            stress = (None if "stress" not in pred.columns or rec.stress is None
                      else np.asarray(np.stack(rec.stress) if np.ndim(rec.stress[0]) else rec.stress, float).ravel())
        except (TypeError, ValueError, IndexError):  # None, empty, ragged or non-numeric
            shape_bad.append(f"{cid} (forces/stress are not numeric arrays)")
            continue
        if forces.shape != (n, 3) or (stress is not None and stress.size not in (6, 9)):
            shape_bad.append(f"{cid} (forces {forces.shape}, expected ({n}, 3))")
            continue
        if not (np.isfinite(rec.energy) and np.isfinite(forces).all()
                and (stress is None or np.isfinite(stress).all())):
            finite_bad.append(cid)
            continue
        per_atom.append(rec.energy / n)
        truth_per_atom.append(rows.at[cid, "energy"] / n)
    issues = []
    if shape_bad:
        issues.append(Issue("band_atoms", f"{len(shape_bad)} configurations have forces of the wrong shape, "
                            f"e.g. {shape_bad[:FIRST_FEW]}", {"count": len(shape_bad)}))
    if finite_bad:
        issues.append(Issue("non_finite", f"{len(finite_bad)} configurations have NaN/inf values, e.g. "
                            f"{_first(finite_bad)}", {"count": len(finite_bad), "first": _first(finite_bad)}))
    issues += _check_units(np.asarray(per_atom), np.asarray(truth_per_atom), task.unit_check,
                           "energy per atom", "eV")
    return issues


def validate(sub: Submission, truth: Truth, metadata: Mapping[str, Any] | None = None) -> list[Issue]:
    """Every problem that stops ``sub`` from being scored against ``truth`` (empty list: valid).

    Parameters
    ----------
    sub
        Parsed predictions (:func:`read_submission`).
    truth
        Truth of the same task.
    metadata
        Parsed metadata YAML, checked when given.
    """
    if sub.task.id != truth.task.id:
        return [Issue("wrong_task", f"predictions were read for {sub.task.id} but the truth is {truth.task.id}")]
    issues = _check_version(sub, truth, metadata)
    if metadata is not None:
        issues += _check_metadata(metadata, truth.task)
    issues += _check_ids(sub, truth)
    kind = truth.task.kind
    issues += (_check_scalar if kind == "scalar" else _check_bands if kind == "bands" else _check_efs)(sub, truth)
    return issues


def check_submission(sub: Submission, truth: Truth, metadata: Mapping[str, Any] | None = None) -> None:
    """Raise :class:`SubmissionInvalid` listing every problem; return ``None`` when valid."""
    issues = validate(sub, truth, metadata)
    if issues:
        raise SubmissionInvalid(issues)
