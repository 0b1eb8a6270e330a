"""Many hops per model call: hop protocols stepped in lock step, refilled as hops finish.

Each hop in flight is its own :func:`~.protocol.hop_protocol` generator with its own ASE
optimiser state. One round of the driver makes **one** evaluator call for the pending images
of every hop in flight (their end points while they relax, their interior images during the
NEB), then resumes every hop, each of which moves its images and yields again. A finished
hop leaves the round and the next waiting hop takes its place (in-flight refill), as long as
the atoms in flight stay within the atom budget of a call.

Without a batched evaluator (``--image-by-image``, or a model that has none) the same driver
runs each hop alone with one ASE calculator per image: the ASE reference path.

A failure of a shared call is attributed: the hops in flight are then evaluated one by one,
the hop whose images make the model raise gets its error record, the others go on.
"""
from __future__ import annotations

import time
import traceback
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from ase import Atoms

from litraj_data.bands import check_band
from litraj_data.errors import DataFormatError, LitrajError
from litraj_data.leaderboard.reference.neb.batch import BatchGroup
from litraj_data.leaderboard.reference.neb.config import NEBConfig
from litraj_data.leaderboard.reference.neb.hops import HopInput
from litraj_data.leaderboard.reference.neb.protocol import Pending, hop_protocol
from litraj_data.leaderboard.reference.neb.provider import CalculatorProvider

Result = tuple[dict[str, Any], "list[Atoms] | None"]
#: default atom budget of one model call over all hops in flight (the evaluator splits a call
#: into forward passes of its own ``max_batch_atoms``, so this bounds memory, not pass size)
DEFAULT_BATCH_ATOMS = 1024


def batch_budget(provider: CalculatorProvider, config: NEBConfig) -> int:
    """Atoms per call: ``config.batch_atoms``, else max(1024, the model's ``max_batch_atoms``)."""
    if config.batch_atoms is not None:
        return int(config.batch_atoms)
    own = getattr(provider, "max_batch_atoms", None)
    return max(DEFAULT_BATCH_ATOMS, int(own or 0))


def hop_atoms(hop: HopInput) -> int:
    """Atoms a hop puts in a call at most (all its images)."""
    return sum(len(img) for img in hop.images)


class _Counter:
    """Structures a hop's plain per-image calculators evaluated (image-by-image path).

    An ASE calculator replaces its ``results`` dict on every new evaluation (``reset``), so
    a new dict holding forces is one evaluation; no wrapper around the calculator is needed.
    """

    def __init__(self, n_images: int) -> None:
        self.n = 0
        self.last: list[Any] = [None] * n_images

    def observe(self, images: list[Atoms]) -> None:
        for i, img in enumerate(images):
            results = getattr(img.calc, "results", None)
            if isinstance(results, dict) and "forces" in results and results is not self.last[i]:
                self.n += 1
                self.last[i] = results


@dataclass
class _Flight:
    hop: HopInput
    images: list[Atoms]
    program: Pending
    t0: float
    record: dict[str, Any]
    counter: _Counter | None = None
    rounds: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _num(x: Any) -> float | None:
    return None if x is None or not np.isfinite(float(x)) else float(x)


def _base_record(hop: HopInput, provider: CalculatorProvider, batched: bool, config: NEBConfig) -> dict[str, Any]:
    return {"edge_id": hop.edge_id, "model": getattr(provider, "key", None), "n_images": len(hop.images),
            "n_atoms": len(hop.images[0]) if hop.images else 0, "batched": batched,
            "optimizer": config.optimizer, **hop.meta}


def error_record(record: dict[str, Any], exc: BaseException, with_traceback: bool = True) -> dict[str, Any]:
    """Fill ``record`` as a failed hop (``error`` names the reason, type and message)."""
    reason = getattr(exc, "reason", None) or ("model_error" if not isinstance(exc, LitrajError) else "error")
    err = {"reason": reason, "message": f"{type(exc).__name__}: {exc}"}
    if with_traceback:
        err["traceback"] = traceback.format_exc(limit=4)
    record.update(barrier=None, converged=False, steps=None, fmax=None, energies=None, error=err)
    return record


