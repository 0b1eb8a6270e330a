"""Structure and hop descriptors: the paper's Voronoi set (SI S1) and Ward et al. (2017) via matminer.

``featurize(structure, set="voronoi"|"ward", kind="structure"|"hop")`` for one input,
``featurize_table(rows, ...)`` over dataset rows (cached per structure). See ``docs/features.md``.
"""
from litraj_data.leaderboard.models.features.api import FEATURE_SETS, KINDS, featurize, featurize_table

__all__ = ["FEATURE_SETS", "KINDS", "featurize", "featurize_table"]
