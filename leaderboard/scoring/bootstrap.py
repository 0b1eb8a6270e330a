"""Seeded bootstrap 95 % intervals of the regression metrics."""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["bootstrap_ci"]

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
    rng = np.random.default_rng(seed)
    chunk = chunk or max(1, min(n_boot, 500_000 // y.size))
    samples: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, y.size, size=(b, y.size))
        batch = _batched(y[idx], y_hat[idx])
        for m in metrics:
            samples[m].append(batch[m])
        done += b
    alpha = (1.0 - level) / 2.0
    out: dict[str, list[float] | None] = {}
    for m in metrics:
        vals = np.concatenate(samples[m])
        vals = vals[np.isfinite(vals)]
        if vals.size < n_boot / 2:  # undefined in most resamples (e.g. constant targets)
            out[m] = None
        else:
            lo, hi = np.quantile(vals, [alpha, 1.0 - alpha])
            out[m] = [float(lo), float(hi)]
    return out
