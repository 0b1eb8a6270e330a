"""BVSE calculator settings and the argparse options that set them.

One place for the defaults of :func:`litraj_data.leaderboard.reference.bvse.bvse_barriers`, the
paper's settings and the command-line options shared by ``litraj bvel`` and
``litraj build BVEL13k`` (a builder needs the options but must not depend on a CLI module).
"""
from __future__ import annotations

import argparse
from typing import Any

DEFAULT_RESOLUTION = 0.2  # Å, grid spacing target
DEFAULT_CUTOFF = 10.0  # Å, interaction cutoff
DEFAULT_CONNECTIVITY = 26  # grid neighbourhood of the percolation (bvlain's)
DEFAULT_MAX_BARRIER = 10.0  # eV, barriers above this are inf (bvlain's encut)
#: ``periodic``: ``ceil(|a_i| / resolution)`` points at ``k / n_i`` with exact percolation levels (default);
#: ``bvlain``: the grid the released BVEL13k values were computed on, bvlain 0.25's
#: ``linspace(0, 1, int(|a_i| // resolution))`` (a repeated face), read out as bvlain's bisection does
GRIDS = ("periodic", "bvlain")
DEFAULT_GRID = "periodic"

#: The settings of the paper's BVEL13k run (bvlain with the 200 nearest framework ions).
PAPER_SETTINGS = {"resolution": 0.2, "cutoff": 10.0, "k": 200}


def add_bvse_options(parser: argparse.ArgumentParser, k_default: int | None = None) -> None:
    """Options shared by ``litraj bvel`` and ``litraj build BVEL13k``."""
    parser.add_argument("--resolution", type=float, default=DEFAULT_RESOLUTION,
                        help=f"grid spacing in Å (default {DEFAULT_RESOLUTION})")
    parser.add_argument("--cutoff", type=float, default=DEFAULT_CUTOFF,
                        help=f"interaction cutoff in Å (default {DEFAULT_CUTOFF:g})")
    parser.add_argument(
        "--k", type=int, default=k_default,
        help="only the k nearest framework ions (paper: 200); default: "
        + ("all within the cutoff" if k_default is None else str(k_default)),
    )
    parser.add_argument("--connectivity", type=int, choices=(6, 26), default=DEFAULT_CONNECTIVITY,
                        help=f"grid neighbourhood for percolation (default {DEFAULT_CONNECTIVITY}, as bvlain)")
    parser.add_argument("--max-barrier", type=float, default=DEFAULT_MAX_BARRIER,
                        help=f"barriers above this (eV) are reported as inf (default {DEFAULT_MAX_BARRIER:g}, "
                        "bvlain's encut)")
    parser.add_argument("--grid", choices=GRIDS, default=DEFAULT_GRID,
                        help="periodic (default): ceil(a/resolution) points, exact levels; bvlain: the grid and "
                        "0.01 eV bisection of bvlain 0.25, on which the released BVEL13k values were computed")


def bvse_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`~litraj_data.leaderboard.reference.bvse.bvse_barriers` from parsed options."""
    return {
        "resolution": args.resolution, "cutoff": args.cutoff, "k": args.k,
        "connectivity": args.connectivity, "max_barrier": args.max_barrier,
        "grid": getattr(args, "grid", DEFAULT_GRID),
    }
