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
import shutil
from pathlib import Path


from litraj_data.io import sha256_file
from litraj_data.store.layout import sample_root
from litraj_data.store.manifest import Manifest, read_manifest
from litraj_data.download import fetch, is_offline, is_remote, url_to_path
from litraj_data.errors import DataFormatError, IntegrityError, OfflineError
from litraj_data.registry import DatasetConfig

from litraj_data.loaders.cache import source_key
from litraj_data.loaders.verify import ensure_verified, mark_verified

SAMPLE_DATASETS_HINT = "the embedded sample holds BVEL13k and nebBVSE122k"


def _sample_in_cache(manifest: Manifest, cache: Path) -> Manifest:
    """The embedded sample, copied (once, verified) into the cache.

    ``datasets`` writes the cache files of ``map``/``filter`` next to the shards it opened;
    the package folder may be read-only and must stay pristine, the cache may not.
    """
    digest = hashlib.sha256("|".join(f["sha256"] for f in manifest.files()).encode()).hexdigest()[:12]
    target = cache / manifest.dataset / f"{manifest.version}+sample-{digest}"
    if not (target / "manifest.json").is_file():
        ensure_verified(manifest, cache)
        staging = target.with_name(f".{target.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(manifest.root, staging)
        staging.replace(target)
    man = read_manifest(target)
    ensure_verified(man, cache)
    return man


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

    target = cache / manifest.dataset / f"{manifest.version}+{source_key(str(manifest.root))}"
    if not (target / "manifest.json").is_file():
        staging = target.with_name(f".{target.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        convert_version(manifest.root, staging, "arrow")
        staging.replace(target)
    return read_manifest(target)


def _from_mirror(url: str, config: DatasetConfig, version: str | None, cache: Path) -> Manifest:
    """Download a built version from a URL of its folder, checking every sha256."""
    base = url.rstrip("/")
    local = url_to_path(base)
    if local is not None and local.is_dir():
        found = (local if (local / "manifest.json").is_file() else _pick_version(local, config, version))
        if found is None:
            raise DataFormatError(f"{url} holds no manifest.json of {config.name}", reason="missing_manifest")
        base = found.as_uri()
    cached = [p for p in (cache / config.name).glob(f"*+{source_key(base)}") if (p / "manifest.json").is_file()]
    if cached and is_offline():  # offline: what this mirror gave before is good enough
        return read_manifest(max(cached))
    downloads = cache / "downloads" / source_key(base)
    man_path = fetch(base + "/manifest.json", downloads / "manifest.json", what=f"{config.name} manifest")
    data = json.loads(man_path.read_text())
    target = cache / config.name / f"{data['version']}+{source_key(base)}"
    if (target / "manifest.json").is_file():
        return read_manifest(target)
    staging = target.with_name(f".{target.name}.partial")
    staging.mkdir(parents=True, exist_ok=True)
    records = [f for s in data["splits"].values() for f in s["files"]] + data.get("extra_files", [])
    for rec in records:
        dest = staging / rec["name"]
        if dest.is_file() and sha256_file(dest) == rec["sha256"]:
            continue  # resumed download
        fetch(f"{base}/{rec['name']}", dest, sha256=rec["sha256"], what=rec["name"])
    if (staging / "README.md").exists() is False:
        try:
            fetch(base + "/README.md", staging / "README.md", what="dataset card")
        except (OfflineError, FileNotFoundError, IntegrityError):
            pass
    shutil.copyfile(man_path, staging / "manifest.json")
    staging.replace(target)
    man = read_manifest(target)
    mark_verified(man, cache)
    return man


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
    from litraj_data.builders.from_release import import_release

    folder_version = config.version if version is None else version
    name = folder_version if key is None else f"{folder_version}+{key}"
    target = cache / config.name / name
    if (target / "manifest.json").is_file():
        return read_manifest(target)
    tmp_root = cache / ".imports" / (key or "official")
    built = import_release(config.name, source, tmp_root, version=name, overwrite=True,
                           progress=None)
    target.parent.mkdir(parents=True, exist_ok=True)
    built.replace(target)
    shutil.rmtree(tmp_root, ignore_errors=True)
    man = read_manifest(target)
    mark_verified(man, cache)
    return man


def resolve(config: DatasetConfig, source: str | Path | None, version: str | None, cache: Path) -> Manifest:
    """A verified Arrow version of ``config`` for ``source`` (see the module docstring)."""
    if source is None:
        found = _pick_version(cache, config, version or config.version)
        if found is not None:
            man = read_manifest(found)
            ensure_verified(man, cache)
            return man
        if is_offline():
            raise OfflineError(
                f"{config.name} is not in the cache ({cache}) and LITRAJ_OFFLINE/HF_HUB_OFFLINE is set. Pass a "
                f"local copy: load_litraj({config.name!r}, source=PATH_TO_{config.release.get('archive', 'ZIP')}) "
                "or try source='sample'.", reason="offline")
        return _import(config, None, version, cache, None)
    src = str(source)
    if src == "sample":
        found = _pick_version(sample_root(), config, version)
        if found is None:
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
