"""A coating-material funnel as in the LiTraj paper's practical application.

Stages, each a pass/fail with the value that decided it (Dembitskiy et al. 2025, "practical
application"; interface criteria after Richards et al., Chem. Mater. 28, 266 (2016)):

1. ``lithium``       the candidate contains Li (a Li-ion conducting coating);
2. ``band_gap``      band gap > 4 eV (electronic insulator), read from ``entry.data["band_gap"]``;
3. ``e_hull``        energy above the convex hull < 0.05 eV/atom (pymatgen ``PhaseDiagram``);
4. ``inactive``      no electrochemically active (multivalent) element, :data:`ACTIVE_ELEMENTS`;
5. ``window``        the electrochemical stability window covers 3.0–4.5 V vs Li/Li+: the Li
   chemical-potential range over which the composition's phase equilibrium neither takes up nor
   releases Li (``PhaseDiagram.get_element_profile``, the grand-potential construction);
6. ``interface_se``  the coating | solid electrolyte (LGPS, Li10GeP2S12) interface: the most
   negative mixing reaction energy (pymatgen ``InterfacialReactivity``) above ``-interface_tolerance``;
7. ``interface_cam`` the coating | cathode (LiCoO2) interface, the same way;
8. ``barrier``       Li-ion percolation barriers of the survivors, by a calculator the caller
   passes (uMLIP-NEB through ``litraj screen``'s code, or BVSE-NEB).

Nothing here computes thermodynamics itself: pymatgen's phase-diagram, element-profile and
interfacial-reactivity tools do, on entries the user supplies (offline).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Sequence

from litraj_data.errors import DataFormatError

#: multivalent (redox-active) elements a coating must not contain: transition metals that change
#: valence in cathode/anode chemistry, multivalent p-block elements and multivalent lanthanides
ACTIVE_ELEMENTS: tuple[str, ...] = (
    "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Nb", "Mo", "Ru", "Rh", "Pd", "Ag", "W", "Re", "Os", "Ir", "Pt",
    "Au", "Sn", "Sb", "Bi", "Pb", "Ge", "As", "Se", "Te", "Ce", "Pr", "Sm", "Eu", "Tb", "Yb", "U")

STAGES: tuple[str, ...] = ("lithium", "band_gap", "e_hull", "inactive", "window", "interface_se", "interface_cam",
                           "barrier")


@dataclass(frozen=True)
class CoatingCriteria:
    """Thresholds of the funnel (defaults: the paper's application; interfaces after Richards et al.).

    Attributes
    ----------
    min_band_gap : float
        eV; strictly greater passes.
    max_e_hull : float
        eV/atom; strictly smaller passes.
    window : (float, float)
        Volts vs Li/Li+ that the stability window must cover.
    electrolyte, cathode : str
        Reduced formulas of the solid electrolyte (SE) and the cathode active material (CAM).
    interface_tolerance : float
        eV/atom; an interface passes when its most negative reaction energy is above
        ``-interface_tolerance`` (the same order as the metastability accepted by ``max_e_hull``).
    active_elements : tuple of str
        Elements that exclude a candidate.
    """

    min_band_gap: float = 4.0
    max_e_hull: float = 0.05
    window: tuple[float, float] = (3.0, 4.5)
    electrolyte: str = "Li10GeP2S12"
    cathode: str = "LiCoO2"
    interface_tolerance: float = 0.05
    active_elements: tuple[str, ...] = ACTIVE_ELEMENTS

    def __post_init__(self) -> None:
        lo, hi = self.window
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
            raise DataFormatError(f"stability window {self.window} must be finite with 0 <= low < high (V)",
                                  reason="bad_option")
        for name in ("min_band_gap", "max_e_hull", "interface_tolerance"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise DataFormatError(f"{name} must be a finite number >= 0", reason="bad_option")


def _li() -> Any:
    from pymatgen.core import Element

    return Element("Li")


def stability_window(pd: Any, composition: Any, tol: float = 1e-6) -> tuple[float, float] | None:
    """Voltage range (V vs Li/Li+) over which ``composition`` neither takes up nor releases Li.

    From pymatgen's element profile: for each Li chemical-potential interval between the
    critical potentials, the Li evolution of the composition's phase equilibrium; the window is
    the widest run of intervals with zero evolution, converted with V = -(mu_Li - mu_Li(metal)).

    Parameters
    ----------
    pd : pymatgen.analysis.phase_diagram.PhaseDiagram
        Must contain elemental Li.
    composition : pymatgen Composition or str
    tol : float
        Li atoms per formula unit counted as zero evolution.

    Returns
    -------
    (float, float) or None
        ``(low, high)`` in volts (``high`` may be ``inf`` when the composition is never
        oxidised within the phase diagram); ``None`` when it is stable at no potential.
    """
    from pymatgen.core import Composition

    li = _li()
    mu_metal = pd.el_refs[li].energy_per_atom
    profile = pd.get_element_profile(li, Composition(composition))
    # profile[i] holds the evolution for mu in (profile[i+1].chempot, profile[i].chempot]
    best: tuple[float, float] | None = None
    start: float | None = None
    for i, step in enumerate(profile):
        upper = float(step["chempot"])
        lower = float(profile[i + 1]["chempot"]) if i + 1 < len(profile) else -math.inf
        if abs(float(step["evolution"])) <= tol:
            start = upper if start is None else start
            run = (-(start - mu_metal), -(lower - mu_metal))
            if best is None or run[1] - run[0] > best[1] - best[0]:
                best = run
        else:
            start = None
    if best is None:
        return None
    return (max(0.0, round(best[0], 10)), round(best[1], 10))


def interface_reaction_energy(pd: Any, a: Any, b: Any) -> tuple[float, float]:
    """Most negative mixing reaction energy of ``a`` with ``b`` (eV/atom) and its mixing ratio.

    pymatgen's ``InterfacialReactivity`` on the closed phase diagram, ground-state energies of the
    two reactants (``use_hull_energy=False``: a metastable coating reacts with its own energy).

    Returns
    -------
    (float, float)
        ``(energy, ratio)``; ``energy`` is 0 when no reaction lowers the energy.
    """
    from pymatgen.analysis.interface_reactions import InterfacialReactivity
    from pymatgen.core import Composition

    ir = InterfacialReactivity(Composition(a), Composition(b), pd, norm=True, use_hull_energy=False)
    ratio, energy = ir.minimum
    return float(min(energy, 0.0)) + 0.0, float(ratio)  # + 0.0: no "-0.0" in reports


@dataclass
class CoatingRecord:
    """One candidate's way through the funnel."""

    material_id: str
    formula: str
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed_at: str | None = None
    percolation: dict[str, float | None] | None = None

    @property
    def survived(self) -> bool:
        return self.failed_at is None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"survived": self.survived}


