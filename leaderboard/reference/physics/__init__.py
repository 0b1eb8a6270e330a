"""Reference physics shared by every calculator of the leaderboard (the bottom layer).

* :mod:`.softbv` -- the softBV parameter table (package data) and the one per-atom
  pair-parameter type, :class:`~.softbv.PairParameters`;
* :mod:`.oxidation` -- oxidation states: as given on the input, else BVAnalyzer with the
  paper's forbidden species;
* :mod:`.periodic` -- lattice geometry (plane spacings, periodic images) and the one periodic
  union-find with exact integer rank behind every 1D/2D/3D percolation answer.

Both ``leaderboard.reference.bvse`` (BVEL13k) and ``leaderboard.reference.hops`` (nebBVSE122k) build on these
modules, and these modules import nothing of the project but :mod:`litraj_data.errors` and
:mod:`litraj_data.io`, so the two calculators cannot drift apart on the physics again.
"""
