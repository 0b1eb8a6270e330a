"""The store: built dataset versions on disk.

A version is a folder of bounded Arrow IPC shards, a dataset card and ``manifest.json``
(sha256, rows and bytes per file, schema fingerprint, provenance). Builders write versions
through :func:`write_dataset`; loaders read them through :func:`read_manifest` (which checks
every name in it through :mod:`.names`, the one boundary for untrusted names),
:func:`read_snapshot` (one build, even while another process overwrites the version) and
:func:`read_shard`. Files are written by the one atomic Arrow writer
(:class:`AtomicArrowWriter`) and folders appear through the one folder-publish primitive
(:func:`publish_folder`). Both sides use the one atoms codec (:mod:`.atoms_codec`) and the
one extxyz reader/writer (:mod:`.extxyz`). Nothing here imports a builder, a loader or the
leaderboard.
"""
from litraj_data.store.arrow_io import AtomicArrowWriter, write_table_atomic
from litraj_data.store.layout import new_staging, publish_folder, sample_root, version_dir
from litraj_data.store.manifest import MANIFEST_NAME, Manifest, read_manifest, read_snapshot, write_manifest
from litraj_data.store.shards import convert_version, read_shard, write_dataset

__all__ = ["MANIFEST_NAME", "AtomicArrowWriter", "Manifest", "convert_version", "new_staging", "publish_folder",
           "read_manifest", "read_shard", "read_snapshot", "sample_root", "version_dir", "write_dataset",
           "write_manifest", "write_table_atomic"]