def _mark(rec: CoatingRecord, stage: str, passed: bool, value: Any, why: str = "") -> bool:
    rec.stages[stage] = {"passed": bool(passed), "value": value} | ({"reason": why} if why else {})
    if not passed and rec.failed_at is None:
        rec.failed_at = stage
    return passed


def _check_system(pd: Any, formulas: Iterable[str]) -> None:
    from pymatgen.core import Composition

    have = {el.symbol for el in pd.elements}
    missing = sorted({el.symbol for f in formulas for el in Composition(f).elements} - have)
    if missing:
        raise DataFormatError(f"the entries lack the element(s) {', '.join(missing)} needed for the electrolyte / "
                              "cathode interfaces: add their entries (e.g. the chemical system of the SE and CAM)",
                              reason="incomplete_chemical_system")


def _entry_id(entry: Any, i: int) -> str:
    return str(getattr(entry, "entry_id", None) or f"{entry.composition.reduced_formula}-{i}")


def screen_coatings(entries: Sequence[Any], criteria: CoatingCriteria = CoatingCriteria(),
                    candidates: Iterable[str] | None = None,
                    barriers: Callable[[Any, str], dict[str, float | None]] | None = None,
                    progress: Callable[[str], None] | None = None) -> list[CoatingRecord]:
    """Run the funnel over the Li-containing entries (or ``candidates``, by entry id).

    Parameters
    ----------
    entries : sequence of pymatgen entries
        The whole chemical space: candidates, the SE and CAM systems and the elements.
    criteria : CoatingCriteria
    candidates : iterable of str, optional
        Entry ids to screen (default: every compound containing Li except the SE and CAM; a named
        candidate without Li fails the ``lithium`` stage).
    barriers : callable, optional
        ``barriers(structure, material_id) -> {"E_1D": .., "E_2D": .., "E_3D": ..}`` for the
        survivors (entries with a structure); without it the barrier stage is not run.
    progress : callable, optional
        Called with one line per candidate (the CLI writes it to stderr).

    Returns
    -------
    list of CoatingRecord
        In entry order; ``failed_at`` names the first stage that excluded the candidate.
    """
    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.core import Composition

    try:
        pd = PhaseDiagram(list(entries))
    except ValueError as exc:  # pymatgen: missing terminal (elemental) entries, and the like
        raise DataFormatError(f"cannot build a phase diagram from these entries: {exc}",
                              reason="bad_phase_diagram") from None
    _check_system(pd, [criteria.electrolyte, criteria.cathode])
    excluded = {Composition(criteria.electrolyte).reduced_formula, Composition(criteria.cathode).reduced_formula}
    wanted = set(candidates) if candidates is not None else None
    active = set(criteria.active_elements)
    lo, hi = criteria.window
    records = []
    for i, entry in enumerate(entries):
        mid, comp = _entry_id(entry, i), entry.composition
        if wanted is not None and mid not in wanted:
            continue
        if wanted is None and (comp.reduced_formula in excluded or len(comp.elements) == 1
                               or "Li" not in {el.symbol for el in comp.elements}):
            continue
        rec = CoatingRecord(mid, comp.reduced_formula)
        records.append(rec)
        if progress is not None:
            progress(f"{mid} ({rec.formula})")
        if not _mark(rec, "lithium", "Li" in {el.symbol for el in comp.elements}, comp.reduced_formula):
            continue
        gap = (getattr(entry, "data", None) or {}).get("band_gap")
        gap = float(gap) if isinstance(gap, (int, float)) and math.isfinite(gap) else None
        if not _mark(rec, "band_gap", gap is not None and gap > criteria.min_band_gap, gap,
                     "" if gap is not None else "no band_gap in entry.data"):
            continue
        e_hull = float(pd.get_e_above_hull(entry, allow_negative=True))
        if not _mark(rec, "e_hull", e_hull < criteria.max_e_hull, round(e_hull, 6)):
            continue
        bad = sorted({el.symbol for el in comp.elements} & active)
        if not _mark(rec, "inactive", not bad, bad):
            continue
        window = stability_window(pd, comp)
        covers = window is not None and window[0] <= lo and window[1] >= hi
        if not _mark(rec, "window", covers, None if window is None else list(window)):
            continue
        for stage, partner in (("interface_se", criteria.electrolyte), ("interface_cam", criteria.cathode)):
            energy, ratio = interface_reaction_energy(pd, comp, partner)
            if not _mark(rec, stage, energy > -criteria.interface_tolerance,
                         {"reaction_energy": round(energy, 6), "ratio": round(ratio, 6), "partner": partner}):
                break
        if rec.failed_at is not None or barriers is None:
            continue
        structure = getattr(entry, "structure", None)
        if structure is None:
            _mark(rec, "barrier", False, None, "no structure in the entry (use ComputedStructureEntry)")
            continue
        rec.percolation = barriers(structure, mid)
        e1 = rec.percolation.get("E_1D")
        _mark(rec, "barrier", e1 is not None and math.isfinite(e1), e1,
              "" if e1 is not None else "no percolating Li path")
    return records


def funnel_counts(records: Sequence[CoatingRecord]) -> dict[str, int]:
    """How many candidates are still in after each stage (``entered`` first)."""
    counts = {"entered": len(records)}
    alive = len(records)
    for stage in STAGES:
        alive -= sum(1 for r in records if r.failed_at == stage)
        if any(stage in r.stages for r in records):
            counts[stage] = alive
    return counts
