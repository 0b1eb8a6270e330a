"""Which space-group operations map a hop's straight path onto itself, and what they force.

A BVSE-NEB starts from the straight line between the two Li sites. If an operation of the
framework's space group fixes every point of that line (a rotation axis along it, or a mirror
plane containing it), the force on the moving ion anywhere on the line is invariant under the
operation's rotation part ``W``: ``W f = f``. The force is therefore confined to the common
fixed subspace of all such ``W``:

* dimension 1 (the line itself: a 2-, 3-, 4- or 6-fold axis along the path, or two mirror
  planes meeting on it): the perpendicular force vanishes by symmetry, the NEB cannot leave
  the line, and a "converged" band may be a maximum across the path (an upper bound of the
  barrier);
* dimension 2 (one mirror plane containing the path): the band can relax within the plane
  only;
* dimension 3: no constraint.

Operations that swap the two end points (a 2-fold axis or a mirror through the midpoint, an
inversion centre at the midpoint) make the energy profile symmetric about the midpoint, which
is why such a band is often "converged" before its first step (climbing image on the symmetric
maximum, equal spacing).

The test is on the operations themselves (spglib, within ``symprec``), not on a list of known
cases; it uses the supercell the NEB runs in, so an operation is kept only if it also maps the
supercell's lattice (the periodic images of the two vacancies) onto itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: spglib tolerance (A) of the path test: looser than the hop graph's 1e-3 A so that a framework
#: symmetric to a CIF's printed precision (coordinates rounded to 1e-4) still counts; at that
#: level the perpendicular force on the line is far below the NEB's fmax, so the NEB cannot tell
#: it from exact symmetry either (pymatgen's SpacegroupAnalyzer default is 0.01 A too)
PATH_SYMPREC = 1e-2


@dataclass(frozen=True)
class PathSymmetry:
    """Symmetry of a hop's straight path in its framework.

    Attributes
    ----------
    free_dims : int
        Dimension of the subspace the force on the line is confined to (1: along the line
        only, 2: a mirror plane, 3: free).
    fixing : int
        Operations fixing every point of the path (identity included).
    reversing : int
        Operations swapping the two end points.
    elements : list of str
        Human-readable names of the non-trivial elements (e.g. ``"2-fold axis along the path"``).
    """

    free_dims: int
    fixing: int
    reversing: int
    elements: list[str] = field(default_factory=list)

    @property
    def stationary(self) -> bool:
        """The perpendicular force on the straight path vanishes by symmetry."""
        return self.free_dims == 1

    def as_dict(self) -> dict:
        return {"free_dims": self.free_dims, "fixing_ops": self.fixing, "reversing_ops": self.reversing,
                "elements": list(self.elements)}


def _same_point(a: np.ndarray, b: np.ndarray, cell: np.ndarray, tol: float) -> np.ndarray | None:
    """Integer translation n with a = b + n (fractional, within ``tol`` A), or None."""
    n = np.round(a - b)
    return n if float(np.linalg.norm((a - b - n) @ cell)) < tol else None


def _preserves_supercell(rot: np.ndarray, scale: np.ndarray) -> bool:
    # W maps the supercell lattice diag(scale) Z^3 onto itself iff diag(s)^-1 W diag(s) is integral
    s = np.asarray(scale, float)
    m = (rot * s[None, :]) / s[:, None]
    return bool(np.all(np.abs(m - np.round(m)) < 1e-9))


def _fixed_dimension(mats: list[np.ndarray]) -> int:
    if not mats:
        return 3
    stack = np.vstack([m - np.eye(3) for m in mats])
    sv = np.linalg.svd(stack, compute_uv=False)
    return int(3 - np.sum(sv > 1e-6))


def _name_fixing(w: np.ndarray) -> str | None:
    if np.allclose(w, np.eye(3), atol=1e-6):
        return None
    if np.linalg.det(w) > 0:
        cos = (np.trace(w) - 1.0) / 2.0
        order = int(round(2 * np.pi / np.arccos(np.clip(cos, -1.0, 1.0))))
        return f"{order}-fold axis along the path"
    return "mirror plane containing the path"


def _name_reversing(w: np.ndarray) -> str:
    tr, det = float(np.trace(w)), float(np.linalg.det(w))
    if det > 0:
        return "2-fold axis through the midpoint" if abs(tr + 1.0) < 1e-6 else "rotation through the midpoint"
    if abs(tr + 3.0) < 1e-6:
        return "inversion centre at the midpoint"
    if abs(tr - 1.0) < 1e-6:
        return "mirror plane through the midpoint"
    return "rotoinversion through the midpoint"


def space_group_operations(cell: np.ndarray, frac: np.ndarray, numbers: np.ndarray,
                           symprec: float = PATH_SYMPREC) -> tuple[np.ndarray, np.ndarray]:
    """Space-group rotations (n, 3, 3) and translations (n, 3), fractional (spglib)."""
    from litraj_data.leaderboard.reference.hops.graph import symmetry_operations

    return symmetry_operations(np.asarray(cell, float), np.asarray(frac, float), np.asarray(numbers), symprec)


def path_symmetry(cell: np.ndarray, start: np.ndarray, end: np.ndarray, rotations: np.ndarray,
                  translations: np.ndarray, scale=(1, 1, 1), symprec: float = PATH_SYMPREC) -> PathSymmetry:
    """Symmetry of the straight path ``start -> end`` under the given space-group operations.

    Parameters
    ----------
    cell : (3, 3)
        Unit cell (rows are lattice vectors), the cell the operations refer to.
    start, end : (3,)
        Fractional coordinates of the two end points (``end`` unwrapped: target + offset).
    rotations, translations
        Space-group operations (fractional), e.g. from :func:`space_group_operations`.
    scale : (3,) int
        Supercell repetitions of the NEB; an operation must also preserve the supercell lattice.
    symprec : float
        How far (A) an operation's image of an end point may be from the end point (the
        tolerance the operations were found with).

    Returns
    -------
    PathSymmetry
    """
    cell = np.asarray(cell, float)
    a, b = np.asarray(start, float), np.asarray(end, float)
    to_cart = cell.T  # column convention: x_cart = cell.T @ x_frac
    from_cart = np.linalg.inv(to_cart)
    fixing_w, elements = [], []
    n_fix = n_rev = 0
    for rot, t in zip(np.asarray(rotations), np.asarray(translations)):
        if not _preserves_supercell(rot, scale):
            continue
        a2, b2 = rot @ a + t, rot @ b + t
        w = to_cart @ rot @ from_cart
        na, nb = _same_point(a2, a, cell, symprec), _same_point(b2, b, cell, symprec)
        if na is not None and nb is not None and np.array_equal(na, nb):
            n_fix += 1
            fixing_w.append(w)
            name = _name_fixing(w)
            if name and name not in elements:
                elements.append(name)
            continue
        na, nb = _same_point(a2, b, cell, symprec), _same_point(b2, a, cell, symprec)
        if na is not None and nb is not None and np.array_equal(na, nb):
            n_rev += 1
            name = _name_reversing(w)
            if name not in elements:
                elements.append(name)
    return PathSymmetry(_fixed_dimension(fixing_w), n_fix, n_rev, elements)
