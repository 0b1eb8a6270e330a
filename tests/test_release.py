"""`litraj release`: a Hub-loadable, reproducible release folder; push plans; `litraj cite --version`."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from litraj_data.cli import main
from litraj_data.errors import DataFormatError, OfflineError

DATASETS = ("BVEL13k", "nebBVSE122k")

# Run in a child interpreter: litraj_data is made unimportable before `datasets` is, so the
# load can only succeed through the card's configs and the Parquet files.
PLAIN_LOAD = r"""
import importlib.abc, json, sys

class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "litraj_data" or name.startswith("litraj_data."):
            raise ImportError(f"{name} is hidden in this test")
        return None

sys.meta_path.insert(0, Hide())
import datasets
out = {}
for name in sys.argv[2:]:
    ds = datasets.load_dataset(sys.argv[1], name, split="test")
    out[name] = {"rows": ds.num_rows, "columns": ds.column_names, "first": ds[0]}
assert not [m for m in sys.modules if m.startswith("litraj_data")]
print(json.dumps(out, default=str))
"""


def _sha_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    from litraj_data.publish.release import make_release

    root = tmp_path_factory.mktemp("rel")
    make_release(list(DATASETS), root / "r1", source="sample", cache_dir=root / "cache")
    return root / "r1"


def test_two_releases_of_the_same_input_are_byte_identical(release_dir, tmp_path):
    from litraj_data.publish.release import make_release

    # another cache: the sample is copied afresh, so nothing is shared with the first release but the input
    make_release(list(DATASETS), tmp_path / "r2", source="sample", cache_dir=tmp_path / "other-cache")
    first, second = _sha_tree(release_dir), _sha_tree(tmp_path / "r2")
    assert first == second and len(first) > 20
    assert {"README.md", "croissant.json", ".zenodo.json", "CITATION.cff", "LICENSE", "release.json"} <= set(first)
    assert "BVEL13k/1.0.0/manifest.json" in first
    assert "parquet/BVEL13k/1.0.0/BVEL13k-test-00000-of-00001.parquet" in first
    rel = json.loads((release_dir / "release.json").read_text())
    assert {f["path"]: f["sha256"] for f in rel["files"]} == {k: v for k, v in first.items() if k != "release.json"}
    for p in release_dir.rglob("*"):  # a published folder: world-readable
        assert p.stat().st_mode & 0o004, p


def test_plain_datasets_loads_the_release_without_litraj(release_dir, tmp_path):
    from litraj_data import load_litraj

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITRAJ", "PYTHON"))}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_DATASETS_CACHE=str(tmp_path / "hf"),
               HF_HOME=str(tmp_path / "hfhome"))
    proc = subprocess.run([sys.executable, "-I", "-c", PLAIN_LOAD, str(release_dir), *DATASETS], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in DATASETS:
        ref = load_litraj(name, split="test", source="sample")
        assert got[name]["rows"] == ref.num_rows and got[name]["columns"] == ref.column_names
        first = ref[0]
        assert got[name]["first"][ref.column_names[0]] == first[ref.column_names[0]]
        assert got[name]["first"]["positions"] == [list(map(float, p)) for p in first["positions"]]


def test_card_front_matter_has_configs_info_licence_tags_size_and_citation(release_dir):
    text = (release_dir / "README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert [c["config_name"] for c in front["configs"]] == list(DATASETS)
    for cfg in front["configs"]:
        assert [d["split"] for d in cfg["data_files"]] == ["train", "val", "test"]
        for d in cfg["data_files"]:
            assert list(release_dir.glob(d["path"])), d["path"]
    info = {i["config_name"]: i for i in front["dataset_info"]}
    man = json.loads((release_dir / "BVEL13k/1.0.0/manifest.json").read_text())
    assert {s["name"]: s["num_examples"] for s in info["BVEL13k"]["splits"]} == \
        {s: r["num_rows"] for s, r in man["splits"].items()}
    assert [f["name"] for f in info["BVEL13k"]["features"]][:2] == ["material_id", "chemsys"]
    assert front["license"] == "mit" and "li-ion" in front["tags"] and front["size_categories"] == ["n<1K"]
    assert "10.1038/s41524-025-01571-z" in text and "@misc{litraj_release_1_0_0" in text


def test_croissant_is_valid_for_mlcroissant_and_reads_the_rows(release_dir):
    mlc = pytest.importorskip("mlcroissant")
    doc = json.loads((release_dir / "croissant.json").read_text())
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0" and doc["version"] == "1.0.0+sample"
    for f in (d for d in doc["distribution"] if d["@type"] == "cr:FileObject"):
        assert hashlib.sha256((release_dir / f["contentUrl"]).read_bytes()).hexdigest() == f["sha256"]
    ds = mlc.Dataset(str(release_dir / "croissant.json"))
    assert ds.metadata.ctx.issues.errors == set() and ds.metadata.ctx.issues.warnings == set()
    rows = list(ds.records("BVEL13k"))
    man = json.loads((release_dir / "BVEL13k/1.0.0/manifest.json").read_text())
    assert len(rows) == sum(r["num_rows"] for r in man["splits"].values())


def test_zenodo_and_citation_metadata(release_dir):
    z = json.loads((release_dir / ".zenodo.json").read_text())
    assert z["title"].startswith("LiTraj") and z["version"] == "1.0.0+sample" and z["license"] == "MIT"
    assert z["upload_type"] == "dataset" and len(z["creators"]) == 6
    ids = {r["identifier"]: r["relation"] for r in z["related_identifiers"]}
    assert ids["10.1038/s41524-025-01571-z"] == "isDescribedBy"
    assert any("github.com/AIRI-Institute/LiTraj" in i for i in ids)
    cff = yaml.safe_load((release_dir / "CITATION.cff").read_text())
    assert cff["type"] == "dataset" and cff["version"] == "1.0.0+sample"  # a release of the embedded sample
    assert cff["preferred-citation"]["doi"] == "10.1038/s41524-025-01571-z"
    assert "MIT" in (release_dir / "LICENSE").read_text()


def _as_built_data(root: Path) -> Path:
    """A copy of the sample's BVEL13k with its sample identity removed: stands in for built data."""
    import shutil

    from litraj_data.store.layout import sample_root

    folder = root / "BVEL13k" / "1.0.0"
    shutil.copytree(sample_root() / "BVEL13k" / "1.0.0", folder)
    man = json.loads((folder / "manifest.json").read_text())
    for key in ("sample", "origin", "sample_note", "generated"):
        man.pop(key, None)
    (folder / "manifest.json").write_text(json.dumps(man))
    return root


