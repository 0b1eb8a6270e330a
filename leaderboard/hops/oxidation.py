"""Oxidation states for the hop energy model: read them from the input or assign them.

Assignment is delegated to the project's BVSE oxidation module
(:mod:`litraj_data.leaderboard.bvse.oxidation`, pymatgen BVAnalyzer with the paper's
forbidden species) so that BVEL13k and nebBVSE122k use the same charges.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from litraj_data.errors import StructureError


def _from_structure(structure: Any) -> np.ndarray | None:
    """Oxidation states already carried by a pymatgen Structure or ASE Atoms, if any."""
    arrays = getattr(structure, "arrays", None)
    if arrays is not None:  # ASE Atoms
        if "oxi_states" in arrays:
            return np.asarray(arrays["oxi_states"], dtype=float)
        return None
    try:
        states = [sp.oxi_state for sp in (site.specie for site in structure)]
    except AttributeError:
        return None
    if any(s is None for s in states):
        return None
    return np.asarray(states, dtype=float)


def oxidation_states(structure: Any) -> np.ndarray:
    """Oxidation state of every site of ``structure`` (pymatgen Structure or ASE Atoms).

    Uses the states the input carries (pymatgen ``Species.oxi_state`` or ASE
    ``atoms.arrays['oxi_states']``); otherwise assigns them with the project's BVSE
    oxidation module.

    Raises
    ------
    StructureError
        ``oxidation_states`` when no charge-balanced assignment exists.
    """
    got = _from_structure(structure)
    if got is not None:
        if not np.all(np.isfinite(got)):
            raise StructureError("non-finite oxidation states", reason="oxidation_states")
        return got
    return _assign(structure)


def _assign(structure: Any) -> np.ndarray:
    from pymatgen.core import Structure

    from litraj_data.leaderboard.bvse.oxidation import oxidation_states as assign

    if not isinstance(structure, Structure):
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(structure)
    _, states = assign(structure)
    return np.asarray(states, dtype=float)
