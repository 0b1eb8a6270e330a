"""``load_litraj``: a LiTraj dataset as a memory-mapped Hugging Face ``datasets.Dataset``."""
from __future__ import annotations

from pathlib import Path

import datasets
import pyarrow as pa

from litraj_data.errors import DataFormatError, IntegrityError
from litraj_data.loaders.cache import cache_root
from litraj_data.loaders.sources import resolve
from litraj_data.loaders.verify import check_sizes, ensure_verified, repair_hint
from litraj_data.registry import get_config
from litraj_data.store.manifest import Manifest, read_snapshot


def _open_shard(path: Path, manifest: Manifest, info: datasets.DatasetInfo, split: str) -> datasets.Dataset:
    """Memory-map one shard (its path comes from :meth:`Manifest.path`: it stays in the version folder)."""
    try:
        return datasets.Dataset.from_file(str(path), info=info.copy(), split=split, in_memory=False)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise IntegrityError(f"{path} cannot be read as an Arrow shard ({exc}); {repair_hint(manifest)}",
                             reason="corrupted") from exc


def open_version(manifest: Manifest, split: str) -> datasets.Dataset:
    """One split of a built Arrow version, memory-mapped (no copy, no conversion).

    Opens the files of this manifest only; callers that may race a concurrent
    ``--overwrite`` open inside :func:`~litraj_data.store.manifest.read_snapshot` (as
    :func:`load_litraj` does), which proves every shard came from the manifest's build.
    """
    check_sizes(manifest, split)
    config = get_config(manifest.dataset)
    info = datasets.DatasetInfo(description=config.description, citation=config.bibtex, homepage=config.homepage,
                                license=config.license)
    files = manifest.files(split)
    parts = [_open_shard(manifest.path(f["name"]), manifest, info, split) for f in files]
    ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts, info=info, split=split)
    if ds.num_rows != manifest.num_rows(split):
        raise IntegrityError(f"{manifest.root}: split {split} has {ds.num_rows} rows, manifest says "
                             f"{manifest.num_rows(split)}; {repair_hint(manifest)}", reason="row_count")
    return ds


def load_litraj(name: str, split: str | None = None, version: str | None = None,
                source: str | Path | None = None, cache_dir: str | Path | None = None,
                ) -> datasets.Dataset | datasets.DatasetDict:
    """Load a LiTraj dataset.

    Parameters
    ----------
    name : str
        ``BVEL13k``, ``nebBVSE122k``, ``nebDFT2k``, ``MPLiTrj`` or ``MPLiTrj_subsample``
        (case-insensitive; a typo gets the closest name suggested).
    split : str, optional
        ``train``, ``val`` or ``test``; all splits as a ``DatasetDict`` when None.
    version : str, optional
        Dataset version (semver); the card's version, or the newest found, when None.
    source : str or path, optional
        Where the shards come from: None (cache, else the official release), ``"sample"``
        (the embedded sample), a built folder, a release zip or folder, a ``file://`` or
        ``https://`` mirror of a built version, or ``hf://OWNER/REPO[@REV][/PATH]``.
    cache_dir : str or path, optional
        Cache folder (default ``$LITRAJ_CACHE`` or ``~/.cache/litraj``).

    Returns
    -------
    datasets.Dataset or datasets.DatasetDict
        Memory-mapped Arrow data; columns as in ``litraj info NAME``. Convert rows with
        :func:`litraj_data.loaders.convert.to_ase` / ``to_pymatgen`` / ``to_pyg``.

    Raises
    ------
    UnknownDatasetError, OfflineError, IntegrityError, DataFormatError
        Unknown name; offline with nothing cached; corrupted or truncated shards (the
        message names the file and the repair); sources in the wrong layout.

    Examples
    --------
    >>> ds = load_litraj("BVEL13k", split="test", source="sample")
    >>> ds.column_names[:5]
    ['material_id', 'chemsys', 'E_1D', 'E_2D', 'E_3D']
    """
    config = get_config(name)
    cache = cache_root(cache_dir)
    manifest = resolve(config, source, version, cache)
    if split is not None and split not in manifest.splits:
        raise DataFormatError(f"{config.name} {manifest.version} has no split {split!r}; "
                              f"splits: {', '.join(manifest.splits)}", reason="unknown_split")
    return open_snapshot(manifest, split, cache)


def open_snapshot(manifest: Manifest, split: str | None, cache: Path,
                  ) -> datasets.Dataset | datasets.DatasetDict:
    """Open one split (or every split, as a DatasetDict) from one snapshot of a version.

    The manifest is read once; every shard comes from it; the folder's identity is checked
    after the shards are memory-mapped (:func:`read_snapshot`). When a concurrent
    ``--overwrite`` swapped the version meanwhile, the snapshot is taken again from the new
    manifest (hashed once, like any folder first seen), so a split -- or a DatasetDict -- is
    never assembled from two builds.
    """
    def use(man: Manifest) -> datasets.Dataset | datasets.DatasetDict:
        if man is not manifest:  # a new build took the folder's place: check it like any new folder
            if man.dataset != manifest.dataset:
                raise DataFormatError(f"{man.root} now holds {man.dataset}, not {manifest.dataset}",
                                      reason="wrong_dataset")
            ensure_verified(man, cache)
        if split is not None:
            return open_version(man, split)
        return datasets.DatasetDict({s: open_version(man, s) for s in man.splits})

    return read_snapshot(manifest.root, use, first=manifest, trusted_roots=manifest.trusted_roots)


def manifest_of(name: str, version: str | None = None, source: str | Path | None = None,
                cache_dir: str | Path | None = None) -> Manifest:
    """The manifest of the version ``load_litraj`` would open (same arguments)."""
    return resolve(get_config(name), source, version, cache_root(cache_dir))
