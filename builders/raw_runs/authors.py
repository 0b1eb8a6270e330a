"""Reader of a hop run in the authors' layout (``{edge_id}.neb/``, ASE-driven VASP NEB).

Files (the authors' NEB procedure, docs/raw_neb.md): ``traj_init.xyz`` (initial band), ``source.xyz`` /
``target.xyz`` (FIRE relaxations of the end points; ASE writes optimiser trajectories in
its binary ULM format whatever the suffix, so the format is sniffed), one
``band_optim_step_{i}.traj`` per band-optimisation step (all images), ``traj_final.xyz``,
image folders ``00``..``NN`` (the VASP run folder of each image: ASE's Vasp calculator
overwrites OUTCAR at every step, so it holds the *last* single point only), and empty
marker files ``RUNNING``, ``FINISHED``, ``CONVERGED``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
from ase import Atoms

from litraj_data.builders.raw_runs.band_xyz import read_band_xyz
from litraj_data.builders.raw_runs.common import (
    band_from_frames,
    check_energy,
    check_same_numbers,
    check_same_system,
    constrained_forces,
    energy_of,
    frame_to_atoms,
    image_dirs,
    to_config,
)
from litraj_data.builders.raw_runs.convergence import AUTHORS_NEB, ase_neb_force, max_atom_force
from litraj_data.builders.raw_runs.files import TrajFrame, iter_traj_frames, outcar_in, read_frames, vasprun_in
from litraj_data.builders.raw_runs.model import Band, Config, Convergence, HopRun, hop_id_from_folder
from litraj_data.errors import DataFormatError

STEP_RE = re.compile(r"^band_optim_step_(\d+)\.traj$")
AUTHORS_FMAX = 0.1  # eV/Å (FORMAT.md: CONVERGED only when max force < 0.1 eV/Å)


def is_authors_run(folder: Path) -> bool:
    """True for a folder holding the authors' band files."""
    return (folder / "traj_init.xyz").is_file() or any(folder.glob("band_optim_step_*.traj"))


def band_step_files(folder: Path) -> list[Path]:
    """``band_optim_step_{i}.traj`` files sorted by step number (not by name: 10 after 9)."""
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := STEP_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def _energies_from_image_dirs(dirs: list[Path]) -> list[float] | None:
    """Last single point of each image folder's OUTCAR/vasprun, if every image has one."""
    out = []
    for d in dirs:
        f = outcar_in(d) or vasprun_in(d)
        if f is None:
            return None
        out.append(check_energy(energy_of(read_frames(f)[-1]), str(f)))
    return out


def _check_frames_system(frames: list[TrajFrame | Atoms], ref: Atoms, where: str) -> None:
    """:func:`check_same_system` of a file's frames, once per file when they share one ``numbers`` array."""
    if frames and all(isinstance(f, TrajFrame) and f.numbers is frames[0].numbers for f in frames):
        check_same_numbers(frames[0].numbers, ref, where)
    else:  # numbers rewritten mid-file, or frames read by ASE: the frame-by-frame check of the Atoms
        check_same_system([f if isinstance(f, Atoms) else frame_to_atoms(f) for f in frames], ref, where)


def _with_energies(band: Band, energies: list[float] | np.ndarray, forces: np.ndarray | None) -> Band:
    return Band(numbers=band.numbers, pbc=band.pbc, cell=band.cell, positions=band.positions,
                energies=np.asarray(energies, dtype=float), forces=band.forces if band.forces is not None else forces,
                extras=band.extras)


