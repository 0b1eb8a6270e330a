"""The store: built dataset versions on disk.

A version is a folder of bounded Arrow IPC shards, a dataset card and ``manifest.json``
(sha256, rows and bytes per file, schema fingerprint, provenance). Builders write versions
through :func:`write_dataset`; loaders read them through :func:`read_manifest` and
:func:`read_shard`. Both use the one atoms codec (:mod:`.atoms_codec`) and the one extxyz
reader/writer (:mod:`.extxyz`). Nothing here imports a builder, a loader or the leaderboard.
"""
from litraj_data.store.layout import sample_root, version_dir
from litraj_data.store.manifest import MANIFEST_NAME, Manifest, read_manifest, write_manifest
from litraj_data.store.shards import convert_version, read_shard, write_dataset

__all__ = ["MANIFEST_NAME", "Manifest", "convert_version", "read_manifest", "read_shard", "sample_root",
           "version_dir", "write_dataset", "write_manifest"]
