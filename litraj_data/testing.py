"""Archives in exactly the official LiTraj layout, written with ASE, for tests and benchmarks.

The official data sit on an object store these machines cannot reach, so the importer is
tested on archives written here the way the authors wrote theirs (``ase.io.write`` of
extxyz frames, pandas index CSVs, one zip per dataset unpacking to a folder of the same
name). Structures are real crystal prototypes (rock salt, antifluorite, ...) built by ASE,
rattled deterministically; values are random but seeded.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from litraj_data.chemistry import chemsys
from litraj_data.registry import get_config

_PROTOTYPES = [
    ("LiF", "rocksalt", 4.03), ("LiCl", "rocksalt", 5.13), ("Li2O", "fluorite", 4.61),
    ("Li2S", "fluorite", 5.71), ("LiI", "rocksalt", 6.00),
]


def _prototype(i: int, rng: np.random.Generator, repeat: tuple[int, int, int] = (1, 1, 1)) -> Atoms:
    formula, kind, a = _PROTOTYPES[i % len(_PROTOTYPES)]
    if kind == "rocksalt":
        atoms = bulk(formula, "rocksalt", a=a, cubic=True)
    else:  # antifluorite Li2X: anion on fcc, Li on tetrahedral sites
        anion = formula[3:]
        atoms = bulk(anion + "Li", "zincblende", a=a, cubic=True)
        extra = atoms[[k for k, s in enumerate(atoms.get_chemical_symbols()) if s == "Li"]].copy()
        extra.positions += a / 2
        atoms += extra
        atoms.wrap()
    atoms = atoms.repeat(repeat)
    atoms.positions += rng.normal(scale=0.02, size=atoms.positions.shape)
    return atoms


def _zip_folder(folder: Path) -> Path:
    archive = folder.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    return archive


def write_release(name: str, root: str | Path, counts: dict[str, int] | None = None, *, seed: int = 0,
                  make_zip: bool = True, atoms_repeat: tuple[int, int, int] = (1, 1, 1)) -> Path:
    """Write dataset ``name`` in the official layout under ``root/NAME/`` (and ``root/NAME.zip``).

    Parameters
    ----------
    name : str
        One of the five registered datasets.
    root : path
        Output folder.
    counts : dict, optional
        Rows per split (default 5 / 2 / 2).
    seed : int
        Seed of every random value.
    make_zip : bool
        Also write ``NAME.zip`` (deflated, unpacking to ``NAME/``).
    atoms_repeat : tuple
        Supercell of the prototypes (larger frames for benchmarks).

    Returns
    -------
    Path
        The zip when ``make_zip`` else the folder.
    """
    config = get_config(name)
    counts = counts or {"train": 5, "val": 2, "test": 2}
    rng = np.random.default_rng(seed)
    folder = Path(root) / config.release["folder"]
    folder.mkdir(parents=True, exist_ok=True)
    index_rows: list[dict[str, Any]] = []
    n = 0
    if name == "BVEL13k":
        for split, k in counts.items():
            frames = []
            for _ in range(k):
                atoms = _prototype(n, rng, atoms_repeat)
                e1 = float(rng.uniform(0.1, 2.0))
                e2 = e1 + float(rng.uniform(0, 0.5))
                e3 = float("inf") if n % 4 == 3 else e2 + float(rng.uniform(0, 0.5))
                atoms.info.update(material_id=f"mp-{1000 + n}", E_1D=e1, E_2D=e2, E_3D=e3)
                frames.append(atoms)
                index_rows.append({"material_id": f"mp-{1000 + n}", "chemsys": chemsys(atoms.numbers), "_split": split,
                                   "E_1D": e1, "E_2D": e2, "E_3D": e3})
                n += 1
            write(folder / f"BVEL13k_{split}.xyz", frames, format="extxyz")
        pd.DataFrame(index_rows).to_csv(folder / "BVEL13k_index.csv", index=False)
    elif name == "nebBVSE122k":
        for split, k in counts.items():
            frames = []
            for _ in range(k):
                atoms = _prototype(n // 3, rng, atoms_repeat)
                mid = (atoms.positions[0] + atoms.positions[1]) / 2
                atoms += Atoms("X", positions=[mid])
                mp = f"mp-{2000 + n // 3}"
                edge = f"{mp}_0_{n % 3 + 1}_0_0_{n % 2}"
                em = float(rng.uniform(0.05, 1.5))
                atoms.info.update(edge_id=edge, material_id=mp, em=em)
                frames.append(atoms)
                index_rows.append({"material_id": mp, "chemsys": chemsys(atoms.numbers), "_split": split, "em": em,
                                   "edge_id": edge})
                n += 1
            write(folder / f"nebBVSE122k_{split}.xyz", frames, format="extxyz")
        pd.DataFrame(index_rows).to_csv(folder / "nebBVSE122k_index.csv", index=False)
    elif name == "nebDFT2k":
        centroids = []
        for split, k in counts.items():
            for _ in range(k):
                base = _prototype(n, rng, (2, 2, 2))
                mp = f"mp-{3000 + n}"
                edge = f"{mp}_0_1_0_0_0"
                nimg = 5 + n % 3  # 3-5 intermediate images plus the end points
                start, end = base.positions[0].copy(), base.positions[1].copy()
                init, relaxed = [], []
                profile = np.sin(np.linspace(0, np.pi, nimg)) * rng.uniform(0.2, 0.8)
                e0 = float(rng.uniform(-300, -100))
                for j, t in enumerate(np.linspace(0, 1, nimg)):
                    img = base[1:].copy()
                    img += Atoms(base[0].symbol, positions=[start + t * (end - start)], cell=base.cell)
                    init.append(img)
                    r = img.copy()
                    r.positions += rng.normal(scale=0.01, size=r.positions.shape)
                    r.calc = SinglePointCalculator(r, energy=e0 + float(profile[j]),
                                                   forces=rng.normal(scale=0.05, size=(len(r), 3)))
                    relaxed.append(r)
                write(folder / f"{edge}_init.xyz", init, format="extxyz")
                write(folder / f"{edge}_relaxed.xyz", relaxed, format="extxyz")
                energies = [a.get_potential_energy() for a in relaxed]
                em_dft = max(energies) - min(energies)
                em_bvse = float(rng.uniform(0.1, 1.0))
                cen = base.copy()
                cen += Atoms("X", positions=[(start + end) / 2])
                cen.info.update(edge_id=edge, material_id=mp, em=em_dft)
                centroids.append(cen)
                index_rows.append({"material_id": mp, "edge_id": edge, "chemsys": chemsys(base.numbers),
                                   "has_specific_TM": bool(n % 2), "em_bvse": em_bvse, "em_dft": em_dft,
                                   "_split": split})
                n += 1
        write(folder / "nebDFT2k_centroids.xyz", centroids, format="extxyz")
        pd.DataFrame(index_rows).to_csv(folder / "nebDFT2k_index.csv", index=False)
    elif name in ("MPLiTrj", "MPLiTrj_subsample"):
        for split, k in counts.items():
            frames = []
            for _ in range(k):
                atoms = _prototype(n, rng, atoms_repeat)
                atoms.calc = SinglePointCalculator(
                    atoms, energy=float(rng.uniform(-400, -50)), forces=rng.normal(scale=0.3, size=(len(atoms), 3)),
                    stress=rng.normal(scale=0.01, size=6))
                frames.append(atoms)
                n += 1
            write(folder / f"{name}_{split}.xyz", frames, format="extxyz")
    else:
        raise ValueError(f"no official layout for {name!r}")
    return _zip_folder(folder) if make_zip else folder


# --------------------------------------------------------------------------- hostile inputs


def _first_position_line(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[2] = b"Li nan 0.0 0.0"
    return b"\n".join(lines)


#: Damaging edits of an official split file (``BVEL13k_train.xyz``): name -> (edit of the file's
#: bytes, the importer's expected ``reason``, a regex its message must match). Shared by the
#: hostile-input tests and ``benchmarks/soak_store.py``.
HOSTILE_SPLIT_FILE_EDITS = {
    "nan_position": (lambda d: _first_position_line(d), "non_finite", r"BVEL13k_train\.xyz:1: positions"),
    "inf_cell": (lambda d: d.replace(b'Lattice="4.03', b'Lattice="inf', 1), "non_finite",
                 r"BVEL13k_train\.xyz:1: cell"),
    "nan_target": (lambda d: re.sub(rb"E_1D=[0-9.e+-]+", b"E_1D=nan", d, count=1), "non_finite",
                   r"BVEL13k_train\.xyz:1: E_1D is nan"),
    "non_numeric_target": (lambda d: re.sub(rb"E_2D=[0-9.e+-]+", b"E_2D=abc", d, count=1), "bad_value",
                           r"BVEL13k_train\.xyz:1"),
    "negative_atom_count": (lambda d: b"-3" + d[1:], "bad_frame", r"BVEL13k_train\.xyz:1: frame 0 announces -3"),
    "huge_atom_count": (lambda d: b"30000000" + d[1:], "bad_atom_count", r"announces 30000000 atoms but only"),
    "non_utf8": (lambda d: d.replace(b"Li ", b"L\xff ", 1), "not_utf8", r"BVEL13k_train\.xyz: not UTF-8"),
    "blank_lines_only": (lambda d: b"\n\n\n", "empty_split", r"the train split holds no frames"),
}
