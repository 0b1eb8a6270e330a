"""Reference calculators: bond-valence physics, BVSE landscapes and percolation, Li hop graphs,
the NEB harness and the uMLIP runners. Imports nothing from ``models``, ``scoring`` or ``page``."""
