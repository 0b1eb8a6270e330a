"""Resolve ``load_litraj(source=...)`` to a local, verified folder of Arrow shards.

Accepted sources:

``None``
    the cache, else the official release zip (downloaded, imported, cached).
``"sample"``
    the embedded sample shipped inside the package (offline, tiny).
a local path
    a built version (folder with manifest.json), a build root (``OUT`` of ``litraj build``,
    holding ``NAME/VERSION/``), an official release zip or its unpacked folder.
``file://...`` / ``https://...``
    a mirror of a built version (the URL of the folder holding manifest.json), or the URL
    of a release zip.
``hf://OWNER/REPO[@REVISION][/PATH]``
    a Hugging Face Hub dataset repository holding built versions (``NAME/VERSION/``).

Every route reads the manifest through :func:`~litraj_data.store.manifest.read_manifest`,
which checks every name in it (the store's one boundary for untrusted names), checks that it
holds the dataset and version asked for, and hashes the files once
(:func:`~litraj_data.loaders.verify.ensure_verified`) inside one snapshot of the folder.
Cache entries made from a user's source are keyed on its content.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from litraj_data.download import fetch, is_offline, is_remote, url_to_path
from litraj_data.errors import DataFormatError, IntegrityError, OfflineError
from litraj_data.io import sha256_file
from litraj_data.loaders.cache import cache_entry, content_key, publish, require_writable, source_key
from litraj_data.loaders.verify import ensure_verified, mark_verified
from litraj_data.registry import DatasetConfig
from litraj_data.store.layout import sample_root
from litraj_data.store.locks import exclusive
from litraj_data.store.manifest import MANIFEST_NAME, Manifest, parse_manifest, read_manifest, read_snapshot
from litraj_data.store.names import inside, is_safe_version, safe_version


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


SAMPLE_DATASETS_HINT = ("the embedded sample holds BVEL13k, nebBVSE122k and GENERATED (CHGNet, not DFT) nebDFT2k, "
                        "MPLiTrj and MPLiTrj_subsample")


def _local_copy_hint(config: DatasetConfig) -> str:
    """What to do without the network, in Python words and CLI words, and whether a sample exists."""
    archive = config.release.get("archive", f"{config.name}.zip")
    hint = (f"Pass a local copy: load_litraj({config.name!r}, source={archive!r}) in Python, --source {archive} "
            "on the command line (a release zip or folder, or a built version).")
    if _pick_version(sample_root(), config, None) is not None:
        return hint + f" For a quick offline try: load_litraj({config.name!r}, source='sample')."
    return hint + f" There is no embedded sample of {config.name} ({SAMPLE_DATASETS_HINT})."


def _verified(folder: Path, config: DatasetConfig, version: str | None, cache: Path,
              trusted_roots: tuple[Path, ...] = ()) -> Manifest:
    """The manifest of ``folder``, checked to be ``config``'s (and ``version``'s), its files hashed once.

    One snapshot (:func:`read_snapshot`): a version swapped while its files were hashed is
    read again, not reported as corrupted.
    """
    def check(man: Manifest) -> Manifest:
        _check_dataset(man, config, version)
        ensure_verified(man, cache)
        return man

    return read_snapshot(folder, check, trusted_roots=trusted_roots)


def _sample_in_cache(manifest: Manifest, cache: Path) -> Manifest:
    """The embedded sample, copied (once, verified) into the cache.

    ``datasets`` writes the cache files of ``map``/``filter`` next to the shards it opened;
    the package folder may be read-only and must stay pristine, the cache may not.
    """
    digest = hashlib.sha256("|".join(f["sha256"] for f in manifest.files()).encode()).hexdigest()[:12]
    entry = f"{manifest.version}+sample-{digest}"
    with cache_entry(cache, manifest.dataset, entry) as staging:
        if staging is not None:
            ensure_verified(manifest, cache)
            for rec in manifest.files() + manifest.extra_files():  # exactly the listed files, nothing else
                shutil.copyfile(manifest.path(rec["name"]), staging / rec["name"])
            if (manifest.root / "README.md").is_file():
                shutil.copyfile(manifest.path("README.md"), staging / "README.md")
            shutil.copyfile(manifest.path(MANIFEST_NAME), staging / MANIFEST_NAME)
            publish(staging, cache / manifest.dataset / entry)
    man = read_manifest(cache / manifest.dataset / entry)
    ensure_verified(man, cache)
    return man


def _first_line(exc: BaseException) -> str:
    """The cause of a download error, without the download's own advice (the caller gives it)."""
    if exc.__cause__ is not None:  # the network's own words (e.g. "Name or service not known")
        return str(getattr(exc.__cause__, "reason", exc.__cause__))
    return str(exc).split(". Check the network")[0].split(". Unset the variable")[0].rstrip(".")


