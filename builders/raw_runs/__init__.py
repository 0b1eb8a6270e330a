"""Readers of raw NEB hop runs (authors' ASE/VASP layout and native VASP NEB folders).

>>> from litraj_data.builders.raw_runs import read_hop, scan_runs
>>> run = read_hop("raw/mp-1234_0_1_0_0_0.neb")          # doctest: +SKIP
>>> run.final.energies, run.converged, sum(1 for _ in run.iter_configs())  # doctest: +SKIP
"""
from litraj_data.builders.raw_runs.authors import read_authors_run
from litraj_data.builders.raw_runs.discover import HopFailure, detect_layout, find_runs, read_hop, scan_runs
from litraj_data.builders.raw_runs.model import Band, Config, Convergence, HopRun, parse_edge_id
from litraj_data.builders.raw_runs.vasp_neb import read_vasp_neb

__all__ = ["Band", "Config", "Convergence", "HopFailure", "HopRun", "detect_layout", "find_runs",
           "parse_edge_id", "read_authors_run", "read_hop", "read_vasp_neb", "scan_runs"]
