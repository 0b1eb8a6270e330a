"""Compiled inner loop of the Voronoi features (numba, ``cache=True``): segment bottlenecks.

The percolation radii need, for every Li-Li segment up to 10 A, the closest approach of any
other atom image; in Python that is a loop over thousands of edges per structure.
"""
from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["segment_bottlenecks"]


@nb.njit(cache=True, nogil=True)
def segment_bottlenecks(a: np.ndarray, b: np.ndarray, pos: np.ndarray, exclude: float) -> np.ndarray:
    """Smallest distance of each segment ``[a[k], b[k]]`` to the points ``pos``.

    Points within ``exclude`` of either end of a segment are its end points and skipped
    (atoms never overlap, so nothing else sits that close).

    Parameters
    ----------
    a, b : (E, 3) float
        Segment ends.
    pos : (M, 3) float
        Atom images.
    exclude : float
        End-point tolerance (A).

    Returns
    -------
    (E,) float
        ``inf`` where no other point exists.
    """
    n = a.shape[0]
    out = np.full(n, np.inf)
    ex2 = exclude * exclude
    for k in range(n):
        abx, aby, abz = b[k, 0] - a[k, 0], b[k, 1] - a[k, 1], b[k, 2] - a[k, 2]
        l2 = abx * abx + aby * aby + abz * abz
        best = np.inf
        for m in range(pos.shape[0]):
            px, py, pz = pos[m, 0] - a[k, 0], pos[m, 1] - a[k, 1], pos[m, 2] - a[k, 2]
            da2 = px * px + py * py + pz * pz
            qx, qy, qz = pos[m, 0] - b[k, 0], pos[m, 1] - b[k, 1], pos[m, 2] - b[k, 2]
            if da2 < ex2 or qx * qx + qy * qy + qz * qz < ex2:
                continue
            u = (px * abx + py * aby + pz * abz) / l2 if l2 > 0 else 0.0
            u = min(1.0, max(0.0, u))
            dx, dy, dz = px - u * abx, py - u * aby, pz - u * abz
            d2 = dx * dx + dy * dy + dz * dz
            if d2 < best:
                best = d2
        out[k] = np.sqrt(best)
    return out


@nb.njit(cache=True, nogil=True)
def geometric_median(x: np.ndarray, y0: np.ndarray, eps: float = 1e-5, max_iter: int = 200) -> np.ndarray:
    """Weiszfeld's iteration with the Vardi-Zhang step at data points (the authors' ``_geometric_median``).

    Stops when a step moves less than ``eps``; after ``max_iter`` steps returns the last point.
    """
    y = y0.copy()
    n = x.shape[0]
    for _ in range(max_iter + 1):
        dinv_sum = 0.0
        t = np.zeros(3)
        n_zero = 0
        for i in range(n):
            d = np.sqrt((x[i, 0] - y[0]) ** 2 + (x[i, 1] - y[1]) ** 2 + (x[i, 2] - y[2]) ** 2)
            if d == 0.0:
                n_zero += 1
                continue
            dinv_sum += 1.0 / d
            t += x[i] / d
        if n_zero == n:
            return y
        t /= dinv_sum
        if n_zero == 0:
            y1 = t
        else:
            r = np.sqrt(((t - y) * dinv_sum) @ ((t - y) * dinv_sum))
            rinv = 0.0 if r == 0 else n_zero / r
            y1 = max(0.0, 1 - rinv) * t + min(1.0, rinv) * y
        if np.sqrt((y - y1) @ (y - y1)) < eps:
            return y1
        y = y1
    return y
