"""Generate complete raw hop runs in the authors' layout by running a real calculator.

The procedure follows the authors' ASE-driven VASP NEB (../shared/litraj/FORMAT.md), with
the BVSE calculator (``litraj_data.leaderboard.reference.hops.calculator.BVSECalculator``, Li moving,
framework fixed with ``FixAtoms``) standing in for VASP:

1. ``RUNNING`` marker; the initial band (linear interpolation of the Li hop, minimum image)
   written to ``traj_init.xyz``; one run folder ``00``..``NN`` per image (the POSCAR ASE's
   Vasp calculator would write there);
2. FIRE relaxation of the end points, trajectories ``source.xyz`` / ``target.xyz`` (ASE
   writes optimiser trajectories as ULM whatever the suffix, as in the authors' script);
3. ASE NEB (climbing image, improved tangent, k = 5.0) optimised with FIRE to fmax, every
   step written to ``band_optim_step_{i}.traj`` (all images with their results);
4. ``traj_final.xyz``; ``FINISHED``, and ``CONVERGED`` when the NEB force and end-point
   forces are below fmax; ``RUNNING`` removed.

Usage: ``python tests/fixtures_raw/make_raw_runs.py OUT [--hops-per-material 2]``.
Nothing here is copied data: structures are pymatgen's bundled test structures.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable, Iterable

import ase.io
import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.geometry import find_mic
from ase.mep import NEB
from ase.optimize import FIRE

#: (Materials Project id, file in pymatgen/util/structures) of small real Li structures
MATERIALS = (("mp-1960", "Li2O"), ("mp-19017", "LiFePO4"))
#: formal oxidation states of these compounds (BVSE needs them; pymatgen's guess fails on some)
OXIDATION = {"Li": 1, "O": -2, "Fe": 2, "P": 5, "V": 3}


def load_material(name: str) -> Atoms:
    """A pymatgen bundled structure as ASE atoms with ``oxi_states`` (conventional cell for Li2O)."""
    import pymatgen.util
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    path = Path(pymatgen.util.__path__[0]) / "structures" / f"{name}.json"
    s = Structure.from_file(path)
    if len(s) < 8:  # primitive Li2O: use the conventional cube so the band is not its own image
        s = SpacegroupAnalyzer(s).get_conventional_standard_structure()
    s.remove_oxidation_states()
    atoms = AseAtomsAdaptor.get_atoms(s)
    oxi = np.array([float(OXIDATION[sym]) for sym in atoms.get_chemical_symbols()])
    atoms.arrays["oxi_states"] = oxi
    return atoms


def li_hops(atoms: Atoms, n: int, max_dist: float = 4.5) -> list[tuple[int, int, tuple[int, int, int]]]:
    """The ``n`` shortest Li-Li hops (source, target, lattice offset of the target)."""
    li = np.where(atoms.numbers == 3)[0]
    frac = atoms.get_scaled_positions()
    out = []
    for a in li:
        for b in li:
            if b == a:
                continue
            df = frac[b] - frac[a]
            off = -np.round(df).astype(int)
            d = np.linalg.norm((df + off) @ atoms.cell.array)
            if d < max_dist:
                out.append((d, int(a), int(b), tuple(int(x) for x in off)))
    out.sort()
    seen, hops = set(), []
    for d, a, b, off in out:
        key = (round(d, 3), min(a, b))
        if key in seen:
            continue
        seen.add(key)
        hops.append((a, b, off))
        if len(hops) == n:
            break
    return hops


def initial_band(atoms: Atoms, source: int, target: int, offset: tuple[int, int, int], n_images: int) -> list[Atoms]:
    """Vacancy hop: target site removed, source Li moved linearly to the target, framework fixed."""
    end = atoms.positions[target] + np.array(offset) @ atoms.cell.array
    keep = [i for i in range(len(atoms)) if i != target]
    base = atoms[keep]
    s = keep.index(source)
    d, _ = find_mic(end - atoms.positions[source], atoms.cell, atoms.pbc)
    images = []
    for t in np.linspace(0.0, 1.0, n_images):
        img = base.copy()
        img.positions[s] = atoms.positions[source] + t * d
        img.set_constraint(FixAtoms(indices=np.where(img.numbers != 3)[0]))
        images.append(img)
    return images


def bvse_factory() -> Callable[[], object]:
    """A fresh BVSE calculator per image (ASE's NEB wants one calculator per image)."""
    from litraj_data.leaderboard.reference.hops.calculator import BVSECalculator

    return lambda: BVSECalculator(mobile="Li", cutoff=10.0)


def _touch(path: Path) -> None:
    path.write_bytes(b"")


def write_authors_run(run: Path, images: list[Atoms], make_calc: Callable[[], object], *, fmax: float = 0.1,
                      steps: int = 100, relax_steps: int = 100) -> Path:
    """Run the authors' procedure on ``images`` and write the hop folder ``run``.

    Returns
    -------
    Path
        ``run``.
    """
    run.mkdir(parents=True, exist_ok=True)
    _touch(run / "RUNNING")
    ase.io.write(run / "traj_init.xyz", images, format="extxyz")
    for i, img in enumerate(images):
        img.calc = make_calc()
        (run / f"{i:02d}").mkdir(exist_ok=True)
        ase.io.write(run / f"{i:02d}" / "POSCAR", img, format="vasp", direct=True)
    for img, name in ((images[0], "source"), (images[-1], "target")):
        with FIRE(img, logfile=str(run / f"{name}.log"), trajectory=str(run / f"{name}.xyz")) as opt:
            opt.run(fmax=fmax, steps=relax_steps)
    neb = NEB(images, k=5.0, climb=True, method="improvedtangent")
    counter = {"i": 0}

    def dump() -> None:  # one trajectory of the whole band per optimisation step
        ase.io.write(run / f"band_optim_step_{counter['i']}.traj", images, format="traj")
        counter["i"] += 1

    with FIRE(neb, logfile=str(run / "neb.log")) as opt:
        opt.attach(dump, interval=1)
        opt.run(fmax=fmax, steps=steps)
    ase.io.write(run / "traj_final.xyz", images, format="extxyz")
    neb_force = np.linalg.norm(neb.get_forces(), axis=1).max()
    end_force = max(np.linalg.norm(images[k].get_forces(), axis=1).max() for k in (0, -1))
    _touch(run / "FINISHED")
    if max(neb_force, end_force) < fmax:
        _touch(run / "CONVERGED")
    os.remove(run / "RUNNING")
    return run


def make_raw_runs(out: str | Path, *, materials: Iterable[tuple[str, str]] = MATERIALS, hops_per_material: int = 2,
                  n_images: int = 5, steps: int = 100, fmax: float = 0.1, relax_steps: int = 100) -> list[Path]:
    """Write ``hops_per_material`` authors'-layout runs per material under ``out``.

    Returns
    -------
    list of Path
        The ``{edge_id}.neb`` folders.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    make_calc = bvse_factory()
    runs = []
    for mp_id, name in materials:
        atoms = load_material(name)
        for source, target, off in li_hops(atoms, hops_per_material):
            edge_id = f"{mp_id}_{source}_{target}_{off[0]}_{off[1]}_{off[2]}"
            images = initial_band(atoms, source, target, off, n_images)
            runs.append(write_authors_run(out / f"{edge_id}.neb", images, make_calc, fmax=fmax, steps=steps,
                                           relax_steps=relax_steps))
    return runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--hops-per-material", type=int, default=2)
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args(argv)
    for run in make_raw_runs(args.out, hops_per_material=args.hops_per_material, steps=args.steps):
        print(run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def cached_raw_runs(base: str | Path) -> Path:
    """Generate the test runs once under ``base/raw_runs`` (reused by later callers).

    Two converged Li2O hops and one LiFePO4 hop stopped after 6 band steps (FINISHED but
    not CONVERGED). About 10 s on 2 cores.
    """
    out = Path(base) / "raw_runs"
    done = out / ".complete"
    if done.exists():
        return out
    tmp = Path(base) / "raw_runs.partial"
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    make_raw_runs(tmp, materials=[MATERIALS[0]], hops_per_material=2)
    make_raw_runs(tmp, materials=[MATERIALS[1]], hops_per_material=1, steps=6, relax_steps=6)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    done.write_text("ok")
    return out
