"""Real Li crystals (literature lattice constants) for the hop tests and benchmark.

Built from their space groups so the tests need no data files; LiFePO4 and Li3V2(PO4)3 are
pymatgen's bundled (Materials Project) structures.
"""
from __future__ import annotations

from pathlib import Path

from pymatgen.core import Lattice, Structure


def _pymatgen_file(name: str) -> Structure:
    import pymatgen.core

    root = Path(pymatgen.core.__file__).resolve().parents[1] / "util" / "structures"
    return Structure.from_file(root / f"{name}.json")


def antifluorite(anion: str, a: float) -> Structure:
    """Li2X antifluorite (Fm-3m), primitive cell (3 atoms)."""
    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Li", anion], [[0.25, 0.25, 0.25], [0, 0, 0]])
    return conv.get_primitive_structure()


def rocksalt(anion: str, a: float) -> Structure:
    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Li", anion], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return conv.get_primitive_structure()


def real_structures() -> dict[str, Structure]:
    """Name -> structure of at least 8 real Li conductors / Li salts."""
    return {
        "Li2O": antifluorite("O", 4.619),
        "Li2S": antifluorite("S", 5.708),
        "Li2Se": antifluorite("Se", 6.005),
        "Li2Te": antifluorite("Te", 6.517),
        "LiF": rocksalt("F", 4.027),
        "LiCl": rocksalt("Cl", 5.13),
        "Li3N": Structure.from_spacegroup(
            "P6/mmm", Lattice.hexagonal(3.648, 3.875), ["Li", "Li", "N"],
            [[0, 0, 0.5], [1 / 3, 2 / 3, 0], [0, 0, 0]]),
        "LiCoO2": Structure.from_spacegroup(
            "R-3m", Lattice.hexagonal(2.816, 14.054), ["Li", "Co", "O"],
            [[0, 0, 0.5], [0, 0, 0], [0, 0, 0.2396]]).get_primitive_structure(),
        "LiFePO4": _pymatgen_file("LiFePO4"),
    }
