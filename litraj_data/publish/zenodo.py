"""``.zenodo.json``: the deposit metadata Zenodo reads from a release (GitHub integration or upload)."""
from __future__ import annotations

from typing import Any

from litraj_data._version import __version__
from litraj_data.publish.constants import PAPER_DOI, SAMPLE_BANNER, SOFTWARE_URL, TAGS, is_sample_release
from litraj_data.registry import get_config
from litraj_data.store.manifest import Manifest

# The paper's authors, as in litraj_data/registry/citation.cff (Zenodo's "Family, Given" form).
CREATORS = ("Dembitskiy, Artem D.", "Humonen, Innokentiy S.", "Eremin, Roman A.", "Aksyonov, Dmitry A.",
            "Fedotov, Stanislav S.", "Budennyy, Semen A.")


def zenodo_metadata(manifests: list[Manifest], version: str, date: str, doi: str | None = None) -> dict[str, Any]:
    """Zenodo deposit metadata of a release.

    Parameters
    ----------
    manifests : list of Manifest
        The released versions.
    version : str
        The release's version.
    date : str
        ISO date of the release (from the manifests, so that the file is reproducible).
    doi : str, optional
        A reserved DOI (Zenodo's ``prereserve_doi``), recorded as the deposit's DOI.
    """
    names = ", ".join(m.dataset for m in manifests)
    rows = sum(m.num_rows(s) for m in manifests for s in m.splits)
    description = (f"<p>LiTraj Li-ion migration datasets ({names}), release {version}: {rows} rows as "
                   "Arrow shards with sha256 manifests and a Parquet view that Hugging Face <code>datasets</code> "
                   f"loads. Data of Dembitskiy et al., npj Comput. Mater. 11, 131 (2025), doi:{PAPER_DOI}.</p>")
    description += "".join(f"<p>{m.dataset} {m.version}: {get_config(m.dataset).description}</p>" for m in manifests)
    sample = is_sample_release(version)
    if sample:  # never to be deposited; if it ever is, it says what it is first
        description = f"<p><strong>{SAMPLE_BANNER}.</strong></p>" + description
    meta: dict[str, Any] = {
        "title": f"LiTraj: Li-ion migration datasets, release {version}"
                 + (" (EMBEDDED SAMPLE, not the LiTraj data)" if sample else ""),
        "upload_type": "dataset",
        "version": version,
        "publication_date": date,
        "creators": [{"name": c} for c in CREATORS],
        "description": description,
        "license": "MIT",
        "access_right": "open",
        "keywords": list(TAGS),
        "related_identifiers": [
            {"identifier": PAPER_DOI, "relation": "isDescribedBy", "resource_type": "publication-article",
             "scheme": "doi"},
            {"identifier": SOFTWARE_URL, "relation": "isDerivedFrom", "resource_type": "dataset", "scheme": "url"},
            {"identifier": "https://pypi.org/project/litraj-data/", "relation": "isCompiledBy",
             "resource_type": "software", "scheme": "url"},
        ],
        "notes": f"Built and verified with litraj-data {__version__}.",
    }
    if doi:
        meta["doi"] = doi
    return meta
