"""The uMLIP model registry (validated YAML cards), fine-tuned weights folders, ``litraj models``."""
from __future__ import annotations

import argparse
import importlib.util
import json
import pickle
import shutil

import numpy as np
import pytest
import yaml

from litraj_data.errors import RegistryError
from litraj_data.leaderboard.reference.umlip import ModelUnavailable, get_provider, get_spec, list_models
from litraj_data.leaderboard.reference.umlip.models import load_cards, parse_card
from litraj_data.leaderboard.reference.umlip.runners import MODELS, package_folder

REQUIRED = {"chgnet", "sevennet-0", "mace-mp-0", "mace-mp-0-small", "mace-mpa-0", "m3gnet", "mattersim", "orb-v3",
            "sevennet-mf-ompa"}
DOWNLOAD = sorted(n for n, s in MODELS.items() if s.card.weights.source == "download")
NOT_INSTALLED = sorted(n for n, s in MODELS.items() if importlib.util.find_spec(s.package) is None)


def _card_text(**changes) -> str:
    doc = yaml.safe_load((package_folder("litraj_data.leaderboard.reference.umlip.models") / "chgnet.yaml").read_text())
    for k, v in changes.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    return yaml.safe_dump(doc)


# ----------------------------------------------------------------------------- the cards

def test_every_required_model_has_a_valid_card():
    cards = load_cards()
    assert REQUIRED <= set(cards) and set(list_models()) == set(cards)
    for name, card in cards.items():
        assert card.name == name and card.licence.code and card.licence.weights and card.weights.hint
        if card.weights.source == "download":
            assert card.weights.url.startswith("https://")
        if card.weights.source == "wheel" and package_folder(card.package) is not None:
            # a card that names a file the installed wheel lacks would fail every default run
            assert (package_folder(card.package) / card.weights.path).is_file(), name
    # the paper's four plus the multi-fidelity head option of sevenn
    assert cards["sevennet-mf-ompa"].options == {"modal": "mpa"} and not cards["sevennet-mf-ompa"].batched
    assert cards["mace-mp-0"].e3nn == "==0.4.4" and cards["mace-mp-0"].dtype == "float64"
    assert {n for n, c in cards.items() if c.batched} == {"chgnet", "sevennet-0"}


@pytest.mark.parametrize("alias, name", [("SevenNet", "sevennet-0"), ("7net-0", "sevennet-0"), ("MACE", "mace-mp-0"),
                                         ("mace_mp_0_small", "mace-mp-0-small"), ("7net-mf-ompa", "sevennet-mf-ompa"),
                                         ("matgl", "m3gnet"), ("orb-v3-conservative-inf-mpa", "orb-v3")])
def test_aliases(alias, name):
    assert get_spec(alias).name == name


@pytest.mark.parametrize("changes, message", [
    ({"licence_": "MIT"}, "licence_: unknown key"),
    ({"licence": None}, "licence: Field required"),
    ({"weights": {"source": "wheel", "hint": "x"}}, "weights.path (inside the package) is required"),
    ({"weights": {"source": "wheel", "path": "../../etc/passwd", "hint": "x"}}, "relative path inside the package"),
    ({"weights": {"source": "wheel", "path": "/etc/passwd", "hint": "x"}}, "relative path inside the package"),
    ({"weights": {"source": "download", "hint": "x"}}, "weights.url is required"),
    ({"weights": {"source": "download", "url": "http://x/y", "hint": "x"}}, "not an https:// URL"),
    ({"weights": {"source": "cloud", "hint": "x"}}, "weights.source"),
    ({"builder": "gap"}, "no builder function build_gap"),
    ({"dtype": "float16"}, "dtype"),
    ({"e3nn": "about 0.5"}, "not a version specifier"),
    ({"name": "CHG NET"}, "names are lower case"),
])
def test_bad_cards_name_the_file_and_key(changes, message):
    with pytest.raises(RegistryError, match="umlip/models/x.yml") as exc:
        parse_card(_card_text(**changes), "umlip/models/x.yml")
    assert message in str(exc.value)


def test_card_name_must_match_its_file_and_yaml_must_parse():
    with pytest.raises(RegistryError, match="differs from the file name 'chgnet2'"):
        parse_card(_card_text(), "umlip/models/chgnet2.yaml")
    with pytest.raises(RegistryError, match="not YAML") as exc:
        parse_card("name: [unclosed", "umlip/models/bad.yaml")
    assert exc.value.reason == "invalid_card"
    assert parse_card(_card_text(), "umlip/models/chgnet.yaml").name == "chgnet"


