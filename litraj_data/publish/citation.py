"""``litraj cite --version X``: the dataset release's citation beside the paper's.

A release's DOI comes from its folder (``release.json``, written by ``litraj release
--doi``) when one is given, else from :data:`RELEASE_DOIS`, the table of published
releases (filled in when a release is deposited on Zenodo); without one the release is
cited by version and URL alone.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from litraj_data.errors import DataFormatError
from litraj_data.publish.constants import SAMPLE_BANNER, dataset_release_bibtex, is_sample_release
from litraj_data.publish.release import read_release
from litraj_data.registry import citation_bibtex
from litraj_data.store.names import safe_version

# Published releases: version -> DOI. A release gets its entry when its Zenodo deposit is
# published (docs/releases.md); an unlisted version is cited without a DOI.
RELEASE_DOIS: dict[str, str] = {}


def release_citation(version: str, source: str | Path | None = None) -> dict[str, Any]:
    """The citation of release ``version``: ``{"version", "doi", "release_bibtex", "paper_bibtex"}``.

    Parameters
    ----------
    version : str
        The release's version.
    source : path, optional
        A release folder; its ``release.json`` gives the DOI and must be of ``version``.

    Raises
    ------
    DataFormatError
        ``source`` is not a release folder, or holds another version.
    """
    version = safe_version(version)
    doi = RELEASE_DOIS.get(version)
    year = None
    if source is not None:
        rel = read_release(source)
        if rel.get("version") != version:
            raise DataFormatError(f"{source} is release {rel.get('version')}, not {version}", reason="wrong_version")
        doi = rel.get("doi") or doi
        year = str(rel.get("date", ""))[:4] or None
    out = {"version": version, "doi": doi, "release_bibtex": dataset_release_bibtex(version, doi, year),
           "paper_bibtex": citation_bibtex()}
    if is_sample_release(version) or (source is not None and rel.get("sample")):
        out.update(sample=True, warning=SAMPLE_BANNER)
    return out
