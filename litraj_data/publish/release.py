"""``litraj release``: built versions as one release folder that plain ``datasets`` loads.

Layout of a release folder::

    DIR/
        README.md                    # dataset card: configs/data_files per dataset and split,
                                     # dataset_info, licence, tags, size category, citation
        NAME/VERSION/                # the built Arrow version as stored (shards, manifest, card)
        parquet/NAME/VERSION/        # the same rows as Parquet shards (the Hub's native view)
        croissant.json               # Croissant JSON-LD (mlcommons.org/croissant)
        .zenodo.json                 # Zenodo deposit metadata
        CITATION.cff, LICENSE
        release.json                 # what was released: datasets, versions, sha256 of every file

``NAME/VERSION/`` is the layout ``load_litraj(source="hf://OWNER/REPO")`` reads, so the
same folder serves both loaders. The card's ``configs:`` point at the Parquet view:
``datasets.load_dataset(DIR, "NAME", split="test")`` needs no litraj-data installed.

Every byte of a release is a function of its inputs (the built versions and the options):
dates come from the manifests, files are written in a fixed order with sorted keys, so
two releases of the same input are byte-identical and a re-push uploads nothing.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, Iterable

import yaml

from litraj_data._version import __version__
from litraj_data.errors import DataFormatError
from litraj_data.io import atomic_write_json, atomic_write_text, sha256_file
from litraj_data.publish.constants import (
    PAPER_DOI,
    RELEASE_FORMAT,
    SAMPLE_BANNER,
    SAMPLE_SUFFIX,
    SOFTWARE_URL,
    TAGS,
    dataset_release_bibtex,
    is_sample_release,
)
from litraj_data.publish.croissant import croissant_document
from litraj_data.publish.zenodo import zenodo_metadata
from litraj_data.registry import citation_bibtex, get_config
from litraj_data.store.layout import new_staging, publish_folder
from litraj_data.store.manifest import MANIFEST_NAME, Manifest, read_manifest, read_snapshot
from litraj_data.store.names import safe_version
from litraj_data.store.shards import convert_version, read_shard

# The Hub's size categories (the values its card validator accepts), by total rows.
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                    (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))


def size_category(num_rows: int) -> str:
    """The Hugging Face ``size_categories`` value of a release with ``num_rows`` rows."""
    for bound, label in _SIZE_CATEGORIES:
        if num_rows < bound:
            return label
    return "100M<n<1B"


def release_date(manifests: Iterable[Manifest]) -> str:
    """The release's date: the newest build date of its versions (never the clock: reproducible)."""
    dates = sorted(str(m.data.get("created", ""))[:10] for m in manifests)
    return dates[-1] if dates and dates[-1] else "1970-01-01"


def _features_yaml(manifest: Manifest) -> list[dict[str, Any]]:
    """The Hugging Face features of a version, from its first shard's schema (with HF metadata)."""
    import datasets

    first = manifest.files()[0]
    schema = read_shard(manifest.root / first["name"]).schema
    return datasets.Features.from_arrow_schema(schema)._to_yaml_list()


def _card_front_matter(manifests: list[Manifest], parquet: dict[str, Manifest], doi: str | None) -> dict[str, Any]:
    configs, infos = [], []
    total_rows = 0
    for man in manifests:
        pq = parquet[man.dataset]
        base = f"parquet/{man.dataset}/{man.version}"
        configs.append({"config_name": man.dataset,
                        "data_files": [{"split": s, "path": f"{base}/{man.dataset}-{s}-*.parquet"}
                                       for s in pq.splits]})
        splits = [{"name": s, "num_bytes": sum(f["num_bytes"] for f in man.files(s)),
                   "num_examples": man.num_rows(s)} for s in man.splits]
        total_rows += sum(s["num_examples"] for s in splits)
        infos.append({"config_name": man.dataset, "features": _features_yaml(man), "splits": splits,
                      "download_size": sum(f["num_bytes"] for f in pq.files()),
                      "dataset_size": sum(s["num_bytes"] for s in splits)})
    front: dict[str, Any] = {
        "pretty_name": "LiTraj", "license": "mit", "language": ["en"], "tags": list(TAGS),
        "task_categories": ["tabular-regression", "graph-ml"], "size_categories": [size_category(total_rows)],
        "configs": configs, "dataset_info": infos,
    }
    if doi:
        front["doi"] = doi
    return front


