"""The uMLIP-NEB protocol of one hop as a generator, so that many hops can run in lock step.

:func:`hop_protocol` relaxes the end points, builds the initial path, runs the NEB stages
and the retry ladder with ASE's own ``NEB`` and optimisers. It *yields* each time the
positions of its images have moved and their forces are about to be read; whoever drives it
(:mod:`.lockstep`) may then evaluate the pending images of many hops in one model call
before resuming them. Every read goes through the images' calculators, so a driver that
evaluates nothing (plain per-image ASE calculators) gets exactly ASE's image-by-image NEB:
correctness never depends on the batching, only the number of model calls does.

Each optimiser is stepped as ``Optimizer.irun`` steps it (forces read, ``converged()``, then
``step()``), without ASE's logging: the same positions, step for step (tested).
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Generator

import numpy as np
from ase import Atoms

from litraj_data.errors import LitrajError
from litraj_data.leaderboard.reference.neb.config import NEBConfig

#: what the protocol yields: nothing (a signal "my images moved; evaluate, then resume me")
Pending = Generator[None, None, Any]


class OptimisationDiverged(LitrajError):
    """The model's energies or forces broke down during a hop's optimisation.

    ``reason``: ``nan`` (NaN/inf energy or forces) or ``exploding_force`` (a force above
    ``NEBConfig.force_limit``). Not to be confused with
    :class:`litraj_data.builders.raw_runs.HopFailure`, the record of a raw DFT run that
    could not be read.
    """

    reason = "diverged"


def guard(energies: np.ndarray, forces: np.ndarray, limit: float, stage: str) -> None:
    """Raise :class:`OptimisationDiverged` on NaN/inf or a force above ``limit`` (eV/A)."""
    if not (np.isfinite(energies).all() and np.isfinite(forces).all()):
        raise OptimisationDiverged(f"{stage}: model returned NaN/inf energy or forces", reason="nan")
    fmax = float(np.sqrt((forces ** 2).sum(-1)).max()) if forces.size else 0.0
    if fmax > limit:
        raise OptimisationDiverged(f"{stage}: force {fmax:.3g} eV/A exceeds force_limit {limit:g} eV/A "
                                   "(exploding forces)", reason="exploding_force")


def results_of(images: list[Atoms]) -> tuple[np.ndarray, np.ndarray]:
    """Energies (n,) and real forces (n, N, 3) of ``images`` from their calculators."""
    e = np.array([img.get_potential_energy() for img in images], dtype=float)
    f = np.stack([img.get_forces(apply_constraint=False) for img in images])
    return e, f


def _optimizer(name: str, target: Any, smaller: bool = False) -> Any:
    import ase.optimize

    cls = getattr(ase.optimize, name)
    kwargs: dict[str, Any] = {"logfile": None}
    if smaller:  # the retry ladder's "smaller step": half the largest step (and FIRE/MDMin's time step)
        kwargs["maxstep"] = 0.1
        if name in ("FIRE", "MDMin"):
            kwargs["dt"] = 0.05 if name == "FIRE" else 0.1
    return cls(target, **kwargs)


def optimise(opt: Any, fmax: float, steps: int, read: Callable[[], None]) -> Pending:
    """Step ``opt`` as ``opt.run(fmax, steps)`` would, yielding before each force read.

    Returns (via ``yield from``) ``(steps, converged)``.
    """
    opt.fmax = fmax  # what run(fmax=...) sets: converged() is then ASE's own criterion
    n = 0
    while True:
        yield  # positions moved (or first call): the driver evaluates, then resumes us
        read()
        if opt.converged():
            return n, True
        if n >= steps:
            return n, False
        opt.step()  # forces of the current positions are cached: moves, evaluates nothing
        n += 1
        opt.nsteps = n


def together(programs: list[Pending]) -> Pending:
    """Run several sub-programs in lock step (one yield per round); their results in order."""
    results: list[Any] = [None] * len(programs)
    active = list(range(len(programs)))
    while active:
        still = []
        for i in active:
            try:
                next(programs[i])
                still.append(i)
            except StopIteration as stop:
                results[i] = stop.value
        active = still
        if active:
            yield
    return results


def _seed(edge_id: str) -> int:
    # stable across processes and paths (Python's hash() is salted per process)
    return int.from_bytes(hashlib.sha256(edge_id.encode()).digest()[:8], "little")


def perturb(images: list[Atoms], amplitude: float, edge_id: str) -> None:
    """Displace the interior images' atoms uniformly within +-``amplitude`` A (seeded by the edge id)."""
    rng = np.random.default_rng(_seed(edge_id))
    for img in images[1:-1]:
        img.set_positions(img.get_positions() + rng.uniform(-amplitude, amplitude, (len(img), 3)))


