"""Map the repository's top-level folders onto the single ``litraj_data`` namespace.

``builders/``, ``loaders/`` and ``leaderboard/`` are top-level folders (data flows
through them in that order) but install as ``litraj_data.builders`` etc., so the
distribution never installs a generic top-level module such as ``builders``.
Everything else lives in ``pyproject.toml``.
"""
from setuptools import find_packages, setup

NAMESPACED_FOLDERS = {
    "litraj_data.builders": "builders",
    "litraj_data.loaders": "loaders",
    "litraj_data.leaderboard": "leaderboard",
}

packages = find_packages(include=["litraj_data", "litraj_data.*"])
for namespace, folder in NAMESPACED_FOLDERS.items():
    packages.append(namespace)
    packages += [f"{namespace}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir={"litraj_data": "litraj_data", **NAMESPACED_FOLDERS})