def band_frames(hop: HopInput, images: list[Atoms], energies: np.ndarray, forces: np.ndarray,
                converged: bool) -> list[Atoms]:
    """The optimised band as plain Atoms with single-point results (for the extxyz file)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = []
    for k, (img, e, f) in enumerate(zip(images, energies, forces)):
        out = Atoms(numbers=img.numbers, positions=img.positions, cell=img.cell, pbc=img.pbc)
        out.calc = SinglePointCalculator(out, energy=float(e), forces=np.asarray(f))
        out.info.update(edge_id=hop.edge_id, image=k, converged=bool(converged))
        frames.append(out)
    return frames


class LockstepRunner:
    """Drive hops in lock step, ``max_hops`` in flight, within ``budget`` atoms per call.

    Parameters
    ----------
    provider : CalculatorProvider
    config : NEBConfig
        ``batched``, ``batch_hops`` and ``batch_atoms`` decide how hops share calls.
    """

    def __init__(self, provider: CalculatorProvider, config: NEBConfig,
                 on_step: Callable[[str, int], None] | None = None) -> None:
        self.provider = provider
        self.config = config
        self.on_step = on_step  # (edge_id, steps so far) after every optimiser step of a hop: progress
        evaluator = provider.evaluator() if config.batched else None
        self.group = None if evaluator is None else BatchGroup(evaluator)
        self.budget = batch_budget(provider, config)
        # image by image: one hop at a time (nothing to share; the ASE reference path)
        self.max_hops = 1 if self.group is None else (config.batch_hops or 10 ** 9)
        self.rounds = 0

    # -- one hop ---------------------------------------------------------------------------
    def _start(self, hop: HopInput) -> "_Flight | Result":
        record = _base_record(hop, self.provider, self.group is not None, self.config)
        t0 = time.perf_counter()
        try:
            check_band(hop.images, hop.edge_id, energies="ignore")  # the input band's own energies are unused
        except DataFormatError as exc:  # the band itself is broken: record which check failed
            record.update(barrier=None, converged=False, steps=None, fmax=None, energies=None,
                          error={"reason": "bad_band", "check": exc.reason, "message": f"{type(exc).__name__}: {exc}"})
            record["wall_time"] = time.perf_counter() - t0
            return record, None
        images = [img.copy() for img in hop.images]
        for img in images:
            img.set_constraint()  # uMLIP-NEB relaxes every atom
        counter = None
        try:
            if self.group is not None:
                for img in images:
                    self.group.add(img, hop.edge_id)
            else:
                counter = _Counter(len(images))
                for img in images:
                    img.calc = self.provider.calculator()
        except Exception as exc:  # per-hop record: building a model's calculator may raise anything
            return self._fail(_Flight(hop, images, iter(()), t0, record), exc)
        flight = _Flight(hop, images, hop_protocol(images, self.config, hop.edge_id), t0, record, counter)
        return flight

    def _fail(self, flight: _Flight, exc: BaseException) -> Result:
        error_record(flight.record, exc)
        return self._close(flight, None)

    def _close(self, flight: _Flight, frames: list[Atoms] | None) -> Result:
        tag = flight.hop.edge_id
        if flight.counter is not None:
            flight.counter.observe(flight.images)  # the final read of the band
        if self.group is not None:
            flight.record["model_calls"] = self.group.calls_by_tag.get(tag, 0)
            flight.record["evaluations"] = self.group.evaluated_by_tag.get(tag, 0)
            self.group.remove(tag)
        elif flight.counter is not None:
            # image by image: every structure evaluated is a model call
            flight.record["model_calls"] = flight.record["evaluations"] = flight.counter.n
        flight.record["wall_time"] = time.perf_counter() - flight.t0
        for img in flight.images:
            img.calc = None
        return flight.record, frames

    def _finish(self, flight: _Flight, res: dict[str, Any]) -> Result:
        e = res["energies"]
        flight.record.update(barrier=float(e.max() - e.min()), converged=res["converged"],
                             neb_converged=res["neb_converged"], endpoints_converged=res["endpoints_converged"],
                             steps=res["steps"], endpoint_steps=res["endpoint_steps"], fmax=_num(res["fmax"]),
                             energies=[float(v) for v in e], stages=res["stages"], error=None)
        frames = band_frames(flight.hop, flight.images, e, res["forces"], res["converged"])
        return self._close(flight, frames)

    def _advance(self, flight: _Flight) -> "Result | None":
        """Resume one hop up to its next pending evaluation; its result when it finished."""
        try:
            next(flight.program)
            flight.rounds += 1
            if self.on_step is not None:
                self.on_step(flight.hop.edge_id, flight.rounds)
            return None
        except StopIteration as stop:
            return self._finish(flight, stop.value)
        except Exception as exc:  # per-hop record: a model may raise anything; one bad hop never loses the run
            return self._fail(flight, exc)
        finally:
            if flight.counter is not None:
                flight.counter.observe(flight.images)

    # -- the shared call -------------------------------------------------------------------
    def _evaluate(self, active: list[_Flight]) -> list[Result]:
        """One evaluator call for every hop in flight; on failure, hop by hop (blame the culprit)."""
        if self.group is None:
            return []
        try:
            self.group.refresh()
            self.rounds += 1
            return []
        except Exception as exc:  # a shared call failed: find which hop's images break the model (below)
            shared = exc
        failed: list[Result] = []
        for flight in list(active):
            try:
                self.group.refresh({flight.hop.edge_id})
            except Exception as exc:  # this hop's own images break the model: its record, the others go on
                active.remove(flight)
                failed.append(self._fail(flight, exc))
        if not failed:  # every hop alone is fine: the shared call itself failed (its size, memory)
            warnings.warn(f"a call of {len(active)} hops failed ({type(shared).__name__}: {shared}); "
                          "it succeeded hop by hop: consider a smaller --batch-hops / --batch-atoms",
                          RuntimeWarning, stacklevel=2)
        self.rounds += 1
        return failed

    # -- the loop --------------------------------------------------------------------------
    def run(self, hops: Iterable[HopInput]) -> Iterator[Result]:
        """Yield ``(record, frames)`` per hop as hops finish (not in input order)."""
        waiting = deque()
        source = iter(hops)
        active: list[_Flight] = []
        in_flight = 0

        def pull() -> HopInput | None:
            if waiting:
                return waiting.popleft()
            return next(source, None)

        while True:
            # refill: admit waiting hops while they fit the budget (at least one always runs)
            while len(active) < self.max_hops:
                hop = pull()
                if hop is None:
                    break
                size = hop_atoms(hop)
                if active and in_flight + size > self.budget:
                    waiting.appendleft(hop)
                    break
                started = self._start(hop)
                if isinstance(started, tuple):
                    yield started
                    continue
                done = self._advance(started)  # up to its first pending evaluation
                if done is not None:
                    yield done
                    continue
                active.append(started)
                in_flight += size
            if not active:
                return
            yield from self._evaluate(active)
            for flight in list(active):
                done = self._advance(flight)
                if done is not None:
                    active.remove(flight)
                    yield done
            in_flight = sum(hop_atoms(f.hop) for f in active)


def run_lockstep(hops: Iterable[HopInput], provider: CalculatorProvider, config: NEBConfig = NEBConfig(),
                 on_step: Callable[[str, int], None] | None = None) -> Iterator[Result]:
    """Run ``hops`` in this process, many per model call when the model is batched.

    Parameters
    ----------
    hops : iterable of HopInput
    provider : CalculatorProvider
    config : NEBConfig
        ``batch_hops`` (hops in flight; default: as many as fit), ``batch_atoms`` (atoms per
        call; default max(1024, the model's ``max_batch_atoms``)), ``batched=False`` for
        ASE's image-by-image NEB, one hop at a time.
    on_step : callable, optional
        Called with ``(edge_id, steps)`` after every optimiser step of a hop (end points and
        band): the progress a user waits on (:meth:`~.progress.HopProgress.step`).

    Yields
    ------
    (record, frames)
        As :func:`~.dispatch.run_hop`, plus ``model_calls`` (evaluator calls that served the
        hop; image by image: structures evaluated) and ``stages``.
    """
    yield from LockstepRunner(provider, config, on_step).run(hops)
