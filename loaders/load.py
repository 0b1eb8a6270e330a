"""``load_litraj``: a LiTraj dataset as a memory-mapped Hugging Face ``datasets.Dataset``."""
from __future__ import annotations

from pathlib import Path

import datasets
import pyarrow as pa

from litraj_data.store.manifest import Manifest
from litraj_data.errors import DataFormatError, IntegrityError
from litraj_data.registry import get_config

from litraj_data.loaders.cache import cache_root
from litraj_data.loaders.sources import resolve
from litraj_data.loaders.verify import check_sizes, repair_hint


def _open_shard(path: Path, manifest: Manifest, info: datasets.DatasetInfo, split: str) -> datasets.Dataset:
    try:
        return datasets.Dataset.from_file(str(path), info=info.copy(), split=split, in_memory=False)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise IntegrityError(f"{path} cannot be read as an Arrow shard ({exc}); {repair_hint(manifest)}",
                             reason="corrupted") from exc


def open_version(manifest: Manifest, split: str) -> datasets.Dataset:
    """One split of a built Arrow version, memory-mapped (no copy, no conversion)."""
    check_sizes(manifest, split)
    config = get_config(manifest.dataset)
    info = datasets.DatasetInfo(description=config.description, citation=config.bibtex, homepage=config.homepage,
                                license=config.license)
    files = manifest.files(split)
    parts = [_open_shard(manifest.root / f["name"], manifest, info, split) for f in files]
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
    if split is not None:
        if split not in manifest.splits:
            raise DataFormatError(f"{config.name} {manifest.version} has no split {split!r}; "
                                  f"splits: {', '.join(manifest.splits)}", reason="unknown_split")
        return open_version(manifest, split)
    return datasets.DatasetDict({s: open_version(manifest, s) for s in manifest.splits})


def manifest_of(name: str, version: str | None = None, source: str | Path | None = None,
                cache_dir: str | Path | None = None) -> Manifest:
    """The manifest of the version ``load_litraj`` would open (same arguments)."""
    return resolve(get_config(name), source, version, cache_root(cache_dir))