def dataset_card(manifests: list[Manifest], parquet: dict[str, Manifest], version: str, doi: str | None) -> str:
    """The release's README.md: Hugging Face front matter and a human-readable body."""
    front = yaml.safe_dump(_card_front_matter(manifests, parquet, doi), sort_keys=False, allow_unicode=True,
                           width=1000)
    lines = ["---", front.rstrip(), "---", "", f"# LiTraj release {version}", ""]
    if is_sample_release(version):
        lines = lines[:-2] + [f"# LiTraj release {version} - EMBEDDED SAMPLE, not the official data", "",
                              f"> **{SAMPLE_BANNER}.**", ""]
    lines += [
             "Li-ion migration datasets of Dembitskiy *et al.*, *npj Comput. Mater.* **11**, 131 (2025), "
             f"[doi:{PAPER_DOI}](https://doi.org/{PAPER_DOI}), as built and verified by litraj-data.", ""]
    if doi:
        lines += [f"Release DOI: [{doi}](https://doi.org/{doi})", ""]
    lines += ["```python", "from datasets import load_dataset", "",
              f"test = load_dataset(\"PATH_OR_REPO\", \"{manifests[0].dataset}\", split=\"test\")", "```", "",
              "With litraj-data, `load_litraj(NAME, source=\"hf://OWNER/REPO\")` reads the Arrow versions "
              "(`NAME/VERSION/`, sha256-checked against their manifests).", "",
              "| dataset | version | train | val | test | targets |", "|---|---|---|---|---|---|"]
    for man in manifests:
        config = get_config(man.dataset)
        counts = [str(man.num_rows(s)) if s in man.splits else "–" for s in ("train", "val", "test")]
        lines.append(f"| {man.dataset} | {man.version} | {' | '.join(counts)} | {', '.join(config.task_targets)} |")
    for man in manifests:
        config = get_config(man.dataset)
        lines += ["", f"## {man.dataset}", "", config.description, "", "| column | kind | unit | description |",
                  "|---|---|---|---|"]
        lines += [f"| {c.name} | {c.kind} | {c.unit or ''} | {c.description} |" for c in config.columns]
        notes = man.data.get("notes") or []
        if notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    lines += ["", "## Licence", "", "MIT: the licence of the official LiTraj repository that distributes the data "
              f"({SOFTWARE_URL}).", "", "## Citation", "", "Cite the paper and this release:", "", "```bibtex",
              citation_bibtex().strip(), "", dataset_release_bibtex(version, doi, release_date(manifests)[:4]).strip(),
              "```", ""]
    return "\n".join(lines)


