"""Batched evaluation of NEB bands behind ordinary ASE calculators.

Every image of a band gets a :class:`SlotCalculator`. The first image asked for a result
makes the shared :class:`BatchGroup` evaluate *every* image whose positions changed in a
single call of the model's batched evaluator; the other images then read their cached
results. ASE's own ``NEB`` and optimisers therefore run unchanged, while the model sees one
batched forward pass per optimisation step instead of one pass per image.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

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
    """The images of one band and the evaluator that serves them together."""

    def __init__(self, evaluator: BandEvaluator) -> None:
        self.evaluator = evaluator
        self.images: list[Atoms] = []
        self.calls = 0  # batched evaluator calls (for tests and benchmarks)
        self.evaluated = 0  # structures evaluated

    def add(self, atoms: Atoms) -> "SlotCalculator":
        calc = SlotCalculator(self)
        atoms.calc = calc
        self.images.append(atoms)
        return calc

    def refresh(self) -> None:
        """Evaluate every image whose cached result is stale, in one batch."""
        stale = [a for a in self.images if a.calc is None or not isinstance(a.calc, SlotCalculator)
                 or a.calc.check_state(a) or "energy" not in a.calc.results]
        stale = [a for a in stale if isinstance(a.calc, SlotCalculator) and a.calc.group is self]
        if not stale:
            return
        results = self.evaluator.evaluate(stale)
        if len(results) != len(stale):
            raise RuntimeError(f"batched evaluator returned {len(results)} results for {len(stale)} images")
        self.calls += 1
        self.evaluated += len(stale)
        for atoms, (energy, forces) in zip(stale, results):
            forces = np.asarray(forces, dtype=float)
            if forces.shape != (len(atoms), 3):
                raise RuntimeError(f"batched evaluator returned forces {forces.shape} for {len(atoms)} atoms")
            atoms.calc.atoms = atoms.copy()
            atoms.calc.results = {"energy": float(energy), "free_energy": float(energy), "forces": forces}


class SlotCalculator(Calculator):
    """ASE calculator of one image; its results come from the group's batched evaluation."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, group: BatchGroup) -> None:
        super().__init__()
        self.group = group

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        # the group fills self.results (and every other stale image's) in one batched call
        if atoms is not None and all(a is not atoms for a in self.group.images):
            raise RuntimeError("SlotCalculator used on Atoms outside its band")
        self.group.refresh()


def attach_batched(images: Sequence[Atoms], evaluator: BandEvaluator) -> BatchGroup:
    """Give every image a slot calculator served by ``evaluator``; returns the group."""
    group = BatchGroup(evaluator)
    for img in images:
        group.add(img)
    return group
