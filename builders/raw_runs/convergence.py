"""Convergence of a NEB band: the force that the optimiser drove below fmax.

Two measures, chosen by layout (docs/raw_neb.md):

* ``ase_neb_force`` (authors' layout). The run was optimised by ASE's NEB (climbing image,
  improved tangent, k = 5 eV/Å², FIRE, fmax 0.1 eV/Å), so the converged quantity is exactly
  ``NEB.get_forces()``: perpendicular true force plus the parallel spring force on normal
  images, the full force with the parallel part inverted on the climbing image. We rebuild
  that NEB from the stored energies and forces (single-point calculators, constraints as
  stored) and take the largest per-atom norm, as ASE's optimisers do.
* ``perpendicular_force`` (native VASP). OUTCAR's TOTAL-FORCE block is the *unprojected*
  DFT force, which stays large on a converged band. We project out the component along
  the path tangent, using the bisection tangent of VASP's built-in NEB
  (τ = t₁/|t₁| + t₂/|t₂|, tᵢ the minimum-image segments); the largest per-atom norm of
  F⊥ matches VASP's own "CHAIN + TOTAL" force to ~1e-3 eV/Å on a real run. With
  ``tangent='improved'`` the Henkelman–Jónsson energy-weighted tangent of VTST is used.
"""
from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.geometry import find_mic
from ase.mep import NEB

AUTHORS_NEB = {"k": 5.0, "climb": True, "method": "improvedtangent"}


def _row_max_norm(f: np.ndarray) -> float:
    return float(np.linalg.norm(f.reshape(-1, 3), axis=1).max()) if f.size else 0.0


class _StoredResults(SinglePointCalculator):
    """A :class:`SinglePointCalculator` bound to the one image it was made for.

    ASE's single-point calculator copies the atoms and compares them with the atoms it is
    asked about on every property (``check_state``: ``allclose`` of positions, cell, ...),
    which is most of the cost of rebuilding a band's NEB force. Here the calculator is made
    for an image that the NEB force reads and never moves, so the copy and the comparison
    are skipped; the results, and so ASE's NEB force, are the same.
    """

    def __init__(self, atoms: Atoms, **results):  # noqa: D107 - as SinglePointCalculator, without the copy
        Calculator.__init__(self)
        self.results = {k: v if k in ("energy", "magmom", "free_energy") else np.array(v, float)
                        for k, v in results.items() if v is not None}
        self.atoms = atoms

    def check_state(self, atoms, tol=1e-15):  # noqa: D102 - the image it was made for: nothing changed
        return []


def ase_neb_force(images: list[Atoms], energies: np.ndarray, forces: np.ndarray, *, k: float = 5.0,
                  climb: bool = True, method: str = "improvedtangent", copy: bool = True) -> list[float]:
    """Largest per-atom norm of ASE's NEB force on each moving image.

    Parameters
    ----------
    images : list of Atoms
        The band, end points included; constraints (e.g. FixAtoms) are honoured.
    energies : (M,) array
        Energy of every image (end points too: the improved tangent needs them).
    forces : (M, N, 3) array
        True (unconstrained) forces; end-point rows are not used.
    k, climb, method
        The NEB settings of the run (the authors': 5.0, True, 'improvedtangent').
    copy : bool
        Attach the results to copies of ``images`` (default); ``False`` attaches them to the
        images themselves (for images built just for this check).

    Returns
    -------
    list of float
        One value per moving image (images 1..M-2).
    """
    band = []
    for atoms, e, f in zip(images, energies, forces):
        a = atoms.copy() if copy else atoms
        a.calc = _StoredResults(a, energy=float(e), forces=np.asarray(f))
        band.append(a)
    neb = NEB(band, k=k, climb=climb, method=method)
    f = neb.get_forces().reshape(len(band) - 2, -1, 3)
    return [_row_max_norm(fi) for fi in f]


def perpendicular_force(positions: np.ndarray, forces: np.ndarray, cell: np.ndarray, pbc: np.ndarray,
                        energies: np.ndarray | None = None, tangent: str = "bisection") -> list[float]:
    """Largest per-atom norm of the force perpendicular to the path, per moving image.

    Parameters
    ----------
    positions : (M, N, 3) array
    forces : (M, N, 3) array
        True forces; end-point rows are not used (may be NaN).
    cell, pbc
        Shared cell; segments between images use the minimum image.
    energies : (M,) array, optional
        Needed for ``tangent='improved'``.
    tangent : {'bisection', 'improved'}
        Bisection of the unit segments (VASP's built-in NEB) or the energy-weighted
        improved tangent (VTST, ASE 'improvedtangent').
    """
    if tangent not in ("bisection", "improved"):
        raise ValueError(f"tangent must be 'bisection' or 'improved', not {tangent!r}")
    if tangent == "improved" and energies is None:
        raise ValueError("the improved tangent needs the energies of all images")
    m = positions.shape[0]
    seg = []
    for i in range(m - 1):
        d, _ = find_mic(positions[i + 1] - positions[i], cell, pbc)
        seg.append(d)
    out = []
    for i in range(1, m - 1):
        t1, t2 = seg[i - 1], seg[i]
        if tangent == "bisection":
            tau = t1 / (np.linalg.norm(t1) or 1.0) + t2 / (np.linalg.norm(t2) or 1.0)
        else:
            e0, e1, e2 = energies[i - 1], energies[i], energies[i + 1]
            if e2 > e1 > e0:
                tau = t2
            elif e2 < e1 < e0:
                tau = t1
            else:  # extremum: weight the segments by the energy differences (Henkelman & Jónsson 2000)
                dmax = max(abs(e2 - e1), abs(e0 - e1))
                dmin = min(abs(e2 - e1), abs(e0 - e1))
                tau = t2 * dmax + t1 * dmin if e2 > e0 else t2 * dmin + t1 * dmax
        norm = np.linalg.norm(tau)
        tau = tau / norm if norm > 0 else tau
        f = forces[i]
        fperp = f - np.vdot(f, tau) * tau
        out.append(_row_max_norm(fperp))
    return out


def max_atom_force(forces: np.ndarray) -> float:
    """Largest per-atom force norm (the criterion of ASE's optimisers)."""
    return _row_max_norm(np.asarray(forces))
