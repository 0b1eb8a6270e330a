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
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path


from litraj_data.io import sha256_file
from typing import Any
from litraj_data.store.layout import sample_root
from litraj_data.store.manifest import Manifest, read_manifest
from litraj_data.download import fetch, is_offline, is_remote, url_to_path
from litraj_data.errors import DataFormatError, IntegrityError, OfflineError
from litraj_data.registry import DatasetConfig

from litraj_data.loaders.cache import cache_entry, publish, require_writable, source_key
from litraj_data.store.locks import exclusive
from litraj_data.store.names import inside, safe_component, safe_version
from litraj_data.loaders.verify import ensure_verified, mark_verified

SAMPLE_DATASETS_HINT = "the embedded sample holds BVEL13k and nebBVSE122k"


def _local_copy_hint(config: DatasetConfig) -> str:
    """What to do without the network, in Python words and CLI words, and whether a sample exists."""
    archive = config.release.get("archive", f"{config.name}.zip")
    hint = (f"Pass a local copy: load_litraj({config.name!r}, source={archive!r}) in Python, --source {archive} "
            "on the command line (a release zip or folder, or a built version).")
    if _pick_version(sample_root(), config, None) is not None:
        return hint + f" For a quick offline try: load_litraj({config.name!r}, source='sample')."
    return hint + f" There is no embedded sample of {config.name} ({SAMPLE_DATASETS_HINT})."


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
            shutil.copytree(manifest.root, staging, dirs_exist_ok=True)
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
    """``root/NAME/VERSION`` (the newest finished version when ``version`` is None)."""
    base = root / config.name
    if version:
        return base / version if (base / version / "manifest.json").is_file() else None
    found = [p for p in base.glob("*") if (p / "manifest.json").is_file() and not p.name.startswith(".")]
    if not found:
        return None

    def key(p: Path) -> tuple:
        parts = p.name.split("+")[0].split(".")
        return tuple(int(x) if x.isdigit() else 0 for x in parts)

    return max(found, key=key)


def _check_dataset(manifest: Manifest, config: DatasetConfig, version: str | None) -> None:
    if manifest.dataset != config.name:
        raise DataFormatError(f"{manifest.root} holds {manifest.dataset}, not {config.name}", reason="wrong_dataset")
    if version and manifest.version != version:
        raise DataFormatError(f"{manifest.root} holds {config.name} {manifest.version}, not version {version}",
                              reason="wrong_version")


def _as_arrow(manifest: Manifest, cache: Path) -> Manifest:
    """Parquet versions (transport) are converted once into Arrow shards in the cache."""
    if manifest.format == "arrow":
        return manifest
    from litraj_data.store.shards import convert_version

    entry = f"{safe_version(manifest.version)}+{source_key(str(manifest.root))}"
    with cache_entry(cache, manifest.dataset, entry) as staging:
        if staging is not None:
            convert_version(manifest.root, staging, "arrow")
            publish(staging, cache / manifest.dataset / entry)
    return read_manifest(cache / manifest.dataset / entry)


def _mirror_manifest(data: Any, config: DatasetConfig, url: str) -> list[dict[str, Any]]:
    """The files a downloaded manifest lists, after checking every name in it (it is untrusted)."""
    if not isinstance(data, dict) or data.get("dataset") != config.name:
        raise DataFormatError(f"{url}/manifest.json is not a manifest of {config.name}", reason="wrong_dataset")
    safe_version(data.get("version"))
    try:
        records = [f for s in data["splits"].values() for f in s["files"]] + list(data.get("extra_files", []))
        for rec in records:
            safe_component(rec["name"], f"file name in {url}/manifest.json")
            if not isinstance(rec["sha256"], str) or len(rec["sha256"]) != 64:
                raise DataFormatError(f"{url}/manifest.json: {rec['name']} has no sha256", reason="bad_manifest")
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataFormatError(f"{url}/manifest.json is malformed ({exc})", reason="bad_manifest") from exc
    for split in data["splits"]:
        safe_component(split, f"split name in {url}/manifest.json")
    return records


def _from_mirror(url: str, config: DatasetConfig, version: str | None, cache: Path) -> Manifest:
    """Download a built version from a URL of its folder, checking every name and sha256."""
    base = url.rstrip("/")
    local = url_to_path(base)
    if local is not None and local.is_dir():
        found = (local if (local / "manifest.json").is_file() else _pick_version(local, config, version))
        if found is None:
            raise DataFormatError(f"{url} holds no manifest.json of {config.name}", reason="missing_manifest")
        base = found.as_uri()
    key = source_key(base)
    cached = [p for p in (cache / config.name).glob(f"*+{key}") if (p / "manifest.json").is_file()]
    if cached and is_offline():  # offline: what this mirror gave before is good enough
        return read_manifest(max(cached))
    require_writable(cache)
    with exclusive(cache / ".locks" / f"mirror-{key}.lock", f"download of {base}"):
        downloads = cache / "downloads" / key
        man_path = fetch(base + "/manifest.json", downloads / "manifest.json", what=f"{config.name} manifest")
        try:
            data = json.loads(man_path.read_text())
        except ValueError as exc:
            raise DataFormatError(f"{base}/manifest.json is not JSON ({exc})", reason="bad_manifest") from exc
        records = _mirror_manifest(data, config, base)
        entry = f"{data['version']}+{key}"
        with cache_entry(cache, config.name, entry) as staging:
            if staging is not None:
                for rec in records:  # into downloads/ first (we hold the mirror's lock): a rerun resumes
                    part = inside(downloads, rec["name"])
                    if not (part.is_file() and sha256_file(part) == rec["sha256"]):
                        fetch(f"{base}/{rec['name']}", part, sha256=rec["sha256"], what=rec["name"])
                    os.replace(part, inside(staging, rec["name"]))
                try:
                    fetch(base + "/README.md", staging / "README.md", what="dataset card")
                except (OfflineError, FileNotFoundError, IntegrityError):
                    pass
                shutil.copyfile(man_path, staging / "manifest.json")
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
    man = read_manifest(found)
    ensure_verified(man, cache)
    return man


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


def resolve(config: DatasetConfig, source: str | Path | None, version: str | None, cache: Path) -> Manifest:
    """A verified Arrow version of ``config`` for ``source`` (see the module docstring)."""
    if source is None:
        found = _pick_version(cache, config, version or config.version)
        if found is not None:
            man = read_manifest(found)
            ensure_verified(man, cache)
            return man
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
        return _sample_in_cache(read_manifest(found), cache)
    if src.startswith("hf://"):
        return _as_arrow(_from_hub(src, config, version, cache), cache)
    if is_remote(src) or src.startswith("file://"):
        if src.lower().endswith(".zip"):
            return _import(config, src, version, cache, source_key(src))
        return _as_arrow(_from_mirror(src, config, version, cache), cache)
    path = Path(src).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"source {path} does not exist")
    if path.is_dir():
        if (path / "manifest.json").is_file():
            man = read_manifest(path)
            _check_dataset(man, config, version)
            ensure_verified(man, cache)
            return _as_arrow(man, cache)
        found = _pick_version(path, config, version)
        if found is not None:
            man = read_manifest(found)
            ensure_verified(man, cache)
            return _as_arrow(man, cache)
    return _import(config, path, version, cache, source_key(str(path)))
