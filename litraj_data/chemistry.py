"""Composition rules shared by builders and scoring (core layer: numpy and ASE data only).

The "with TM" / "w/o TM" split of the paper (Tables 4, 5 and S7) lives here once: the
nebDFT2k builder writes it as ``has_specific_TM`` and the ``efs`` scorer derives it from each
configuration's atomic numbers, because MPLiTrj rows carry no such flag. Scoring may not
import builders (docs/architecture.md), so the rule cannot live in ``builders/raw_neb.py``.
"""
from __future__ import annotations

from typing import Iterable

__all__ = ["SPECIFIC_TM", "chemsys", "has_specific_tm"]

#: Transition metals of the "with TM" subset. The paper does not list them; we use the
#: elements that the Materials Project treats with +U in oxides/fluorides (the PBE-without-U
#: release is least reliable for them): Co, Cr, Fe, Mn, Mo, Ni, V, W. Override with --tm-elements.
SPECIFIC_TM = ("Co", "Cr", "Fe", "Mn", "Mo", "Ni", "V", "W")


def chemsys(elements: Iterable[int | str]) -> str:
    """``'Li-O-P'``: the elements joined by '-' in alphabetical order (pymatgen's and the Materials Project's chemsys).

    The one chemsys of the package: the ``chemsys`` column of every builder and the
    per-element heatmap of scoring.

    Parameters
    ----------
    elements
        Atomic numbers (``atoms.numbers``) or element symbols (e.g. the elements of a
        pymatgen composition, so that a disordered site counts each of its elements);
        repeats are fine. The dummy centroid atom (number 0, symbol ``X``) is left out.
    """
    from ase.data import chemical_symbols

    symbols = {e if isinstance(e, str) else chemical_symbols[int(e)] for e in elements}
    return "-".join(sorted(symbols - {"X"}))


def has_specific_tm(numbers: Iterable[int], elements: Iterable[str] = SPECIFIC_TM) -> bool:
    """True when the structure holds any of ``elements``.

    Parameters
    ----------
    numbers
        Atomic numbers of the structure (0, the dummy centroid X, never matches).
    elements
        Element symbols of the rule (default :data:`SPECIFIC_TM`).
    """
    from ase.data import atomic_numbers

    wanted = {atomic_numbers[e] for e in elements}
    return bool(wanted & {int(z) for z in numbers})