# ---------------------------------------------------------------------- what the user sees

@pytest.mark.parametrize("name", DOWNLOAD)
def test_download_weights_need_weights_path(name, monkeypatch, tmp_path):
    """Weights published for download are never fetched: the message says --weights PATH and where they are
    (checked as if the package were installed: an absent package is said first, see the next tests)."""
    from litraj_data.leaderboard.reference.umlip import runners

    assert name in {"mace-mp-0", "mace-mp-0-small", "mace-mpa-0", "m3gnet", "mattersim", "orb-v3", "sevennet-mf-ompa"}
    monkeypatch.setattr(runners, "package_folder", lambda package: tmp_path)
    with pytest.raises(ModelUnavailable, match="pass it with --weights PATH") as exc:
        get_provider(name)
    assert exc.value.reason == "weights_missing"
    assert get_spec(name).card.weights.url in str(exc.value)


@pytest.mark.parametrize("name", NOT_INSTALLED or ["(all installed)"])
def test_absent_package_says_which_extra(tmp_path, name):
    if name not in MODELS:
        pytest.skip("every registered package is installed here (covered by test_absent_package_monkeypatched)")
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"\0" * 8)
    spec = get_spec(name)
    with pytest.raises(ModelUnavailable, match=rf"pip install 'litraj-data\[{spec.extra}\]'") as exc:
        get_provider(name, weights=weights)
    assert exc.value.reason == "model_not_installed" and spec.pip in str(exc.value)


def test_absent_package_monkeypatched(monkeypatch):
    """The same path for a model whose weights are in its wheel (the package check comes first)."""
    from litraj_data.leaderboard.reference.umlip import runners

    monkeypatch.setattr(runners, "package_folder", lambda package: None)
    with pytest.raises(ModelUnavailable, match=r"pip install 'litraj-data\[sevenn\]'") as exc:
        get_provider("sevennet-0")
    assert exc.value.reason == "model_not_installed"


def test_wheel_without_its_file(monkeypatch, tmp_path):
    """An installed package whose wheel lacks the card's file (another version): --weights PATH."""
    from litraj_data.leaderboard.reference.umlip import runners

    monkeypatch.setattr(runners, "package_folder", lambda package: tmp_path)
    with pytest.raises(ModelUnavailable, match="is not in the installed chgnet.*--weights PATH") as exc:
        get_provider("chgnet")
    assert exc.value.reason == "weights_missing"


def test_unknown_model_suggests():
    with pytest.raises(ModelUnavailable, match="unknown model 'mattersimm'.*mattersim") as exc:
        get_spec("mattersimm")
    assert exc.value.reason == "unknown_model"


# --------------------------------------------------------------------- any ASE calculator

def _emt_factory():
    from ase.calculators.emt import EMT

    return EMT()


def test_any_ase_calculator_plugs_in_through_the_provider_protocol():
    """ASE's EMT through FactoryProvider: a Cu vacancy hop (fcc, 31 atoms) runs in the harness."""
    from ase.build import bulk

    from litraj_data.leaderboard.reference.neb import CalculatorProvider, FactoryProvider, HopInput, NEBConfig, run_hop

    provider = FactoryProvider(_emt_factory, key="emt")
    assert isinstance(provider, CalculatorProvider) and provider.evaluator() is None
    assert pickle.loads(pickle.dumps(provider)).key == "emt"  # travels to worker processes
    cu = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
    vacancy = cu.positions[0].copy()
    d = np.linalg.norm(cu.positions - vacancy, axis=1)
    neighbour = int(np.argsort(d)[1])  # a nearest neighbour (a/sqrt(2)) jumps into the vacancy
    start = cu.copy()
    del start[0]
    end = start.copy()
    end.positions[neighbour - 1] = vacancy
    images = [start.copy() for _ in range(5)]
    for i, img in enumerate(images):
        img.positions = start.positions + (end.positions - start.positions) * i / 4
    record, frames = run_hop(HopInput("Cu_vac", images), provider, NEBConfig(steps=60, batched=False))
    assert record["error"] is None and record["model"] == "emt"
    assert record["converged"] and record["fmax"] <= 0.1
    e = np.array([f.get_potential_energy() for f in frames])
    assert record["barrier"] == pytest.approx(e.max() - e.min())
    # EMT's Cu vacancy migration barrier is a few tenths of an eV (a symmetric hop: maximum in the middle)
    assert 0.2 < record["barrier"] < 1.2 and int(np.argmax(e)) == 2


