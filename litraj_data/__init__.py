"""litraj-data: the LiTraj Li-ion migration datasets, versioned, verified and fast."""
__version__ = "0.1.0"
