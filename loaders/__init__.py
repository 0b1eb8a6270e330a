"""Loading built LiTraj versions: sources, cache, verification, conversions."""
from .load import load_litraj, manifest_of

__all__ = ["load_litraj", "manifest_of"]
