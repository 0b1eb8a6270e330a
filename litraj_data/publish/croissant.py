"""Croissant JSON-LD (https://mlcommons.org/croissant/, version 1.0) of a release folder.

One ``cr:FileObject`` per Parquet shard (with its sha256), one ``cr:FileSet`` per dataset
(the glob of its shards) and one ``cr:RecordSet`` per dataset whose fields are the card's
columns read from the Parquet columns. List columns (``numbers``, ``positions``, bands)
are ``repeated`` fields of their scalar type; their shape is in the field's description.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from litraj_data.publish.constants import (
    PAPER_DOI,
    SAMPLE_BANNER,
    SOFTWARE_URL,
    TAGS,
    dataset_release_bibtex,
    is_sample_release,
)
from litraj_data.registry import citation_bibtex, get_config
from litraj_data.store.manifest import Manifest

CROISSANT_VERSION = "http://mlcommons.org/croissant/1.0"

# The standard @context of Croissant 1.0 (as mlcroissant writes it; a non-standard one is a warning).
CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "citeAs": "cr:citeAs", "column": "cr:column",
    "conformsTo": "dct:conformsTo", "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"}, "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/", "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract", "field": "cr:field",
    "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject", "fileSet": "cr:fileSet", "format": "cr:format",
    "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath", "key": "cr:key",
    "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path", "recordSet": "cr:recordSet",
    "references": "cr:references", "regex": "cr:regex", "repeated": "cr:repeated", "replace": "cr:replace",
    "samplingRate": "cr:samplingRate", "sc": "https://schema.org/", "separator": "cr:separator",
    "source": "cr:source", "subField": "cr:subField", "transform": "cr:transform",
}

def _data_type(arrow_type: str) -> tuple[str, bool]:
    """(dataType, repeated) of an Arrow type string of the manifest's schema."""
    base = arrow_type
    repeated = "list" in arrow_type
    for token, dtype in (("double", "sc:Float"), ("float", "sc:Float"), ("int", "sc:Integer"), ("bool", "sc:Boolean"),
                         ("string", "sc:Text")):
        if token in base:
            return dtype, repeated
    return "sc:Text", repeated


def croissant_document(root: Path, manifests: list[Manifest], parquet: dict[str, Manifest], version: str,
                       date: str, doi: str | None = None) -> dict[str, Any]:
    """The Croissant metadata of the release folder ``root`` (its Parquet view)."""
    distribution: list[dict[str, Any]] = []
    record_sets: list[dict[str, Any]] = []
    for man in manifests:
        pq = parquet[man.dataset]
        base = f"parquet/{man.dataset}/{man.version}"
        for f in pq.files():
            distribution.append({"@type": "cr:FileObject", "@id": f"{base}/{f['name']}", "name": f["name"],
                                 "contentUrl": f"{base}/{f['name']}", "encodingFormat": "application/x-parquet",
                                 "sha256": f["sha256"], "contentSize": f"{f['num_bytes']} B"})
        fileset = f"{man.dataset}-parquet"
        distribution.append({"@type": "cr:FileSet", "@id": fileset, "name": fileset,
                             "description": f"Parquet shards of {man.dataset} {man.version} (all splits)",
                             "encodingFormat": "application/x-parquet",
                             "includes": f"{base}/{man.dataset}-*.parquet"})
        config = get_config(man.dataset)
        types = {c["name"]: c["type"] for c in man.data["schema"]["columns"]}
        fields = []
        for col in config.columns:
            dtype, repeated = _data_type(types.get(col.name, "string"))
            desc = col.description + (f" [{col.unit}]" if col.unit else "")
            if repeated:
                desc += f" (Arrow type {types[col.name]})"
            field: dict[str, Any] = {"@type": "cr:Field", "@id": f"{man.dataset}/{col.name}", "name": col.name,
                                     "description": desc, "dataType": dtype,
                                     "source": {"fileSet": {"@id": fileset}, "extract": {"column": col.name}}}
            if repeated:
                field["repeated"] = True
            fields.append(field)
        record_sets.append({"@type": "cr:RecordSet", "@id": man.dataset, "name": man.dataset,
                            "description": config.description, "field": fields})
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_VERSION,
        "name": "LiTraj" + (" (embedded sample)" if is_sample_release(version) else ""),
        "description": ((SAMPLE_BANNER + ". ") * is_sample_release(version) +
                        "LiTraj Li-ion migration datasets (" + ", ".join(m.dataset for m in manifests) +
                        f"), release {version}: percolation and migration barriers, hop supercells, NEB bands "
                        "and DFT trajectories of Li-ion conductors."),
        "version": version,
        "datePublished": date,
        "license": "https://opensource.org/licenses/MIT",
        "url": f"https://doi.org/{doi}" if doi else SOFTWARE_URL,
        "sameAs": f"https://doi.org/{PAPER_DOI}",
        "keywords": list(TAGS),
        "citeAs": citation_bibtex().strip() + "\n" + dataset_release_bibtex(version, doi, date[:4]).strip(),
        "creator": [{"@type": "sc:Person", "name": n} for n in
                    ("Artem D. Dembitskiy", "Innokentiy S. Humonen", "Roman A. Eremin", "Dmitry A. Aksyonov",
                     "Stanislav S. Fedotov", "Semen A. Budennyy")],
        "distribution": distribution,
        "recordSet": record_sets,
    }
    if doi:
        doc["identifier"] = f"https://doi.org/{doi}"
    return doc