# ----------------------------------------------------------------------- fine-tuned weights

def _finetuned(tmp_path, base: str, src, name: str, **card):
    folder = tmp_path / f"{base}-ft"
    folder.mkdir()
    shutil.copy(src, folder / name)
    doc = {"base_model": base, "weights": name, "base_model_version": "0", "dataset": "MPLiTrj",
           "data_version": "1.0.0", "split": "train", "subset": "all", "epochs": 1,
           "loss_weights": {"energy": 1.0, "force": 10.0, "stress": 1e-6}, "date": "2026-12-01", **card}
    (folder / "model_card.yaml").write_text(yaml.safe_dump(doc))
    return folder


@pytest.fixture(scope="module")
def lif_images():
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.umlip.bands import structure_hops

    sh = structure_hops(get_sample_structure("sample-LiF-225"), "LiF", min_width=4.0)
    return sh.inputs[0].images[1:2]  # one image: same weights give the same energy, one is enough


def _energies(provider, images):
    out = []
    for a in images:
        a = a.copy()
        a.calc = provider.calculator()
        out.append(a.get_potential_energy())
    return np.array(out)


# SevenNet-0 on CPU: ~15 s of CPU to load twice and evaluate (minutes on a loaded machine): slow
@pytest.mark.parametrize("base, module", [pytest.param("sevennet-0", "sevenn", marks=pytest.mark.slow),
                                          ("chgnet", "chgnet")])
def test_finetuned_folder_loads_the_same_weights(tmp_path, lif_images, base, module):
    pytest.importorskip(module)
    reference = get_provider(base)
    src = reference.weights_path()
    folder = _finetuned(tmp_path, base, src, "best.pth")
    ft = get_provider(base, weights=folder)
    assert ft.weights_path() == folder / "best.pth" and ft.key != reference.key
    assert np.allclose(_energies(ft, lif_images), _energies(reference, lif_images), atol=1e-6)
    if base == "chgnet":  # the batched evaluator is the fine-tuned model's, too (CHGNet's shares the model)
        (e_ft, _), (e_ref, _) = ft.evaluator().evaluate(lif_images)[0], reference.evaluator().evaluate(lif_images)[0]
        assert e_ft == pytest.approx(e_ref, abs=1e-6)
    meta = ft.metadata()
    assert meta["model"] == f"{base}-ft" and meta["fine_tuned_on_litraj"] is True
    assert meta["fine_tune"]["base_model"] == base and meta["fine_tune"]["data_version"] == "1.0.0"
    assert meta["fine_tune"]["fine_tuned"] is True and "MPLiTrj 1.0.0" in meta["training_data"]
    assert reference.metadata()["fine_tuned_on_litraj"] is False and "fine_tune" not in reference.metadata()
    again = pickle.loads(pickle.dumps(ft))  # workers rebuild it from the folder
    assert again.key == ft.key and again.finetuned.weights == ft.finetuned.weights
    # the metadata a submission carries validates against the leaderboard's vocabulary
    from litraj_data.leaderboard.scoring.modelcard import parse_metadata

    doc = {**meta, "authors": None, "hyperparameters": {}, "date": "2026-12-01"}
    assert parse_metadata(doc, "m.yaml")["fine_tuned_on_litraj"] is True
    # and the submission files bench umlip writes say so, too (they once overwrote the flag)
    import yaml

    from litraj_data.leaderboard.reference.neb.config import NEBConfig
    from litraj_data.leaderboard.reference.umlip.bench import write_metadata

    written = yaml.safe_load(write_metadata(tmp_path / "metadata.yaml", ft, "nebDFT2k/umlip_neb", NEBConfig(),
                                            "test").read_text())
    assert written["fine_tuned_on_litraj"] is True and written["training_data"] == meta["training_data"]
    plain = yaml.safe_load(write_metadata(tmp_path / "plain.yaml", reference, "nebDFT2k/umlip_neb", NEBConfig(),
                                          "test").read_text())
    assert plain["fine_tuned_on_litraj"] is False and plain["url"] == reference.metadata()["url"]


@pytest.fixture()
def ft_folder(tmp_path):
    """A fine-tuned SevenNet-0 folder whose weights are a placeholder (the card is what is tested)."""
    return _finetuned(tmp_path, "sevennet-0", __file__, "best.pth")


