"""``litraj screen``: hop graph -> uMLIP-NEB per inequivalent hop -> percolation barriers."""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from litraj_data.leaderboard.reference.hops.graph import DEFAULT_BOTTLENECK
from litraj_data.leaderboard.reference.hops.percolation import percolation_barriers
from litraj_data.leaderboard.reference.neb.config import NEBConfig
from litraj_data.leaderboard.reference.neb.harness import read_records, run_hops
from litraj_data.leaderboard.reference.umlip.bands import structure_hops

SCREEN_CUTOFF = 6.0  # A, the paper's practical-application hop cutoff


def _num(v: Any) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)


def screen_structure(structure: Any, material_id: str, provider: Any, out: str | os.PathLike | None = None,
                     cutoff: float = SCREEN_CUTOFF, bottleneck: float = DEFAULT_BOTTLENECK,
                     config: NEBConfig = NEBConfig(), workers: int = 1, scheduler: Any = None,
                     min_width: float = 8.0, use_unconverged: bool = False, progress: Any = None) -> dict[str, Any]:
    """uMLIP percolation barriers of one structure with a per-hop table.

    Parameters
    ----------
    structure : pymatgen Structure or ASE Atoms
    material_id : str
    provider : CalculatorProvider
    out : path, optional
        Folder for records and bands (resumable); a temporary folder when None.
    cutoff, bottleneck : float
        Hop graph settings (A).
    config : NEBConfig
    workers, scheduler
        Local processes or Dask scheduler address.
    min_width : float
        Smallest width of the hop supercells (A).
    use_unconverged : bool
        Let barriers of non-converged NEBs enter the percolation analysis.
    progress : callable, optional
        As :func:`~litraj_data.leaderboard.reference.neb.harness.run_hops` (the CLI: a tqdm bar on stderr).

    Returns
    -------
    dict
        ``material_id``, ``max_dim``, ``percolation`` (E_1D/E_2D/E_3D, eV, None when not
        reached), ``percolation_bvse``, ``hops`` (edge_id, length, multiplicity, em_bvse,
        em_umlip, converged, steps, endpoint_steps, model_calls, wall_time, error), ``metrics``
        (convergence rate, hops per hour of this run, mean steps / model calls / wall time).
    """
    sh = structure_hops(structure, material_id, cutoff, bottleneck, min_width=min_width)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out) / material_id if out is not None else Path(tmp)
        summary = run_hops(sh.inputs, provider, folder, config, workers=workers, scheduler=scheduler,
                           progress=progress)
        records = {r["edge_id"]: r for r in read_records(folder)}
    barriers, table = [], []
    for hop, inp in zip(sh.graph.hops, sh.inputs):
        r = records.get(hop.edge_id, {})
        ok = r.get("error") is None and r.get("barrier") is not None and (r.get("converged") or use_unconverged)
        barriers.append(r["barrier"] if ok else np.nan)
        err = r.get("error")
        table.append({**hop.as_dict(), "em_bvse": inp.meta.get("em_bvse"), "em_umlip": _num(r.get("barrier")),
                      "converged": r.get("converged"), "steps": r.get("steps"), "fmax": _num(r.get("fmax")),
                      "wall_time": _num(r.get("wall_time")), "model_calls": r.get("model_calls"),
                      "endpoint_steps": r.get("endpoint_steps"),
                      "error": None if not err else {"reason": err.get("reason"), "message": err.get("message")}})
    perc = percolation_barriers(sh.graph, np.asarray(barriers, float), sh.li_index)
    perc_bvse = percolation_barriers(sh.graph, sh.bvse_barriers, sh.li_index)
    keys = ("E_1D", "E_2D", "E_3D")
    return {"material_id": material_id, "max_dim": int(sh.graph.max_dim), "n_hops": len(sh.inputs),
            "percolation": dict(zip(keys, map(_num, perc))), "percolation_bvse": dict(zip(keys, map(_num, perc_bvse))),
            "model": getattr(provider, "key", None), "hops": table,
            "metrics": {k: summary[k] for k in ("convergence_rate", "n_converged", "n_errors", "hops_per_hour",
                                                "mean_steps", "mean_model_calls", "mean_wall_time_per_hop")}}
