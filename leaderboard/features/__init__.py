"""Structure and hop descriptors: the paper's Voronoi set (SI S1) and Ward et al. (2017) via matminer."""