def _edit_card(folder, **changes):
    path = folder / "model_card.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize("changes, reason, message", [
    ({"weights": "../best.pth"}, "invalid_card", "unsafe weights file '../best.pth'"),
    ({"weights": "/etc/passwd"}, "invalid_card", "unsafe weights file '/etc/passwd'"),
    ({"weights": "gone.pth"}, "weights_missing", "'gone.pth' is not in"),
    ({"base_model": "chgnet"}, "wrong_base_model", "fine-tuned from chgnet, but --model is sevennet-0"),
    ({"base_model": "gap"}, "wrong_base_model", "'gap' is not a registered model"),
    ({"learning_rat": 1e-3}, "invalid_card", "learning_rat: unknown key"),
    ({"epochs": "many"}, "invalid_card", "epochs"),
])
def test_hostile_finetune_cards(ft_folder, changes, reason, message):
    _edit_card(ft_folder, **changes)
    with pytest.raises(ModelUnavailable) as exc:
        get_provider("sevennet-0", weights=ft_folder, check=False)
    assert exc.value.reason == reason and message in str(exc.value)
    assert str(ft_folder / "model_card.yaml") in str(exc.value)  # names the file


def test_finetune_card_missing_keys_and_links(ft_folder, tmp_path):
    outside = tmp_path / "outside.pth"
    outside.write_bytes(b"x")
    (ft_folder / "link.pth").symlink_to(outside)
    _edit_card(ft_folder, weights="link.pth")
    with pytest.raises(ModelUnavailable, match="resolves outside"):
        get_provider("sevennet-0", weights=ft_folder, check=False)
    (ft_folder / "model_card.yaml").write_text("weights: best.pth\n")
    with pytest.raises(ModelUnavailable, match="base_model: Field required"):
        get_provider("sevennet-0", weights=ft_folder, check=False)
    (ft_folder / "model_card.yaml").write_text("base_model: [sevennet-0\n")
    with pytest.raises(ModelUnavailable, match="cannot read the fine-tuned model card") as exc:
        get_provider("sevennet-0", weights=ft_folder, check=False)
    assert exc.value.reason == "invalid_card"


def test_folder_without_card_is_plain_weights(tmp_path):
    """A folder without model_card.yaml is passed to the model as it is (a matgl model folder)."""
    p = get_provider("m3gnet", weights=tmp_path, check=False)
    assert p.finetuned is None and p.weights_path() == tmp_path and p.metadata()["model"] == "m3gnet"


def test_wrong_base_model_through_the_cli(ft_folder, tmp_path, capsys):
    from litraj_data.leaderboard.reference.umlip.cli import register

    parser = argparse.ArgumentParser(prog="litraj")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "umlip", "--model", "chgnet", "--weights", str(ft_folder),
                              "--out", str(tmp_path / "out"), "--json"])
    assert args.func(args) == 2
    (rec,) = json.loads(capsys.readouterr().out)["records"]
    assert rec["reason"] == "wrong_base_model" and "pass --model sevennet-0" in rec["error"]


@pytest.mark.slow  # a real (short) NEB run: 20-90 s of a loaded 2-core machine even with CHGNet
@pytest.mark.parametrize("base, module", [("sevennet-0", "sevenn"), ("chgnet", "chgnet")])
def test_bench_umlip_with_finetuned_folder(tmp_path, capsys, base, module):
    """``litraj bench umlip --model M --weights DIR``: records and the submission's metadata say fine-tuned."""
    pytest.importorskip(module)
    from litraj_data.leaderboard.reference.neb import read_records
    from litraj_data.leaderboard.reference.umlip.cli import register
    from litraj_data.leaderboard.scoring.submission import read_metadata
    from litraj_data.testing import write_release

    folder = _finetuned(tmp_path, base, get_provider(base, check=False).weights_path(), "best.pth")
    archive = write_release("nebDFT2k", tmp_path / "rel", {"train": 1, "val": 1, "test": 1}, seed=5)
    parser = argparse.ArgumentParser(prog="litraj")
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "sub"
    args = parser.parse_args(["bench", "umlip", "--model", base, "--weights", str(folder), "--source",
                              str(archive), "--cache-dir", str(tmp_path / "c"), "--out", str(out), "--steps", "1",
                              "--endpoint-steps", "1", "--json"])
    args.func(args)
    (rec,) = json.loads(capsys.readouterr().out)["records"]
    assert rec["ok"] and rec["n_hops"] == 1
    assert {r["model"] for r in read_records(out)} == {f"{base}-ft:{folder}:cpu:safe"}
    meta = read_metadata(out / "metadata.yaml")  # validates
    raw = yaml.safe_load((out / "metadata.yaml").read_text())
    assert raw["model"] == f"{base}-ft" and raw["fine_tune"]["base_model"] == base
    assert raw["fine_tune"]["data_version"] == "1.0.0" and meta["model"] == f"{base}-ft"


