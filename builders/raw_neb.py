"""Build nebDFT2k and MPLiTrj (and MPLiTrj_subsample) from raw NEB hop runs.

``litraj build nebDFT2k --raw DIR --out DIR`` and
``litraj build MPLiTrj --raw DIR --out DIR [--subsample N] [--splits NEBDFT2K_DIR]``.

Two phases (docs/raw_neb.md):

1. **Per hop, in parallel** (``--workers``): read the run (:mod:`litraj_data.builders.raw_runs`),
   turn it into rows of the card's schema and spool them to ``WORK/HOP.arrow`` with a
   summary ``WORK/HOP.json`` (both written atomically). A hop whose summary exists and whose
   files did not change since (size + mtime fingerprint) is not read again: a stopped build
   resumes where it stopped. A bad hop gets a summary with a named failure reason.
2. **Merge** (one process, streaming): hops in hop-id order, split by structure, configurations
   deduplicated, handed to :func:`litraj_data.store.shards.write_dataset` (bounded shards,
   resumable, atomic). ``failures.csv`` (hop_id, path, reason, message) goes with the data.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np
import pyarrow as pa

from litraj_data.builders.failures import RAW_RUN_FIELDS, write_failures
from litraj_data.builders.leakage import find_versions, material_splits
from litraj_data.builders.raw_runs import Config, HopFailure, HopRun, find_runs, read_hop
from litraj_data.builders.splits import SPLITS, assign_splits, read_split_table
from litraj_data.chemistry import SPECIFIC_TM, chemsys, has_specific_tm  # shared with scoring: core, not builders
from litraj_data.cli.options import add_json_option
from litraj_data.cli.output import fail
from litraj_data.errors import DataFormatError, LitrajError
from litraj_data.executors import map_unordered
from litraj_data.io import atomic_write_json
from litraj_data.leaderboard.reference.hops.calculator import BVSECalculator
from litraj_data.leaderboard.reference.hops.centroid import append_centroid
from litraj_data.leaderboard.reference.physics.oxidation import oxidation_states
from litraj_data.registry import get_config
from litraj_data.schema import arrow_schema, rows_to_table
from litraj_data.store.arrow_io import AtomicArrowWriter, write_table_atomic
from litraj_data.store.manifest import read_manifest
from litraj_data.store.shards import write_dataset
from litraj_data.structures import check_row

HASH_DECIMALS = 5      # Å: positions/cell rounded to 1e-5 before hashing
ENERGY_DECIMALS = 6    # eV
SPOOL_BATCH = 256
BUILDER_VERSION = 2    # bump when spool contents change, so old spools are not reused


# --------------------------------------------------------------------------- small helpers


def config_hash(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, energy: float) -> str:
    """Identity of a configuration for deduplication (16 hex digits of blake2b).

    Hashes the atomic numbers, the fractional positions wrapped into [0, 1) and converted
    back to Cartesian, rounded to 1e-5 Å (so an image shifted by a lattice vector is the same
    configuration), the cell rounded to 1e-5 Å, and the energy rounded to 1e-6 eV.
    """
    cell = np.asarray(cell, dtype=float)
    frac = np.linalg.solve(cell.T, np.asarray(positions, dtype=float).T).T
    frac = np.round(frac - np.floor(frac), 8) % 1.0
    cart = np.round(frac @ cell, HASH_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    h = hashlib.blake2b(digest_size=8)
    h.update(np.asarray(numbers, dtype=np.int32).tobytes())
    h.update(cart.tobytes())
    h.update((np.round(cell, HASH_DECIMALS) + 0.0).tobytes())
    h.update(np.float64(round(float(energy), ENERGY_DECIMALS) + 0.0).tobytes())
    return h.hexdigest()


def run_fingerprint(path: Path) -> str:
    """Size and mtime of every file of a run (top level and image folders): changes on any rewrite."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            st = p.stat()
            h.update(f"{p.relative_to(path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def centroid_supercell(run: HopRun) -> dict[str, Any]:
    """Structure block of the centroid supercell: both hop sites occupied, X at the midpoint.

    The relaxed band's first image is the supercell with the moving ion on its source site
    (the target site empty). The moving ion is the atom that moves most between the first
    and last images (minimum image); its final position is put back as an ion of the same
    species (so both sites are occupied, as in the crystal), and a dummy atom X (number 0)
    is appended, last, at the minimum-image midpoint of the hop (not wrapped), by the
    leaderboard's :func:`~litraj_data.leaderboard.reference.hops.centroid.append_centroid`.
    """
    from ase import Atoms
    from ase.geometry import find_mic

    band = run.final
    start, end = band.positions[0], band.positions[-1]
    d, dist = find_mic(end - start, band.cell, band.pbc)
    m = int(np.argmax(dist))
    pristine = Atoms(numbers=np.append(band.numbers, band.numbers[m]), positions=np.vstack([start, start[m] + d[m]]),
                     cell=band.cell, pbc=band.pbc)
    cent = append_centroid(pristine, start[m] + 0.5 * d[m], wrap=False)
    return {"numbers": cent.numbers.astype(np.int32), "positions": cent.positions, "cell": band.cell, "pbc": band.pbc}


# --------------------------------------------------------------------------- rows


def nebdft2k_row(run: HopRun, *, tm_elements: Iterable[str] = SPECIFIC_TM,
                 em_bvse: float | None = None) -> dict[str, Any]:
    """One nebDFT2k row (card ``nebDFT2k``) from a hop run."""
    init, final = run.initial, run.final
    row = {
        "edge_id": run.hop_id,
        "material_id": run.material_id,
        "chemsys": chemsys(final.numbers),
        "has_specific_TM": has_specific_tm(final.numbers, tm_elements),
        "em_bvse": em_bvse,
        "em_dft": final.barrier,
        **centroid_supercell(run),
        "band_numbers": final.numbers.astype(np.int32),
        "band_pbc": final.pbc,
        "init_cell": init.cell,
        "init_positions": init.positions,
        "init_energies": init.energies,
        "relaxed_cell": final.cell,
        "relaxed_positions": final.positions,
        "relaxed_energies": final.energies,
        "relaxed_forces": final.forces,
        "band_extras": {"init": init.extras, "relaxed": final.extras},
        "info_extra": {"source": "raw_neb", "layout": run.layout, "convergence": run.convergence.as_dict(),
                       "n_band_steps": run.n_band_steps, "finished": run.finished},
    }
    return row


def config_row(run: HopRun, cfg: Config) -> dict[str, Any]:
    """One MPLiTrj row from a configuration; config_id = ``{hop_id}:{kind}:{step}:{image}``."""
    calc_extra = dict(cfg.extra) or None
    return {
        "config_id": f"{run.hop_id}:{cfg.kind}:{cfg.step}:{cfg.image}",
        "material_id": run.material_id,
        "edge_id": run.hop_id,
        "numbers": cfg.numbers.astype(np.int32),
        "positions": cfg.positions,
        "cell": cfg.cell,
        "pbc": cfg.pbc,
        "energy": cfg.energy,
        "forces": cfg.forces,
        "stress": cfg.stress,
        "info_extra": {"kind": cfg.kind, "step": cfg.step, "image": cfg.image, "layout": run.layout},
        "calc_extra": calc_extra,
    }


# --------------------------------------------------------------------------- phase 1: per hop


def _spool_name(hop_id: str) -> str:
    # hop ids are folder names: safe as file names, but keep them short and unique
    return hop_id if len(hop_id) < 180 else hashlib.sha256(hop_id.encode()).hexdigest()


def process_hop(task: dict[str, Any]) -> dict[str, Any]:
    """Phase 1 for one hop: read it, spool its rows, return (and store) its summary.

    ``task`` holds ``hop_id``, ``path``, ``dataset`` ('nebDFT2k' or 'MPLiTrj'), ``work`` and
    ``options``. Runs in a worker process; never raises for a bad hop.
    """
    hop_id, path, work = task["hop_id"], Path(task["path"]), Path(task["work"])
    opts = task["options"]
    stem = _spool_name(hop_id)
    summary_path = work / f"{stem}.json"
    fingerprint = hashlib.sha256(json.dumps([BUILDER_VERSION, task["dataset"], opts, run_fingerprint(path)],
                                            sort_keys=True).encode()).hexdigest()
    if summary_path.is_file():
        try:
            old = json.loads(summary_path.read_text())
            if old.get("fingerprint") == fingerprint and (old["status"] != "ok" or (work / f"{stem}.arrow").is_file()):
                return old
        except (json.JSONDecodeError, KeyError):
            pass  # a damaged summary: redo the hop
    summary: dict[str, Any] = {"hop_id": hop_id, "path": str(path), "fingerprint": fingerprint}
    config = get_config(task["dataset"])
    schema = arrow_schema(config)
    try:
        run = read_hop(path, fmax=opts.get("fmax"), tangent=opts.get("tangent"))
        summary.update(material_id=run.material_id, layout=run.layout, converged=run.converged,
                       max_force=run.convergence.max_force, elements=chemsys(run.final.numbers).split("-"))
        if task["dataset"] == "nebDFT2k":
            if not run.converged and not opts.get("include_unconverged"):
                raise DataFormatError(
                    f"{path}: band not converged (max force {run.convergence.max_force} >= fmax {run.convergence.fmax}"
                    f", {run.convergence.method})", reason="not_converged")
            if run.final.energies is None:
                raise DataFormatError(f"{path}: final band without energies", reason="missing_energy")
            em_bvse = bvse_barrier(run, opts) if opts.get("bvse") else None
            row = nebdft2k_row(run, tm_elements=opts.get("tm_elements") or SPECIFIC_TM, em_bvse=em_bvse)
            check_row(row, config, str(path))  # the card's physics rules, as on import
            table = rows_to_table([row], config, schema)
            write_table_atomic(table, work / f"{stem}.arrow")  # the store's one atomic Arrow writer (fsync)
            summary.update(n_rows=1, em_dft=run.em, em_bvse=em_bvse)
        else:
            n, hashes, kinds = 0, [], []
            # the store's one atomic Arrow writer: a temporary name unique to this writer (two builds may
            # share a work folder), fsync, rename; an error leaves no file
            with AtomicArrowWriter(work / f"{stem}.arrow", schema) as w:
                batch: list[dict[str, Any]] = []
                for cfg in run.iter_configs():  # streamed: one hop never needs all its configs in memory
                    row = config_row(run, cfg)
                    check_row(row, config, f"{path} ({cfg.kind} step {cfg.step})")  # the card's rules, as on import
                    batch.append(row)
                    hashes.append(config_hash(cfg.numbers, cfg.positions, cfg.cell, cfg.energy))
                    kinds.append(f"{cfg.kind}:{cfg.step}")
                    if len(batch) >= SPOOL_BATCH:
                        w.write_table(rows_to_table(batch, config, schema))
                        n += len(batch)
                        batch = []
                if batch:
                    w.write_table(rows_to_table(batch, config, schema))
                    n += len(batch)
            summary.update(n_rows=n, hashes=hashes, strata=kinds)
        summary["status"] = "ok"
    except LitrajError as exc:
        summary.update(status="failed", reason=exc.reason, message=str(exc))
    except (OSError, ValueError, KeyError, IndexError, RuntimeError) as exc:  # unforeseen bad input: named, not fatal
        summary.update(status="failed", reason="read_error", message=f"{type(exc).__name__}: {exc}")
    if summary["status"] != "ok":
        (work / f"{stem}.arrow").unlink(missing_ok=True)
    atomic_write_json(summary_path, summary, indent=None)
    return summary


def bvse_barrier(run: HopRun, opts: Mapping[str, Any]) -> float | None:
    """BVSE-NEB barrier of the hop's initial band with the project's BVSE calculator.

    Li (the moving species) is free, the framework is fixed; climbing-image NEB, improved
    tangent, k = 5, FIRE to fmax 0.1 eV/Å (at most ``bvse_steps`` steps). Oxidation states
    are assigned on the pristine supercell (hop target re-occupied) and the target's entry
    dropped, because the vacancy supercell itself is not charge neutral.
    Returns None when the calculator rejects the structure.
    """
    from ase import Atoms
    from ase.constraints import FixAtoms
    from ase.mep import NEB
    from ase.optimize import FIRE

    band = run.initial
    cent = centroid_supercell(run)
    pristine = Atoms(numbers=cent["numbers"][:-1], positions=cent["positions"][:-1], cell=band.cell, pbc=band.pbc)
    try:
        oxi = np.asarray(oxidation_states(pristine), dtype=float)[:-1]
    except LitrajError:
        return None
    mobile = int(band.numbers[np.argmax(np.linalg.norm(band.positions[-1] - band.positions[0], axis=1))])
    images = []
    for pos in band.positions:
        a = Atoms(numbers=band.numbers, positions=pos, cell=band.cell, pbc=band.pbc)
        a.arrays["oxi_states"] = oxi
        a.set_constraint(FixAtoms(indices=np.where(a.numbers != mobile)[0]))
        from ase.data import chemical_symbols

        a.calc = BVSECalculator(mobile=chemical_symbols[mobile], cutoff=10.0)
        images.append(a)
    try:
        neb = NEB(images, k=5.0, climb=True, method="improvedtangent")
        with FIRE(neb, logfile=None) as opt:
            opt.run(fmax=0.1, steps=int(opts.get("bvse_steps", 100)))
        e = np.array([a.get_potential_energy() for a in images])
    except LitrajError:
        return None
    return float(e.max() - e.min())


def run_phase1(raw: Path, work: Path, dataset: str, options: Mapping[str, Any], workers: int = 1,
               progress: Callable[[dict[str, Any]], None] | None = None,
               scheduler: Any = None) -> tuple[list[dict[str, Any]], list[HopFailure]]:
    """Phase 1 over every run under ``raw`` (parallel over hops: local processes or Dask).

    With a Dask ``scheduler`` every worker must see ``raw`` and ``work`` (a shared file
    system): each task reads one hop folder and spools its rows under ``work``.

    Returns
    -------
    summaries : list of dict
        One per distinct hop id, in hop-id order (``status`` 'ok' or 'failed').
    duplicates : list of HopFailure
        Hop ids found in several folders (none of the copies is used).
    """
    runs, duplicates = find_runs(raw)
    work.mkdir(parents=True, exist_ok=True)
    tasks = [{"hop_id": h, "path": str(p), "dataset": dataset, "work": str(work), "options": dict(options)}
             for h, p in runs]
    results: dict[int, dict[str, Any]] = {}
    for i, summary in map_unordered(process_hop, tasks, 1 if len(tasks) <= 1 else workers, scheduler):
        results[i] = summary
        if progress:
            progress(summary)
    summaries = [results[i] for i in range(len(tasks))]  # hop-id order, whatever finished first
    for dup in duplicates:  # a stale spool of a hop id that became ambiguous must not be merged
        (work / f"{_spool_name(dup.hop_id)}.arrow").unlink(missing_ok=True)
    return summaries, duplicates


def failure_rows(summaries: Iterable[Mapping[str, Any]], duplicates: Iterable[HopFailure]) -> list[dict[str, Any]]:
    """Rows of failures.csv (:data:`~litraj_data.builders.failures.RAW_RUN_FIELDS`), in (hop_id, path) order.

    Hop ids found in several folders, then every hop whose summary is not ``ok``.
    """
    rows = [d.as_dict() for d in duplicates]
    rows += [{k: s.get(k, "") for k in RAW_RUN_FIELDS} for s in summaries if s["status"] != "ok"]
    rows.sort(key=lambda r: (r["hop_id"], r["path"]))
    return rows


# --------------------------------------------------------------------------- splits


def load_split_table(source: str | Path) -> dict[str, str]:
    """material_id -> split from a built dataset (nebDFT2k: version, dataset or root folder) or a CSV.

    A CSV is read by :func:`litraj_data.builders.splits.read_split_table` (columns
    ``material_id`` and ``split``, or ``_split`` as in the release index).

    Raises
    ------
    DataFormatError
        ``bad_splits`` when one material sits in two splits of the table, or the CSV is not a split table.
    """
    source = Path(source)
    if source.is_file():
        return read_split_table(source)
    table: dict[str, str] = {}

    def put(mid: str, split: str) -> None:
        if table.setdefault(mid, split) != split:
            raise DataFormatError(f"{source}: {mid} is in both {table[mid]} and {split}", reason="bad_splits")

    for version in find_versions(source):
        splits, _ = material_splits(version)
        for split, ids in splits.items():
            for mid in ids:
                put(mid, split)
    return table


def assign_material_splits(material_elements: Mapping[str, Iterable[str]], table: Mapping[str, str] | None = None,
                           seed: int = 0) -> dict[str, str]:
    """Split of every material: from ``table`` (propagated) where known, else the paper's rule.

    Parameters
    ----------
    material_elements : mapping
        material_id -> the element symbols of its structure.
    table : mapping, optional
        Splits to propagate (e.g. from a built nebDFT2k): these materials keep their split.
    seed : int
        Seed of :func:`litraj_data.builders.splits.assign_splits` for the new materials.

    Returns
    -------
    dict
        material_id -> ``train`` / ``val`` / ``test``. New materials follow the 8:1:1
        split by structure with the element-coverage rule (every test element in val,
        every val element in train) among themselves.
    """
    table = dict(table or {})
    new = {m: set(e) for m, e in material_elements.items() if m not in table}
    if new:
        table.update(assign_splits(new, seed=seed))
    return {m: table[m] for m in material_elements}


# --------------------------------------------------------------------------- phase 2: merge


def subsample_keep(strata: list[str], fraction: float) -> np.ndarray:
    """Which configurations of one hop a stratified subsample keeps.

    Strata: the source relaxation, the target relaxation and the band optimisation, each
    ordered by step. In each stratum ``round(fraction * n)`` configurations (at least
    one) are kept, evenly spaced along the steps and always including the last one (the
    relaxed end point / converged band). Deterministic.
    """
    keep = np.zeros(len(strata), dtype=bool)
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(strata):
        kind = s.split(":", 1)[0]
        groups.setdefault(kind, []).append(i)
    for idx in groups.values():
        k = max(1, int(round(fraction * len(idx))))
        pick = np.unique(np.round(np.linspace(len(idx) - 1, 0, k)).astype(int))
        keep[np.asarray(idx)[pick]] = True
    return keep


def _spooled_rows(work: Path, summaries: list[dict[str, Any]], keep: Mapping[str, np.ndarray] | None,
                  seen: set[bytes] | None) -> Iterator[dict[str, Any]]:
    """Rows of the given hops from their spools, deduplicated when ``seen`` is a set."""
    for s in summaries:
        table = _read_spool(work / f"{_spool_name(s['hop_id'])}.arrow")
        rows = table.to_pylist()
        hashes = s.get("hashes")
        mask = keep.get(s["hop_id"]) if keep is not None else None
        for i, row in enumerate(rows):
            if mask is not None and not mask[i]:
                continue
            if seen is not None and hashes is not None:
                key = bytes.fromhex(hashes[i])
                if key in seen:
                    continue
                seen.add(key)
            yield row


def _read_spool(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as src:
        return pa.ipc.open_stream(src).read_all()


def _split_source(work: Path, hops: list[dict[str, Any]], keep: Mapping[str, np.ndarray] | None,
                  dedup: bool, seen_before: Callable[[], set[bytes]]) -> Callable[[int], Iterator[dict[str, Any]]]:
    def source(skip: int) -> Iterator[dict[str, Any]]:
        seen = seen_before() if dedup else None
        for i, row in enumerate(_spooled_rows(work, hops, keep, seen)):
            if i >= skip:
                yield row
    return source


def build_from_raw(dataset: str, raw: str | Path, out: str | Path, *, work: str | Path | None = None,
                   workers: int = 1, scheduler: Any = None, splits_from: str | Path | None = None,
                   subsample: int | None = None,
                   fmax: float | None = None, tangent: str | None = None, include_unconverged: bool = False,
                   tm_elements: Iterable[str] | None = None, bvse: bool = False, dedup: bool = True,
                   version: str | None = None, overwrite: bool = False, progress: bool | None = None) -> dict[str, Any]:
    """Build ``nebDFT2k`` or ``MPLiTrj`` (``MPLiTrj_subsample`` with ``subsample``) from raw runs.

    Parameters
    ----------
    dataset : {'nebDFT2k', 'MPLiTrj'}
    raw : path
        Folder holding hop runs (any depth; authors' ``*.neb`` layout or VASP NEB folders).
    out : path
        Output root; the dataset lands in ``out/NAME/VERSION``.
    work : path, optional
        Spool/checkpoint folder (default ``out/.raw_neb_work/NAME``); kept for resuming.
    workers : int
        Processes reading hops in parallel.
    scheduler : str or distributed.Client, optional
        Dask scheduler address: one task per hop folder on that cluster (its workers must
        see ``raw`` and ``work``).
    splits_from : path, optional
        Split table to propagate: a built nebDFT2k (version/dataset/root folder) or a CSV
        ``material_id,split``. Materials not in it are split 8:1:1 by structure.
    subsample : int, optional
        MPLiTrj only: write ``MPLiTrj_subsample`` with about this many configurations,
        stratified per hop and stage (see :func:`subsample_keep`).
    fmax, tangent
        Convergence settings passed to the readers.
    include_unconverged : bool
        nebDFT2k only: keep hops whose band is not converged (default: failure ``not_converged``).
    tm_elements : iterable of str, optional
        Elements of ``has_specific_TM`` (default :data:`SPECIFIC_TM`).
    bvse : bool
        nebDFT2k only: compute em_bvse with the BVSE-NEB calculator (slow); null otherwise.
    dedup : bool
        MPLiTrj only: drop repeated configurations (see :func:`config_hash`).

    Returns
    -------
    dict
        ``path`` (finished version folder), ``dataset``, ``hops`` (read), ``failures``,
        ``rows`` per split, ``duplicates_dropped``.
    """
    if dataset not in ("nebDFT2k", "MPLiTrj"):
        raise ValueError(f"dataset must be 'nebDFT2k' or 'MPLiTrj', not {dataset!r}")
    if subsample is not None and (dataset != "MPLiTrj" or subsample <= 0):
        raise ValueError("subsample needs dataset 'MPLiTrj' and a positive count")
    raw, out = Path(raw), Path(out)
    work = Path(work) if work else out / ".raw_neb_work" / dataset
    options = {"fmax": fmax, "tangent": tangent, "include_unconverged": include_unconverged,
               "tm_elements": sorted(tm_elements) if tm_elements else None, "bvse": bvse}
    summaries, duplicates = run_phase1(raw, work, dataset, options, workers, scheduler=scheduler)
    good = [s for s in summaries if s["status"] == "ok"]
    failures_csv = work / "failures.csv"
    failed = failure_rows(summaries, duplicates)
    write_failures(failed, failures_csv, RAW_RUN_FIELDS)
    n_failures = len(failed)
    if not good:  # an empty version would load as a dataset of 0 rows: refuse instead, naming why
        raise DataFormatError(f"{raw}: no usable NEB run ({n_failures} failed; reasons in {failures_csv})"
                              if n_failures else f"{raw}: no NEB run found (a folder per hop with its images)",
                              reason="no_runs")

    table = load_split_table(splits_from) if splits_from else None
    material_elements: dict[str, set[str]] = {}
    for s in good:  # a material's hops share its structure; the union guards against odd inputs
        material_elements.setdefault(s["material_id"], set()).update(s["elements"])
    split_of = assign_material_splits(material_elements, table)
    by_split: dict[str, list[dict[str, Any]]] = {sp: [] for sp in SPLITS}
    for s in good:
        by_split.setdefault(split_of[s["material_id"]], []).append(s)

    name = dataset
    keep: dict[str, np.ndarray] | None = None
    notes = [f"built from raw NEB runs in {raw} by litraj_data.builders.raw_neb",
             f"{len(good)} hops used, {n_failures} skipped (failures.csv)"]
    if dataset == "MPLiTrj" and subsample:
        name = "MPLiTrj_subsample"
        total = sum(s["n_rows"] for s in good)
        frac = min(1.0, subsample / max(total, 1))
        keep = {s["hop_id"]: subsample_keep(s["strata"], frac) for s in good}
        notes.append(f"stratified subsample: fraction {frac:.4f} per hop and stage (source / target / band), "
                     "evenly spaced along the steps, last step always kept")
    if table is not None:
        notes.append(f"splits propagated from {splits_from} ({len(table)} structures)")
    dedup = dedup and dataset == "MPLiTrj"

    # dedup across splits in write order: a split's source re-derives the hashes of the splits before it
    order = [sp for sp in SPLITS if by_split.get(sp)] + sorted(sp for sp in by_split if sp not in SPLITS)

    def seen_before_factory(split: str) -> Callable[[], set[bytes]]:
        def seen_before() -> set[bytes]:
            seen: set[bytes] = set()
            for sp in order[: order.index(split)] if split in order else []:
                for s in by_split[sp]:
                    mask = keep.get(s["hop_id"]) if keep else None
                    for i, hx in enumerate(s["hashes"]):
                        if mask is None or mask[i]:
                            seen.add(bytes.fromhex(hx))
            return seen
        return seen_before

    sources = {sp: _split_source(work, by_split.get(sp, []), keep, dedup, seen_before_factory(sp)) for sp in SPLITS}
    final = write_dataset(name, sources, out, version=version,
                          sources={"raw": str(raw.resolve()), "hops": len(good),
                                   "runs_fingerprint": hashlib.sha256("".join(s["fingerprint"] for s in good)
                                                                      .encode()).hexdigest()},
                          extra_files={"failures.csv": failures_csv}, notes=notes, overwrite=overwrite,
                          progress=progress)
    man = read_manifest(final)
    rows = {sp: man.num_rows(sp) for sp in man.splits}
    candidates = sum(int(keep[s["hop_id"]].sum()) if keep else s["n_rows"] for s in good)
    return {"path": str(final), "dataset": name, "hops": len(good), "failures": n_failures, "rows": rows,
            "duplicates_dropped": candidates - sum(rows.values()) if dedup else 0}


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser, dataset: str) -> None:
    """Options of ``litraj build nebDFT2k|MPLiTrj --raw DIR --out DIR``."""
    parser.add_argument("--raw", required=True, help="folder of raw hop runs (authors' *.neb layout or VASP NEB)")
    parser.add_argument("--out", required=True, help="output root (dataset lands in OUT/NAME/VERSION)")
    parser.add_argument("--work", help="spool/checkpoint folder (default OUT/.raw_neb_work/NAME)")
    parser.add_argument("--workers", type=int, default=1, help="processes reading hop folders in parallel")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler address (tcp://host:8786): one task per hop folder "
                             "(workers must share the file system)")
    parser.add_argument("--splits", dest="splits_from",
                        help="split table to propagate: built nebDFT2k folder or CSV material_id,split")
    parser.add_argument("--fmax", type=float, help="convergence threshold, eV/A (default: the run's own)")
    parser.add_argument("--tangent", choices=["bisection", "improved"],
                        help="tangent for native VASP runs (default bisection = VASP built-in NEB)")
    parser.add_argument("--version", help="version to write (default: the card's)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing finished version")
    add_json_option(parser)
    if dataset == "nebDFT2k":
        parser.add_argument("--include-unconverged", action="store_true",
                            help="keep hops whose band did not converge")
        parser.add_argument("--tm-elements", nargs="+",
                            help=f"has_specific_TM elements (default {' '.join(SPECIFIC_TM)})")
        parser.add_argument("--bvse", action="store_true", help="compute em_bvse with the BVSE-NEB calculator (slow)")
    else:
        parser.add_argument("--subsample", type=int, help="write MPLiTrj_subsample with about N configurations")
        parser.add_argument("--no-dedup", dest="dedup", action="store_false", help="keep repeated configurations")
    parser.set_defaults(dataset=dataset)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``litraj build nebDFT2k|MPLiTrj`` (``args.dataset``); returns an exit code."""
    dataset = args.dataset
    try:
        result = build_from_raw(
            dataset, args.raw, args.out, work=args.work, workers=args.workers, scheduler=args.scheduler,
            splits_from=args.splits_from,
            subsample=getattr(args, "subsample", None), fmax=args.fmax, tangent=args.tangent,
            include_unconverged=getattr(args, "include_unconverged", False),
            tm_elements=getattr(args, "tm_elements", None), bvse=getattr(args, "bvse", False),
            dedup=getattr(args, "dedup", True), version=args.version, overwrite=args.overwrite)
    except (LitrajError, FileExistsError, ValueError) as exc:
        return fail(args, args.raw, exc, code=2)  # the one error record (reason, JSON with --json)
    if args.json:
        print(json.dumps({"records": [dict(result, file=str(args.raw), ok=True)]}))
    else:
        rows = ", ".join(f"{k} {v}" for k, v in result["rows"].items())
        print(f"{result['dataset']}: {result['path']} ({rows}); {result['hops']} hops, "
              f"{result['failures']} skipped (failures.csv)")
    return 0
