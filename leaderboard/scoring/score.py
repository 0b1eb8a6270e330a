"""Score a validated submission: per-subset metrics, bootstrap intervals, screening.

The result is one JSON-ready *record* (see :func:`score_submission`) that the renderers and
``litraj leaderboard render`` read back; it keeps the per-item values so that a leaderboard
can re-aggregate several submissions on common items (the paper's rule for failed hops).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from litraj_data._version import __version__ as _package_version
from litraj_data.chemistry import SPECIFIC_TM, has_specific_tm
from litraj_data.chemistry import chemsys as _chemsys
from litraj_data.errors import LitrajError
from litraj_data.io import to_jsonable
from litraj_data.leaderboard.scoring.bootstrap import bootstrap_ci, bootstrap_pooled_ci, group_sums, pooled_metrics
from litraj_data.leaderboard.scoring.metrics import pa_mae, regression_metrics, screening_metrics, success_rates
from litraj_data.leaderboard.scoring.reference import CITATION, DOI
from litraj_data.leaderboard.scoring.stages import stage_resolved
from litraj_data.leaderboard.scoring.submission import Issue, Submission, SubmissionInvalid, check_submission, iso_dates
from litraj_data.leaderboard.scoring.tasks import SUBSET_RULES, Task, Truth

__all__ = ["score_submission", "summarise", "DROP_RULE", "SAMPLE_LABEL", "SAMPLE_NOTE", "ScoringProtocol",
           "SCORING_PROTOCOLS", "get_protocol", "TEST_SPLIT"]

SAMPLE_LABEL = "sample"
SAMPLE_NOTE = ("sample: scored on the embedded sample (a few rows built for tests and demos), not the "
               "task's split; not comparable with the paper's rows")

@dataclass(frozen=True)
class ScoringProtocol:
    """A named way of scoring that departs from a task's default rules, chosen explicitly.

    Attributes
    ----------
    name
        What ``litraj score --protocol`` takes.
    tasks
        The tasks it applies to.
    allow_finetuned
        Lift the task's ``requires_not_finetuned`` guard (models fine-tuned on LiTraj are
        scored; a card that says the model saw the *test* data is still refused).
    label
        Carried by every record scored with it when the model is (or may be) fine-tuned, and
        shown next to the model's name on the board and the page.
    paper
        Where the paper does this.
    """

    name: str
    tasks: tuple[str, ...]
    allow_finetuned: bool
    label: str
    paper: str


#: the paper's Table 5 scores the fine-tuned uMLIPs on all 1,681 nebDFT2k hops, whatever their
#: split ("from the perspective of solving the downstream task"), and the test split alone in
#: Table S7; the default keeps the guard, this protocol reproduces the table and says so
SCORING_PROTOCOLS: dict[str, ScoringProtocol] = {
    "paper-table5": ScoringProtocol(
        name="paper-table5", tasks=("nebDFT2k/umlip_neb_all",), allow_finetuned=True,
        label="includes hops whose trajectories were in the fine-tuning data",
        paper="Dembitskiy et al. (2025), Table 5: fine-tuned uMLIPs scored on all 1,681 nebDFT2k hops; "
              "the test split alone in Table S7"),
}

#: the split reported beside the whole-dataset metrics of a task scored over all splits
TEST_SPLIT = "test"


def get_protocol(name: str | None, task: Task) -> ScoringProtocol | None:
    """The protocol ``name`` for ``task`` (``None`` or ``"default"``: the task's own rules).

    Raises
    ------
    LitrajError
        ``unknown_protocol`` (with the known names) or ``protocol_task`` (the protocol does
        not apply to this task; names the tasks it applies to).
    """
    if name in (None, "", "default"):
        return None
    if name not in SCORING_PROTOCOLS:
        from litraj_data.io import did_you_mean

        raise LitrajError(f"unknown scoring protocol {name!r}.{did_you_mean(name, SCORING_PROTOCOLS)} Known: "
                          f"default, {', '.join(SCORING_PROTOCOLS)}", reason="unknown_protocol")
    p = SCORING_PROTOCOLS[name]
    if task.id not in p.tasks:
        raise LitrajError(f"scoring protocol {name!r} applies to {', '.join(p.tasks)}, not {task.id}",
                          reason="protocol_task")
    return p


DROP_RULE = ("hops where the optimisation failed are dropped before scoring (paper, Methods: "
             "trajectories where any compared model failed are excluded)")


def summarise(task: Task, items: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0,
              threshold: float | None = None) -> dict[str, dict[str, Any]]:
    """Metrics of every subset of ``task`` from per-item values.

    Parameters
    ----------
    task
        The task (its ``subsets`` and screening threshold).
    items
        One row per scored item: ``y``, ``yhat``, optional ``has_specific_TM`` and ``pa_mae``.
    n_boot, seed
        Bootstrap resamples and seed (``n_boot=0`` skips the intervals).
    threshold
        Screening threshold in the task's unit (default: the task's own).

    Returns
    -------
    dict
        ``{subset: {"n", "mae", "rmse", "r2", "rp", "slope", ["pa_mae"], "ci95", "screening"}}``;
        empty subsets are left out.
    """
    threshold = task.screening_threshold if threshold is None else threshold
    out: dict[str, dict[str, Any]] = {}
    for name in task.subsets:
        mask = SUBSET_RULES[name](items)
        sel = items[mask]
        if sel.empty:
            continue
        y = sel["y"].to_numpy(float)
        yhat = sel["yhat"].to_numpy(float)
        res: dict[str, Any] = regression_metrics(y, yhat)
        if "pa_mae" in sel.columns:
            res["pa_mae"] = float(sel["pa_mae"].mean())
        if n_boot:
            res["ci95"] = bootstrap_ci(y, yhat, n_boot=n_boot, seed=seed)
            res["bootstrap"] = {"n_boot": int(n_boot), "seed": int(seed)}
        if threshold is not None:
            res["screening"] = screening_metrics(y, yhat, threshold)
        out[name] = res
    return out


def _scalar_items(sub: Submission, truth: Truth) -> pd.DataFrame:
    task = truth.task
    t = truth.table[np.isfinite(truth.table[task.target].astype(float))]
    merged = t.merge(sub.predictions, on=task.id_column, how="inner", validate="one_to_one")
    items = pd.DataFrame({"id": merged[task.id_column], "y": merged[task.target].astype(float),
                          "yhat": merged["prediction"].astype(float)})
    if "has_specific_TM" in merged.columns:
        items["has_specific_TM"] = merged["has_specific_TM"].astype("boolean")
    if "chemsys" in merged.columns:
        items["chemsys"] = merged["chemsys"].astype(str)
    return items


def _band_items(sub: Submission, truth: Truth, drop: set[str]) -> pd.DataFrame:
    task = truth.task
    rows = []
    for r in truth.table.itertuples(index=False):
        eid = getattr(r, task.id_column)
        if eid in drop or eid not in sub.bands:
            continue
        band = sub.bands[eid]
        ref = np.stack([np.stack(img) for img in r.relaxed_positions]).astype(float)
        pbc = getattr(r, "band_pbc", None)
        pbc = (True, True, True) if pbc is None else tuple(bool(b) for b in pbc)
        cell = np.stack(r.relaxed_cell).astype(float)
        row = {"id": eid, "y": float(getattr(r, task.target)),
               "yhat": float(band.energies.max() - band.energies.min()),
               "pa_mae": pa_mae(ref, band.positions, cell, pbc)}
        if "has_specific_TM" in truth.table.columns:
            row["has_specific_TM"] = bool(r.has_specific_TM)
        if "chemsys" in truth.table.columns:
            row["chemsys"] = str(r.chemsys)
        # energy profiles relative to the first image, for the page's per-hop viewer
        row["profile_pred"] = (band.energies - band.energies[0]).round(5).tolist()
        ref_e = getattr(r, "relaxed_energies", None)
        row["profile_ref"] = (None if ref_e is None else
                              (np.asarray(ref_e, float) - float(ref_e[0])).round(5).tolist())
        rows.append(row)
    optional = [c for c in ("has_specific_TM", "chemsys") if c in truth.table.columns]
    return pd.DataFrame(rows, columns=["id", "y", "yhat", "pa_mae", *optional, "profile_pred", "profile_ref"])


def _all_hops(task: Task, sub: Submission, truth: Truth, failed: set[str]) -> dict[str, dict[str, Any]]:
    """Every truth hop scored, a failed one as a miss (OC20NEB): per subset the convergence
    rate, success within 0.05 / 0.1 eV (converged AND |dE| below), and the MAE over every
    hop with a band (unconverged bands included)."""
    t = truth.table
    ids = t[task.id_column].astype(str)
    bands = sub.bands or {}
    yhat = np.array([float(bands[e].energies.max() - bands[e].energies.min()) if e in bands else np.nan
                     for e in ids])
    ok = np.array([e in bands and e not in failed for e in ids])  # not submitted: failed too
    frame = pd.DataFrame({"id": ids, "y": t[task.target].astype(float).to_numpy(), "yhat": yhat, "ok": ok})
    if "has_specific_TM" in t.columns:
        frame["has_specific_TM"] = t["has_specific_TM"].astype("boolean").to_numpy()
    out: dict[str, dict[str, Any]] = {}
    for name in task.subsets:
        sel = frame[SUBSET_RULES[name](frame)]
        sel = sel[np.isfinite(sel["y"].to_numpy(float))]
        if sel.empty:
            continue
        y, yh, conv = sel["y"].to_numpy(float), sel["yhat"].to_numpy(float), sel["ok"].to_numpy(bool)
        banded = np.isfinite(yh)
        res: dict[str, Any] = {"n": int(len(sel)), "n_failed": int((~conv).sum()),
                               "convergence_rate": float(conv.mean()), **success_rates(y, yh, conv),
                               "mae_all_bands": float(np.abs(yh[banded] - y[banded]).mean()) if banded.any() else None,
                               "n_bands": int(banded.sum())}
        out[name] = res
    return out


def _voigt(stress: Any) -> np.ndarray:
    s = np.asarray(np.stack(stress) if np.ndim(stress[0]) else stress, dtype=float).ravel()
    if s.size == 9:  # full tensor -> ASE Voigt order xx yy zz yz xz xy
        m = s.reshape(3, 3)
        s = np.array([m[0, 0], m[1, 1], m[2, 2], m[1, 2], m[0, 2], m[0, 1]])
    return s


#: raw-run configuration kinds (config_id ``{hop_id}:{kind}:{step}:{image}``) -> stage subset
STAGES = {"source": "end-point relaxation", "target": "end-point relaxation", "band": "band optimisation"}


def stage_of(config_id: str, info_extra: Any = None) -> str | None:
    """Stage of one MPLiTrj configuration, or ``None`` when the row does not say.

    Rows built from raw runs name their kind in the id (``{hop_id}:{kind}:{step}:{image}``)
    and in ``info_extra``; rows imported from the official release (``{split}-{index}``)
    carry neither, and no stage is guessed for them.
    """
    parts = str(config_id).split(":")
    if len(parts) == 4 and parts[1] in STAGES:
        return STAGES[parts[1]]
    if isinstance(info_extra, str) and info_extra:
        import json

        try:
            info_extra = json.loads(info_extra)
        except ValueError:
            return None
    if isinstance(info_extra, Mapping):
        return STAGES.get(str(info_extra.get("kind")))
    return None


def _efs_summary(sub: Submission, truth: Truth) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Per-configuration energy items and pooled force / stress sums.

    Returns
    -------
    items, forces, stress
        ``items``: one row per configuration (``y``/``yhat`` energy per atom,
        ``has_specific_TM`` from the composition, ``stage``, ``chemsys``); ``forces`` and
        ``stress``: (configurations, 8) rows of :func:`~.bootstrap.group_sums` (stress rows
        are zero where the truth or the prediction has none).
    """
    task = truth.task
    merged = truth.table.merge(sub.predictions, on=task.id_column, suffixes=("_true", "_pred"))
    ids, e_true, e_pred, systems, tm, stages, f_sums, s_sums = [], [], [], [], [], [], [], []
    has_info = "info_extra" in merged.columns
    for r in merged.itertuples(index=False):
        n = len(r.numbers)
        cid = getattr(r, task.id_column)
        ids.append(cid)
        systems.append(_chemsys(r.numbers))
        tm.append(has_specific_tm(r.numbers))
        stages.append(stage_of(cid, r.info_extra if has_info else None))
        e_true.append(r.energy_true / n)
        e_pred.append(r.energy_pred / n)
        f_sums.append(group_sums(np.stack(r.forces_true).astype(float), np.stack(r.forces_pred).astype(float)))
        st, sp = getattr(r, "stress_true", None), getattr(r, "stress_pred", None)
        if st is not None and sp is not None and not np.isnan(np.asarray(st, float)).any():
            s_sums.append(group_sums(_voigt(st), _voigt(sp)))
        else:
            s_sums.append(np.zeros(8))
    items = pd.DataFrame({"id": ids, "y": e_true, "yhat": e_pred, "chemsys": systems,
                          "has_specific_TM": tm, "stage": stages})
    return items, np.array(f_sums).reshape(-1, 8), np.array(s_sums).reshape(-1, 8)


