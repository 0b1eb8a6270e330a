"""Success metrics of a uMLIP-NEB run (OC20NEB-style definitions), from the hop records.

* **converged**: the band reached ``fmax`` and both end points their threshold, no error.
* **success within t eV**: converged AND ``|barrier - em_dft| < t`` (OC20NEB: a hop that did
  not converge is a failure whatever its barrier); the rate is over *all* hops with a
  reference, so a failed hop counts as a miss.
* **hops per hour**: hops finished by this run per hour of its wall time.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

SUCCESS_THRESHOLDS = (0.05, 0.1)  # eV, OC20NEB's thresholds on the barrier error


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def hop_converged(record: dict[str, Any]) -> bool:
    """A hop converged: no error and ``converged`` true."""
    return record.get("error") is None and bool(record.get("converged"))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def run_metrics(records: Sequence[dict[str, Any]], wall_time: float | None = None, new_hops: int | None = None,
                reference: str = "em_dft") -> dict[str, Any]:
    """Convergence and success rates of a run, and its throughput.

    Parameters
    ----------
    records : sequence of dict
        One record per hop (``results.jsonl``).
    wall_time : float, optional
        Wall time of the run (s), for ``hops_per_hour``.
    new_hops : int, optional
        Hops finished during that wall time (default: all records).
    reference : str
        Record key of the reference barrier (eV).

    Returns
    -------
    dict
        ``n_hops``, ``n_converged``, ``n_errors``, ``convergence_rate``, ``n_with_reference``,
        ``success_0.05`` / ``success_0.1`` (rates over hops with a reference; ``None``
        without any), ``mae_converged`` (eV, converged hops with a reference),
        ``mean_steps``, ``mean_endpoint_steps``, ``mean_model_calls``, ``mean_wall_time_per_hop``
        (s), ``hops_per_hour``.
    """
    n = len(records)
    conv = [r for r in records if hop_converged(r)]
    out: dict[str, Any] = {"n_hops": n, "n_converged": len(conv),
                           "n_errors": sum(r.get("error") is not None for r in records),
                           "convergence_rate": len(conv) / n if n else None}
    with_ref = [r for r in records if _finite(r.get(reference)) is not None]
    out["n_with_reference"] = len(with_ref)
    for t in SUCCESS_THRESHOLDS:
        hits = sum(1 for r in with_ref if hop_converged(r) and _finite(r.get("barrier")) is not None
                   and abs(float(r["barrier"]) - float(r[reference])) < t)
        out[f"success_{t:g}"] = hits / len(with_ref) if with_ref else None
    errs = [abs(float(r["barrier"]) - float(r[reference])) for r in with_ref
            if hop_converged(r) and _finite(r.get("barrier")) is not None]
    out["mae_converged"] = _mean(errs)
    for key, name in (("steps", "mean_steps"), ("endpoint_steps", "mean_endpoint_steps"),
                      ("model_calls", "mean_model_calls"), ("wall_time", "mean_wall_time_per_hop")):
        out[name] = _mean([float(r[key]) for r in records if _finite(r.get(key)) is not None])
    done = n if new_hops is None else new_hops
    out["hops_per_hour"] = 3600.0 * done / wall_time if wall_time and done else None
    return out
