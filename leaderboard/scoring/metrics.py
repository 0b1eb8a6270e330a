"""Metrics of the LiTraj paper (Methods) and screening metrics.

Definitions (the paper, Methods; docs/leaderboard.md): MAE, RMSE, R^2 = 1 - RSS/TSS, Pearson R_p,
slope of the least-squares line of prediction against target, barrier = max - min of a
profile, PA-MAE = mean over images of the mean over atoms of the minimum-image distance.
Values that a metric cannot define (R^2 of a constant target, R_p of fewer than two
points) come back as ``None`` rather than NaN, so JSON stays valid.
"""
from __future__ import annotations

import itertools
import warnings
from typing import Sequence

import numpy as np
from scipy import stats

__all__ = ["mae", "rmse", "r2", "pearson", "slope", "regression_metrics", "barrier",
           "minimum_image_distances", "pa_mae", "screening_metrics", "roc_auc", "success_rates",
           "SUCCESS_THRESHOLDS"]

#: OC20NEB's barrier-error thresholds (eV) of a "successful" hop
SUCCESS_THRESHOLDS = (0.05, 0.1)


def success_rates(y: Sequence[float], y_hat: Sequence[float], ok: Sequence[bool],
                  thresholds: Sequence[float] = SUCCESS_THRESHOLDS) -> dict[str, float]:
    """OC20NEB success rates over *all* items: ``ok`` (converged, not failed) AND
    ``|y_hat - y| < t``; a failed item (``ok`` false, ``y_hat`` possibly NaN) is a miss.

    Returns ``{"success_0.05": rate, ...}`` (rates in [0, 1]).
    """
    y = np.asarray(y, dtype=float)
    y_hat = np.asarray(y_hat, dtype=float)
    ok = np.asarray(ok, dtype=bool)
    if not (y.shape == y_hat.shape == ok.shape) or y.ndim != 1 or y.size == 0:
        raise ValueError(f"success_rates needs three 1-D arrays of one non-zero length, got "
                         f"{y.shape}, {y_hat.shape}, {ok.shape}")
    with np.errstate(invalid="ignore"):
        err = np.abs(y_hat - y)
    return {f"success_{t:g}": float(np.mean(ok & np.isfinite(err) & (err < t))) for t in thresholds}


def _pair(y: Sequence[float], y_hat: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    y_hat = np.asarray(y_hat, dtype=float)
    if y.shape != y_hat.shape or y.ndim != 1:
        raise ValueError(f"targets and predictions must be 1-D of one length, got {y.shape} and {y_hat.shape}")
    if y.size == 0:
        raise ValueError("no values to score")
    return y, y_hat


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def mae(y: Sequence[float], y_hat: Sequence[float]) -> float:
    """Mean absolute error."""
    y, y_hat = _pair(y, y_hat)
    return float(np.abs(y - y_hat).mean())


def rmse(y: Sequence[float], y_hat: Sequence[float]) -> float:
    """Root mean squared error."""
    y, y_hat = _pair(y, y_hat)
    return float(np.sqrt(np.mean((y - y_hat) ** 2)))


def r2(y: Sequence[float], y_hat: Sequence[float]) -> float | None:
    """Coefficient of determination 1 - RSS/TSS (``None`` when the target is constant)."""
    y, y_hat = _pair(y, y_hat)
    tss = np.sum((y - np.mean(y)) ** 2)
    if tss == 0:
        return None
    return float(1.0 - np.sum((y - y_hat) ** 2) / tss)


def _linregress(y: np.ndarray, y_hat: np.ndarray):
    # Least squares of prediction (ordinate) against target (abscissa), as the paper.
    if y.size < 2 or np.ptp(y) == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return stats.linregress(y, y_hat)


def pearson(y: Sequence[float], y_hat: Sequence[float]) -> float | None:
    """Pearson correlation R_p (``None`` for fewer than 2 points or a constant input)."""
    fit = _linregress(*_pair(y, y_hat))
    return None if fit is None else _finite_or_none(fit.rvalue)


def slope(y: Sequence[float], y_hat: Sequence[float]) -> float | None:
    """Slope of the least-squares line of ``y_hat`` against ``y`` (< 1 means softening)."""
    fit = _linregress(*_pair(y, y_hat))
    return None if fit is None else _finite_or_none(fit.slope)


def regression_metrics(y: Sequence[float], y_hat: Sequence[float]) -> dict[str, float | None]:
    """MAE, RMSE, R^2, R_p, slope and the count of one set of predictions.

    Parameters
    ----------
    y, y_hat
        Targets and predictions, 1-D of one length.

    Returns
    -------
    dict
        ``{"n", "mae", "rmse", "r2", "rp", "slope"}``; undefined values are ``None``.
    """
    y, y_hat = _pair(y, y_hat)
    fit = _linregress(y, y_hat)
    return {
        "n": int(y.size),
        "mae": mae(y, y_hat),
        "rmse": rmse(y, y_hat),
        "r2": r2(y, y_hat),
        "rp": None if fit is None else _finite_or_none(fit.rvalue),
        "slope": None if fit is None else _finite_or_none(fit.slope),
    }


def barrier(energies: Sequence[float]) -> float:
    """Migration barrier of a band: max - min of the image energies."""
    e = np.asarray(energies, dtype=float)
    if e.ndim != 1 or e.size < 2:
        raise ValueError(f"a band needs at least 2 image energies, got shape {e.shape}")
    return float(e.max() - e.min())


_SHIFTS = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)


