"""Batched evaluation of NEB bands behind ordinary ASE calculators.

Every image of a band gets a :class:`SlotCalculator`. The first image asked for a result
makes the shared :class:`BatchGroup` evaluate *every* image whose positions changed in a
single call of the model's batched evaluator; the other images then read their cached
results. ASE's own ``NEB`` and optimisers therefore run unchanged, while the model sees one
batched forward pass per optimisation step instead of one pass per image.
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes


@runtime_checkable
class BandEvaluator(Protocol):
    """Energies and forces of several structures at once."""

    def evaluate(self, images: Sequence[Atoms]) -> list[tuple[float, np.ndarray]]:
        """(energy in eV, forces (N, 3) in eV/A) per image, in input order."""
        ...


class CalculatorEvaluator:
    """Image-by-image evaluator over a plain ASE calculator (the reference path).

    Parameters
    ----------
    calculator : ase Calculator
    """

    def __init__(self, calculator: Calculator) -> None:
        self.calculator = calculator

    def evaluate(self, images: Sequence[Atoms]) -> list[tuple[float, np.ndarray]]:
        out = []
        for img in images:
            work = img.copy()
            work.calc = self.calculator
            out.append((float(work.get_potential_energy()), np.array(work.get_forces(apply_constraint=False))))
        return out


class BatchGroup:
    """The images of one or several bands and the evaluator that serves them together.

    Images carry a ``tag`` (the hop they belong to) so that the images of many hops can share
    one evaluator call while each hop still knows how many calls and evaluations it took.
    """

    def __init__(self, evaluator: BandEvaluator) -> None:
        self.evaluator = evaluator
        self.images: list[Atoms] = []
        self.calls = 0  # batched evaluator calls (for tests and benchmarks)
        self.evaluated = 0  # structures evaluated
        self.calls_by_tag: dict[Any, int] = {}  # evaluator calls that served a hop's images
        self.evaluated_by_tag: dict[Any, int] = {}

    def add(self, atoms: Atoms, tag: Any = None) -> "SlotCalculator":
        calc = SlotCalculator(self, tag)
        atoms.calc = calc
        self.images.append(atoms)
        return calc

    def remove(self, tag: Any) -> None:
        """Forget the images of ``tag`` (a finished hop) and its counters."""
        self.images = [a for a in self.images if not (isinstance(a.calc, SlotCalculator) and a.calc.tag == tag)]
        self.calls_by_tag.pop(tag, None)
        self.evaluated_by_tag.pop(tag, None)

    def stale(self, tags: Any = None) -> list[Atoms]:
        """Images of this group (of ``tags`` only, when given) whose cached result is out of date."""
        return [a for a in self.images if isinstance(a.calc, SlotCalculator) and a.calc.group is self
                and (tags is None or a.calc.tag in tags)
                and (a.calc.check_state(a) or "energy" not in a.calc.results)]

    def refresh(self, tags: Any = None) -> None:
        """Evaluate every stale image (of ``tags`` only, when given) in one evaluator call."""
        stale = self.stale(tags)
        if not stale:
            return
        results = self.evaluator.evaluate(stale)
        if len(results) != len(stale):
            raise RuntimeError(f"batched evaluator returned {len(results)} results for {len(stale)} images")
        self.calls += 1
        self.evaluated += len(stale)
        served = {a.calc.tag for a in stale}
        for tag in served:
            self.calls_by_tag[tag] = self.calls_by_tag.get(tag, 0) + 1
        for a in stale:
            self.evaluated_by_tag[a.calc.tag] = self.evaluated_by_tag.get(a.calc.tag, 0) + 1
        for atoms, (energy, forces) in zip(stale, results):
            forces = np.asarray(forces, dtype=float)
            if forces.shape != (len(atoms), 3):
                raise RuntimeError(f"batched evaluator returned forces {forces.shape} for {len(atoms)} atoms")
            atoms.calc.atoms = atoms.copy()
            atoms.calc.results = {"energy": float(energy), "free_energy": float(energy), "forces": forces}


class SlotCalculator(Calculator):
    """ASE calculator of one image; its results come from the group's batched evaluation."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, group: BatchGroup, tag: Any = None) -> None:
        super().__init__()
        self.group = group
        self.tag = tag

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        # the group fills self.results (and every other stale image of this hop) in one batched
        # call; the multi-hop driver refreshes all hops together before they read, so a read
        # that lands here is one of this hop alone, and an evaluator error is this hop's own
        if atoms is not None and all(a is not atoms for a in self.group.images):
            raise RuntimeError("SlotCalculator used on Atoms outside its band")
        self.group.refresh({self.tag})


def attach_batched(images: Sequence[Atoms], evaluator: BandEvaluator | BatchGroup, tag: Any = None) -> BatchGroup:
    """Give every image a slot calculator served by ``evaluator`` (or an existing group, to
    share its calls with other bands); returns the group."""
    group = evaluator if isinstance(evaluator, BatchGroup) else BatchGroup(evaluator)
    for img in images:
        group.add(img, tag)
    return group
