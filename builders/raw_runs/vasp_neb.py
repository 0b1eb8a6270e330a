"""Reader of a native VASP NEB run (VASP built-in NEB or VTST): image folders 00..NN.

Each image folder holds OUTCAR (maybe gzipped) and/or vasprun.xml; the end-point folders
often hold only POSCAR/CONTCAR (no forces, no energy) or their own relaxation OUTCAR.
Geometry and energy of an image come from the last ionic step of its OUTCAR (CONTCAR, then
POSCAR, for an end point without outputs: ``00/POSCAR`` is often the *unrelaxed* input).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import ase.io
import numpy as np
from ase import Atoms

from litraj_data.builders.raw_runs.common import (
    band_from_frames,
    check_energy,
    check_same_system,
    energy_of,
    image_dirs,
    to_config,
)
from litraj_data.builders.raw_runs.convergence import perpendicular_force
from litraj_data.builders.raw_runs.files import first_existing, outcar_in, read_frames, vasprun_in
from litraj_data.builders.raw_runs.model import Config, Convergence, HopRun, hop_id_from_folder
from litraj_data.errors import DataFormatError

DEFAULT_FMAX = 0.1  # eV/Å, the authors' criterion, when no INCAR gives EDIFFG < 0


def is_vasp_neb(folder: Path) -> bool:
    """True for a folder with image folders 00, 01 ... holding VASP files and no ASE band files."""
    if (folder / "traj_init.xyz").exists():
        return False
    d0 = folder / "00"
    return d0.is_dir() and any((d0 / n).exists() for n in ("OUTCAR", "OUTCAR.gz", "vasprun.xml", "vasprun.xml.gz",
                                                           "POSCAR", "CONTCAR"))


def incar_fmax(folder: Path) -> float | None:
    """|EDIFFG| from the run's top-level INCAR when it is a force criterion (negative)."""
    path = folder / "INCAR"
    if not path.is_file():
        return None
    # INCAR syntax for one tag: "KEY = value", several per line separated by ";", comments
    # after "!" or "#"; the last assignment wins, as in VASP. Parsed here rather than by
    # pymatgen's Incar, whose import alone (~0.8 s) costs more than reading a whole run.
    try:
        text = path.read_text(errors="replace")
    except OSError:  # an unreadable INCAR only costs us the run's own fmax
        return None
    ediffg = None
    for line in text.splitlines():
        for statement in re.split(r"[!#]", line, maxsplit=1)[0].split(";"):
            key, eq, value = statement.partition("=")
            if eq and key.strip().upper() == "EDIFFG":
                ediffg = value.strip().split()[0] if value.strip() else None
    if ediffg is None:
        return None
    try:
        # Fortran reals may use D exponents (-1.0D-2)
        value = float(ediffg.replace("d", "e").replace("D", "e"))
    except ValueError:
        return None
    return abs(value) if value < 0 else None


def _read_image(folder: Path, end_point: bool) -> tuple[list[Atoms], str | None]:
    """Frames of one image and the file they came from; a bare end point gives one frame without results."""
    out = outcar_in(folder) or vasprun_in(folder)
    if out is not None:
        return read_frames(out), out.name
    if not end_point:
        raise DataFormatError(f"{folder}: moving image without OUTCAR or vasprun.xml", reason="missing_energy")
    geo = first_existing(folder, ("CONTCAR", "POSCAR"))
    if geo is None:
        raise DataFormatError(f"{folder}: end point without OUTCAR, vasprun.xml, CONTCAR or POSCAR",
                              reason="missing_image")
    try:
        return [ase.io.read(str(geo), format="vasp")], None
    except Exception as exc:
        raise DataFormatError(f"{geo}: ASE cannot read it ({exc})", reason="read_error") from exc


def read_vasp_neb(folder: str | Path, *, fmax: float | None = None, tangent: str = "bisection") -> HopRun:
    """Read a native VASP NEB run.

    Parameters
    ----------
    folder : path
        The run folder (its name, less ``.neb``, is the hop id).
    fmax : float, optional
        Convergence threshold (eV/Å); default |EDIFFG| of the top-level INCAR when negative,
        else 0.1.
    tangent : {'bisection', 'improved'}
        Path tangent for the perpendicular force (bisection = VASP's built-in NEB,
        improved = VTST).

    Returns
    -------
    HopRun
        Initial band: relaxed end points with the first ionic step of each moving image.
        Final band: last ionic step of every image. Configurations: every ionic step of
        every OUTCAR/vasprun (end-point relaxations as ``source``/``target``).

    Raises
    ------
    DataFormatError
        ``missing_image``, ``truncated``, ``atom_count_mismatch``, ``species_mismatch``,
        ``missing_energy``, ``nan_energy``, ``read_error``.
    """
    folder = Path(folder)
    dirs = image_dirs(folder)
    last = len(dirs) - 1
    frames: list[list[Atoms]] = []
    files: list[str] = []
    for i, d in enumerate(dirs):
        fr, name = _read_image(d, end_point=i in (0, last))
        frames.append(fr)
        if name:
            files.append(f"{d.name}/{name}")
    ref = frames[0][-1]
    for d, fr in zip(dirs, frames):
        check_same_system(fr, ref, str(d))

    # End points enter the initial band relaxed (the NEB started from them), moving images as first step.
    init_frames = [frames[0][-1]] + [fr[0] for fr in frames[1:-1]] + [frames[-1][-1]]
    final_frames = [fr[-1] for fr in frames]
    initial = band_from_frames(init_frames, f"{folder} initial band", need_energies=False)
    final = band_from_frames(final_frames, f"{folder} final band", need_energies=False)
    for i in range(1, last):  # moving images must carry a finite energy (end points may not)
        check_energy(energy_of(frames[i][-1]), f"{dirs[i]} last step")

    limit = fmax if fmax is not None else (incar_fmax(folder) or DEFAULT_FMAX)
    forces = np.full_like(final.positions, np.nan)
    for i in range(1, last):
        f = frames[i][-1].calc.results.get("forces") if frames[i][-1].calc is not None else None
        if f is None:
            raise DataFormatError(f"{dirs[i]}: moving image without forces", reason="missing_forces")
        forces[i] = f
    if tangent == "improved" and final.energies is None:
        tangent = "bisection"  # the improved tangent needs end-point energies
    per_image = perpendicular_force(final.positions, forces, final.cell, final.pbc, final.energies, tangent)
    worst = max(per_image) if per_image else None
    conv = Convergence(converged=None if worst is None else bool(worst < limit), max_force=worst, fmax=limit,
                       method=f"perpendicular_force[{tangent}]", per_image=per_image)

    def configs() -> Iterator[Config]:
        for i, (d, fr) in enumerate(zip(dirs, frames)):
            if fr[0].calc is None:  # bare end point (POSCAR/CONTCAR only)
                continue
            kind = "source" if i == 0 else "target" if i == last else "band"
            for step, atoms in enumerate(fr):
                yield to_config(atoms, kind, step, i, f"{d} step {step}")

    # the configurations were parsed once already: validate them now so a bad hop fails at read time
    for _ in configs():
        pass
    return HopRun(hop_id=hop_id_from_folder(folder), path=folder, layout="vasp", initial=initial, final=final,
                  convergence=conv, finished=True, n_band_steps=max(len(fr) for fr in frames[1:-1]),
                  config_files=files, _config_iter=configs)
