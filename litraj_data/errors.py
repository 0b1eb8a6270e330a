"""Exceptions shared by every part of litraj-data.

Each error carries a short machine-readable ``reason`` (used in failures tables and
``--json`` output) and a message a person can act on.
"""
from __future__ import annotations


class LitrajError(Exception):
    """Base class of all litraj-data errors."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class UnknownDatasetError(LitrajError, KeyError):
    """A dataset or task name that the registry does not know."""

    reason = "unknown_dataset"

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class DataFormatError(LitrajError, ValueError):
    """Input in the wrong layout: missing files or columns, bad counts, truncated archives."""

    reason = "bad_format"


class IntegrityError(LitrajError):
    """A shard whose checksum or size does not match its manifest."""

    reason = "integrity"


class OfflineError(LitrajError, ConnectionError):
    """Data that must be downloaded while the network (or the Hub) is unavailable."""

    reason = "offline"


class StructureError(LitrajError, ValueError):
    """A structure that a calculator cannot handle (per-structure, never fatal for a build).

    ``reason`` is one of a small vocabulary, e.g. ``no_mobile_ion``, ``disordered``,
    ``oxidation_states``, ``missing_parameters``, ``overlapping_atoms``, ``read_error``.
    """

    reason = "structure"


class SchedulerError(LitrajError, ConnectionError):
    """A Dask scheduler that cannot be used: ``dask_not_installed`` or ``scheduler_unreachable``."""

    reason = "scheduler_unreachable"


class RegistryError(LitrajError, ValueError):
    """A declarative registry file (dataset card, task list, model card) that breaks its schema.

    The message names the file and the key, e.g. ``BVEL13k.yaml: columns[2].unit_x: unknown key``.
    """

    reason = "bad_registry"


class LockedError(LitrajError):
    """Another process holds the lock of a version or cache entry (the message names it)."""

    reason = "locked"


class DiskFullError(LitrajError, OSError):
    """No space left while writing; what was staged has been removed, nothing else changed."""

    reason = "disk_full"


class UnsafeNameError(DataFormatError):
    """A file or version name from a manifest, card or archive that would leave its folder."""

    reason = "unsafe_name"


class MissingExtraError(LitrajError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it.

    Raised by :func:`litraj_data.lazy.lazy_import`, the one way the package imports a heavy or
    optional dependency at the point of use.
    """

    reason = "missing_extra"

    def __init__(self, message: str, *, module: str | None = None, extra: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.module = module
        self.name = module  # ImportError's attribute: the module that could not be imported
        self.extra = extra
