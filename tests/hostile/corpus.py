"""The hostile-input corpus: generators of bad files, folders and sources, and the command lines feeding them.

Every input is written at test time under a case's own root (``ROOT/in``); nothing big is
committed. Classes of attack (issue 24): traversal and absolute names, links pointing out,
NUL and newline in names, truncated / corrupt / encrypted zips, zip bombs, YAML alias bombs
and deep nesting, pickles whose ``__reduce__`` creates a marker, HTML and script in text
fields, NaN / inf / text / null where numbers go, 0-atom, huge-cell and 10^5-atom structures,
partially occupied CIFs, per-atom arrays of the wrong width, empty files, binary garbage,
very long lines and deeply nested JSON.

:func:`cases_for` gives, for one command, a list of :class:`Case` (id, argv, expected
reasons); the inputs are written when it is called.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import random
import shutil
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HTML = '<script>document.title="pwned"</script><img src=x onerror=alert(1)><!--'
LATTICE = 'Lattice="4.0 0.0 0.0 0.0 4.0 0.0 0.0 0.0 4.0"'
PROPS = "Properties=species:S:1:pos:R:3"


@dataclass
class Case:
    """One hostile input fed to one command line.

    ``argv`` is the full command line (``--json`` included where the command takes it).
    ``reasons``: the named reasons accepted (``None``: any named reason). ``ok_allowed``: the
    input is hostile text in a valid document, which the command may accept (exit 0) provided
    ``check`` (given the case root and stdout) holds.
    """

    id: str
    argv: list[str]
    root: Path
    reasons: set[str] | None = None
    ok_allowed: bool = False
    check: Callable[[Path, str], None] | None = None
    marker: Path | None = None
    extra: dict = field(default_factory=dict)


class _Payload:
    """Unpickling it creates the marker file (what an attacker's code would do, visibly)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# ----------------------------------------------------------------------------- plain files

def garbage(n: int = 4096, seed: int = 0) -> bytes:
    """Binary noise (seeded)."""
    return random.Random(seed).randbytes(n)


def long_line(n: int = 2_000_000) -> bytes:
    """One line of ``n`` characters, no newline."""
    return b"A" * n


def deep_json(depth: int = 100_000) -> bytes:
    """``[[[...]]]``: the standard json module recurses once per level."""
    return b"[" * depth + b"]" * depth


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs" YAML document (9**levels strings from 2 KB)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def deep_yaml(depth: int = 5000) -> str:
    """A flow sequence nested ``depth`` levels deep."""
    return "model: " + "[" * depth + "]" * depth + "\n"


def extxyz(atoms: list[tuple[str, float, float, float]], info: str = "", lattice: str = LATTICE,
           props: str = PROPS) -> str:
    """One extxyz frame."""
    lines = [str(len(atoms)), f"{lattice} {props} {info}".strip()]
    lines += [f"{s} {x} {y} {z}" for s, x, y, z in atoms]
    return "\n".join(lines) + "\n"


def cif(sites: list[tuple[str, float, float, float, float]], a: float = 4.0, name: str = "x") -> str:
    """A P1 CIF with occupancies (``(symbol, x, y, z, occupancy)``)."""
    head = (f"data_{name}\n_cell_length_a {a}\n_cell_length_b {a}\n_cell_length_c {a}\n"
            "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
            "_symmetry_space_group_name_H-M 'P 1'\n_symmetry_Int_Tables_number 1\n"
            "loop_\n_symmetry_equiv_pos_as_xyz\n 'x, y, z'\n"
            "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
            "_atom_site_fract_z\n_atom_site_occupancy\n")
    return head + "".join(f"{s}{i} {s} {x} {y} {z} {o}\n" for i, (s, x, y, z, o) in enumerate(sites))


LIF = [("Li", 0, 0, 0, 1), ("F", 0.5, 0.5, 0.5, 1)]


def structure_files(d: Path, marker_root: Path) -> dict[str, Path]:
    """Hostile structure files: one per class, in ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, data: bytes | str) -> Path:
        p = d / name
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    out["empty"] = put("empty.cif", b"")
    out["garbage"] = put("garbage.cif", garbage())
    out["garbage_xyz"] = put("garbage.extxyz", garbage(seed=1))
    out["long_line"] = put("long.cif", long_line())
    out["long_line_xyz"] = put("long.extxyz", long_line())
    out["deep_json"] = put("deep.json", deep_json())
    out["zero_atoms"] = put("zero.extxyz", extxyz([]))
    out["huge_cell"] = put("huge.cif", cif(LIF, a=1e4))
    out["flat_cell"] = put("flat.extxyz", extxyz([("Li", 0, 0, 0), ("F", 0.5, 0.5, 0.5)],
                                                 lattice='Lattice="4.0 0 0 8.0 0 0 0 0 4.0"'))
    out["partial"] = put("partial.cif", cif([("Li", 0, 0, 0, 0.5), ("F", 0.5, 0.5, 0.5, 1)]))
    out["nan_positions"] = put("nan.extxyz", extxyz([("Li", float("nan"), 0, 0), ("F", 2, 2, 2)]))
    out["text_positions"] = put("text.extxyz", extxyz([("Li", 0, 0, 0)]).replace("Li 0 0 0", "Li zero 0 0"))
    out["wrong_width"] = put("width.extxyz", extxyz([("Li", 0, 0, 0), ("F", 2, 2, 2)],
                                                    props="Properties=species:S:1:pos:R:3:forces:R:2")
                             .replace("Li 0 0 0", "Li 0 0 0 1 1 1").replace("F 2 2 2", "F 2 2 2 1 1 1"))
    n = 100_000
    rows = "".join(f"Li {0.1 * (i % 100)} {0.1 * ((i // 100) % 100)} {0.1 * (i // 10_000)}\n" for i in range(n))
    out["many_atoms"] = put("many.extxyz", f"{n}\n{LATTICE.replace('4.0', '40.0')} {PROPS}\n{rows}")
    out["html_cif"] = put("html.cif", cif([("Li", 0, 0, 0, 0.5), ("F", 0.5, 0.5, 0.5, 1)], name="x<b>"))
    outside = marker_root / "sentinel" / "secret.txt"
    link = d / "link_out.cif"
    os.symlink(outside, link)
    out["symlink_out"] = link
    out["newline_name"] = put("bad\nname.cif", garbage(seed=2))
    return out


# ----------------------------------------------------------------------------- archives

def zip_members(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip holding ``members`` (names written as given: traversal included)."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def release_zips(d: Path, good_zip: Path) -> dict[str, Path]:
    """Hostile BVEL13k release archives made from a valid one."""
    d.mkdir(parents=True, exist_ok=True)
    good = good_zip.read_bytes()
    out: dict[str, Path] = {}
    out["truncated"] = d / "truncated.zip"
    out["truncated"].write_bytes(good[: len(good) // 2])
    out["garbage"] = d / "garbage.zip"
    out["garbage"].write_bytes(garbage(seed=3))
    out["empty"] = d / "empty.zip"
    out["empty"].write_bytes(b"")
    with zipfile.ZipFile(good_zip) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    split = next(n for n in members if n.endswith("train.xyz") or "train" in n and n.endswith("xyz"))
    prefix = split.rsplit("/", 1)[0] + "/" if "/" in split else ""
    # encrypted: the general-purpose flag bit 0 set in both headers
    raw = bytearray(zip_members(d / "tmp.zip", members).read_bytes())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        i = raw.find(sig)
        while i != -1:
            off = i + (6 if sig == b"PK\x03\x04" else 8)
            flags = struct.unpack_from("<H", raw, off)[0]
            struct.pack_into("<H", raw, off, flags | 1)
            i = raw.find(sig, i + 4)
    out["encrypted"] = d / "encrypted.zip"
    out["encrypted"].write_bytes(bytes(raw))
    # corrupt deflate data inside a member, headers intact
    corrupt = bytearray(zip_members(d / "tmp.zip", members).read_bytes())
    i = corrupt.find(b"PK\x03\x04")
    start = i + 30 + struct.unpack_from("<H", corrupt, i + 26)[0] + struct.unpack_from("<H", corrupt, i + 28)[0]
    corrupt[start + 20: start + 120] = garbage(100, seed=4)
    out["corrupt_member"] = d / "corrupt.zip"
    out["corrupt_member"].write_bytes(bytes(corrupt))
    out["bomb"] = zip_members(d / "bomb.zip", {**members, split: b"\0" * (40 << 20)})
    out["long_line"] = zip_members(d / "longline.zip", {**members, split: b"1" * (70 << 20)})
    out["traversal"] = zip_members(d / "traversal.zip", {**members, prefix + "../../../evil.txt": b"x"})
    out["absolute"] = zip_members(d / "absolute.zip", {**members, "/tmp/litraj-evil.txt": b"x"})
    link = zipfile.ZipInfo(split)  # the train split is a symbolic link to a file outside
    link.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(d / "symlink.zip", "w") as zf:
        for name, data in members.items():
            if name != split:
                zf.writestr(name, data)
        zf.writestr(link, "/etc/passwd")
    out["symlink_member"] = d / "symlink.zip"
    out["html_index"] = zip_members(d / "html.zip", {
        n: (data.replace(b"\n", f"\n{HTML},".encode(), 1) if n.endswith(".csv") else data)
        for n, data in members.items()})
    (d / "tmp.zip").unlink()
    return out


# ----------------------------------------------------------------------------- built versions

def hostile_versions(d: Path, sample: Path, outside: Path, victim: Path) -> dict[str, Path]:
    """Copies of a built BVEL13k version, each with one attack.

    ``outside`` is a folder outside the versions (links point there); ``victim`` a file that a
    traversal name in a manifest aims at (relative to the version folder).
    """
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def copy(key: str) -> tuple[Path, dict]:
        v = d / key / "BVEL13k" / "1.0.0"
        shutil.copytree(sample, v)
        out[key] = v
        return v, json.loads((v / "manifest.json").read_text())

    def save(v: Path, m: dict) -> None:
        (v / "manifest.json").write_text(json.dumps(m))

    payload = b"echo pwned\n"
    rec = {"sha256": hashlib.sha256(payload).hexdigest(), "num_bytes": len(payload)}
    v, m = copy("extra_traversal")
    m["extra_files"].append({"name": os.path.relpath(victim, v), **rec})
    save(v, m)
    v, m = copy("shard_absolute")
    m["splits"]["val"]["files"].append({"name": str(outside / ".bashrc"), "num_rows": 0, **rec})
    save(v, m)
    v, m = copy("version_newline")
    m["version"] = "1.0.0\n"
    save(v, m)
    v, m = copy("nul_name")
    m["splits"]["val"]["files"][0]["name"] = "BVEL13k-val\x00.arrow"
    save(v, m)
    v, m = copy("text_counts")
    for s in m["splits"].values():
        for f in s["files"]:
            f["num_rows"], f["num_bytes"] = "many", float("nan")
    (v / "manifest.json").write_text(json.dumps(m, allow_nan=True))
    v, m = copy("null_splits")
    m["splits"] = None
    save(v, m)
    v, _ = copy("deep_manifest")
    (v / "manifest.json").write_bytes(deep_json())
    v, _ = copy("garbage_manifest")
    (v / "manifest.json").write_bytes(garbage(seed=5))
    v, _ = copy("empty_manifest")
    (v / "manifest.json").write_bytes(b"")
    v, _ = copy("shard_link_out")
    shard = sorted(v.glob("*val*.arrow"))[0]
    shutil.copyfile(shard, outside / shard.name)
    shard.unlink()
    os.symlink(outside / shard.name, shard)
    v, _ = copy("card_alias_bomb")
    (v / "README.md").write_text("---\n" + alias_bomb() + "---\n")
    v, _ = copy("truncated_shard")
    shard = sorted(v.glob("*train*.arrow"))[0]
    shard.write_bytes(shard.read_bytes()[:200])
    return out


# ----------------------------------------------------------------------------- weights

def weights(d: Path, marker: Path) -> dict[str, Path]:
    """Malicious and broken model files; each pickle creates ``marker`` when unpickled."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    out["raw_pickle"] = d / "raw.pth.tar"
    out["raw_pickle"].write_bytes(pickle.dumps({"state_dict": {}, "x": _Payload(marker)}))
    out["protocol0"] = d / "p0.pt"
    out["protocol0"].write_text(f"c__builtin__\nopen\n(V{marker}\nVw\ntR.")
    try:
        import torch
    except ImportError:  # the torch-zip pickle needs torch to be written
        torch = None
    if torch is not None:
        out["torch_zip"] = d / "zip.pth.tar"
        torch.save({"model": {"state_dict": {}, "payload": _Payload(marker)}}, out["torch_zip"])
    out["empty"] = d / "empty.pt"
    out["empty"].write_bytes(b"")
    out["garbage"] = d / "garbage.pt"
    out["garbage"].write_bytes(garbage(seed=6))
    folder = d / "finetuned"
    folder.mkdir()
    shutil.copyfile(out.get("torch_zip", out["raw_pickle"]), folder / "model.pth.tar")
    (folder / "model_card.yaml").write_text("base_model: chgnet\nweights: model.pth.tar\n")
    out["finetuned_pickle"] = folder
    bomb = d / "bomb"
    bomb.mkdir()
    (bomb / "model_card.yaml").write_text(alias_bomb())
    out["card_alias_bomb"] = bomb
    trav = d / "traversal"
    trav.mkdir()
    (trav / "model_card.yaml").write_text(f"base_model: chgnet\nweights: ../../../../{marker.name}\n")
    out["card_traversal"] = trav
    return out


# ----------------------------------------------------------------------------- submissions, cards, records

def submissions(d: Path) -> dict[str, Path]:
    """Hostile prediction files for a scalar task (nebBVSE122k/em on the sample)."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, data: bytes | str) -> Path:
        p = d / name
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    out["empty"] = put("empty.csv", b"")
    out["garbage"] = put("garbage.csv", garbage(seed=7))
    out["garbage_parquet"] = put("garbage.parquet", garbage(seed=8))
    out["long_line"] = put("long.csv", b"edge_id,prediction\n" + long_line(3_000_000))
    out["text_values"] = put("text.csv", "edge_id,prediction\nx1,True\nx2,nan\nx3,inf\nx4,\nx5,abc\n")
    out["html_ids"] = put("html.csv", f"edge_id,prediction\n\"{HTML}\",0.5\n")
    out["no_columns"] = put("nocols.csv", "a\n1\n")
    out["deep_json"] = put("deep.json", deep_json())
    return out


def cards(d: Path) -> dict[str, Path]:
    """Hostile model cards / submission metadata."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, text: str | bytes) -> Path:
        p = d / name
        p.write_bytes(text.encode() if isinstance(text, str) else text)
        return p

    out["alias_bomb"] = put("bomb.yaml", alias_bomb())
    out["deep"] = put("deep.yaml", deep_yaml())
    out["garbage"] = put("garbage.yaml", garbage(seed=9))
    out["empty"] = put("empty.yaml", b"")
    out["long_line"] = put("long.yaml", "model: " + "x" * 3_000_000 + "\n")
    out["inf_wall_time"] = put("inf.yaml", f"model: \"{HTML}\"\nmodel_version: 1\nauthors: [\"{HTML}\"]\n"
                                           "training_data: x\nfine_tuned_on_litraj: false\n"
                                           "date: 2025-01-01\nwall_time_s: .inf\n")
    out["python_tag"] = put("tag.yaml", "model: !!python/object/apply:os.system ['touch MARKER']\n")
    return out


def records(d: Path) -> dict[str, Path]:
    """Hostile score records for ``leaderboard render`` / ``table``."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    out["garbage"] = d / "garbage.json"
    out["garbage"].write_bytes(garbage(seed=10))
    out["deep"] = d / "deep.json"
    out["deep"].write_bytes(deep_json())
    out["empty"] = d / "empty.json"
    out["empty"].write_bytes(b"")
    out["not_a_record"] = d / "list.json"
    out["not_a_record"].write_text(json.dumps([1, "x", None]))
    out["nan_metrics"] = d / "nan.json"
    out["nan_metrics"].write_text(json.dumps({"task": "nebBVSE122k/em", "model": HTML, "metrics": {"mae": "NaN"},
                                              "wall_time_s": "inf", "n": None}))
    return out


def entries(d: Path) -> dict[str, Path]:
    """Hostile coating entries files."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for key, data in {"garbage": garbage(seed=11), "empty": b"", "deep": deep_json(),
                      "long_line": b'[{"entry_id": "' + long_line(3_000_000) + b'"}]',
                      "not_a_list": b'{"a": 1}',
                      "text_numbers": json.dumps([{"entry_id": HTML, "band_gap": "NaN", "e_above_hull": None,
                                                   "structure": "x"}]).encode(),
                      "nan": b'[{"entry_id": "a", "band_gap": NaN, "e_above_hull": Infinity}]'}.items():
        p = d / f"{key}.json"
        p.write_bytes(data)
        out[key] = p
    return out


def raw_runs(d: Path) -> dict[str, Path]:
    """Hostile raw-run folders for ``build nebDFT2k --raw`` / ``build MPLiTrj --raw``."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    empty = d / "empty"
    empty.mkdir()
    out["empty"] = empty
    junk = d / "junk" / "hop1"
    junk.mkdir(parents=True)
    for name in ("OUTCAR", "vasprun.xml", "00/CONTCAR", "01/OUTCAR"):
        (junk / name).parent.mkdir(parents=True, exist_ok=True)
        (junk / name).write_bytes(garbage(seed=len(name)))
    out["junk"] = d / "junk"
    return out


def buffer_zip(members: dict[str, bytes]) -> bytes:
    """A zip in memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()
