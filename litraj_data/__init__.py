"""litraj-data: the LiTraj Li-ion migration datasets, versioned, verified and fast.

>>> from litraj_data import load_litraj, list_datasets
>>> ds = load_litraj("BVEL13k", split="test", source="sample")
"""
from litraj_data._version import __version__
from litraj_data.registry import citation_bibtex, info, list_datasets


def load_litraj(*args, **kwargs):  # noqa: D103 - documented on the real function
    from litraj_data.loaders.load import load_litraj as _load

    return _load(*args, **kwargs)


load_litraj.__doc__ = "See :func:`litraj_data.loaders.load.load_litraj`."

__all__ = ["__version__", "citation_bibtex", "info", "list_datasets", "load_litraj"]
