"""A hostile-input corpus run against every ``litraj`` command that takes a file, folder or source (issue 24).

For each command, every hostile input of :mod:`hostile.corpus` that the command can be handed
is run through the real entry point (:func:`litraj_data.cli.main.main`) in a child interpreter
(:mod:`hostile.runner`), each case with its own HOME, cache and working folder, offline. For
every case:

* the exit status is 1 or 2 (0 only for hostile *text* in a valid document, then checked);
* a named reason is given: a ``reason`` in the ``--json`` record, or ``(REASON)`` on stderr --
  a snake_case word, not a Python class name;
* no exception leaves ``main`` and stderr holds no ``Traceback``;
* nothing is written outside the case's ``out/`` and ``cache/`` folders: the whole temporary
  tree (inputs, a sentinel folder, a victim ``home/.bashrc``) is compared before and after;
* the marker that a pickle's ``__reduce__`` would create never exists;
* each case runs under an alarm (the runner) and each command under pytest-timeout.

The fast corpus covers every command with one case per attack class it can meet; the ``slow``
part runs random byte mutations (hypothesis) of a valid release zip, extxyz file and
submission through the same route.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import corpus
from hostile.corpus import Case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

RUNNER = Path(__file__).parent / "hostile" / "runner.py"
CASE_ALARM_S = 90
REASON_RE = re.compile(r"^[a-z][a-z0-9_]*$")
STDERR_REASON_RE = re.compile(r"(?:failed|error) \(([a-z][a-z0-9_]*)\)")


# ----------------------------------------------------------------------------- the shared inputs

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """One temporary tree: inputs (read-only for the commands), a sentinel folder, a victim HOME file."""
    from litraj_data.store.layout import sample_root
    from litraj_data.testing import write_release

    top = tmp_path_factory.mktemp("hostile")
    (top / "sentinel").mkdir()
    (top / "sentinel" / "secret.txt").write_text("the user's secret\n")
    (top / "home").mkdir()
    (top / "home" / ".bashrc").write_text("# the user's file\n")
    inputs = top / "root" / "in"
    marker = top / "MARKER_code_ran"
    write_release("BVEL13k", inputs / "release", {"train": 3, "val": 2, "test": 2}, seed=1)
    good_zip = inputs / "release" / "BVEL13k.zip"
    lif = inputs / "LiF.cif"
    lif.write_text(corpus.cif(corpus.LIF))
    baseline_dirs = {}
    for key, info in {"pickle": json.dumps({"task": "nebBVSE122k/em", "feature_set": "voronoi", "model": "rf"}),
                      "deep_info": corpus.deep_json(), "list_info": b"[1, 2]", "garbage_info": corpus.garbage(),
                      "text_task": json.dumps({"task": corpus.HTML, "feature_set": "voronoi"})}.items():
        folder = inputs / "baseline" / key
        folder.mkdir(parents=True)
        (folder / "model.json").write_bytes(info.encode() if isinstance(info, str) else info)
        (folder / "model.joblib").write_bytes(pickle.dumps(corpus._Payload(marker)))
        baseline_dirs[key] = folder
    gnn_dirs = {}
    run = {"arch": "m3gnet", "model_hp": {}, "model_config": {}, "task": "nebBVSE122k/em"}
    for key, text in {"pickle": json.dumps(run).encode(), "deep_run": corpus.deep_json(), "list_run": b"[1]",
                      "garbage_run": corpus.garbage(), "html_run": json.dumps({**run, "arch": corpus.HTML}).encode()
                      }.items():
        folder = inputs / "gnn" / key
        folder.mkdir(parents=True)
        (folder / "run.json").write_bytes(text)
        (folder / "model.pt").write_bytes(pickle.dumps(corpus._Payload(marker)))
        gnn_dirs[key] = folder
    w = {
        "top": top, "marker": marker, "lif": lif, "good_zip": good_zip,
        "structures": corpus.structure_files(inputs / "structures", top),
        "zips": corpus.release_zips(inputs / "zips", good_zip),
        "versions": corpus.hostile_versions(inputs / "versions", sample_root() / "BVEL13k" / "1.0.0",
                                            top / "sentinel", top / "home" / ".bashrc"),
        "weights": corpus.weights(inputs / "weights", marker),
        "submissions": corpus.submissions(inputs / "submissions"),
        "cards": corpus.cards(inputs / "cards"),
        "records": corpus.records(inputs / "records"),
        "entries": corpus.entries(inputs / "entries"),
        "raw": corpus.raw_runs(inputs / "raw"),
        "baseline_dirs": baseline_dirs, "gnn_dirs": gnn_dirs,
    }
    from pymatgen.core import Lattice, Structure
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    lif_s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    w["entries_ok"] = inputs / "entries_ok.json"  # valid entries: the case then reaches --weights
    w["entries_ok"].write_text(json.dumps([ComputedStructureEntry(lif_s, -10.0, data={"band_gap": 8.0},
                                                                  entry_id="LiF").as_dict()]))
    (top / "mpl").mkdir()
    return w


# ----------------------------------------------------------------------------- the cases, per command

def _roots(w: dict, command: str, cid: str) -> Path:
    root = w["top"] / "root" / "cases" / command.replace(" ", "_") / cid
    for sub in ("work", "cache"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def _page_has_no_live_payload(root: Path, stdout: str) -> None:
    for page in (root / "out").rglob("*.html"):
        text = page.read_text()
        assert "<script>document.title" not in text and "onerror=alert" not in text.replace("onerror=alert(1)&", "")


UNSAFE_NAMES = {"extra_traversal", "shard_absolute", "version_newline", "nul_name", "shard_link_out", "traversal",
                "absolute", "version_traversal", "clear_traversal", "clear_absolute"}
PICKLES = {"raw_pickle", "protocol0", "torch_zip"}
STRUCTURE_COMMANDS = {"bvel", "hops", "features", "screen"}


def expected_reasons(command: str, cid: str) -> set[str] | None:
    """The reasons a case must give where one class of attack has one answer (``None``: any named reason)."""
    key = re.sub(r"^(weights|source|zip|init)_", "", cid)
    if command == "cite" and key != "version_traversal":
        return None  # cite reads a release's own files: a folder without release.json is not_a_release first
    if key in UNSAFE_NAMES:
        return {"unsafe_name"}
    if key in PICKLES and command in ("screen", "bench umlip", "bench efs", "finetune"):
        return {"unsafe_weights", "missing_extra"}  # missing_extra: the model's package is not installed here
    if key == "finetuned_pickle" and command in ("screen", "bench umlip", "bench efs"):
        return {"unsafe_weights", "missing_extra"}
    if key == "pickle":  # baseline and GNN run folders holding a pickle
        return {"unsafe_weights", "missing_extra"}
    if command in STRUCTURE_COMMANDS and key in ("many_atoms", "partial", "huge_cell"):
        return {"many_atoms": {"too_many_atoms"}, "partial": {"disordered"}, "huge_cell": {"cell_too_large"}}[key]
    return {"bomb": {"compression_ratio"}, "encrypted": {"encrypted_member"},
            "alias_bomb": {"yaml_alias"}, "meta_alias_bomb": {"yaml_alias"}}.get(key)


def cases_for(command: str, w: dict) -> list[Case]:
    """The hostile cases of ``command`` (inputs already written in ``w``)."""
    S, Z, V, W = w["structures"], w["zips"], w["versions"], w["weights"]
    out: list[Case] = []

    def add(cid: str, argv: list[str], **kw) -> None:
        root = _roots(w, command, cid)
        argv = [a.replace("{OUT}", str(root / "out")).replace("{CACHE}", str(root / "cache")) for a in argv]
        kw.setdefault("reasons", expected_reasons(command, cid))
        out.append(Case(cid, argv, root, marker=w["marker"], **kw))

    structs = {k: str(p) for k, p in S.items()}
    if command in ("bvel", "hops", "features"):
        for k, p in structs.items():
            add(k, [command, p, "--json"])
        add("nul_in_name", [command, str(S["garbage"]) + "\x00.cif", "--json"])
    elif command == "screen":
        for k in ("empty", "garbage", "zero_atoms", "huge_cell", "partial", "many_atoms", "nan_positions",
                  "flat_cell", "symlink_out", "long_line"):
            add(k, ["screen", structs[k], "--model", "chgnet", "--json"])
        for k, p in W.items():
            add("weights_" + k, ["screen", str(w["lif"]), "--model", "chgnet", "--weights", str(p), "--json"])
    elif command == "build BVEL13k":
        for k in ("garbage", "zero_atoms", "huge_cell", "partial", "many_atoms", "symlink_out"):
            add(k, ["build", "BVEL13k", "--structures", structs[k], "--out", "{OUT}", "--json"])
    elif command == "build nebDFT2k":
        for k, p in w["raw"].items():
            add(k, ["build", "nebDFT2k", "--raw", str(p), "--out", "{OUT}", "--json"])
    elif command == "build from-release":
        for k, p in Z.items():
            add(k, ["build", "from-release", "BVEL13k", "--source", str(p), "--out", "{OUT}", "--json"])
        linked = w["top"] / "root" / "in" / "release_link" / "BVEL13k"  # an unpacked release, a split linked out
        if not linked.exists():
            shutil.copytree(w["good_zip"].parent / "BVEL13k", linked)
            split = sorted(linked.glob("*train*"))[0]
            shutil.copyfile(split, w["top"] / "sentinel" / split.name)
            split.unlink()
            os.symlink(w["top"] / "sentinel" / split.name, split)
        add("folder_link_out", ["build", "from-release", "BVEL13k", "--source", str(linked), "--out", "{OUT}",
                                "--json"], reasons={"unsafe_name"})
        add("version_newline", ["build", "from-release", "BVEL13k", "--source", str(w["good_zip"]), "--out",
                                "{OUT}", "--version", "1.0.0\n", "--json"])
        add("version_traversal", ["build", "from-release", "BVEL13k", "--source", str(w["good_zip"]), "--out",
                                  "{OUT}", "--version", "../../../home", "--json"])
    elif command == "verify":
        for k, p in V.items():
            add(k, ["verify", str(p), "--json"])
    elif command == "export":
        for k, p in V.items():
            add(k, ["export", "BVEL13k", "--source", str(p), "--format", "parquet", "--out", "{OUT}",
                    "--cache-dir", "{CACHE}", "--json"])
        add("zip_traversal", ["export", "BVEL13k", "--source", str(Z["traversal"]), "--out", "{OUT}",
                              "--cache-dir", "{CACHE}", "--json"])
    elif command == "release":
        for k, p in V.items():
            add(k, ["release", "BVEL13k", "--source", str(p), "--out", "{OUT}", "--cache-dir", "{CACHE}", "--json"])
        add("push_hostile_folder", ["release", "push", str(V["extra_traversal"].parent.parent),
                                    "file://" + str(w["top"] / "root" / "cases" / "release" / "push_target"),
                                    "--json"])
        add("push_traversal_target", ["release", "push", str(V["extra_traversal"].parent.parent),
                                      "hf://../../evil/x", "--dry-run", "--json"])
    elif command == "cache":
        add("clear_traversal", ["cache", "clear", "../../home", "--cache-dir", "{CACHE}", "--json"])
        add("clear_absolute", ["cache", "clear", str(w["top"] / "sentinel"), "--cache-dir", "{CACHE}", "--json"])
        add("version_newline", ["cache", "clear", "BVEL13k", "--version", "1.0.0\n", "--cache-dir", "{CACHE}",
                                "--json"])
        add("version_traversal", ["cache", "clear", "BVEL13k", "--version", "../../..", "--cache-dir", "{CACHE}",
                                  "--json"])
    elif command == "load":  # a dataset read through --source: the features command's dataset route
        for k in ("extra_traversal", "shard_link_out", "version_newline", "text_counts", "deep_manifest",
                  "truncated_shard", "card_alias_bomb"):
            add(k, ["features", "--dataset", "BVEL13k", "--split", "val", "--source", str(V[k]), "--out", "{OUT}",
                    "--cache-dir", "{CACHE}", "--json"])
        for k in ("truncated", "bomb", "traversal", "encrypted"):
            add("zip_" + k, ["features", "--dataset", "BVEL13k", "--split", "val", "--source", str(Z[k]),
                             "--out", "{OUT}", "--cache-dir", "{CACHE}", "--json"])
    elif command == "cite":
        for k in ("extra_traversal", "version_newline", "deep_manifest", "garbage_manifest", "card_alias_bomb"):
            add(k, ["cite", "--version", "1.0.0", "--source", str(V[k].parent.parent), "--json"])
        add("garbage_zip", ["cite", "--version", "1.0.0", "--source", str(Z["garbage"]), "--json"])
        add("version_traversal", ["cite", "--version", "../../../home", "--source", str(w["good_zip"]), "--json"])
    elif command == "check-leakage":
        for k in ("extra_traversal", "version_newline", "deep_manifest", "garbage_manifest", "shard_link_out",
                  "truncated_shard", "text_counts"):
            add(k, ["check-leakage", str(V[k]), "--json"])
    elif command in ("bench umlip", "bench efs"):
        sub = command.split()[1]
        extra = ["--dataset", "MPLiTrj"] if sub == "efs" else ["--split", "all"]
        for k, p in W.items():
            add("weights_" + k, ["bench", sub, "--model", "chgnet", "--weights", str(p), "--source", "sample",
                                 *extra, "--limit", "1", "--out", "{OUT}", "--json"])
        for k in ("extra_traversal", "deep_manifest"):
            add("source_" + k, ["bench", sub, "--model", "chgnet", "--source", str(V[k]), *extra, "--limit", "1",
                                "--out", "{OUT}", "--cache-dir", "{CACHE}", "--json"])
    elif command == "finetune":
        for k, p in W.items():
            add("weights_" + k, ["finetune", "--model", "chgnet", "--weights", str(p), "--source", "sample",
                                 "--epochs", "1", "--out", "{OUT}", "--json"])
    elif command == "train gnn":
        for k, p in {**w["gnn_dirs"], **W}.items():
            add("init_" + k, ["train", "gnn", "--arch", "m3gnet", "--task", "nebBVSE122k/em", "--source", "sample",
                              "--epochs", "1", "--out", "{OUT}", "--init-from", str(p), "--json"])
    elif command == "baseline predict":
        for k, p in w["baseline_dirs"].items():
            add(k, ["baseline", "predict", "--model-dir", str(p), "--source", "sample", "--out", "{OUT}/pred.csv",
                    "--json"])
        for k in ("finetuned_pickle", "card_alias_bomb", "card_traversal"):
            add(k, ["baseline", "predict", "--model-dir", str(W[k]), "--source", "sample", "--out",
                    "{OUT}/pred.csv", "--json"])
    elif command in ("submit validate", "score"):
        sub = command.split()
        tail = ["--out", "{OUT}"] if command == "score" else []
        for k, p in w["submissions"].items():
            add(k, [*sub, str(p), "--task", "nebBVSE122k/em", "--source", "sample", *tail, "--json"])
        good = w["submissions"]["html_ids"]
        for k, p in w["cards"].items():
            add("meta_" + k, [*sub, str(good), "--task", "nebBVSE122k/em", "--metadata", str(p), "--source",
                              "sample", *tail, "--json"])
        add("task_traversal", [*sub, str(good), "--task", "../../../etc/passwd", "--source", "sample", *tail,
                               "--json"])
    elif command == "submit card":
        for k, p in w["cards"].items():
            add(k, ["submit", "card", str(p), "--json"])
    elif command == "leaderboard render":
        for k, p in w["records"].items():
            add(k, ["leaderboard", "render", "--html", "{OUT}/index.html", "--submissions", str(p), "--json"],
                ok_allowed=k == "nan_metrics", check=_page_has_no_live_payload)
    elif command == "coating":
        for k, p in w["entries"].items():
            add(k, ["coating", str(p), "--json"])
        for k in ("raw_pickle", "torch_zip", "finetuned_pickle"):
            add("weights_" + k, ["coating", str(w["entries_ok"]), "--barriers", "chgnet", "--weights", str(W[k]),
                                 "--json"], reasons={"unsafe_weights", "missing_extra"})
    else:
        raise KeyError(command)
    return out


COMMANDS = ["bvel", "hops", "features", "screen", "build BVEL13k", "build nebDFT2k", "build from-release", "verify",
            "export", "release", "cache", "load", "cite", "check-leakage", "bench umlip", "bench efs", "finetune",
            "train gnn", "baseline predict", "submit validate", "score", "submit card", "leaderboard render",
            "coating"]


# ----------------------------------------------------------------------------- running and checking

def _snapshot(top: Path) -> dict[str, tuple]:
    """Every path under ``top``: type, size and a content hash (files), link target (links)."""
    snap: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                snap[p] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as fh:
                    snap[p] = ("file", st.st_size, hashlib.sha256(fh.read()).hexdigest())
            else:
                snap[p] = ("dir" if stat.S_ISDIR(st.st_mode) else "other",)
    return snap


def _allowed(path: str, cases: list[Case], top: Path) -> bool:
    p = Path(path)
    if p == top / "mpl" or top / "mpl" in p.parents:
        return True
    for c in cases:
        for zone in (c.root / "out", c.root / "cache"):
            if p == zone or zone in p.parents:
                return True
        if command_target(c) and (p == command_target(c) or command_target(c) in p.parents):
            return True
    # the case folders' own parents exist before the run; a new case-level folder is not allowed
    return False


def command_target(case: Case) -> Path | None:
    """A ``file://`` target named on the command line (``release push``): the command may write there."""
    for a in case.argv:
        if a.startswith("file://"):
            return Path(a[len("file://"):])
    return None


