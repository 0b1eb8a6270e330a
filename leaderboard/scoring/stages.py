"""Stage-resolved errors of the ``efs`` tasks: end points, band, transition region.

The paper asks whether a uMLIP's potential-energy-surface softening (forces predicted too
small: a pred-vs-DFT force slope below 1) concentrates at the saddle, which is what the
fine-tuning of Table 5 and the "-vac" ablation (fine-tuning on end-point relaxations only)
probe. MPLiTrj configurations built from raw runs say their stage in the config id
``{hop_id}:{kind}:{step}:{image}`` (``kind``: ``source`` / ``target`` end-point relaxation,
``band`` NEB band optimisation); this module groups the scored configurations into

* ``end points``: the end-point relaxation configurations (``source``, ``target``);
* ``band``: every band-optimisation configuration;
* ``transition region``: per hop and band step, the band configuration whose DFT energy is
  the highest of that step (the image nearest the saddle at that point of the optimisation);

and reports, per stage, the energy-per-atom MAE / RMSE and the force MAE / RMSE / slope
pooled over components (slope of the least-squares line of predicted on DFT components:
below 1 is softening), plus the ``contrast`` of the transition region against the end
points (differences and the slope ratio). Rows whose id does not carry the stage (rows
imported from the official release) are in no stage; then the set is ``None``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["STAGE_SET", "parse_config_id", "transition_mask", "stage_masks", "stage_metrics", "stage_resolved",
           "stage_text"]

#: the stages of the set, in report order
STAGE_SET = ("end points", "band", "transition region")
_END_POINT_KINDS = ("source", "target")


def parse_config_id(config_id: Any) -> tuple[str, str, int, int] | None:
    """``(hop_id, kind, step, image)`` of a raw-run config id, ``None`` for any other id."""
    parts = str(config_id).rsplit(":", 3)
    if len(parts) != 4 or parts[1] not in (*_END_POINT_KINDS, "band"):
        return None
    try:
        return parts[0], parts[1], int(parts[2]), int(parts[3])
    except ValueError:
        return None


def transition_mask(ids: list[Any] | pd.Series, energies: np.ndarray) -> np.ndarray:
    """Band configurations at the highest-energy image of their (hop, band step).

    Parameters
    ----------
    ids
        Config ids ``{hop_id}:{kind}:{step}:{image}``.
    energies
        DFT energies of the same rows (total or per atom: a band's images share one
        composition, so the highest image is the same either way).

    Returns
    -------
    numpy.ndarray
        Boolean mask, one per row; ties keep the first row.
    """
    energies = np.asarray(energies, dtype=float)
    best: dict[tuple[str, int], int] = {}
    for i, cid in enumerate(ids):
        parsed = parse_config_id(cid)
        if parsed is None or parsed[1] != "band" or not np.isfinite(energies[i]):
            continue
        key = (parsed[0], parsed[2])
        if key not in best or energies[i] > energies[best[key]]:
            best[key] = i
    mask = np.zeros(len(energies), dtype=bool)
    mask[list(best.values())] = True
    return mask


def stage_masks(ids: list[Any] | pd.Series, energies: np.ndarray) -> dict[str, np.ndarray]:
    """Row masks of :data:`STAGE_SET` (see the module docstring)."""
    kinds = [None if (p := parse_config_id(c)) is None else p[1] for c in ids]
    return {"end points": np.array([k in _END_POINT_KINDS for k in kinds], dtype=bool),
            "band": np.array([k == "band" for k in kinds], dtype=bool),
            "transition region": transition_mask(ids, energies)}


def _slope(sums: np.ndarray) -> float | None:
    # least-squares slope of prediction on truth from the pooled sums of group_sums
    n, _, _, sy, sp, syy, _, syp = sums
    if n < 2:
        return None
    sxx = syy - sy * sy / n
    if sxx <= 0:
        return None
    return float((syp - sy * sp / n) / sxx)


def stage_metrics(y: np.ndarray, yhat: np.ndarray, forces: np.ndarray) -> dict[str, Any]:
    """Errors of one stage.

    Parameters
    ----------
    y, yhat
        DFT and predicted energy per atom (eV/atom) of the stage's configurations.
    forces
        Their (configurations, 8) force rows of :func:`~.bootstrap.group_sums`.

    Returns
    -------
    dict
        ``n`` (configurations), ``energy_mae``, ``energy_rmse`` (eV/atom), ``forces_mae``,
        ``forces_rmse`` (eV/A, pooled over components), ``forces_slope``,
        ``n_force_components``; ``None`` values where the stage is empty.
    """
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    if y.size == 0:
        return {"n": 0, "energy_mae": None, "energy_rmse": None, "forces_mae": None, "forces_rmse": None,
                "forces_slope": None, "n_force_components": 0}
    e = yhat - y
    total = np.asarray(forces, float).reshape(-1, 8).sum(axis=0)
    n_f = int(total[0])
    return {"n": int(y.size), "energy_mae": float(np.abs(e).mean()), "energy_rmse": float(np.sqrt((e ** 2).mean())),
            "forces_mae": float(total[1] / n_f) if n_f else None,
            "forces_rmse": float(np.sqrt(total[2] / n_f)) if n_f else None,
            "forces_slope": _slope(total), "n_force_components": n_f}


def _diff(a: Any, b: Any) -> float | None:
    return None if a is None or b is None else float(a - b)


def stage_resolved(items: pd.DataFrame, forces: np.ndarray) -> dict[str, Any] | None:
    """The stage-resolved metric set of one efs record (``None`` when no row carries a stage).

    Parameters
    ----------
    items
        The scorer's per-configuration table: ``id``, ``y``, ``yhat`` (energy per atom).
    forces
        (configurations, 8) force rows of :func:`~.bootstrap.group_sums`, in ``items`` order.

    Returns
    -------
    dict or None
        ``stages`` (:func:`stage_metrics` of each of :data:`STAGE_SET`), ``contrast``
        (transition region minus end points: ``forces_mae``, ``forces_rmse``,
        ``forces_slope``, ``energy_mae``; and ``forces_slope_ratio``), ``softening_at_saddle``
        (the transition region's force slope is below the end points'), ``rule`` (the
        definitions, in words).
    """
    ids = items["id"].tolist()
    masks = stage_masks(ids, items["y"].to_numpy(float))
    if not (masks["end points"].any() or masks["band"].any()):
        return None
    y, yhat = items["y"].to_numpy(float), items["yhat"].to_numpy(float)
    forces = np.asarray(forces, float).reshape(-1, 8)
    stages = {name: stage_metrics(y[m], yhat[m], forces[m]) for name, m in masks.items()}
    ts, ep = stages["transition region"], stages["end points"]
    contrast = {k: _diff(ts[k], ep[k]) for k in ("forces_mae", "forces_rmse", "forces_slope", "energy_mae")}
    ratio = None
    if ts["forces_slope"] is not None and ep["forces_slope"]:
        ratio = float(ts["forces_slope"] / ep["forces_slope"])
    contrast["forces_slope_ratio"] = ratio
    return {"stages": stages, "contrast": contrast,
            "softening_at_saddle": None if contrast["forces_slope"] is None else bool(contrast["forces_slope"] < 0),
            "rule": "end points: source/target relaxation configurations; band: NEB band configurations; "
                    "transition region: per hop and band step, the band image with the highest DFT energy; "
                    "forces pooled over components, slope of predicted on DFT (below 1: softening); "
                    "contrast = transition region minus end points"}


def stage_text(resolved: dict[str, Any] | None) -> str:
    """Plain-text lines of :func:`stage_resolved` for ``litraj score`` (empty when ``None``)."""
    if not resolved:
        return ""

    def f(v: Any, digits: int = 4) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    lines = ["stage-resolved (E eV/atom, F eV/A pooled; F slope < 1: softening):"]
    for name, m in resolved["stages"].items():
        lines.append(f"  {name:<18} n={m['n']:<6} E MAE {f(m['energy_mae'])}  F MAE {f(m['forces_mae'])}  "
                     f"F RMSE {f(m['forces_rmse'])}  F slope {f(m['forces_slope'], 3)}")
    c, soft = resolved["contrast"], resolved["softening_at_saddle"]
    lines.append(f"  transition region - end points: F MAE {f(c['forces_mae'])}, F slope {f(c['forces_slope'], 3)} "
                 f"(ratio {f(c['forces_slope_ratio'], 3)}); softening at the saddle: "
                 f"{'-' if soft is None else ('yes' if soft else 'no')}")
    return "\n".join(lines)