def read_authors_run(folder: str | Path, *, fmax: float = AUTHORS_FMAX, require_finished: bool = True,
                     neb_settings: dict | None = None) -> HopRun:
    """Read one hop run written by the authors' ASE NEB script.

    Parameters
    ----------
    folder : path
        ``{edge_id}.neb`` folder.
    fmax : float
        Convergence threshold on the NEB force and the end-point forces (eV/Å).
    require_finished : bool
        Raise ``not_finished`` when there is no FINISHED marker (a run still going or killed).
    neb_settings : dict, optional
        k / climb / method of the NEB; the authors' (5.0, True, 'improvedtangent') by default.

    Returns
    -------
    HopRun
        ``converged`` is recomputed from the stored forces (ASE NEB force of the final band
        and the end-point forces, largest per-atom norm < fmax); the CONVERGED marker is
        kept in ``convergence.marker``.

    Raises
    ------
    DataFormatError
        ``not_finished``, ``missing_file``, ``missing_image``, ``image_count_mismatch``,
        ``atom_count_mismatch``, ``species_mismatch``, ``missing_energy``, ``nan_energy``,
        ``truncated``, ``read_error``.
    """
    folder = Path(folder)
    settings = dict(AUTHORS_NEB, **(neb_settings or {}))
    finished = (folder / "FINISHED").exists()
    if require_finished and not finished:
        state = "still RUNNING" if (folder / "RUNNING").exists() else "no marker"
        raise DataFormatError(f"{folder}: no FINISHED marker ({state})", reason="not_finished")
    marker = (folder / "CONVERGED").exists()

    init_path = folder / "traj_init.xyz"
    if not init_path.is_file():
        raise DataFormatError(f"{folder}: traj_init.xyz missing", reason="missing_file")
    init_frames = read_band_xyz(init_path)  # ASE's frames; plain extxyz parsed natively
    ref = init_frames[0]
    initial = band_from_frames(init_frames, str(init_path), need_energies=False)
    n_images = initial.n_images

    dirs = image_dirs(folder)
    if len(dirs) != n_images:
        reason = "missing_image" if len(dirs) < n_images else "image_count_mismatch"
        raise DataFormatError(f"{folder}: {len(dirs)} image folders for a band of {n_images} images", reason=reason)

    steps = band_step_files(folder)
    # the last band step, decoded once: its frames are configurations (reused below), its geometry
    # and constraints feed the NEB-force check
    last_step = list(iter_traj_frames(steps[-1])) if steps else None
    final_path = folder / "traj_final.xyz"
    if final_path.is_file():
        final_frames = read_band_xyz(final_path)
    elif last_step is not None:
        final_frames = [f if isinstance(f, Atoms) else frame_to_atoms(f) for f in last_step]
    else:
        raise DataFormatError(f"{folder}: neither traj_final.xyz nor band_optim_step_*.traj", reason="missing_file")
    if len(final_frames) != n_images:
        raise DataFormatError(f"{folder}: final band has {len(final_frames)} images, initial {n_images}",
                              reason="image_count_mismatch")
    check_same_system(final_frames, ref, str(final_path))
    final = band_from_frames(final_frames, f"{folder} final band", need_energies=False)
    if final.energies is None:
        # traj_final.xyz written without results: take them from the last band step at the same geometry,
        # else from the image folders' OUTCAR (ASE's Vasp calculator leaves the last single point there)
        if last_step is not None and np.allclose(np.stack([a.positions for a in last_step]), final.positions,
                                                 atol=1e-6):
            step_band = band_from_frames([f if isinstance(f, Atoms) else frame_to_atoms(f) for f in last_step],
                                         str(steps[-1]), need_energies=True)
            final = _with_energies(final, step_band.energies, step_band.forces)
        else:
            energies = _energies_from_image_dirs(dirs)
            if energies is None:
                raise DataFormatError(f"{folder}: no energies for the final band", reason="missing_energy")
            final = _with_energies(final, energies, None)
    else:
        for i, e in enumerate(final.energies):
            check_energy(e, f"{final_path} image {i}")

    relax = {}
    for name in ("source", "target"):
        p = folder / f"{name}.xyz"
        relax[name] = list(iter_traj_frames(p)) if p.is_file() else []
        _check_frames_system(relax[name], ref, str(p))

    # convergence: the NEB force FIRE minimised, with constraints as stored in the band step trajectory
    per_image: list[float | None] = []
    worst: float | None = None
    method = "marker"
    if final.forces is not None:
        constrained = final_frames if last_step is None else [
            f if isinstance(f, Atoms) else frame_to_atoms(f, results=False) for f in last_step]
        # images built here from decoded frames are this check's own (no copies needed); Atoms that
        # ASE read are also the configurations yielded below, so they are copied
        own = last_step is not None and all(isinstance(f, TrajFrame) for f in last_step)
        per_image = ase_neb_force(constrained, final.energies, final.forces, **settings, copy=not own)
        ends = [max_atom_force(f) for fr in relax.values() if fr and (f := constrained_forces(fr[-1])) is not None]
        worst = max(per_image + ends)
        method = "ase_neb_force[k={k},climb={climb},{method}]+end_points".format(**settings)
    conv = Convergence(converged=marker if worst is None else bool(worst < fmax), max_force=worst, fmax=fmax,
                       method=method, per_image=per_image, marker=marker)

    files = [f"{n}.xyz" for n in ("source", "target") if relax[n]] + [p.name for p in steps]

    def configs() -> Iterator[Config]:
        # one pass per file: the end-point relaxations and the last band step were read (and
        # checked against the reference system) above, so their frames are reused here
        for name in ("source", "target"):
            p = folder / f"{name}.xyz"
            for step, atoms in enumerate(relax[name]):
                yield to_config(atoms, name, step, 0 if name == "source" else n_images - 1, f"{p} frame {step}")
        for p in steps:
            step = int(STEP_RE.match(p.name).group(1))
            n = 0
            frames = last_step if (p == steps[-1] and last_step is not None) else iter_traj_frames(p)
            checked = None
            for image, atoms in enumerate(frames):
                if not isinstance(atoms, TrajFrame):
                    check_same_system([atoms], ref, str(p))
                elif atoms.numbers is not checked:  # the file's one numbers array: checked once, not per frame
                    check_same_numbers(atoms.numbers, ref, str(p))
                    checked = atoms.numbers
                n += 1
                yield to_config(atoms, "band", step, image, f"{p} image {image}")
            if n != n_images:  # a step file written only in part
                raise DataFormatError(f"{p}: {n} images, the band has {n_images}", reason="image_count_mismatch")

    return HopRun(hop_id=hop_id_from_folder(folder), path=folder, layout="authors", initial=initial, final=final,
                  convergence=conv, finished=finished, n_band_steps=len(steps), config_files=files,
                  _config_iter=configs)
