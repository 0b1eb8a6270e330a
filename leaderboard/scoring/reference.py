"""The paper's reported results (Tables 1-5) as reference rows of the leaderboard.

The rows come from ``data/paper_results.csv`` (package data, citation in its header). They
are shown beside submissions and always marked *reported, not rerun*.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

from litraj_data.leaderboard.scoring.tasks import Task

__all__ = ["CITATION", "DOI", "REPORTED_NOTE", "paper_results", "reference_rows"]

CITATION = ("Dembitskiy, A. D. et al. Benchmarking machine learning models for predicting lithium "
            "ion migration. npj Comput. Mater. 11, 131 (2025).")
DOI = "10.1038/s41524-025-01571-z"
REPORTED_NOTE = "reported, not rerun"

# The CSV's subset "test" means the whole test split, which the leaderboard calls "all".
_SUBSET_ALIASES = {"test": "all"}


@lru_cache(maxsize=1)
def paper_results() -> pd.DataFrame:
    """Every row of the paper's Tables 1-5 (columns as in the CSV, blank = not reported)."""
    with resources.files(__package__).joinpath("data/paper_results.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, comment="#", dtype={"table": str})
    df["subset"] = df["subset"].replace(_SUBSET_ALIASES)
    return df


def _clean(value: Any) -> Any:
    return None if pd.isna(value) else value


def reference_rows(task: Task) -> list[dict[str, Any]]:
    """Reference rows of ``task`` in the leaderboard's record layout.

    Returns
    -------
    list of dict
        ``{"model", "subset", "mae", "rmse", "r2", "rp", "slope", "n", "table", "note",
        "kind": "reference", "status": "reported, not rerun", "citation", "doi"}``.
        Empty for tasks the paper did not report (``MPLiTrj/efs``).
    """
    if not task.reference:
        return []
    df = paper_results()
    sel = df[(df["dataset"] == task.reference["dataset"]) & (df["task"] == task.reference["task"])]
    rows = []
    for r in sel.itertuples(index=False):
        table = str(r.table)
        rows.append({
            "model": r.model, "subset": r.subset, "kind": "reference", "status": REPORTED_NOTE,
            "mae": _clean(r.mae_eV), "rmse": _clean(r.rmse_eV), "r2": _clean(r.r2), "rp": _clean(r.rp),
            "slope": _clean(r.slope), "n": None if pd.isna(r.n_systems) else int(r.n_systems),
            "table": f"Table {table}" if table.isdigit() else table, "note": _clean(r.note),
            "citation": CITATION, "doi": DOI,
        })
    return rows