def run_cases(cases: list[Case], top: Path, timeout: float) -> list[dict]:
    """Run ``cases`` through :mod:`hostile.runner` in one child interpreter."""
    env_common = {"LITRAJ_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "MPLCONFIGDIR": str(top / "mpl"),
                  "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    payload = [{"id": c.id, "argv": c.argv, "cwd": str(c.root / "work"), "timeout": CASE_ALARM_S,
                "env": {**env_common, "HOME": str(top / "home"), "LITRAJ_CACHE": str(c.root / "cache"),
                        "HF_HOME": str(c.root / "cache" / "hf"), "XDG_CACHE_HOME": str(c.root / "cache" / "xdg"),
                        "TORCH_HOME": str(c.root / "cache" / "torch")}} for c in cases]
    spool = top.parent / f"{top.name}-spool"
    spool.mkdir(exist_ok=True)
    cases_path, results_path = spool / "cases.json", spool / "results.json"
    cases_path.write_text(json.dumps(payload))
    if results_path.exists():
        results_path.unlink()
    env = {**os.environ, **env_common, "HOME": str(top / "home"), "LITRAJ_CACHE": str(top / "root" / "cache0")}
    proc = subprocess.run([sys.executable, str(RUNNER), str(cases_path), str(results_path)], cwd=top / "root",
                          env=env, capture_output=True, text=True, timeout=timeout)
    results = json.loads(results_path.read_text()) if results_path.exists() else []
    assert len(results) == len(cases), f"runner stopped after {len(results)} cases: {proc.stderr[-3000:]}"
    return results