def hop_protocol(images: list[Atoms], config: NEBConfig, edge_id: str = "hop") -> Pending:
    """End-point relaxation, initial path, NEB stages and retries, in place on ``images``.

    Parameters
    ----------
    images : list of Atoms
        The band, calculators attached (per-image ASE calculators or batched slots).
    config : NEBConfig
    edge_id : str
        Seeds the ``perturb`` rung.

    Returns
    -------
    dict (the generator's return value)
        ``converged``, ``neb_converged``, ``endpoints_converged``, ``steps`` (band steps over
        all stages), ``endpoint_steps``, ``fmax``, ``energies``, ``forces``, ``stages`` (one
        ``{stage, optimizer, fmax_target, steps, converged}`` per NEB stage or retry rung).
    """
    from ase.mep import NEB

    limit = config.force_limit
    ep_steps, ep_conv = 0, True
    if config.relax_endpoints:
        ends = [images[0], images[-1]]

        def reader(atoms: Atoms, name: str) -> Callable[[], None]:
            return lambda: guard(np.array([atoms.get_potential_energy()]), atoms.get_forces(), limit, name)

        progs = [optimise(_optimizer(config.optimizer, a), config.endpoint_fmax, config.endpoint_steps,
                          reader(a, f"end point {k} relaxation")) for a, k in zip(ends, (0, len(images) - 1))]
        for n, ok in (yield from together(progs)):
            ep_steps += n
            ep_conv &= ok
    neb = NEB(images, k=config.k, climb=config.climb, method=config.method)
    if config.initial_path != "given":
        # between the relaxed end points; minimum image: the mover may cross a cell face
        neb.interpolate(method=config.initial_path, mic=True, apply_constraint=False)

    def read_band() -> None:
        e, f = results_of(images)
        guard(e, f, limit, "NEB")

    stages: list[dict[str, Any]] = []

    def stage(name: str, fmax: float, steps: int, smaller: bool = False) -> Pending:
        n, ok = yield from optimise(_optimizer(config.optimizer, neb, smaller), fmax, steps, read_band)
        stages.append({"stage": name, "optimizer": config.optimizer, "fmax_target": fmax, "steps": n,
                       "converged": bool(ok), "climb": bool(neb.climb)})
        return ok

    if config.two_stage:
        neb.climb = False
        yield from stage("no_climb", config.stage1_fmax, config.stage1_steps)
        neb.climb = config.climb
    converged = yield from stage("climb" if config.climb else "neb", config.fmax, config.steps)
    for rung in config.retries:
        if converged:
            break
        if rung == "perturb":
            perturb(images, config.perturb_amplitude, edge_id)
        converged = yield from stage(rung, config.fmax, config.steps, smaller=rung == "smaller_step")
    neb_f = neb.get_forces()
    fmax = float(np.sqrt((neb_f ** 2).sum(-1)).max()) if neb_f.size else 0.0
    e, f = results_of(images)
    guard(e, f, limit, "final band")
    return {"converged": bool(converged and ep_conv), "neb_converged": bool(converged),
            "steps": sum(s["steps"] for s in stages),
            "endpoint_steps": ep_steps, "endpoints_converged": bool(ep_conv), "fmax": fmax,
            "energies": e, "forces": f, "stages": stages}