def _pick_version(root: Path, config: DatasetConfig, version: str | None) -> Path | None:
    """``root/NAME/VERSION`` (the newest finished version when ``version`` is None).

    Folder names are untrusted: only semantic versions are considered, and an asked
    ``version`` must be one (``1.0.0\n`` or ``../x`` is refused, not looked up).
    """
    base = root / config.name
    if version:
        version = safe_version(version)
        return base / version if (base / version / "manifest.json").is_file() else None
    found = [p for p in base.glob("*") if is_safe_version(p.name) and (p / "manifest.json").is_file()]
    if not found:
        return None

    def key(p: Path) -> tuple:
        parts = p.name.split("+")[0].split("-")[0].split(".")
        return tuple(int(x) for x in parts), p.name

    return max(found, key=key)


def _check_dataset(manifest: Manifest, config: DatasetConfig, version: str | None) -> None:
    if manifest.dataset != config.name:
        raise DataFormatError(f"{manifest.root} holds {manifest.dataset}, not {config.name}", reason="wrong_dataset")
    if version and manifest.version != version:
        raise DataFormatError(f"{manifest.root} holds {config.name} {manifest.version}, not version {version}",
                              reason="wrong_version")


def _as_arrow(manifest: Manifest, cache: Path) -> Manifest:
    """Parquet versions (transport) are converted once into Arrow shards in the cache.

    The entry is keyed on the manifest's content (which lists the sha256 of every shard), so
    another Parquet version at the same path is converted again. The conversion reads the
    files of this manifest snapshot only, through :meth:`Manifest.path`.
    """
    if manifest.format == "arrow":
        return manifest
    from litraj_data.store.shards import convert_manifest

    digest = _sha256(json.dumps(manifest.data, sort_keys=True).encode())[:16]
    entry = f"{safe_version(manifest.version)}+pq-{digest}"
    with cache_entry(cache, manifest.dataset, entry) as staging:
        if staging is not None:
            convert_manifest(manifest, staging, "arrow")  # takes the empty staging folder's place
            publish(staging, cache / manifest.dataset / entry)
    return read_manifest(cache / manifest.dataset / entry)


def _mirror_manifest(raw: bytes, config: DatasetConfig, url: str) -> Manifest:
    """A downloaded manifest, checked whole (structure and every name) before anything is fetched."""
    man = parse_manifest(raw, Path(f"{url}/{MANIFEST_NAME}"))
    if man.dataset != config.name:
        raise DataFormatError(f"{url}/manifest.json is not a manifest of {config.name}", reason="wrong_dataset")
    return man


def _from_mirror(url: str, config: DatasetConfig, version: str | None, cache: Path) -> Manifest:
    """Download a built version from a URL of its folder, checking every name and sha256.

    The cache entry is keyed on the sha256 of the mirror's manifest: when the mirror
    publishes another build, it is downloaded again. Offline, the last manifest fetched from
    this URL names the entry.
    """
    base = url.rstrip("/")
    local = url_to_path(base)
    if local is not None and local.is_dir():
        found = (local if (local / "manifest.json").is_file() else _pick_version(local, config, version))
        if found is None:
            raise DataFormatError(f"{url} holds no manifest.json of {config.name}", reason="missing_manifest")
        base = found.as_uri()
    key = source_key(base)
    downloads = cache / "downloads" / key
    last = downloads / "manifest.json"
    if is_offline() and last.is_file():  # offline: what this mirror gave before is good enough
        raw = last.read_bytes()
        man = _mirror_manifest(raw, config, base)
        entry = cache / config.name / f"{man.version}+{_sha256(raw)[:16]}"
        if (entry / MANIFEST_NAME).is_file():
            return _verified(entry, config, version, cache)
    require_writable(cache)
    with exclusive(cache / ".locks" / f"mirror-{key}.lock", f"download of {base}"):
        man_path = fetch(base + "/manifest.json", last, what=f"{config.name} manifest")
        raw = man_path.read_bytes()
        man = _mirror_manifest(raw, config, base)
        _check_dataset(man, config, version)
        entry = f"{man.version}+{_sha256(raw)[:16]}"
        with cache_entry(cache, config.name, entry) as staging:
            if staging is not None:
                for rec in man.files() + man.extra_files():  # into downloads/ first (we hold the lock): resumable
                    part = inside(downloads, rec["name"])
                    if not (part.is_file() and sha256_file(part) == rec["sha256"]):
                        fetch(f"{base}/{rec['name']}", part, sha256=rec["sha256"], what=rec["name"])
                    os.replace(part, inside(staging, rec["name"]))
                try:
                    fetch(base + "/README.md", staging / "README.md", what="dataset card")
                except (OfflineError, FileNotFoundError, IntegrityError):
                    pass
                (staging / MANIFEST_NAME).write_bytes(raw)
                publish(staging, cache / config.name / entry)
                mark_verified(read_manifest(cache / config.name / entry), cache)
    return read_manifest(cache / config.name / entry)