def _reasons(result: dict) -> list[str]:
    reasons: list[str] = []
    try:
        doc = json.loads(result["stdout"])
        for rec in doc.get("records", []):
            if not isinstance(rec, dict):
                continue
            if rec.get("ok") is False and isinstance(rec.get("reason"), str):
                reasons.append(rec["reason"])
            if rec.get("valid") is False:  # submissions and cards: each issue names its check
                issues = [i for i in rec.get("issues", []) if isinstance(i, dict)]
                reasons += [str(i.get("check") or i.get("reason")) for i in issues]
    except (json.JSONDecodeError, AttributeError):
        pass
    reasons += STDERR_REASON_RE.findall(result["stderr"])
    return [r for r in reasons if REASON_RE.match(r)]


def check_results(cases: list[Case], results: list[dict], before: dict, after: dict, top: Path) -> list[str]:
    """Every broken promise, one line each (empty: all held)."""
    problems = []
    by_id = {c.id: c for c in cases}
    for res in results:
        case = by_id[res["id"]]
        tag = f"{case.id} ({' '.join(a[-60:] for a in case.argv[:3])})"
        if res["escaped"]:
            problems.append(f"{tag}: {res['escaped']} left main(): {res['stderr'][-1500:]}")
            continue
        if "Traceback (most recent call last)" in res["stderr"]:
            problems.append(f"{tag}: traceback on stderr: {res['stderr'][-1500:]}")
        ok_codes = (0, 1, 2) if case.ok_allowed else (1, 2)
        if res["rc"] not in ok_codes:
            problems.append(f"{tag}: exit {res['rc']}: {res['stdout'][-500:]} {res['stderr'][-500:]}")
        if res["rc"] != 0:
            reasons = _reasons(res)
            if not reasons:
                problems.append(f"{tag}: no named reason: {res['stdout'][-500:]} {res['stderr'][-800:]}")
            elif case.reasons and not set(reasons) & case.reasons:
                problems.append(f"{tag}: reasons {reasons}, expected one of {sorted(case.reasons)}")
        if case.check is not None:
            try:
                case.check(case.root, res["stdout"])
            except AssertionError as exc:
                problems.append(f"{tag}: check failed: {exc}")
    marker = top / "MARKER_code_ran"
    if marker.exists():
        problems.append("the pickle marker exists: code from a weights file ran")
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    outside = [p for p in changed if not _allowed(p, cases, top)]
    if outside:
        problems.append(f"written outside out/ and cache/: {outside[:20]}")
    return problems


