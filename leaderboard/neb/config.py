"""Settings of the NEB harness (defaults = the LiTraj authors' uMLIP-NEB protocol)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class NEBConfig:
    """uMLIP-NEB protocol of one hop.

    Attributes
    ----------
    relax_endpoints : bool
        Relax both end points (all atoms, fixed cell) before the NEB.
    endpoint_fmax : float
        Force threshold of the end-point relaxation (eV/A).
    endpoint_steps : int
        Largest number of FIRE steps per end point.
    k : float
        Spring constant (eV/A^2).
    climb : bool
        Climbing image.
    method : str
        ASE NEB tangent method (``improvedtangent`` as in the paper).
    fmax : float
        NEB force threshold (eV/A).
    steps : int
        Largest number of FIRE steps of the band.
    force_limit : float
        Any atomic force above this (eV/A) marks the hop as exploded (recorded, not raised).
    batched : bool
        Evaluate all images of a band in one call of the model's batched evaluator when the
        model has one (image-by-image ASE NEB otherwise).
    """

    relax_endpoints: bool = True
    endpoint_fmax: float = 0.1
    endpoint_steps: int = 100
    k: float = 5.0
    climb: bool = True
    method: str = "improvedtangent"
    fmax: float = 0.1
    steps: int = 100
    force_limit: float = 200.0
    batched: bool = True

    def __post_init__(self) -> None:
        if self.fmax <= 0 or self.endpoint_fmax <= 0:
            raise ValueError(f"fmax must be > 0, got {self.fmax} / {self.endpoint_fmax}")
        if self.steps < 0 or self.endpoint_steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps} / {self.endpoint_steps}")
        if self.k <= 0:
            raise ValueError(f"spring constant k must be > 0, got {self.k}")
        if self.method not in ("improvedtangent", "aseneb", "eb", "spline", "string"):
            raise ValueError(f"unknown NEB method {self.method!r}")

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for records and metadata)."""
        return asdict(self)