def _efs_extra(forces: np.ndarray, stress: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    # forces and stress of one subset, pooled over components (Table S7)
    f = pooled_metrics(forces)
    out: dict[str, Any] = {"forces_mae": f["mae"], "forces_rmse": f["rmse"], "forces_rp": f["rp"],
                           "n_force_components": f["n"]}
    stress = stress[stress[:, 0] > 0]
    if len(stress):
        s = pooled_metrics(stress)
        out.update(stress_mae=s["mae"], stress_rmse=s["rmse"], n_stress=len(stress))
    else:
        out.update(stress_mae=None, stress_rmse=None, n_stress=0)
    if n_boot:
        ci = {f"forces_{k}": v for k, v in bootstrap_pooled_ci(forces, n_boot=n_boot, seed=seed).items()}
        if len(stress):
            s_ci = bootstrap_pooled_ci(stress, n_boot=n_boot, seed=seed)
            ci.update(stress_mae=s_ci["mae"], stress_rmse=s_ci["rmse"])
        out["ci95_forces_stress"] = ci
    return out


def _split_truth(truth: Truth, split: str) -> Truth:
    """The truth restricted to the rows of one split (the ``split`` column of an all-splits truth)."""
    table = truth.table[truth.table["split"] == split].reset_index(drop=True)
    return Truth(task=truth.task, table=table, other_split_ids=truth.other_split_ids, version=truth.version,
                 origin=truth.origin)


def _test_split_report(task: Task, sub: Submission, truth: Truth, items: pd.DataFrame, failed: set[str],
                       n_boot: int, seed: int, threshold: float | None) -> dict[str, Any] | None:
    """Metrics of the test-split rows of an all-splits task (the paper's Table S7 beside Table 5)."""
    if "split" not in items.columns or not (items["split"] == TEST_SPLIT).any():
        return None
    out: dict[str, Any] = {"split": TEST_SPLIT,
                           "subsets": summarise(task, items[items["split"] == TEST_SPLIT].reset_index(drop=True),
                                                n_boot=n_boot, seed=seed, threshold=threshold)}
    if task.kind == "bands":
        out["all_hops"] = _all_hops(task, sub, _split_truth(truth, TEST_SPLIT), failed)
    return out


def score_submission(sub: Submission, truth: Truth, metadata: Mapping[str, Any] | None = None, *,
                     n_boot: int = 1000, seed: int = 0, threshold: float | None = None,
                     exclude_ids: Iterable[str] = (), protocol: str | None = None) -> dict[str, Any]:
    """Validate and score one submission.

    Parameters
    ----------
    sub
        Parsed predictions (:func:`~.submission.read_submission`).
    truth
        Truth of the same task.
    metadata
        Parsed metadata YAML (stored in the record; validated when given).
    n_boot, seed
        Bootstrap resamples and seed of the 95 % intervals.
    threshold
        Screening threshold ("fast" conductor: barrier below it); default from the task.
    exclude_ids
        Extra ids to drop (for ``bands`` tasks: hops failed by other compared models).
    protocol
        ``None``/``"default"``: the task's rules. A name of :data:`SCORING_PROTOCOLS` (e.g.
        ``"paper-table5"``) departs from them as that protocol says; the record carries
        ``protocol`` and, when the model is or may be fine-tuned, the protocol's ``label``.

    Returns
    -------
    dict
        The record: ``file``, ``task``, ``dataset``, ``dataset_version``, ``split``, ``unit``,
        ``model`` (metadata), ``subsets`` (metrics per subset), ``items`` (per-item values),
        ``dropped`` (bands tasks), ``all_hops`` (bands tasks: every hop scored, a failed one
        as a miss: convergence rate, OC20NEB success within 0.05 / 0.1 eV, MAE over every
        band), ``citation``, ``scored_at``, ``litraj_data_version``; for a task scored over
        all splits also ``test_split`` (the same metrics on the test-split rows alone).

    Raises
    ------
    SubmissionInvalid
        When validation finds any problem (nothing is scored).
    """
    proto = get_protocol(protocol, truth.task)
    checked = truth
    if proto is not None and proto.allow_finetuned:
        # the same task without its fine-tuning guard; every other check (ids, bands, units,
        # a card that saw the test data) is unchanged
        checked = Truth(task=replace(truth.task, requires_not_finetuned=False), table=truth.table,
                        other_split_ids=truth.other_split_ids, version=truth.version, origin=truth.origin)
    check_submission(sub, checked, metadata)
    task = truth.task
    record: dict[str, Any] = {
        "file": sub.path, "task": task.id, "dataset": task.dataset,
        "dataset_version": truth.version or task.version, "split": task.split, "kind": task.kind,
        "unit": task.unit, "model": iso_dates(dict(metadata or {})),
        "scored_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "litraj_data_version": _package_version, "citation": CITATION, "doi": DOI, "notes": [],
        "sample": truth.origin == "sample",
    }
    if record["sample"]:
        record["data"] = SAMPLE_LABEL
        record["notes"].append(SAMPLE_NOTE)
    record["protocol"] = "default" if proto is None else proto.name
    if proto is not None:
        ft = (metadata or {}).get("fine_tuned_on_litraj")
        record["protocol_paper"] = proto.paper
        if ft is not False:  # fine-tuned, or not stated: the label stays with the numbers
            record["label"] = proto.label
            record["notes"].append(f"protocol {proto.name} ({proto.paper}): {proto.label}; the test split "
                                   "alone is reported beside it (test_split)")
        else:
            record["notes"].append(f"protocol {proto.name}: the model is not fine-tuned on LiTraj, so this is "
                                   "the task's default protocol")
    if task.kind == "scalar":
        items = _scalar_items(sub, truth)
        values = truth.table[task.target].astype(float)
        skipped = int((~np.isfinite(values)).sum())
        if skipped:
            record["notes"].append(f"{skipped} truth rows without a finite {task.target} (null, or inf: no "
                                   "percolation below the BVSE energy cutoff) are not scored")
    elif task.kind == "bands":
        failed = set(sub.failed_ids) & set(truth.table[task.id_column])
        extra = set(exclude_ids) - failed
        items = _band_items(sub, truth, failed | extra)
        record["dropped"] = {"rule": DROP_RULE, "failed_by_this_model": sorted(failed),
                             "failed_by_other_models": sorted(extra & set(truth.table[task.id_column]))}
        record["notes"].append(f"{DROP_RULE}; dropped {len(failed)} failed by this model"
                               + (f" and {len(record['dropped']['failed_by_other_models'])} failed by "
                                  "other compared models" if extra else ""))
        record["all_hops"] = _all_hops(task, sub, truth, failed)
        a = record["all_hops"].get("all")
        if a:
            mae = "-" if a["mae_all_bands"] is None else f"{a['mae_all_bands']:.3f} {task.unit}"
            record["notes"].append(
                f"all {a['n']} hops (a failed hop counted as a miss): convergence rate "
                f"{100 * a['convergence_rate']:.1f} %, success within 0.05 / 0.1 eV (converged and "
                f"|dE| below, OC20NEB) {100 * a['success_0.05']:.1f} % / {100 * a['success_0.1']:.1f} %, "
                f"MAE over every band {mae} ({a['n_bands']} bands)")
    else:
        items, f_sums, s_sums = _efs_summary(sub, truth)
    if items.empty:
        raise SubmissionInvalid([Issue("nothing_to_score", "no item of the submission can be scored")])
    if task.split == "all" and task.kind != "efs" and "split" in truth.table.columns:
        split_of = dict(zip(truth.table[task.id_column].astype(str), truth.table["split"]))
        items["split"] = [split_of.get(str(i)) for i in items["id"]]
    record["subsets"] = summarise(task, items, n_boot=n_boot, seed=seed, threshold=threshold)
    if task.split == "all" and "split" in items.columns:
        failed_ids = set(sub.failed_ids) & set(truth.table[task.id_column]) if task.kind == "bands" else set()
        report = _test_split_report(task, sub, truth, items, failed_ids, n_boot, seed, threshold)
        if report is not None:
            record["test_split"] = report
            n_test = report["subsets"].get("all", {}).get("n")
            record["notes"].append(f"test split alone (Table S7 beside Table 5): {n_test} of the "
                                   f"{len(items)} scored {task.id_column.replace('_id', '')}s, in test_split")
    if proto is not None and "test_split" not in record:
        record["test_split"] = None
        record["notes"].append("no scored item is in the test split: nothing to report beside the whole set")
    if task.kind == "efs":
        for name, res in record["subsets"].items():
            mask = SUBSET_RULES[name](items)
            res.update(_efs_extra(f_sums[mask], s_sums[mask], n_boot, seed))
        record["notes"].append("mae/rmse/r2/rp/slope are of the energy per atom (eV/atom); forces "
                               "(eV/A) and stress (eV/A^3) errors and forces_rp are pooled over "
                               "components; their intervals resample configurations")
        record["notes"].append("with TM / w/o TM: the composition holds any of "
                               f"{', '.join(SPECIFIC_TM)} (nebDFT2k's has_specific_TM rule)")
        missing = [s for s in task.subsets if s not in record["subsets"]]
        if missing:
            record["notes"].append(f"subsets {missing} are empty: no scored row carries that stage (rows "
                                   "imported from the official release do not say their stage)")
        # end points vs band vs transition region (Table 5 / "-vac": does softening sit at the saddle?)
        record["stage_resolved"] = stage_resolved(items, f_sums)
    record["items"] = {c: items[c].tolist() for c in items.columns}
    return to_jsonable(record)
