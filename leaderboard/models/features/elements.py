"""Per-atom properties the Voronoi features weigh faces with (electronegativity, radii).

Pauling electronegativities and Shannon radii come from pymatgen's element table; covalent
radii are Cordero's as tabulated by ASE (as in the authors' featurizers and bvlain).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["electronegativity", "ionic_radius", "covalent_radius_of"]


@lru_cache(maxsize=None)
def _x(z: int) -> float:
    from pymatgen.core.periodic_table import Element

    if z == 0:
        return 0.0
    x = Element.from_Z(z).X
    return float(x) if x == x else float("nan")  # noble gases have no Pauling value


@lru_cache(maxsize=None)
def _ri(z: int, oxi: int) -> float:
    """Mean Shannon *ionic* radius of the ion over every tabulated coordination and spin.

    The authors' table (``ions.data.ionic_radii``) holds the same mean; an ion without
    Shannon data gets NaN (imputed by the models' median imputer).
    """
    from pymatgen.core.periodic_table import Element

    if z == 0:
        return 0.0
    table = Element.from_Z(z).data.get("Shannon radii", {}).get(str(int(oxi)))
    if not table:
        return float("nan")
    vals = [v["ionic_radius"] for cn in table.values() for v in cn.values() if "ionic_radius" in v]
    return float(np.mean(vals)) if vals else float("nan")


def electronegativity(numbers: np.ndarray) -> np.ndarray:
    """Pauling electronegativity per atom (0 for the dummy X, NaN where not tabulated)."""
    return np.array([_x(int(z)) for z in numbers], dtype=float)


def ionic_radius(numbers: np.ndarray, oxi: np.ndarray) -> np.ndarray:
    """Mean Shannon ionic radius per atom for its oxidation state (A)."""
    return np.array([_ri(int(z), int(round(float(q)))) for z, q in zip(numbers, oxi)], dtype=float)


def covalent_radius_of(numbers: np.ndarray) -> np.ndarray:
    """Cordero covalent radius per atom (A, ASE's table)."""
    from ase.data import covalent_radii

    return covalent_radii[np.asarray(numbers, dtype=int)]
