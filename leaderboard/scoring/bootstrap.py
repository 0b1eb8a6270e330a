"""Seeded bootstrap 95 % intervals of the regression metrics."""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = ["bootstrap_ci", "group_sums", "pooled_metrics", "bootstrap_pooled_ci"]

_METRICS = ("mae", "rmse", "r2", "rp", "slope")


def _batched(y: np.ndarray, y_hat: np.ndarray) -> dict[str, np.ndarray]:
    # y, y_hat: (B, n) resamples; every metric vectorised over the B rows.
    err = y_hat - y
    out = {"mae": np.abs(err).mean(axis=1), "rmse": np.sqrt((err ** 2).mean(axis=1))}
    yc = y - y.mean(axis=1, keepdims=True)
    pc = y_hat - y_hat.mean(axis=1, keepdims=True)
    sxx = (yc ** 2).sum(axis=1)
    syy = (pc ** 2).sum(axis=1)
    sxy = (yc * pc).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["r2"] = 1.0 - (err ** 2).sum(axis=1) / sxx
        out["rp"] = sxy / np.sqrt(sxx * syy)
        out["slope"] = sxy / sxx
    return out


def bootstrap_ci(y: Sequence[float], y_hat: Sequence[float], *, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95, metrics: Sequence[str] = _METRICS,
                 chunk: int | None = None) -> dict[str, list[float] | None]:
    """Percentile bootstrap interval of each metric, reproducible for a given ``seed``.

    Parameters
    ----------
    y, y_hat
        Targets and predictions.
    n_boot
        Number of resamples (with replacement, of the same size as the data).
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same intervals.
    level
        Coverage of the interval (0.95 gives the 2.5 and 97.5 percentiles).
    metrics
        Subset of ``mae, rmse, r2, rp, slope``.
    chunk
        Resamples per vectorised batch (default: about 500,000 drawn indices per batch,
        which bounds memory on large test sets; the intervals do not depend on it).

    Returns
    -------
    dict
        ``{metric: [low, high]}``; ``None`` for a metric undefined in most resamples.
    """
    y = np.asarray(y, dtype=float)
    y_hat = np.asarray(y_hat, dtype=float)
    if y.shape != y_hat.shape or y.ndim != 1 or y.size == 0:
        raise ValueError("bootstrap needs two 1-D arrays of one non-zero length")
    unknown = set(metrics) - set(_METRICS)
    if unknown:
        raise ValueError(f"no bootstrap for metrics {sorted(unknown)}")
    if n_boot < 2:
        raise ValueError("n_boot must be at least 2")
    return _percentile_intervals(y.size, lambda idx: _batched(y[idx], y_hat[idx]), metrics, n_boot, seed,
                                 level, chunk)


def _percentile_intervals(n_items: int, statistic: Callable[[np.ndarray], dict[str, np.ndarray]],
                          names: Iterable[str], n_boot: int, seed: int, level: float,
                          chunk: int | None) -> dict[str, list[float] | None]:
    """Percentile intervals of ``statistic`` over ``n_boot`` resamples of ``n_items`` items.

    ``statistic`` takes a ``(b, n_items)`` index array (b resamples at once, in chunks that
    bound memory) and returns one value per resample for every name. A statistic undefined
    (non-finite) in most resamples, e.g. on constant targets, gets ``None``.
    """
    names = list(names)
    rng = np.random.default_rng(seed)
    chunk = chunk or max(1, min(n_boot, 500_000 // n_items))
    samples: dict[str, list[np.ndarray]] = {k: [] for k in names}
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        batch = statistic(rng.integers(0, n_items, size=(b, n_items)))
        for k in names:
            samples[k].append(batch[k])
        done += b
    alpha = (1.0 - level) / 2.0
    out: dict[str, list[float] | None] = {}
    for k in names:
        vals = np.concatenate(samples[k])
        vals = vals[np.isfinite(vals)]
        if vals.size < n_boot / 2:
            out[k] = None
        else:
            lo, hi = np.quantile(vals, [alpha, 1.0 - alpha])
            out[k] = [float(lo), float(hi)]
    return out


#: Columns of :func:`group_sums`: count, sum |e|, sum e^2, and the five sums of Pearson's r.
_SUMS = ("n", "abs", "sq", "y", "p", "yy", "pp", "yp")
_POOLED = ("mae", "rmse", "rp")


def group_sums(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """Sufficient statistics of one group of components (one configuration's forces).

    Metrics pooled over components (force MAE, RMSE, Pearson R_p over all components of
    all configurations) are functions of these sums, so resampling configurations only adds
    rows of this table: the bootstrap keeps a configuration's correlated components together.

    Returns
    -------
    numpy.ndarray
        Shape (8,): ``n, sum|e|, sum e^2, sum y, sum yhat, sum y^2, sum yhat^2, sum y*yhat``.
    """
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(y_hat, dtype=float).ravel()
    e = p - y
    return np.array([y.size, np.abs(e).sum(), (e ** 2).sum(), y.sum(), p.sum(), (y ** 2).sum(),
                     (p ** 2).sum(), (y * p).sum()])


def _pooled(sums: np.ndarray) -> dict[str, np.ndarray]:
    # sums: (..., 8) totals over the selected groups
    n, sa, sq, sy, sp, syy, spp, syp = (sums[..., k] for k in range(len(_SUMS)))
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx = syy - sy * sy / n
        sff = spp - sp * sp / n
        sxf = syp - sy * sp / n
        return {"mae": sa / n, "rmse": np.sqrt(sq / n), "rp": sxf / np.sqrt(sxx * sff)}


def pooled_metrics(groups: np.ndarray) -> dict[str, float | int | None]:
    """MAE, RMSE and Pearson R_p over all components of the groups (rows of :func:`group_sums`)."""
    groups = np.asarray(groups, dtype=float).reshape(-1, len(_SUMS))
    total = groups.sum(axis=0)
    out: dict[str, float | int | None] = {"n": int(total[0])}
    for k, v in _pooled(total).items():
        out[k] = float(v) if np.isfinite(v) else None
    return out


def bootstrap_pooled_ci(groups: np.ndarray, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                        chunk: int | None = None) -> dict[str, list[float] | None]:
    """Percentile bootstrap of :func:`pooled_metrics`, resampling groups (configurations).

    Parameters
    ----------
    groups
        (n_groups, 8) rows of :func:`group_sums`.
    n_boot, seed, level, chunk
        As :func:`bootstrap_ci`: the same seed gives the same intervals.

    Returns
    -------
    dict
        ``{"mae", "rmse", "rp": [low, high] or None}``.
    """
    groups = np.asarray(groups, dtype=float).reshape(-1, len(_SUMS))
    if groups.shape[0] == 0:
        raise ValueError("bootstrap needs at least one group")
    if n_boot < 2:
        raise ValueError("n_boot must be at least 2")
    return _percentile_intervals(groups.shape[0], lambda idx: _pooled(groups[idx].sum(axis=1)), _POOLED, n_boot,
                                 seed, level, chunk)
