"""Crystal structures of the embedded LiTraj sample (BVEL13k / nebBVSE122k offline sample).

The structures are declared in ``sample_structures.yaml`` next to this module, in two kinds:

* ``source: pymatgen`` -- a structure file shipped inside the installed pymatgen package
  (``pymatgen/util/structures/*.json``), read as is;
* ``source: literature`` -- a published crystal structure recorded as data (space group,
  lattice parameters, Wyckoff sites, citation) and expanded with
  :meth:`pymatgen.core.Structure.from_spacegroup`.

Every entry records its expected reduced formula and space-group number, so a wrong
transcription shows up as a mismatch (see :func:`check_sample_entry`) instead of a silently
wrong structure.  The expansion is deterministic: the same YAML always gives the same
sites in the same order.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import yaml

from litraj_data.cli.options import add_json_option
from litraj_data.errors import DataFormatError, StructureError
from litraj_data.io import atomic_write_text
from litraj_data.leaderboard.reference.physics.oxidation import assign_oxidation_states

__all__ = [
    "SampleEntry",
    "SAMPLE_YAML",
    "load_sample_structures",
    "sample_structures_as_dict",
    "get_sample_structure",
    "sample_ids",
    "check_sample_entry",
    "format_citation",
    "sample_table_markdown",
    "MIN_SAMPLE_SIZE",
    "register",
]

SAMPLE_YAML = Path(__file__).with_name("sample_structures.yaml")

# Dataset limits of BVEL13k / nebBVSE122k (paper, Methods) that every sample entry must obey.
MAX_ATOMS = 160
MAX_VOLUME = 1500.0  # Å^3
# Closest approach accepted between any two atoms; real ionic crystals stay above it
# (the shortest bonds here are C-O in carbonate, ~1.28 Å).
MIN_DISTANCE = 1.2  # Å
# Entries the packaged list must hold (see docs/sample.md for why not more).
MIN_SAMPLE_SIZE = 24


@dataclass(frozen=True)
class SampleEntry:
    """One crystal structure of the embedded sample.

    Attributes
    ----------
    material_id : str
        Stable id ``sample-<formula>-<space group number>``; used as ``material_id``.
    structure : pymatgen.core.Structure
        Ordered structure; sites carry oxidation states when the YAML gives them.
    formula : str
        Expected reduced formula (checked against the expanded structure).
    spacegroup : int
        Expected international space-group number.
    spacegroup_symbol : str
        Hermann-Mauguin symbol (with setting, e.g. ``Fd-3m:2``) as recorded.
    citation : str
        Human-readable reference of the structural data.
    source : str
        ``"pymatgen"`` or ``"literature"``.
    symprec : float
        Tolerance at which pymatgen's SpacegroupAnalyzer recovers ``spacegroup``.
    density : float or None
        Literature (X-ray) density in g/cm^3 when recorded.
    note : str
        Free remark (setting, temperature, caveats).
    confidence : str
        ``"high"`` (only lattice constants or a classic refinement), ``"medium"`` (free
        coordinates recorded from the cited refinement and cross-checked by bond lengths),
        ``"reference"`` for structures shipped with pymatgen.
    doi : str or None
        DOI of the citation where recorded.
    """

    material_id: str
    structure: Any
    formula: str
    spacegroup: int
    spacegroup_symbol: str
    citation: str
    source: str
    symprec: float = 0.01
    density: float | None = None
    note: str = ""
    confidence: str = "reference"
    doi: str | None = None


def format_citation(cit: Mapping[str, Any] | str) -> str:
    """Render a citation mapping (authors, journal, volume, pages, year, doi) as one line.

    Parameters
    ----------
    cit : mapping or str
        Citation record from the YAML; a string is returned unchanged.

    Returns
    -------
    str
        E.g. ``"Akimoto, J.; Gotoh, Y.; Oosawa, Y. J. Solid State Chem. 141, 298 (1998)"``.
    """
    if isinstance(cit, str):
        return cit
    parts = [str(cit.get("authors", "")).strip()]
    ref = str(cit.get("journal", "")).strip()
    if cit.get("volume") is not None:
        ref += f" {cit['volume']}"
    if cit.get("pages") is not None:
        ref += f", {cit['pages']}"
    if cit.get("year") is not None:
        ref += f" ({cit['year']})"
    parts.append(ref.strip())
    text = " ".join(p for p in parts if p)
    if cit.get("doi"):
        text += f", doi:{cit['doi']}"
    return text


def _pymatgen_structure_dir() -> Path:
    # pymatgen ships its reference structures as package data; ``pymatgen`` is a namespace
    # package (no __file__), so locate them through a real submodule.
    import pymatgen.util as pmg_util

    return Path(list(pmg_util.__path__)[0]) / "structures"


def _read_yaml(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataFormatError(f"cannot read sample structure list {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise DataFormatError(f"{path}: expected a mapping with an 'entries' list")
    return data["entries"]


def _oxidation_map(raw: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in (raw or {}).items()}


def _build_literature(raw: Mapping[str, Any]) -> Any:
    from pymatgen.core import Lattice, Species, Structure

    mid = raw["id"]
    lat = raw.get("lattice") or {}
    missing = [k for k in ("a",) if k not in lat]
    if missing:
        raise DataFormatError(f"{mid}: lattice lacks {missing}")
    a = float(lat["a"])
    # Unstated axes/angles follow the crystal system: b, c default to a; angles to 90.
    b = float(lat.get("b", a))
    c = float(lat.get("c", a))
    alpha = float(lat.get("alpha", 90.0))
    beta = float(lat.get("beta", 90.0))
    gamma = float(lat.get("gamma", 90.0))
    lattice = Lattice.from_parameters(a, b, c, alpha, beta, gamma)

    oxi = _oxidation_map(raw.get("oxidation_states", {}))
    species: list[Any] = []
    coords: list[list[float]] = []
    for site in raw.get("sites") or []:
        el = str(site["el"])
        xyz = [float(v) for v in site["xyz"]]
        if len(xyz) != 3:
            raise DataFormatError(f"{mid}: site {site} needs three fractional coordinates")
        ox = site.get("oxi", oxi.get(el))
        species.append(Species(el, float(ox)) if ox is not None else el)
        coords.append(xyz)
    if not species:
        raise DataFormatError(f"{mid}: no sites")
    try:
        struct = Structure.from_spacegroup(
            str(raw["spacegroup"]), lattice, species, coords, tol=1e-3
        )
    except ValueError as exc:
        raise StructureError(f"{mid}: cannot expand sites: {exc}", reason="read_error") from exc
    return struct


def _build_pymatgen(raw: Mapping[str, Any]) -> Any:
    from pymatgen.core import Structure

    path = _pymatgen_structure_dir() / str(raw["file"])
    if not path.is_file():
        raise DataFormatError(f"{raw['id']}: pymatgen structure file {path} not found")
    struct = Structure.from_file(str(path))
    # Drop per-site extras (forces, coordination numbers) so every sample structure
    # carries the same, minimal information.
    for key in list(struct.site_properties):
        struct.remove_site_property(key)
    oxi = _oxidation_map(raw.get("oxidation_states", {}))
    if oxi:
        struct.add_oxidation_state_by_element(oxi)
    return struct


def _canonicalize(struct: Any) -> Any:
    """Wrap fractional coordinates into [0, 1) and round off expansion noise."""
    from pymatgen.core import Structure

    frac = np.round(np.mod(struct.frac_coords, 1.0), 10)
    frac[np.isclose(frac, 1.0, atol=1e-9)] = 0.0
    return Structure(struct.lattice, struct.species, frac, coords_are_cartesian=False)


def _entry_from_raw(raw: Mapping[str, Any]) -> SampleEntry:
    for key in ("id", "formula", "source", "spacegroup_number", "citation"):
        if key not in raw:
            raise DataFormatError(f"sample entry {raw.get('id', raw)!r} lacks '{key}'")
    source = raw["source"]
    if source == "literature":
        struct = _build_literature(raw)
    elif source == "pymatgen":
        struct = _build_pymatgen(raw)
    else:
        raise DataFormatError(f"{raw['id']}: unknown source {source!r}")
    if raw.get("primitive"):
        struct = struct.get_primitive_structure(tolerance=0.01)
    struct = _canonicalize(struct)
    cit = raw["citation"]
    return SampleEntry(
        material_id=str(raw["id"]),
        structure=struct,
        formula=str(raw["formula"]),
        spacegroup=int(raw["spacegroup_number"]),
        spacegroup_symbol=str(raw.get("spacegroup", raw["spacegroup_number"])),
        citation=format_citation(cit),
        source=str(source),
        symprec=float(raw.get("symprec", 0.01)),
        density=float(raw["density"]) if raw.get("density") is not None else None,
        note=str(raw.get("note", "") or ""),
        confidence=str(raw.get("confidence", "reference" if source == "pymatgen" else "high")),
        doi=(cit.get("doi") if isinstance(cit, Mapping) else None),
    )


@functools.lru_cache(maxsize=4)
def _raw_entries(path: str, mtime_ns: int) -> dict[str, Mapping[str, Any]]:
    """``{id: raw entry}`` of a sample list, in file order (read once per file version)."""
    table: dict[str, Mapping[str, Any]] = {}
    for raw in _read_yaml(Path(path)):
        if not isinstance(raw, Mapping) or "id" not in raw:
            raise DataFormatError(f"sample entry {raw!r} lacks 'id'")
        mid = str(raw["id"])
        if mid in table:
            raise DataFormatError(f"{path}: duplicate sample id {mid}")
        table[mid] = raw
    return table


@functools.lru_cache(maxsize=256)
def _entry_cached(path: str, mtime_ns: int, material_id: str) -> SampleEntry:
    # one entry at a time: expanding a space group costs pymatgen ~0.3 s, the whole sample ~7 s
    return _entry_from_raw(_raw_entries(path, mtime_ns)[material_id])


def _load_cached(path: str, mtime_ns: int) -> tuple[SampleEntry, ...]:
    return tuple(_entry_cached(path, mtime_ns, mid) for mid in _raw_entries(path, mtime_ns))


def _resolved(path: str | os.PathLike[str] | None) -> tuple[str, int]:
    p = Path(path) if path is not None else SAMPLE_YAML
    try:
        return str(p.resolve()), p.stat().st_mtime_ns
    except OSError as exc:
        raise DataFormatError(f"cannot read sample structure list {p}: {exc}") from exc


def load_sample_structures(path: str | os.PathLike[str] | None = None) -> list[SampleEntry]:
    """Build every structure of the embedded sample.

    Parameters
    ----------
    path : path-like, optional
        YAML list to read; defaults to the packaged ``sample_structures.yaml``.

    Returns
    -------
    list of SampleEntry
        In file order. Each call returns fresh copies of the structures, so callers may
        modify them freely.

    Raises
    ------
    DataFormatError
        If the YAML is malformed or a pymatgen structure file is missing.
    StructureError
        If the sites of an entry cannot be expanded in its space group.
    """
    return [_copy_entry(e) for e in _load_cached(*_resolved(path))]


def _copy_entry(e: SampleEntry) -> SampleEntry:
    return replace(e, structure=e.structure.copy())


def sample_ids(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Return the material ids of the sample, in file order."""
    return list(_raw_entries(*_resolved(path)))