def test_release_with_doi_and_litraj_cite(tmp_path, capsys):
    data = _as_built_data(tmp_path / "data")
    code = main(["release", "BVEL13k", "--source", str(data), "--out", str(tmp_path / "r"), "--doi",
                 "10.5281/zenodo.1234567", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and any(r["file"].endswith("croissant.json") for r in doc["records"])
    assert json.loads((tmp_path / "r" / ".zenodo.json").read_text())["doi"] == "10.5281/zenodo.1234567"
    assert main(["cite", "--version", "1.0.0", "--source", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"doi\s+= \{10\.5281/zenodo\.1234567\}", out)
    assert "10.1038/s41524-025-01571-z" in out and "@article{dembitskiy2025litraj" in out
    assert main(["cite", "--version", "1.0.0"]) == 0  # no folder, no published DOI: said so
    assert "no DOI recorded" in capsys.readouterr().out
    assert main(["cite", "--version", "2.0.0", "--source", str(tmp_path / "r")]) == 1
    assert "not 2.0.0" in capsys.readouterr().err


def test_release_bad_inputs(tmp_path, capsys):
    from litraj_data.publish.release import make_release

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with pytest.raises(FileExistsError, match="--overwrite"):
        make_release(["BVEL13k"], tmp_path / "full", source="sample")
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    with pytest.raises(DataFormatError, match="named twice"):
        make_release(["BVEL13k", "bvel13k"], tmp_path / "d", source="sample")
    with pytest.raises(DataFormatError, match="not a DOI"):
        make_release(["BVEL13k"], tmp_path / "d", source="sample", doi="zenodo-1")
    assert main(["release", "BVEL13k", "--source", "sample", "--doi", "10.5281/zenodo.1", "--out",
                 str(tmp_path / "d")]) == 1
    assert "sample_release" in capsys.readouterr().err  # the embedded sample never gets a DOI
    assert main(["release", "BVEL13k", "--source", "sample", "--version", "9.9.9", "--out", str(tmp_path / "d")]) == 1
    assert "embedded sample of BVEL13k is version 1.0.0, not 9.9.9" in capsys.readouterr().err
    assert main(["release", "BVEL13k", "--source", "sample"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err
    assert not (tmp_path / "d").exists() and not list(tmp_path.glob(".d.*"))  # nothing half-written


# --------------------------------------------------------------------------- push


def test_push_plan_skips_unchanged_files(release_dir):
    from litraj_data.publish.hub import commit_plan, git_blob_sha1, local_files

    local = local_files(release_dir)
    assert commit_plan(local, {}) == {"add": [f["path"] for f in local], "skip": []}
    card = release_dir / "README.md"
    shard = "parquet/BVEL13k/1.0.0/BVEL13k-test-00000-of-00001.parquet"
    by_path = {f["path"]: f for f in local}
    remote = {"README.md": {"blob_id": git_blob_sha1(card), "sha256": None},        # a git file, same
              shard: {"blob_id": "0" * 40, "sha256": by_path[shard]["sha256"]},  # an LFS file, same
              ".zenodo.json": {"blob_id": "f" * 40, "sha256": None},             # changed
              "CITATION.cff": {"blob_id": "x", "sha256": "0" * 64},               # changed (LFS)
              "old/file.txt": {"blob_id": "1" * 40, "sha256": None}}             # not ours: left alone
    plan = commit_plan(local, remote)
    assert set(plan["skip"]) == {"README.md", shard}
    assert {".zenodo.json", "CITATION.cff"} <= set(plan["add"]) and "old/file.txt" not in plan["add"]
    # git's own blob id of a file (the Hub lists it for non-LFS files)
    git = subprocess.run(["git", "hash-object", str(card)], capture_output=True, text=True)
    if git.returncode == 0:
        assert git.stdout.strip() == git_blob_sha1(card)


def test_push_offline_and_unreachable_fail_at_once(release_dir, monkeypatch, capsys):
    import socket
    import time

    from litraj_data.publish.hub import push_release

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.monotonic()
    with pytest.raises(OfflineError, match="HF_HUB_OFFLINE"):
        push_release(release_dir, "hf://someone/litraj")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(OfflineError, match=f"cannot reach the Hub at http://127.0.0.1:{port}"):
        push_release(release_dir, "hf://someone/litraj@v1")
    assert time.monotonic() - t0 < 10
    assert main(["release", "push", str(release_dir), "hf://someone/litraj", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [r["reason"] for r in doc["records"] if not r.get("ok", True)] == ["unreachable"]  # the one error record


def test_push_bad_targets_and_folders(release_dir, tmp_path, capsys):
    from litraj_data.publish.hub import parse_target, push_release

    assert parse_target("hf://me/litraj@v1.0.0") == ("me/litraj", "v1.0.0")
    assert parse_target("hf://me/litraj") == ("me/litraj", None)
    for bad in ("me/litraj", "hf://litraj", "hf://a/b/c", "hf://../x", "s3://a/b"):
        with pytest.raises(DataFormatError, match="hf://OWNER/REPO"):
            parse_target(bad)
    with pytest.raises(DataFormatError, match="no release.json"):
        push_release(tmp_path, "hf://me/litraj")
    assert main(["release", "push", str(release_dir)]) == 2
    assert "usage" in capsys.readouterr().err


class _FakeHub:
    """The Hub endpoints `litraj release push` uses, on 127.0.0.1, in memory (regular git files only).

    create repo, create branch, list tree, validate README yaml, preupload (every file
    "regular"), commit (ndjson, base64 contents). It records every call, so a test can
    see that an unchanged release makes no commit.
    """

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        hub = self
        self.files: dict[str, dict[str, bytes]] = {}  # revision -> path -> content
        self.calls: list[tuple[str, str]] = []
        self.commits: list[list[str]] = []

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a stuck client cannot hold a server thread for ever

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, code, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _body(self):
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self):
                import urllib.parse

                path = urllib.parse.urlparse(self.path).path
                hub.calls.append(("GET", path))
                parts = path.split("/")
                if path.startswith("/api/datasets/") and "tree" in parts:
                    rev = urllib.parse.unquote(parts[parts.index("tree") + 1])
                    if rev not in hub.files:
                        return self._reply(404, {"error": "Revision not found"}, {"X-Error-Code": "RevisionNotFound"})
                    from litraj_data.publish.hub import git_blob_sha1  # the same id git and the Hub compute

                    entries = []
                    for p, content in sorted(hub.files[rev].items()):
                        tmp = hub.scratch / "blob"
                        tmp.write_bytes(content)
                        entries.append({"type": "file", "path": p, "size": len(content), "oid": git_blob_sha1(tmp)})
                    return self._reply(200, entries)
                return self._reply(404, {"error": f"not served: {path}"})

            def do_POST(self):
                import base64
                import urllib.parse

                path = urllib.parse.urlparse(self.path).path
                hub.calls.append(("POST", path))
                body = self._body()
                if path == "/api/repos/create":
                    hub.files.setdefault("main", {})
                    req = json.loads(body)
                    repo = f"{req.get('organization') or 'me'}/{req['name']}"
                    return self._reply(200, {"url": f"{hub.url}/datasets/{repo}"})
                if path == "/api/validate-yaml":
                    return self._reply(200, {"errors": [], "warnings": []})
                parts = path.split("/")
                if "branch" in parts:
                    hub.files.setdefault(urllib.parse.unquote(parts[-1]), dict(hub.files.get("main", {})))
                    return self._reply(200, {})
                if "preupload" in parts:
                    files = json.loads(body)["files"]
                    return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                        "shouldIgnore": False} for f in files]})
                if "commit" in parts:
                    rev = urllib.parse.unquote(parts[-1])
                    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                    added = [ln["value"] for ln in lines if ln["key"] == "file"]
                    for f in added:
                        hub.files.setdefault(rev, {})[f["path"]] = base64.b64decode(f["content"])
                    hub.commits.append([f["path"] for f in added])
                    oid = f"{len(hub.commits):040d}"
                    return self._reply(200, {"commitUrl": f"{hub.url}/datasets/me/litraj/commit/{oid}",
                                             "commitOid": oid})
                return self._reply(404, {"error": f"not served: {path}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def test_push_to_a_local_hub_uploads_once_then_nothing(release_dir, tmp_path, monkeypatch, capsys):
    from litraj_data.publish.hub import push_release

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with _FakeHub() as hub:
        hub.scratch = tmp_path
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        n_files = len([p for p in release_dir.rglob("*") if p.is_file()])
        first = push_release(release_dir, "hf://me/litraj", token="hf_test")
        assert [r["action"] for r in first] == ["add"] * n_files and len(hub.commits) == 1
        assert {p: hashlib.sha256(c).hexdigest() for p, c in hub.files["main"].items()} == _sha_tree(release_dir)
        # unchanged: nothing uploaded, no commit
        code = main(["release", "push", str(release_dir), "hf://me/litraj", "--token", "hf_test", "--json"])
        doc = json.loads(capsys.readouterr().out)
        assert code == 0 and {r["action"] for r in doc["records"]} == {"skip"} and len(hub.commits) == 1
        # one file changed: only it goes up; a dry run first uploads nothing
        changed = tmp_path / "changed"
        import shutil

        shutil.copytree(release_dir, changed)
        (changed / "LICENSE").write_text((changed / "LICENSE").read_text() + "\n")
        dry = push_release(changed, "hf://me/litraj", token="hf_test", dry_run=True)
        assert [r["file"] for r in dry if r["action"] == "would_add"] == ["LICENSE"] and len(hub.commits) == 1
        push_release(changed, "hf://me/litraj", token="hf_test")
        assert hub.commits[-1] == ["LICENSE"]
        # a branch: created, then filled from main's files (unchanged ones skipped)
        branch = push_release(release_dir, "hf://me/litraj@v1.0.0", token="hf_test")
        assert [r["file"] for r in branch if r["action"] == "add"] == ["LICENSE"]
        assert ("POST", "/api/datasets/me/litraj/branch/v1.0.0") in hub.calls
