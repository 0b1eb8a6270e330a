"""ASE calculator: BVSE energy and forces of the mobile ions in a fixed framework.

Used to drive ASE's own NEB (e.g. to write realistic raw NEB folders) with the same energy
model as :mod:`.energy`. Which atoms move:

* atoms of species ``mobile`` that are *not* fixed by a ``FixAtoms`` constraint and, when the
  Atoms carry a boolean ``atoms.arrays['moving']``, that are marked moving;
* every other atom is framework: it exerts forces but feels none (its forces are zero), so
  put ``FixAtoms`` on the framework when optimising.

Energy = sum over moving ions i and framework atoms j (all periodic images, r < cutoff) of
the pair energy, plus each pair of moving ions once (Li-Li repulsion). A moving ion's
interaction with its own periodic images is a constant and is left out. Oxidation states
come from ``atoms.arrays['oxi_states']``, else they are assigned with the project's
oxidation module (which needs a charge-neutral cell).
"""
from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.constraints import FixAtoms
from ase.data import atomic_numbers

from litraj_data.errors import StructureError
from litraj_data.leaderboard.reference.hops.energy import DEFAULT_CUTOFF, pair_energy
from litraj_data.leaderboard.reference.physics.oxidation import oxidation_states
from litraj_data.leaderboard.reference.physics.periodic import lattice_images
from litraj_data.leaderboard.reference.physics.softbv import framework_parameters


def moving_mask(atoms, mobile: str = "Li") -> np.ndarray:
    """Boolean mask of the atoms the calculator treats as moving (see module docstring)."""
    mask = np.asarray(atoms.numbers) == atomic_numbers[mobile]
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            mask[c.index] = False
    if "moving" in atoms.arrays:
        mask &= np.asarray(atoms.arrays["moving"], dtype=bool)
    return mask


class BVSECalculator(Calculator):
    """BVSE energy/forces of mobile ions (default Li) in a fixed framework.

    Parameters
    ----------
    mobile : str
        Chemical symbol of the mobile species (``"Li"``).
    cutoff : float
        Pair interaction cutoff in A (10.0, as in the paper).
    **kwargs
        Passed to :class:`ase.calculators.calculator.Calculator`.
    """

    implemented_properties = ["energy", "free_energy", "forces"]
    nolabel = True

    def __init__(self, mobile: str = "Li", cutoff: float = DEFAULT_CUTOFF, **kwargs) -> None:
        super().__init__(**kwargs)
        if mobile not in atomic_numbers:
            raise ValueError(f"unknown mobile species {mobile!r}")
        self.mobile = mobile
        self.cutoff = float(cutoff)
        self._cache_key = None
        self._cache = None

    def _charges(self, atoms) -> np.ndarray:
        # given ``oxi_states`` as they are (fractional allowed), else BVAnalyzer
        return oxidation_states(atoms, mobile=self.mobile, integer=False)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        moving = moving_mask(atoms, self.mobile)
        n = len(atoms)
        forces = np.zeros((n, 3))
        if not moving.any():
            self.results = {"energy": 0.0, "free_energy": 0.0, "forces": forces}
            return
        charges = self._charges(atoms)
        mz = atomic_numbers[self.mobile]
        key = (atoms.numbers.tobytes(), charges.tobytes())
        if self._cache_key != key:  # parameters depend on species and charges only
            q_mob = charges[moving]
            if not np.allclose(q_mob, q_mob[0]):
                raise StructureError("moving ions carry different charges", reason="oxidation_states")
            if not q_mob[0] > 0:
                raise StructureError(f"mobile ion charge must be positive, got {q_mob[0]}", reason="oxidation_states")
            self._cache = framework_parameters(atoms.numbers, charges, mobile=(mz, float(q_mob[0])))
            self._cache_key = key
        params = self._cache
        cell = atoms.cell.array
        frac = np.linalg.solve(cell.T, atoms.positions.T).T
        energy_terms = []
        for i in np.nonzero(moving)[0]:
            # every periodic image of every atom within the cutoff of moving ion i
            j, shift, pos = lattice_images(cell, frac, atoms.positions[i], self.cutoff)
            # moving-moving pairs once (j > i); a moving ion's own images are a constant
            sel = ~moving[j] | (j > i)
            j, pos = j[sel], pos[sel]
            D = pos - atoms.positions[i]
            d = np.linalg.norm(D, axis=1)
            if np.any(d < 1e-6):
                raise StructureError("overlapping atoms", reason="overlapping_atoms")
            inside = d < self.cutoff
            j, D, d = j[inside], D[inside], d[inside]
            e, dedr = pair_energy(d, params.take(j))
            g = (dedr / d)[:, None] * D  # D = x_j - x_i, F_i = +g, F_j = -g
            forces[i] += g.sum(axis=0)
            both = moving[j]
            np.add.at(forces, j[both], -g[both])
            energy_terms.append(e.sum())
        e = np.asarray(energy_terms)
        energy = float(e.sum())
        if not np.isfinite(energy):
            raise StructureError("non-finite BVSE energy", reason="nan_energy")
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}
