"""What a new user meets first (issue 19): each friction fixed, each with a test."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from litraj_data import load_litraj
from litraj_data.cli import main
from litraj_data.errors import LitrajError, OfflineError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_offline_load_is_one_clear_error_with_the_sample_hint(monkeypatch):
    import urllib.request

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    import urllib.error

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(OfflineError) as info:
        load_litraj("nebDFT2k", split="test")
    msg = str(info.value)
    assert "load_litraj('nebDFT2k', source='sample')" in msg and "load_litraj('nebDFT2k', source='nebDFT2k.zip')" in msg
    assert "Name or service not known" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no urllib chain under it
    # a dataset that has a sample says how to try it
    monkeypatch.setenv("LITRAJ_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"source='sample'"):
        load_litraj("BVEL13k", split="test")


def test_offline_load_traceback_is_short_in_a_fresh_interpreter(tmp_path):
    code = "from litraj_data import load_litraj; load_litraj('nebDFT2k', split='test')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LITRAJ_CACHE": str(tmp_path / "c"),
                               "LITRAJ_OFFLINE": "1"})
    assert proc.returncode == 1
    assert "During handling" not in proc.stderr and "urllib" not in proc.stderr
    assert len(proc.stderr.splitlines()) < 15
    assert "--source PATH" not in proc.stderr and "source='sample'" in proc.stderr


def _readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_snippets_run_on_the_sample(monkeypatch):
    """Blocks that name the sample run as written; the others (they download) must at least compile."""
    blocks = _readme_python_blocks()
    assert len(blocks) >= 3
    ran = 0
    for i, block in enumerate(blocks):
        compile(block, f"README.md python block {i}", "exec")
        if 'source="sample"' in block and not re.search(r'load_litraj\("\w+"\)', block):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # e.g. torch's "NumPy array is not writable"
                # torch_geometric's import-time deprecations of torch itself are not the README's doing
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                namespace: dict = {}
                exec(compile(block, f"README.md python block {i}", "exec"), namespace)
            ran += 1
            if "graphs" in namespace:
                graphs, ds = namespace["graphs"], namespace["ds"]
                assert isinstance(graphs, list) and len(graphs) == ds.num_rows
                assert float(graphs[0].y[0, 0]) == ds[0]["em"]
    assert ran >= 1


def test_readme_loading_block_runs_against_the_sample(monkeypatch):
    """The loading block (which downloads BVEL13k) runs with the default source pointed at the sample."""
    import litraj_data

    real = litraj_data.load_litraj

    def sample_by_default(name, *args, source=None, **kwargs):
        return real(name, *args, source=source or "sample", **kwargs)

    monkeypatch.setattr(litraj_data, "load_litraj", sample_by_default)
    block = next(b for b in _readme_python_blocks() if "list_datasets, info" in b)
    namespace: dict = {}
    exec(compile(block, "README.md loading block", "exec"), namespace)
    assert set(namespace["dd"]) == {"train", "val", "test"} and namespace["ds"].num_rows > 0


def test_iter_torch_batches_gives_no_warning_and_independent_tensors():
    pytest.importorskip("torch")
    from litraj_data.loaders.convert import iter_torch_batches

    ds = load_litraj("nebBVSE122k", split="test", source="sample")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = list(iter_torch_batches(ds, 4, columns=["numbers", "positions", "em"]))
    first = batches[0]["positions"]
    before = ds[0]["positions"][0][0]
    first.mul_(2.0)  # writing into a batch never writes into the memory-mapped shard
    assert load_litraj("nebBVSE122k", split="test", source="sample")[0]["positions"][0][0] == before


@pytest.mark.parametrize("name", ["BVEL13k", "nebBVSE122k"])
def test_extxyz_export_writes_the_official_layout_and_round_trips_every_column(name, tmp_path):
    from litraj_data.builders.from_release import import_release
    from litraj_data.loaders.export import export_dataset

    records = export_dataset(name, tmp_path / "x", source="sample")
    folder = tmp_path / "x" / name
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{name}_{s}.xyz" for s in ("train", "val", "test")] + [f"{name}_index.csv"])
    assert {r["file"] for r in records} == {str(p) for p in folder.iterdir()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer rows than the official release: expected for the sample
        built = import_release(name, folder, tmp_path / "b", progress=False)
    for split in ("train", "val", "test"):
        a = load_litraj(name, split=split, source="sample").data.table
        b = load_litraj(name, split=split, source=built).data.table
        assert a.column_names == b.column_names
        assert [c for c in a.column_names if not a[c].equals(b[c])] == []
        assert a["chemsys"].null_count == 0


def test_verify_a_folder_without_manifest_says_so(tmp_path, capsys):
    (tmp_path / "BVEL13k").mkdir()
    assert main(["verify", str(tmp_path / "BVEL13k")]) == 1
    err = capsys.readouterr().err
    assert f"no manifest.json in {tmp_path / 'BVEL13k'}" in err and "Did you mean" not in err
    assert main(["verify", str(tmp_path / "nope")]) == 1
    assert "no such folder" in capsys.readouterr().err
    assert main(["verify", "BVEL13"]) == 1  # a name is still a name
    assert "Did you mean 'BVEL13k'" in capsys.readouterr().err


def test_cache_help_names_its_actions(capsys):
    with pytest.raises(SystemExit):
        main(["cache"])
    err = capsys.readouterr().err
    assert "path,list,clear" in err
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("cache"))
    assert "path, list or clear" in line and "show" not in line


def test_closed_pipe_exits_quietly(tmp_path):
    # the reader goes away before the command writes: what `litraj info X | head` does to a long output
    code = ("import sys; from litraj_data.cli import main\n"
            "import os; r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
            "sys.exit(main(['info', 'nebDFT2k']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr
    shell = subprocess.run("litraj list --json | head -c 10", shell=True, capture_output=True, text=True,
                           timeout=60)
    assert shell.returncode == 0 and "Traceback" not in shell.stderr


def test_build_sample_refuses_to_overwrite_the_package_without_in_place(capsys):
    from litraj_data.store.layout import sample_root

    before = {p: p.stat().st_mtime_ns for p in sample_root().rglob("*")}
    assert main(["build", "sample"]) == 1
    assert "needs --out DIR" in capsys.readouterr().err
    assert main(["build", "sample", "--out", str(sample_root())]) == 1
    assert "inside the installed package" in capsys.readouterr().err
    assert main(["build", "sample", "--out", str(sample_root().parent / "elsewhere")]) == 1
    assert {p: p.stat().st_mtime_ns for p in sample_root().rglob("*")} == before


def test_a_five_structure_build_names_its_empty_splits(tmp_path, capsys):
    from pymatgen.core import Lattice, Structure

    from litraj_data.store.manifest import read_manifest

    def rocksalt(a: float, anion: str) -> Structure:
        return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Li", anion], [[0, 0, 0], [0.5, 0.5, 0.5]])

    for i, (a, anion) in enumerate([(4.03, "F"), (5.13, "Cl"), (5.50, "Br"), (6.00, "I"), (4.10, "F")]):
        rocksalt(a, anion).to(filename=str(tmp_path / f"s{i}.cif"))
    with pytest.warns(UserWarning, match="empty splits: val, test"):
        code = main(["build", "BVEL13k", "--structures", str(tmp_path), "--out", str(tmp_path / "out"), "--json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 0 and doc["records"][0]["empty_splits"] == ["val", "test"]
    assert "has no rows in val, test" in captured.err
    man = read_manifest(tmp_path / "out" / "BVEL13k" / "1.0.0")
    assert any(n.startswith("empty splits: val, test") for n in man.data["notes"])
    assert "empty splits: val, test" in (man.root / "README.md").read_text()


def test_hops_prints_percolation_as_text(tmp_path, capsys):
    from pymatgen.core import Lattice, Structure

    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s.to(filename=str(tmp_path / "LiF.cif"))
    assert main(["hops", str(tmp_path / "LiF.cif"), "--neb", "bvse"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "percolation barriers" in ln)
    assert "{" not in line and "'" not in line
    assert re.search(r"E_1D \d+\.\d{3} eV, E_2D \d+\.\d{3} eV, E_3D \d+\.\d{3} eV", line)


def test_lit_errors_are_litraj_errors():
    assert issubclass(OfflineError, LitrajError)


# --------------------------------------------------------------------------- issue 25: the command line


def test_hops_neb_text_has_converged_and_steps_columns(tmp_path, capsys):
    from pymatgen.core import Lattice, Structure

    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s.to(filename=str(tmp_path / "LiF.cif"))
    assert main(["hops", str(tmp_path / "LiF.cif"), "--neb", "bvse"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(ln for ln in lines if "edge_id" in ln)
    assert header.split()[-3:] == ["em/eV", "conv", "steps"]
    row = lines[lines.index(header) + 1].split()  # edge_id L neck em conv steps [note]
    assert row[4] in ("yes", "no") and row[5].isdigit()  # converged, then the NEB steps taken


def test_features_text_prints_the_features(tmp_path, capsys):
    from pymatgen.core import Lattice, Structure

    Structure(Lattice.cubic(5.14), ["Li"] * 4 + ["Cl"] * 4,
              [[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0], [.5, .5, .5], [.5, 0, 0], [0, .5, 0], [0, 0, .5]]
              ).to(filename=str(tmp_path / "LiCl.cif"))
    assert main(["features", str(tmp_path / "LiCl.cif"), "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out.splitlines()
    table = out[out.index("") + 1:]
    assert table[0].split()[0] == "feature" and len(table) == 1 + 639  # a row per feature of the paper's set
    name, value = table[1].split()
    assert float(value) == float(value)  # a number, not a count


def test_json_floats_are_shortest_not_widened_float32():
    import numpy as np

    from litraj_data.io import dumps_json

    doc = json.loads(dumps_json({"a": np.float32(0.123), "b": np.array([0.1, np.inf], dtype=np.float32),
                                 "c": np.float64(0.1) + np.float64(0.2)}))
    assert dumps_json({"a": np.float32(0.123)}) == '{"a": 0.123}'
    assert doc == {"a": 0.123, "b": [0.1, None], "c": 0.30000000000000004}  # float64 keeps its own repr


def test_neb_progress_shows_steps_of_the_hops_in_flight(monkeypatch):
    import io

    from litraj_data.leaderboard.reference.neb import progress as prog

    monkeypatch.setattr(prog, "REDRAW_S", 0.0)
    stream = io.StringIO()
    bar = prog.HopProgress("LiF (chgnet)", stream=stream, max_steps=300)
    bar.start(2)
    for k in range(1, 6):
        bar.step("Li_0_1", k)
    text = stream.getvalue()
    assert "0/2" in text and "neb_step=5/<=300" in text and "hop_eta<=" in text
    bar({"edge_id": "Li_0_1", "error": None, "converged": True})
    bar.close()
    assert "1/2" in stream.getvalue() and "converged=1/1" in stream.getvalue()