LICENSE_TEXT = """MIT License

The LiTraj data are distributed by their authors (Dembitskiy et al., doi:10.1038/s41524-025-01571-z)
under the MIT licence of the official LiTraj repository, https://github.com/AIRI-Institute/LiTraj,
whose LICENSE file is authoritative.

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def _citation_cff(version: str, date: str, doi: str | None) -> str:
    from importlib import resources

    paper = resources.files("litraj_data").joinpath("registry/citation.cff").read_text(encoding="utf-8")
    preferred = paper[paper.index("preferred-citation:"):]
    head = ["cff-version: 1.2.0",
            ('message: "This is an EMBEDDED SAMPLE of litraj-data, not the LiTraj data: do not cite it as data."'
             if is_sample_release(version) else
             'message: "If you use this release, cite the LiTraj paper (preferred citation) and the release."'),
            f'title: "LiTraj: Li-ion migration datasets, release {version}"', "type: dataset", "license: MIT",
            f"version: {version}", f"date-released: {date}", f"url: {SOFTWARE_URL}"]
    if doi:
        head.append(f'doi: "{doi}"')
    authors = preferred[preferred.index("  authors:"):preferred.index("  journal:")].replace("\n    ", "\n  ")
    head.append(authors.strip("\n").replace("  authors:", "authors:", 1))
    return "\n".join(head) + "\n" + preferred


def _copy_version(man: Manifest, target: Path) -> Manifest:
    """Copy exactly the files a manifest names (and its card), nothing else the folder holds.

    Names go through :meth:`Manifest.path` (a name or link leaving the version folder is
    refused), and the copy is one snapshot of the version: when a concurrent ``--overwrite``
    swapped it meanwhile, the copy is made again from the new manifest, which is returned.
    """
    def copy(m: Manifest) -> Manifest:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        names = [f["name"] for f in m.files()] + [e["name"] for e in m.extra_files()] + [MANIFEST_NAME]
        if (m.root / "README.md").is_file():
            names.append("README.md")
        for name in names:
            shutil.copyfile(m.path(name), target / name)
        return m

    return read_snapshot(man.root, copy, first=man, trusted_roots=man.trusted_roots)


def check_replaceable(out: Path, action: str = "--overwrite would delete them") -> None:
    """Refuse to replace ``out`` unless it is a folder ``litraj release`` made and holds nothing else.

    A release folder is marked by its ``release.json``, which lists every file of the
    release: ``--overwrite`` replaces such a folder only when it holds exactly those files
    (plus ``release.json``). Anything else -- a build root, a user's folder, a release with
    a file added by hand -- is refused with a named reason and left untouched.

    Raises
    ------
    DataFormatError
        ``not_ours``, naming why and up to three files that are not the release's.
    """
    import json

    if not out.is_dir() or out.is_symlink():
        raise DataFormatError(f"{out} is not a folder; --out names the release folder to write",
                              reason="not_ours")
    marker = out / "release.json"
    try:
        doc = json.loads(marker.read_text(encoding="utf-8"))
        listed = {f["path"] for f in doc["files"]} | {"release.json"}
        if not isinstance(doc.get("release_format"), int):
            raise TypeError("no release_format")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataFormatError(f"{out} was not made by `litraj release` (no readable release.json: {exc}); "
                              "only a release folder is replaced or pushed, nothing else. Choose another folder.",
                              reason="not_ours") from None
    foreign = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                     if (p.is_symlink() or not p.is_dir()) and p.relative_to(out).as_posix() not in listed)
    if foreign:
        raise DataFormatError(f"{out} holds files its release.json does not list ({', '.join(foreign[:3])}"
                              f"{', ...' if len(foreign) > 3 else ''}); {action}: refused. "
                              "Move them away or choose another folder.", reason="not_ours")


def file_table(root: Path) -> list[dict[str, Any]]:
    """``path``, ``sha256``, ``num_bytes`` of every file under ``root`` (sorted; ``release.json`` excluded)."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel != "release.json":
            out.append({"path": rel, "sha256": sha256_file(p), "num_bytes": p.stat().st_size})
    return out


