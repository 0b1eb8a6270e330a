"""Regenerate ``softbv_params.json`` from the table bundled in the installed bvlain 0.25.1.

Provenance: the softBV parameter set of Chen, Wong & Adams, Acta Cryst. B 75, 18-33 (2019)
("SoftBV - a software tool for screening the materials genome of inorganic fast ion
conductors"), as redistributed (MIT licence) in bvlain's ``data/{cation,anion,quantum_n}.pkl``
and ``data/covalent_radii.py``. The ASE covalent radii (Cordero et al., Dalton Trans. 2008,
2832) are stored too because bvlain uses them by default for the Coulomb screening length,
and the BVEL13k release was computed with that default.

Run: ``python leaderboard/reference/physics/data/make_params.py`` (writes next to this script).
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path

from litraj_data.io import atomic_write_text

OUT = Path(__file__).with_name("softbv_params.json")


def _pair_rows(table: dict) -> list[list]:
    rows = []
    for z_mob, by_q in sorted(table.items()):
        for q_mob, others in sorted(by_q.items()):
            for z_oth, by_q2 in sorted(others.items()):
                for q_oth, p in sorted(by_q2.items()):
                    rows.append([int(z_mob), int(q_mob), int(z_oth), int(q_oth),
                                 float(p["r_min"]), float(p["alpha"]), float(p["d0"]), float(p["r0"])])
    return rows


def build() -> dict:
    """Read bvlain's bundled tables and return the JSON document."""
    import bvlain
    from ase.data import covalent_radii
    from bvlain.data.covalent_radii import covalent_radii_softbv

    root = Path(bvlain.__file__).parent / "data"
    with open(root / "cation.pkl", "rb") as f:
        cation = pickle.load(f)
    with open(root / "anion.pkl", "rb") as f:
        anion = pickle.load(f)
    with open(root / "quantum_n.pkl", "rb") as f:
        quantum = pickle.load(f)
    return {
        "provenance": {
            "reference": ("H. Chen, L. L. Wong, S. Adams, Acta Cryst. B 75, 18-33 (2019), "
                          "doi:10.1107/S2052520618015718"),
            "copied_from": f"bvlain {bvlain.__version__} (MIT licence), data/cation.pkl, anion.pkl, quantum_n.pkl, "
                           "covalent_radii.py",
            "ase_covalent_radii": ("B. Cordero et al., Dalton Trans. 2008, 2832 "
                                   "(as tabulated in ase.data.covalent_radii)"),
            "generator": "leaderboard/reference/physics/data/make_params.py",
        },
        "pair_columns": ["z_mobile", "q_mobile", "z_other", "q_other", "r_min", "alpha", "d0", "r0"],
        "cation_mobile_pairs": _pair_rows(cation),
        "anion_mobile_pairs": _pair_rows(anion),
        "principal_quantum_number": {str(int(z)): int(n) for z, n in sorted(quantum.items())},
        "covalent_radii_softbv": {str(z): {str(q): float(r) for q, r in sorted(d.items())}
                                  for z, d in sorted(covalent_radii_softbv.items())},
        "covalent_radii_ase": [float(r) for r in covalent_radii],
    }


def main() -> None:
    # the project's one atomic write (world-readable, as package data must be)
    atomic_write_text(OUT, json.dumps(build(), indent=0, sort_keys=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