# -------------------------------------------------------------------------- litraj models

def test_litraj_models_json(capsys):
    from litraj_data.leaderboard.reference.umlip.models_cli import register

    parser = argparse.ArgumentParser(prog="litraj")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models", "--json"])
    assert args.func(args) == 0
    recs = {r["name"]: r for r in json.loads(capsys.readouterr().out)["records"]}
    assert set(recs) == set(list_models())
    for name, r in recs.items():
        assert r["file"] == f"umlip/models/{name}.yaml"
        assert r["installed"] == (importlib.util.find_spec(get_spec(name).package) is not None)
        assert r["weights_available"] == (r["weights_source"] == "wheel" and r["installed"])
        assert r["usable"] == (r["installed"] and r["weights_available"] and r["e3nn_ok"] is not False)
    if recs["chgnet"]["installed"]:
        assert recs["chgnet"]["usable"] and recs["chgnet"]["weights_file"].endswith(".pth.tar")
    assert recs["orb-v3"]["needs_weights_option"] and recs["orb-v3"]["weights_url"].startswith("https://")
    args = parser.parse_args(["models", "chgnet", "gap", "--json"])
    assert args.func(args) == 2
    bad = json.loads(capsys.readouterr().out)["records"][1]
    assert bad == {"file": "gap", "ok": False, "reason": "unknown_model", "error": bad["error"]}


def test_screen_and_bench_efs_with_finetuned_folder(tmp_path, capsys):
    """``litraj screen --weights DIR`` and ``litraj bench efs --weights DIR`` (one CHGNet load, shared)."""
    pytest.importorskip("chgnet")
    from litraj_data.builders.sample_structures import get_sample_structure
    from litraj_data.leaderboard.reference.umlip.cli import register
    from litraj_data.testing import write_release

    folder = _finetuned(tmp_path, "chgnet", get_provider("chgnet", check=False).weights_path(), "best.pth.tar")
    parser = argparse.ArgumentParser(prog="litraj")
    register(parser.add_subparsers(dest="command"))
    cif = tmp_path / "LiF.cif"
    get_sample_structure("sample-LiF-225").to(filename=str(cif))
    args = parser.parse_args(["screen", str(cif), "--model", "chgnet", "--weights", str(folder), "--min-width", "4",
                              "--steps", "1", "--endpoint-steps", "1", "--json"])
    args.func(args)
    (rec,) = json.loads(capsys.readouterr().out)["records"]
    assert rec["ok"] and rec["model"] == f"chgnet-ft:{folder}:cpu:safe" and rec["n_hops"] == 1
    release = write_release("MPLiTrj", tmp_path / "rel", {"train": 1, "val": 1, "test": 2}, make_zip=False)
    out = tmp_path / "efs.parquet"
    args = parser.parse_args(["bench", "efs", "--model", "chgnet", "--weights", str(folder), "--source", str(release),
                              "--out", str(out), "--json"])
    assert args.func(args) == 0
    (rec,) = json.loads(capsys.readouterr().out)["records"]
    assert rec["n_configs"] == 2
    meta = yaml.safe_load((tmp_path / "efs.parquet.metadata.yaml").read_text())
    assert meta["model"] == "chgnet-ft" and meta["fine_tune"]["base_model"] == "chgnet"
    assert meta["fine_tune"]["data_version"] == "1.0.0" and meta["weights"] == str(folder)


def test_local_weights_card(monkeypatch):
    """A card with ``source: local`` (no wheel file, no published URL) asks for --weights PATH."""
    from litraj_data.leaderboard.reference.umlip import runners

    card = parse_card(_card_text(name="chgnet-local", aliases=[], weights={"source": "local", "hint": "your checkpoint"}),
                      "umlip/models/chgnet-local.yaml")
    monkeypatch.setitem(runners.MODELS, "chgnet-local", runners.ModelSpec.from_card(card))
    monkeypatch.setattr(runners, "card_names", lambda: {"chgnet-local": "chgnet-local"})
    with pytest.raises(ModelUnavailable, match="local file or folder; pass --weights PATH to your checkpoint") as exc:
        get_provider("chgnet-local")
    assert exc.value.reason == "weights_missing" and get_spec("chgnet-local").weights_required
