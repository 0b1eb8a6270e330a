"""Settings of the NEB harness (defaults = the LiTraj authors' uMLIP-NEB protocol)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: ASE optimisers a band or an end point may use (name -> ``ase.optimize`` class name)
OPTIMIZERS = ("FIRE", "BFGS", "LBFGS", "MDMin")
#: rungs of the retry ladder, tried in this order on a band that did not converge
RETRIES = ("more_steps", "smaller_step", "perturb")
#: initial paths: the given band (BVSE-NEB, the paper), IDPP or linear between the relaxed end points
INITIAL_PATHS = ("given", "idpp", "linear")


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
        Largest number of optimiser steps per end point.
    k : float
        Spring constant (eV/A^2).
    climb : bool
        Climbing image.
    method : str
        ASE NEB tangent method (``improvedtangent`` as in the paper).
    fmax : float
        NEB force threshold (eV/A).
    steps : int
        Largest number of optimiser steps of the band (of the climbing stage when
        ``two_stage``).
    force_limit : float
        Any atomic force above this (eV/A) marks the hop as exploded (recorded, not raised).
    batched : bool
        Evaluate images in calls of the model's batched evaluator when the model has one
        (image-by-image ASE NEB, one calculator per image, otherwise).
    optimizer : str
        ASE optimiser of the band and the end points: ``FIRE`` (paper), ``BFGS``, ``LBFGS``, ``MDMin``.
    initial_path : str
        ``given`` (the hop's band: BVSE-NEB in the paper), ``idpp`` or ``linear`` between
        the relaxed end points (ASE's ``NEB.interpolate``, minimum-image convention).
    two_stage : bool
        First a plain NEB (no climbing image) to ``stage1_fmax``, then the climbing-image
        NEB to ``fmax``.
    stage1_fmax : float
        Force threshold of the first stage (eV/A).
    stage1_steps : int
        Largest number of steps of the first stage.
    retries : tuple of str
        Retry ladder for a band that did not converge, each rung continuing from where the
        previous one stopped with a fresh optimiser: ``more_steps`` (another ``steps``),
        ``smaller_step`` (half the optimiser's step size), ``perturb`` (interior images
        displaced by ``perturb_amplitude``, seeded by the edge id, then ``steps`` more).
    perturb_amplitude : float
        Largest displacement of the ``perturb`` rung (A).
    batch_hops : int or None
        Hops in flight together in one model call (batched path, one process). ``None``:
        as many as fit ``batch_atoms``.
    batch_atoms : int or None
        Atom budget of one model call over all hops in flight (the evaluator still splits a
        call into forward passes of ``max_batch_atoms``). ``None``: 1024, or the model's
        ``max_batch_atoms`` when larger (the whole budget on a GPU).
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
    optimizer: str = "FIRE"
    initial_path: str = "given"
    two_stage: bool = False
    stage1_fmax: float = 0.5
    stage1_steps: int = 100
    retries: tuple[str, ...] = ()
    perturb_amplitude: float = 0.05
    batch_hops: int | None = None
    batch_atoms: int | None = None

    def __post_init__(self) -> None:
        if self.fmax <= 0 or self.endpoint_fmax <= 0 or self.stage1_fmax <= 0:
            raise ValueError(f"fmax must be > 0, got {self.fmax} / {self.endpoint_fmax} / {self.stage1_fmax}")
        if self.steps < 0 or self.endpoint_steps < 0 or self.stage1_steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps} / {self.endpoint_steps} / {self.stage1_steps}")
        if self.k <= 0:
            raise ValueError(f"spring constant k must be > 0, got {self.k}")
        if self.method not in ("improvedtangent", "aseneb", "eb", "spline", "string"):
            raise ValueError(f"unknown NEB method {self.method!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; known: {', '.join(OPTIMIZERS)}")
        if self.initial_path not in INITIAL_PATHS:
            raise ValueError(f"unknown initial path {self.initial_path!r}; known: {', '.join(INITIAL_PATHS)}")
        object.__setattr__(self, "retries", tuple(self.retries))  # a list from YAML/JSON stays hashable
        bad = [r for r in self.retries if r not in RETRIES]
        if bad:
            raise ValueError(f"unknown retry rung(s) {bad}; known: {', '.join(RETRIES)}")
        if self.perturb_amplitude <= 0:
            raise ValueError(f"perturb_amplitude must be > 0, got {self.perturb_amplitude}")
        if self.batch_hops is not None and self.batch_hops < 1:
            raise ValueError(f"batch_hops must be >= 1, got {self.batch_hops}")
        if self.batch_atoms is not None and self.batch_atoms < 1:
            raise ValueError(f"batch_atoms must be >= 1, got {self.batch_atoms}")

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for records and metadata)."""
        d = asdict(self)
        d["retries"] = list(self.retries)
        return d