def make_release(names: list[str], out: str | Path, *, source: str | Path | None = None, version: str | None = None,
                 cache_dir: str | Path | None = None, doi: str | None = None, overwrite: bool = False,
                 ) -> list[dict[str, Any]]:
    """Write a release folder of the built versions of ``names`` (see the module docstring).

    Parameters
    ----------
    names : list of str
        Registered dataset names; each resolved as ``load_litraj(name, version=, source=)``.
    out : path
        The release folder; made in a staging folder beside it and renamed into place.
    source, version, cache_dir
        As :func:`litraj_data.loaders.load.load_litraj`; every dataset must resolve to
        ``version`` (the release's version is the datasets' version).
    doi : str, optional
        The release's DOI (e.g. Zenodo's, once reserved): written into the card, the
        citation and ``.zenodo.json``.
    overwrite : bool
        Replace an existing release folder (swapped atomically) -- only one that ``litraj
        release`` made (its ``release.json`` is the marker) and that holds nothing else
        (:func:`check_replaceable`); any other non-empty folder is refused (``not_ours``).

    Returns
    -------
    list of dict
        One record per written file: ``file``, ``sha256``, ``num_bytes``.

    Raises
    ------
    FileExistsError
        ``out`` exists and is not empty, and ``overwrite`` is False.
    DataFormatError
        Datasets of different versions, or a dataset named twice.
    """
    from litraj_data.loaders.load import manifest_of

    out = Path(out)
    if os.path.lexists(out) and not (out.is_dir() and not out.is_symlink() and not any(out.iterdir())):
        if not overwrite:
            raise FileExistsError(f"{out} exists and is not empty; pass --overwrite to replace the release there")
        check_replaceable(out)
    canonical = [get_config(n).name for n in names]
    if len(set(canonical)) != len(canonical):
        raise DataFormatError(f"a dataset is named twice: {', '.join(names)}", reason="duplicate_dataset")
    manifests = [manifest_of(n, version=version, source=source, cache_dir=cache_dir) for n in canonical]
    versions = sorted({m.version for m in manifests})
    if len(versions) != 1:
        raise DataFormatError("one release holds one version; found " +
                              ", ".join(f"{m.dataset} {m.version}" for m in manifests) + " (pass --version)",
                              reason="mixed_versions")
    rel_version = safe_version(versions[0])
    if doi is not None and not doi.startswith("10."):
        raise DataFormatError(f"--doi {doi!r} is not a DOI (10.PREFIX/SUFFIX)", reason="bad_doi")
    samples = {bool(m.data.get("sample")) for m in manifests}
    if samples == {True, False}:
        raise DataFormatError("one release holds either the embedded sample or built data, not both: " +
                              ", ".join(f"{m.dataset} ({'sample' if m.data.get('sample') else 'data'})"
                                        for m in manifests), reason="mixed_origin")
    if samples == {True}:
        if doi is not None:
            raise DataFormatError("a release of the embedded sample gets no DOI (it is not the LiTraj data)",
                                  reason="sample_release")
        if not is_sample_release(rel_version):
            rel_version += SAMPLE_SUFFIX
        print(f"litraj release: {SAMPLE_BANNER}; release version {rel_version}", file=sys.stderr, flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = new_staging(out.parent, out.name)
    try:
        parquet: dict[str, Manifest] = {}
        for i, man in enumerate(manifests):
            print(f"litraj release: {man.dataset} {man.version} from {man.root}", file=sys.stderr, flush=True)
            manifests[i] = man = _copy_version(man, staging / man.dataset / man.version)
            pq_dir = convert_version(staging / man.dataset / man.version,
                                     staging / "parquet" / man.dataset / man.version, "parquet")
            parquet[man.dataset] = read_manifest(pq_dir)
        date = release_date(manifests)
        atomic_write_text(staging / "README.md", dataset_card(manifests, parquet, rel_version, doi))
        atomic_write_text(staging / "LICENSE", LICENSE_TEXT)
        atomic_write_text(staging / "CITATION.cff", _citation_cff(rel_version, date, doi))
        atomic_write_json(staging / ".zenodo.json", zenodo_metadata(manifests, rel_version, date, doi))
        atomic_write_json(staging / "croissant.json", croissant_document(staging, manifests, parquet, rel_version,
                                                                         date, doi))
        files = file_table(staging)
        atomic_write_json(staging / "release.json", {
            "release_format": RELEASE_FORMAT, "version": rel_version, "date": date, "doi": doi,
            **({"sample": True, "origin": "embedded-sample", "warning": SAMPLE_BANNER} if samples == {True} else {}),
            "code_version": f"litraj-data {__version__}",
            "datasets": [{"name": m.dataset, "version": m.version, "rows": {s: m.num_rows(s) for s in m.splits},
                          **({"sample": True} if m.data.get("sample") else {}),
                          "sources": m.data.get("sources", {})} for m in manifests],
            "files": files})
        if os.path.lexists(out):  # empty, or checked above to be exactly a release of ours
            if any(out.iterdir()):
                check_replaceable(out)  # again, just before replacing: nothing added meanwhile
            publish_folder(staging, out, replace=True)
        else:
            publish_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    marker = out / "release.json"
    return [{"file": str(out / f["path"]), "sha256": f["sha256"], "num_bytes": f["num_bytes"]}
            for f in file_table(out)] + [{"file": str(marker), "sha256": sha256_file(marker),
                                          "num_bytes": marker.stat().st_size}]


def read_release(folder: str | Path) -> dict[str, Any]:
    """``release.json`` of a release folder.

    Raises
    ------
    DataFormatError
        The folder holds no ``release.json`` (not made by ``litraj release``).
    """
    import json

    path = Path(folder) / "release.json"
    if not path.is_file():
        raise DataFormatError(f"no release.json in {folder}: not a release folder (make one with `litraj release "
                              "NAME --source S --out DIR`)", reason="not_a_release")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataFormatError(f"{path} is not JSON ({exc})", reason="bad_release") from exc