def _from_hub(spec: str, config: DatasetConfig, version: str | None, cache: Path) -> Manifest:
    """Download (or reuse from the HF cache) ``hf://owner/repo[@rev][/path]``."""
    rest = spec[len("hf://"):]
    parts = rest.split("/")
    if len(parts) < 2:
        raise ValueError(f"Hub source must look like hf://OWNER/REPO[@REVISION][/PATH], not {spec!r}")
    repo = "/".join(parts[:2])
    subpath = "/".join(parts[2:])
    if any(part in ("", ".", "..") for part in subpath.split("/")) and subpath:
        raise DataFormatError(f"Hub source {spec!r}: the path inside the repository may not hold '.', '..' or "
                              "empty parts", reason="unsafe_name")
    revision = None
    if "@" in repo:
        repo, revision = repo.split("@", 1)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    prefix = f"{subpath.strip('/')}/" if subpath else ""
    pattern = f"{prefix}{config.name}/{version or '*'}/*"
    try:
        local = Path(snapshot_download(repo_id=repo, repo_type="dataset", revision=revision,
                                       allow_patterns=[pattern, f"{prefix}manifest.json", f"{prefix}*.arrow",
                                                       f"{prefix}*.parquet", f"{prefix}README.md"]))
    except LocalEntryNotFoundError as exc:
        raise OfflineError(f"{spec}: not in the local Hugging Face cache and the Hub is unreachable or "
                           f"HF_HUB_OFFLINE is set ({exc})", reason="offline") from exc
    except Exception as exc:  # network and repo errors come in many classes
        if is_offline():
            raise OfflineError(f"{spec}: offline and not cached ({exc})", reason="offline") from exc
        raise
    root = local / subpath if subpath else local
    found = root if (root / "manifest.json").is_file() else _pick_version(root, config, version)
    if found is None:
        raise DataFormatError(f"{spec} holds no built version of {config.name}", reason="missing_manifest")
    # huggingface_hub keeps snapshot files as links into the repository's blobs/ folder: the one
    # place outside the version folder a listed file may resolve into
    repo_cache = local.parent.parent
    return _verified(found, config, version, cache, trusted_roots=(repo_cache / "blobs",))


def _import(config: DatasetConfig, source: str | Path | None, version: str | None, cache: Path,
            key: str | None) -> Manifest:
    """A release archive imported into the cache once; concurrent loaders wait for the first."""
    from litraj_data.builders.from_release import import_release

    folder_version = safe_version(config.version if version is None else version)
    entry = folder_version if key is None else f"{folder_version}+{key}"
    with cache_entry(cache, config.name, entry) as staging:
        if staging is not None:
            built = import_release(config.name, source, staging, version=entry, overwrite=True, progress=None)
            publish(built, cache / config.name / entry)
            mark_verified(read_manifest(cache / config.name / entry), cache)
    return read_manifest(cache / config.name / entry)


def _local_release_key(config: DatasetConfig, path: Path, cache: Path) -> str:
    """Cache key of a local release zip or folder: its content (see :func:`content_key`)."""
    return "src-" + content_key(path, cache)


def resolve(config: DatasetConfig, source: str | Path | None, version: str | None, cache: Path) -> Manifest:
    """A verified Arrow version of ``config`` for ``source`` (see the module docstring)."""
    if version is not None:
        safe_version(version, "version asked for")
    if source is None:
        found = _pick_version(cache, config, version or config.version)
        if found is not None:
            return _verified(found, config, version, cache)
        if is_offline():
            raise OfflineError(f"{config.name} is not in the cache ({cache}) and LITRAJ_OFFLINE/HF_HUB_OFFLINE is "
                               f"set. {_local_copy_hint(config)}", reason="offline")
        try:
            return _import(config, None, version, cache, None)
        except OfflineError as exc:
            # One error a person can act on, without the urllib traceback chained under it (the
            # cause's text is kept in the message): the download of the official release failed.
            raise OfflineError(f"{config.name} is not in the cache ({cache}) and its official release "
                               f"({config.release.get('url')}) cannot be downloaded ({_first_line(exc)}). "
                               f"{_local_copy_hint(config)}", reason=exc.reason) from None
    src = str(source)
    if src == "sample":
        found = _pick_version(sample_root(), config, version)
        if found is None:
            have = _pick_version(sample_root(), config, None)
            if version and have is not None:  # the sample exists, in another version
                raise DataFormatError(f"the embedded sample of {config.name} is version {have.name}, not {version}",
                                      reason="wrong_version")
            raise DataFormatError(f"no embedded sample of {config.name} ({SAMPLE_DATASETS_HINT})",
                                  reason="no_sample")
        sample = read_manifest(found)
        _check_dataset(sample, config, version)
        return _sample_in_cache(sample, cache)
    if src.startswith("hf://"):
        return _as_arrow(_from_hub(src, config, version, cache), cache)
    if is_remote(src) or src.startswith("file://"):
        if src.lower().endswith(".zip"):
            local = url_to_path(src)
            key = _local_release_key(config, local, cache) if local is not None and local.is_file() \
                else source_key(src)  # a remote zip: its URL (a release URL is taken as immutable)
            return _import(config, src, version, cache, key)
        return _as_arrow(_from_mirror(src, config, version, cache), cache)
    path = Path(src).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"source {path} does not exist")
    if path.is_dir():
        if (path / "manifest.json").is_file():
            return _as_arrow(_verified(path, config, version, cache), cache)
        found = _pick_version(path, config, version)
        if found is not None:
            return _as_arrow(_verified(found, config, version, cache), cache)
    return _import(config, path, version, cache, _local_release_key(config, path, cache))
