"""``litraj release push DIR hf://OWNER/REPO[@REV]``: a release folder uploaded to the Hugging Face Hub.

Idempotent: the remote's file list (path, git blob id, LFS sha256) is read first and only
the files whose content differs are put into one commit, so pushing an unchanged release
uploads nothing and makes no commit. Resumable: an interrupted push left no commit; the
next one recomputes the plan, and the Hub skips LFS objects it already holds. Offline
(``HF_HUB_OFFLINE=1``, ``LITRAJ_OFFLINE=1``) or with an unreachable endpoint it fails at
once, before any upload. ``HF_ENDPOINT`` (a mirror, a private Hub) is read at call time.
"""
from __future__ import annotations

import hashlib
import os
import socket
import sys
import urllib.parse
from pathlib import Path
from typing import Any, Iterable, Mapping

from litraj_data.download import is_offline
from litraj_data.errors import DataFormatError, LitrajError, OfflineError
from litraj_data.io import sha256_file
from litraj_data.publish.release import check_replaceable, read_release

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT_S = 5.0


class HubError(LitrajError):
    """The Hub refused a push (authentication, permissions, a bad repository name)."""

    reason = "hub_error"


def parse_target(spec: str) -> tuple[str, str | None]:
    """``hf://OWNER/REPO[@REV]`` -> ``(OWNER/REPO, REV or None)``.

    Raises
    ------
    DataFormatError
        Not of that form.
    """
    if not spec.startswith("hf://"):
        raise DataFormatError(f"push target must look like hf://OWNER/REPO[@REVISION], not {spec!r}",
                              reason="bad_target")
    rest = spec[len("hf://"):]
    repo, _, revision = rest.partition("@")
    parts = repo.split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") for p in parts):
        raise DataFormatError(f"push target must look like hf://OWNER/REPO[@REVISION], not {spec!r}",
                              reason="bad_target")
    return repo, revision or None


