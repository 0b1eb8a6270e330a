"""Reference BVSE calculator: softBV parameters, landscape, exact 1D/2D/3D percolation."""
from litraj_data.leaderboard.reference.bvse.api import PAPER_SETTINGS, BVELResult, bvse_barriers, bvse_landscape
from litraj_data.leaderboard.reference.bvse.landscape import Landscape, compute_landscape, grid_shape
from litraj_data.leaderboard.reference.bvse.percolation import PercolationResult, percolation_levels

__all__ = [
    "PAPER_SETTINGS", "BVELResult", "bvse_barriers", "bvse_landscape",
    "Landscape", "compute_landscape", "grid_shape", "PercolationResult", "percolation_levels",
]