def minimum_image_distances(a: np.ndarray, b: np.ndarray, cell: np.ndarray,
                            pbc: Sequence[bool] = (True, True, True)) -> np.ndarray:
    """Distance between ``a[i]`` and ``b[i]`` under periodic boundary conditions.

    The fractional difference is wrapped into [-0.5, 0.5) and then the 27 neighbouring
    images are searched, which gives the true minimum image also in skewed cells.

    Parameters
    ----------
    a, b
        Cartesian positions, shape (..., 3), same shape.
    cell
        Lattice vectors as rows, (3, 3).
    pbc
        Periodic directions.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    cell = np.asarray(cell, dtype=float)
    if a.shape != b.shape or a.shape[-1] != 3:
        raise ValueError(f"position arrays differ in shape: {a.shape} vs {b.shape}")
    pbc = np.asarray(pbc, dtype=bool)
    diff = (b - a).reshape(-1, 3)
    if not pbc.any():
        return np.linalg.norm(diff, axis=1).reshape(a.shape[:-1])
    frac = np.linalg.solve(cell.T, diff.T).T
    frac[:, pbc] -= np.round(frac[:, pbc])
    shifts = _SHIFTS[np.all(_SHIFTS[:, ~pbc] == 0, axis=1)]
    cand = (frac[:, None, :] + shifts[None, :, :]) @ cell  # (n, shifts, 3)
    return np.linalg.norm(cand, axis=2).min(axis=1).reshape(a.shape[:-1])


def pa_mae(true_band: np.ndarray, pred_band: np.ndarray, cell: np.ndarray,
           pbc: Sequence[bool] = (True, True, True)) -> float:
    """Path-averaged MAE of geometry: mean over images of the mean minimum-image displacement.

    Parameters
    ----------
    true_band, pred_band
        Positions, (images, atoms, 3), atoms in the same order.
    cell
        Cell of the reference band (rows are lattice vectors).
    """
    true_band = np.asarray(true_band, dtype=float)
    pred_band = np.asarray(pred_band, dtype=float)
    if true_band.shape != pred_band.shape or true_band.ndim != 3:
        raise ValueError(f"bands differ in shape: {true_band.shape} vs {pred_band.shape}")
    d = minimum_image_distances(true_band, pred_band, cell, pbc)
    return float(d.mean(axis=1).mean())


def roc_auc(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties).

    ``None`` when only one class is present.
    """
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(scores)
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def screening_metrics(y: Sequence[float], y_hat: Sequence[float], threshold: float) -> dict[str, float | int | None]:
    """Screening for "fast" conductors: barrier below ``threshold`` is the positive class.

    Returns
    -------
    dict
        ``threshold``, counts (``n_fast_true``, ``n_fast_pred``, ``tp``), ``precision``,
        ``recall``, ``f1`` and ``roc_auc`` (ranking by ``-y_hat``: lower predicted barrier
        means more likely fast). Undefined values are ``None``.
    """
    y, y_hat = _pair(y, y_hat)
    true_fast = y < threshold
    pred_fast = y_hat < threshold
    tp = int(np.sum(true_fast & pred_fast))
    precision = tp / int(pred_fast.sum()) if pred_fast.any() else None
    recall = tp / int(true_fast.sum()) if true_fast.any() else None
    f1 = (2 * precision * recall / (precision + recall)
          if precision is not None and recall is not None and precision + recall > 0 else None)
    return {
        "threshold": float(threshold),
        "n_fast_true": int(true_fast.sum()),
        "n_fast_pred": int(pred_fast.sum()),
        "tp": tp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": roc_auc(true_fast, -y_hat),
    }
