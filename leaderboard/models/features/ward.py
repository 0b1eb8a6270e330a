"""The paper's "-w" feature set: Ward et al., PRB 96, 024104 (2017), with matminer's own featurizers.

matminer ships the pieces of that set as presets; this module only assembles them, in the
combination of matminer's Ward 2017 example (composition: Magpie element statistics,
stoichiometry, valence-orbital fractions, ionic character; structure: Voronoi coordination
numbers and local property differences with the ``ward-prb-2017`` presets, structural
heterogeneity, chemical ordering, maximum packing efficiency). Nothing is re-implemented:
column names and values are matminer's. matminer is the optional extra ``features``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from litraj_data.errors import MissingExtraError
from litraj_data.lazy import lazy_import

__all__ = ["MissingExtraError", "ward_featurizer", "ward_features"]


@lru_cache(maxsize=1)
def ward_featurizer() -> Any:
    """matminer ``MultipleFeaturizer`` of the Ward et al. (2017) composition + structure set.

    Raises
    ------
    MissingExtraError
        When matminer is not installed (``pip install 'litraj-data[features]'``).
    """
    # matminer (and the pandas it pulls in) is heavy and optional: imported on first use
    cf = lazy_import("matminer.featurizers.composition", extra="features")
    sf = lazy_import("matminer.featurizers.structure", extra="features")
    MultipleFeaturizer = lazy_import("matminer.featurizers.base", extra="features").MultipleFeaturizer
    return MultipleFeaturizer([
        sf.SiteStatsFingerprint.from_preset("CoordinationNumber_ward-prb-2017"),
        sf.StructuralHeterogeneity(),
        sf.ChemicalOrdering(),
        sf.MaximumPackingEfficiency(),
        sf.SiteStatsFingerprint.from_preset("LocalPropertyDifference_ward-prb-2017"),
        sf.StructureComposition(cf.Stoichiometry()),
        sf.StructureComposition(cf.ElementProperty.from_preset("magpie")),
        sf.StructureComposition(cf.ValenceOrbital(props=["frac"])),
        sf.StructureComposition(cf.IonProperty(fast=True)),
    ])


def ward_features(structure: Any) -> dict[str, float]:
    """Ward et al. (2017) features of a pymatgen ``Structure`` (column name -> value).

    Raises
    ------
    MissingExtraError
        Without matminer.
    """
    feat = ward_featurizer()
    values = feat.featurize(structure)
    return {name: float(v) if v is not None else float("nan") for name, v in zip(feat.feature_labels(), values)}