def sample_structures_as_dict(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Return ``{material_id: Structure}`` for the whole sample (insertion = file order)."""
    return {e.material_id: e.structure for e in load_sample_structures(path)}


def get_sample_structure(material_id: str, path: str | os.PathLike[str] | None = None) -> Any:
    """Return the structure of one sample entry.

    Raises
    ------
    KeyError
        If ``material_id`` is not part of the sample (the message lists the known ids).
    """
    path_key = _resolved(path)
    known = _raw_entries(*path_key)
    if material_id not in known:
        raise KeyError(f"unknown sample structure {material_id!r}; known: {sorted(known)}")
    return _entry_cached(*path_key, material_id).structure.copy()  # a fresh copy, as load_sample_structures gives


def _density(struct: Any) -> float:
    return float(struct.density)


def check_sample_entry(entry: SampleEntry) -> dict[str, Any]:
    """Run the sanity checks that every sample entry must pass.

    Checks: ordered, contains Li, reduced formula as recorded, BVAnalyzer assigns
    oxidation states with ``O-`` and ``P3-`` forbidden, minimum interatomic distance,
    Li-anion distance, space group recovered at the entry's ``symprec``, dataset size
    limits (atoms, volume), density within 10 % of the recorded literature value.

    Parameters
    ----------
    entry : SampleEntry
        Entry to check.

    Returns
    -------
    dict
        ``{"material_id", "ok", "problems": [...], "natoms", "volume", "min_distance",
        "spacegroup_found", "density", "bv_valences"}``.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    s = entry.structure
    problems: list[str] = []
    if not s.is_ordered:
        problems.append("disordered")
    elements = {el.symbol for el in s.composition.elements}
    if "Li" not in elements:
        problems.append("no Li")
    if "H" in elements:
        problems.append("contains H (excluded from the dataset)")
    if s.composition.reduced_formula != entry.formula:
        problems.append(f"formula {s.composition.reduced_formula} != {entry.formula}")
    if len(s) > MAX_ATOMS:
        problems.append(f"{len(s)} atoms > {MAX_ATOMS}")
    if s.volume >= MAX_VOLUME:
        problems.append(f"volume {s.volume:.1f} >= {MAX_VOLUME}")
    dm = s.distance_matrix.copy()
    np.fill_diagonal(dm, np.inf)
    dmin = float(dm.min()) if len(s) > 1 else float(min(s.lattice.abc))
    if dmin < MIN_DISTANCE:
        problems.append(f"atoms {dmin:.3f} Å apart")
    valences: list[int] | None = None
    try:
        neutral = s.copy()
        neutral.remove_oxidation_states()
        # the datasets' own path: BVAnalyzer with the paper's forbidden species (O-, P3-)
        valences = [int(v) for v in assign_oxidation_states(neutral)]
    except StructureError as exc:
        problems.append(f"oxidation states: {exc}")
    if valences is not None:
        li_idx = [i for i, site in enumerate(s) if site.specie.symbol == "Li"]
        an_idx = [i for i, v in enumerate(valences) if v < 0]
        if li_idx and an_idx:
            dli = float(dm[np.ix_(li_idx, an_idx)].min())
            if dli < 1.7:
                problems.append(f"Li-anion distance {dli:.3f} Å < 1.7 Å")
    try:
        sg_found = SpacegroupAnalyzer(s, symprec=entry.symprec).get_space_group_number()
    except Exception as exc:  # spglib failures surface as several types
        sg_found = None
        problems.append(f"spglib failed: {exc}")
    if sg_found is not None and sg_found != entry.spacegroup:
        problems.append(f"space group {sg_found} != {entry.spacegroup}")
    rho = _density(s)
    if entry.density is not None and abs(rho - entry.density) > 0.10 * entry.density:
        problems.append(f"density {rho:.3f} vs literature {entry.density}")
    vpa = s.volume / len(s)
    if not 5.0 <= vpa <= 60.0:
        problems.append(f"volume per atom {vpa:.1f} Å^3 implausible")
    return {
        "material_id": entry.material_id,
        "ok": not problems,
        "problems": problems,
        "formula": s.composition.reduced_formula,
        "natoms": len(s),
        "volume": round(float(s.volume), 3),
        "min_distance": round(dmin, 4),
        "spacegroup_found": sg_found,
        "density": round(rho, 4),
        "bv_valences": valences,
    }


def sample_table_markdown(entries: Iterable[SampleEntry] | None = None) -> str:
    """Render the sample as the Markdown table shown in ``docs/sample.md``.

    Parameters
    ----------
    entries : iterable of SampleEntry, optional
        Defaults to the packaged sample.

    Returns
    -------
    str
        Header, separator and one row per entry (id, formula, space group, atoms, source,
        confidence, citation), newline-terminated.
    """
    rows = [
        "| id | formula | space group | atoms | source | confidence | citation |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in entries if entries is not None else load_sample_structures():
        symbol = e.structure.get_space_group_info(symprec=e.symprec)[0]
        rows.append(
            f"| `{e.material_id}` | {e.formula} | {symbol} ({e.spacegroup}) | {len(e.structure)} "
            f"| {e.source} | {e.confidence} | {e.citation} |"
        )
    return "\n".join(rows) + "\n"


# --------------------------------------------------------------------------- CLI


def _cmd_sample_structures(args: argparse.Namespace) -> int:
    entries = load_sample_structures(args.yaml)
    if args.ids:
        wanted = set(args.ids)
        unknown = wanted - {e.material_id for e in entries}
        if unknown:
            print(f"error: unknown sample ids: {sorted(unknown)}", file=sys.stderr)
            return 2
        entries = [e for e in entries if e.material_id in wanted]
    records: list[dict[str, Any]] = []
    for e in entries:
        rec: dict[str, Any] = {
            "file": e.material_id,
            "material_id": e.material_id,
            "formula": e.formula,
            "spacegroup": e.spacegroup,
            "source": e.source,
            "citation": e.citation,
        }
        if args.check:
            rec.update({k: v for k, v in check_sample_entry(e).items() if k != "material_id"})
        if args.write:
            out = Path(args.write) / f"{e.material_id}.{args.format}"
            text = e.structure.to(fmt="cif" if args.format == "cif" else "poscar")
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out, text)
            rec["file"] = str(out)
        records.append(rec)
    failed = [r for r in records if args.check and not r.get("ok", True)]
    if args.json:
        print(json.dumps({"records": records}))
    else:
        for r in records:
            status = "" if not args.check else ("  ok" if r["ok"] else "  FAIL: " + "; ".join(r["problems"]))
            print(f"{r['material_id']:32s} {r['formula']:16s} {r['spacegroup']:4d} {r['source']}{status}")
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    """Add the ``sample-structures`` command (list / check / export the sample crystals)."""
    p = subparsers.add_parser(
        "sample-structures",
        help="list, check or export the crystal structures of the embedded sample",
    )
    p.add_argument("ids", nargs="*", help="material ids to select (default: all)")
    p.add_argument("--check", action="store_true",
                   help="run the sanity checks (formula, BVAnalyzer, distances, space group)")
    p.add_argument("--write", metavar="DIR", help="write one structure file per entry to DIR")
    p.add_argument("--format", choices=("cif", "poscar"), default="cif")
    p.add_argument("--yaml", default=None, help=argparse.SUPPRESS)
    add_json_option(p)
    p.set_defaults(func=_cmd_sample_structures)
