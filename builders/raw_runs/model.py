"""Plain data objects describing one raw NEB hop run (:class:`Band` lives in :mod:`litraj_data.bands`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

# one Band for raw DFT bands, submitted bands and harness inputs; re-exported here for importers
from litraj_data.bands import Band

#: ``{material_id}_{source}_{target}_{ox}_{oy}_{oz}`` (offsets may be negative)
EDGE_ID_RE = re.compile(r"^(?P<material_id>.+?)_(?P<source>\d+)_(?P<target>\d+)"
                        r"_(?P<ox>-?\d+)_(?P<oy>-?\d+)_(?P<oz>-?\d+)$")


def parse_edge_id(hop_id: str) -> dict[str, Any] | None:
    """Split an edge id into material_id, source, target and offset; None if it is not one."""
    m = EDGE_ID_RE.match(hop_id)
    if not m:
        return None
    g = m.groupdict()
    return {"material_id": g["material_id"], "source": int(g["source"]), "target": int(g["target"]),
            "offset": (int(g["ox"]), int(g["oy"]), int(g["oz"]))}


def hop_id_from_folder(path: Path) -> str:
    """Hop id of a run folder: its name without a trailing ``.neb``."""
    name = path.resolve().name
    return name[: -len(".neb")] if name.endswith(".neb") else name


@dataclass
class Config:
    """One single-point DFT configuration: geometry, energy, forces and (maybe) stress.

    ``kind`` says where it comes from: ``source`` / ``target`` (end-point relaxation step
    ``step``), ``band`` (band-optimisation step ``step``, image ``image``).
    """

    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    energy: float
    forces: np.ndarray
    stress: np.ndarray | None
    kind: str
    step: int
    image: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_atoms(self) -> Atoms:
        """ASE atoms carrying a single-point calculator with the DFT results."""
        atoms = Atoms(numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)
        results: dict[str, Any] = {"energy": self.energy, "forces": self.forces}
        if self.stress is not None:
            results["stress"] = self.stress
        atoms.calc = SinglePointCalculator(atoms, **results)
        return atoms


@dataclass
class Convergence:
    """How converged the final band is.

    ``max_force`` is the largest per-atom force norm (eV/Å) of ``method`` over the moving
    images (and, where relaxation trajectories exist, the relaxed end points); the run is
    ``converged`` when it is below ``fmax``.
    """

    converged: bool | None
    max_force: float | None
    fmax: float
    method: str
    per_image: list[float | None] = field(default_factory=list)
    marker: bool | None = None   # the CONVERGED marker file, authors' layout only

    def as_dict(self) -> dict[str, Any]:
        return {"converged": self.converged, "max_force": self.max_force, "fmax": self.fmax,
                "method": self.method, "per_image": self.per_image, "marker": self.marker}


@dataclass
class HopRun:
    """One hop run read from disk (see :func:`litraj_data.builders.raw_runs.read_hop`).

    Configurations are not held in memory: :meth:`iter_configs` re-reads them from the run
    folder one at a time.
    """

    hop_id: str
    path: Path
    layout: str                  # "authors" or "vasp"
    initial: Band
    final: Band
    convergence: Convergence
    finished: bool
    n_band_steps: int
    config_files: list[str]
    _config_iter: Callable[[], Iterator[Config]] = field(repr=False, default=lambda: iter(()))

    @property
    def edge(self) -> dict[str, Any] | None:
        """Parsed edge id (material_id, source, target, offset) or None."""
        return parse_edge_id(self.hop_id)

    @property
    def material_id(self) -> str:
        """Materials Project id from the edge id; the hop id itself when it is no edge id."""
        edge = self.edge
        return edge["material_id"] if edge else self.hop_id

    @property
    def converged(self) -> bool | None:
        return self.convergence.converged

    @property
    def em(self) -> float | None:
        """DFT barrier of the final band, max - min."""
        return self.final.barrier

    def iter_configs(self) -> Iterator[Config]:
        """Every single-point configuration, streamed from disk in a fixed order.

        Raises
        ------
        DataFormatError
            ``nan_energy``, ``missing_energy``, ``atom_count_mismatch``, ``truncated`` ...
            when a file read on the way is bad: a consumer must then drop the hop.
        """
        return self._config_iter()