def _report(command: str, results: list[dict]) -> None:
    """With ``LITRAJ_HOSTILE_REPORT=FILE``: what the user saw, case by case, as JSON lines."""
    if os.environ.get("LITRAJ_HOSTILE_REPORT"):
        with open(os.environ["LITRAJ_HOSTILE_REPORT"], "a") as fh:
            for res in results:
                fh.write(json.dumps({"command": command, "case": res["id"], "rc": res["rc"],
                                     "reasons": sorted(set(_reasons(res)))}) + "\n")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_hostile_input_gets_a_named_reason_and_writes_nothing_outside(world, command):
    cases = cases_for(command, world)
    top = world["top"]
    before = _snapshot(top)
    results = run_cases(cases, top, timeout=850)
    after = _snapshot(top)
    problems = check_results(cases, results, before, after, top)
    _report(command, results)
    for c in cases:  # the next command starts from the same tree
        shutil.rmtree(c.root / "out", ignore_errors=True)
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- random mutations (slow)

#: one byte-level edit: (kind, position, bytes)
MUTATION = st.tuples(st.sampled_from(["flip", "delete", "insert", "truncate", "overwrite"]),
                     st.integers(0, 1 << 30), st.binary(min_size=1, max_size=24))


def mutate(data: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    """``data`` after the edits ``ops`` (positions taken modulo the current length)."""
    buf = bytearray(data)
    for kind, pos, chunk in ops:
        i = pos % max(len(buf), 1)
        if kind == "flip" and buf:
            buf[i] ^= chunk[0] or 1
        elif kind == "delete":
            del buf[i:i + len(chunk)]
        elif kind == "insert":
            buf[i:i] = chunk
        elif kind == "truncate":
            del buf[i:]
        else:
            buf[i:i + len(chunk)] = chunk
    return bytes(buf)


def _valid_inputs(w: dict) -> dict[str, tuple[bytes, str]]:
    """A valid release zip, a valid extxyz structure and a valid scalar submission (bytes, suffix)."""
    import pyarrow.ipc as ipc

    from litraj_data.store.layout import sample_root

    shard = sorted((sample_root() / "nebBVSE122k" / "1.0.0").glob("*test*.arrow"))[0]
    with open(shard, "rb") as fh:
        ids = ipc.open_stream(fh).read_all().column("edge_id").to_pylist()
    csv = "edge_id,prediction\n" + "".join(f"{i},0.5\n" for i in ids)
    xyz = corpus.extxyz([("Li", 0, 0, 0), ("F", 2, 2, 2)])
    return {"zip": (w["good_zip"].read_bytes(), ".zip"), "xyz": (xyz.encode(), ".extxyz"),
            "submission": (csv.encode(), ".csv")}


@pytest.mark.slow
@pytest.mark.timeout(1500)
@settings(max_examples=10, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(st.lists(MUTATION, min_size=1, max_size=4), min_size=18, max_size=18))
def test_random_byte_mutations_give_a_result_or_a_named_reason(world, edits):
    """Random edits of valid inputs, each through its command: exit 0, or 1/2 with a named reason."""
    valid = _valid_inputs(world)
    folder = world["top"] / "root" / "in" / "mutations"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    cases = []
    kinds = list(valid)
    for k, ops in enumerate(edits):
        kind = kinds[k % len(kinds)]
        data, suffix = valid[kind]
        path = folder / f"m{k}{suffix}"
        path.write_bytes(mutate(data, ops))
        root = _roots(world, "mutations", f"m{k}")
        shutil.rmtree(root / "out", ignore_errors=True)
        argv = {"zip": ["build", "from-release", "BVEL13k", "--source", str(path), "--out", str(root / "out")],
                "xyz": ["hops", str(path)],
                "submission": ["submit", "validate", str(path), "--task", "nebBVSE122k/em", "--source", "sample"]}
        cases.append(Case(f"m{k}-{kind}", [*argv[kind], "--json"], root, ok_allowed=True, marker=world["marker"]))
    top = world["top"]
    before = _snapshot(top)
    results = run_cases(cases, top, timeout=1400)
    after = _snapshot(top)
    problems = check_results(cases, results, before, after, top)
    _report("mutations", results)
    assert not problems, "\n".join(problems)
