"""Loading built LiTraj versions: sources, cache, verification, conversions."""
from litraj_data.loaders.load import load_litraj, manifest_of

__all__ = ["load_litraj", "manifest_of"]