def git_blob_sha1(path: Path) -> str:
    """The git blob id of a file (what the Hub lists for files not stored in LFS)."""
    h = hashlib.sha1()
    h.update(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def local_files(folder: Path) -> list[dict[str, Any]]:
    """Every file of a release folder: ``path`` (posix, relative), ``sha256``, ``blob_id``, ``num_bytes``."""
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out.append({"path": p.relative_to(folder).as_posix(), "sha256": sha256_file(p), "blob_id": git_blob_sha1(p),
                        "num_bytes": p.stat().st_size, "local": p})
    return out


def commit_plan(local: Iterable[Mapping[str, Any]], remote: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Which local files a push adds and which it skips (already on the remote, same content).

    Parameters
    ----------
    local : iterable of mapping
        As :func:`local_files`.
    remote : mapping of path to mapping
        The remote's files: ``{"blob_id": str, "sha256": str or None}`` (``sha256`` is the
        LFS object's, None for a file stored in git).

    Returns
    -------
    dict
        ``{"add": [paths], "skip": [paths]}``. Remote files the release does not hold are
        left alone (a repository may hold several releases' versions).
    """
    plan: dict[str, list[str]] = {"add": [], "skip": []}
    for f in local:
        r = remote.get(f["path"])
        same = r is not None and (r.get("sha256") == f["sha256"] if r.get("sha256")
                                  else r.get("blob_id") == f["blob_id"])
        plan["skip" if same else "add"].append(f["path"])
    return plan


def hub_endpoint() -> str:
    """The Hub's URL: ``HF_ENDPOINT`` when set (read now, not at import), else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def check_reachable(endpoint: str) -> None:
    """Fail at once, with a clear message, when offline or when the endpoint cannot be reached.

    Raises
    ------
    OfflineError
        ``HF_HUB_OFFLINE``/``LITRAJ_OFFLINE`` is set, or no TCP connection to the endpoint
        within a few seconds.
    """
    if is_offline():
        raise OfflineError(f"cannot push to {endpoint}: HF_HUB_OFFLINE or LITRAJ_OFFLINE is set. Unset it to "
                           "publish; nothing was uploaded.", reason="offline")
    url = urllib.parse.urlparse(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise DataFormatError(f"HF_ENDPOINT {endpoint!r} is not an http(s) URL", reason="bad_endpoint")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:  # DNS failure, refused, timed out: the same answer for the user
        raise OfflineError(f"cannot reach the Hub at {endpoint} ({exc}); check the network or HF_ENDPOINT. "
                           "Nothing was uploaded.", reason="unreachable") from exc


def remote_files(api: Any, repo_id: str, revision: str | None) -> dict[str, dict[str, Any]]:
    """The files of ``repo_id`` at ``revision`` (empty for a new repository or branch)."""
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    try:
        entries = api.list_repo_tree(repo_id, repo_type="dataset", revision=revision, recursive=True)
        out = {}
        for e in entries:
            if getattr(e, "blob_id", None) is None:  # a folder
                continue
            lfs = getattr(e, "lfs", None)
            out[e.path] = {"blob_id": e.blob_id, "sha256": getattr(lfs, "sha256", None) if lfs else None}
        return out
    except (RevisionNotFoundError, EntryNotFoundError):
        return {}


def push_release(folder: str | Path, target: str, *, token: str | None = None, private: bool = False,
                 dry_run: bool = False) -> list[dict[str, Any]]:
    """Upload a release folder to ``hf://OWNER/REPO[@REV]`` (see the module docstring).

    Parameters
    ----------
    folder : path
        A folder made by ``litraj release`` (holding ``release.json``).
    target : str
        ``hf://OWNER/REPO[@REVISION]``; the repository (a dataset repo) and the branch are
        created when missing.
    token : str, optional
        A Hub token (default: ``HF_TOKEN`` or the stored login).
    private : bool
        Create the repository private.
    dry_run : bool
        Read the remote and report the plan; upload nothing.

    Returns
    -------
    list of dict
        One record per local file: ``file`` (path in the repository), ``action``
        (``add``, ``skip``; ``would_add`` in a dry run), ``sha256``, ``num_bytes``.

    Raises
    ------
    OfflineError
        Offline or the endpoint is unreachable (before anything is uploaded).
    HubError
        The Hub refused (authentication, permissions, bad name).
    """
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    folder = Path(folder)
    release = read_release(folder)
    check_replaceable(folder, "a push would upload them")  # exactly the release's files; no link, nothing added
    repo_id, revision = parse_target(target)
    endpoint = hub_endpoint()
    check_reachable(endpoint)
    api = HfApi(endpoint=endpoint, token=token)
    local = local_files(folder)
    try:
        if not dry_run:
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            if revision:
                api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
        try:
            remote = remote_files(api, repo_id, revision)
        except HfHubHTTPError as exc:
            if not dry_run or getattr(getattr(exc, "response", None), "status_code", None) != 404:
                raise
            remote = {}  # a dry run against a repository that does not exist yet: everything is new
        plan = commit_plan(local, remote)
        print(f"litraj release push: {len(plan['add'])} files to upload, {len(plan['skip'])} unchanged "
              f"({endpoint}/datasets/{repo_id})", file=sys.stderr, flush=True)
        if plan["add"] and not dry_run:
            by_path = {f["path"]: f for f in local}
            api.create_commit(repo_id, repo_type="dataset", revision=revision,
                              operations=[CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(by_path[p]["local"]))
                                          for p in plan["add"]],
                              commit_message=f"LiTraj release {release.get('version')}")
    except HfHubHTTPError as exc:
        raise HubError(f"the Hub at {endpoint} refused the push to {repo_id}: {exc}", reason="hub_error") from exc
    add = "would_add" if dry_run else "add"
    actions = {p: add for p in plan["add"]} | {p: "skip" for p in plan["skip"]}
    return [{"file": f["path"], "action": actions[f["path"]], "sha256": f["sha256"], "num_bytes": f["num_bytes"]}
            for f in local]
