"""``litraj finetune``: protocol, data selection, each trainer's inputs, bad inputs (fast).

The real training runs (CHGNet, SevenNet-0 on a real VASP NEB) are in
``test_finetune_training.py`` (slow).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from litraj_data.leaderboard.models.finetune.errors import FinetuneError
from litraj_data.leaderboard.models.finetune.protocol import PROTOCOLS, protocol_for


def _cli(capsys, *argv: str) -> tuple[int, dict]:
    from litraj_data.cli import main

    code = main(["finetune", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    from litraj_data.testing import write_release

    return write_release("MPLiTrj", tmp_path_factory.mktemp("rel"), {"train": 3, "val": 2, "test": 1}, make_zip=False)


def test_paper_protocol():
    s, m = PROTOCOLS["sevennet-0"], PROTOCOLS["mace-mp-0"]
    assert (s.energy_weight, s.force_weight, s.stress_weight, s.lr, s.batch_size, s.loss) == (1, 10, 1e-6, 1e-3, 32, "MSE")
    assert (m.energy_weight, m.force_weight, m.lr, m.batch_size) == (1, 10, 1e-3, 16)
    assert protocol_for("sevennet-0", lr=5e-4).lr == 5e-4 and "lr" in protocol_for("sevennet-0", lr=5e-4).source
    with pytest.raises(FinetuneError) as info:
        protocol_for("sevennet-0", batch_size=0)
    assert info.value.reason == "bad_option"


def test_vacancy_subset_is_the_end_points(spinel_built):
    from litraj_data.leaderboard.models.finetune.data import load_configs

    allc = load_configs("MPLiTrj", "train", spinel_built)
    vac = load_configs("MPLiTrj", "train", spinel_built, subset="vacancy")
    assert len(allc) == 54 and len(vac) == 11 + 15  # PROVENANCE: 11 + 15 end-point CG steps, 4 x 7 band
    assert all(i.split(":")[1] in ("source", "target") for i in vac.ids)
    assert vac.data_version == "1.0.0" and len(load_configs("MPLiTrj", "train", spinel_built, limit=5)) == 5
    a = vac.atoms[0]
    assert a.get_forces().shape == (55, 3) and a.get_stress().shape == (6,)


def test_vacancy_needs_rows_that_say_their_stage(release):
    from litraj_data.leaderboard.models.finetune.data import load_configs

    with pytest.raises(FinetuneError) as info:
        load_configs("MPLiTrj", "train", release, subset="vacancy")
    assert info.value.reason == "no_stage" and "litraj build MPLiTrj --raw" in str(info.value)


def test_empty_vacancy_subset(tmp_path, capsys):
    """Rows that say their stage but hold no end point: a clear empty-subset error."""
    from litraj_data.store import write_dataset

    rng = np.random.default_rng(0)
    rows = []
    for i in range(3):
        n = 4
        rows.append({"config_id": f"hop-{i}:band:1:{i + 1}", "numbers": [3, 3, 9, 9],
                     "positions": rng.uniform(0, 4, (n, 3)), "cell": np.eye(3) * 4.0, "pbc": [True] * 3,
                     "energy": -10.0, "forces": rng.normal(size=(n, 3)), "stress": np.zeros(6),
                     "info_extra": {"kind": "band", "step": 1, "image": i + 1}})
    write_dataset("MPLiTrj", {"train": rows, "val": rows[:1], "test": rows[:1]}, tmp_path / "ds", sources={"t": "x"})
    code, doc = _cli(capsys, "--model", "chgnet", "--source", str(tmp_path / "ds"), "--subset", "vacancy",
                     "--epochs", "1", "--out", str(tmp_path / "o"))
    rec = doc["records"][0]
    assert code == 2 and rec["ok"] is False and rec["reason"] == "empty_subset"
    assert "end-point relaxation" in rec["error"] and not (tmp_path / "o").exists()


def test_bad_inputs_give_clear_records(tmp_path, capsys, release):
    code, doc = _cli(capsys, "--model", "schnet", "--epochs", "1", "--out", str(tmp_path / "o"))
    assert code == 2 and doc["records"][0]["reason"] == "unknown_model" and "chgnet" in doc["records"][0]["error"]
    code, doc = _cli(capsys, "--model", "chgnet", "--source", str(tmp_path / "nowhere"), "--epochs", "1",
                     "--out", str(tmp_path / "o"))
    rec = doc["records"][0]
    assert code == 2 and rec["ok"] is False and "nowhere" in rec["error"] and rec["file"] == str(tmp_path / "o")
    code, doc = _cli(capsys, "--model", "chgnet", "--source", str(release), "--epochs", "0", "--out", str(tmp_path / "o"))
    assert code == 2 and doc["records"][0]["reason"] == "bad_option"
    code, doc = _cli(capsys, "--model", "sevennet-0", "--source", str(release), "--epochs", "1",
                     "--weights", str(tmp_path / "missing.pth"), "--out", str(tmp_path / "o"))
    assert code == 2 and doc["records"][0]["reason"] == "weights_missing"
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "model_card.yaml").write_text("base_model: chgnet\n")
    code, doc = _cli(capsys, "--model", "chgnet", "--source", str(release), "--epochs", "1",
                     "--out", str(tmp_path / "done"), "--limit", "1")
    assert code == 2 and doc["records"][0]["reason"] == "out_not_empty"
    assert (tmp_path / "done" / "model_card.yaml").read_text() == "base_model: chgnet\n"  # nothing lost


def test_mace_absent_or_without_weights(tmp_path, capsys, release):
    from litraj_data.leaderboard.models.finetune.mace import check_mace

    code, doc = _cli(capsys, "--model", "mace-mp-0", "--source", str(release), "--epochs", "1",
                     "--out", str(tmp_path / "o"))
    assert code == 2 and doc["records"][0]["reason"] == "weights_missing"
    assert "--weights PATH" in doc["records"][0]["error"]
    model = tmp_path / "mace.model"
    model.write_bytes(b"not a model")
    try:
        import mace  # noqa: F401  (never installed in the system Python; a venv may have it)
    except ImportError:
        with pytest.raises(FinetuneError) as info:
            check_mace(None, str(model))
        assert info.value.reason == "model_not_installed" and "--python" in str(info.value)
        assert "e3nn" in str(info.value)
    with pytest.raises(FinetuneError) as info:  # an interpreter that is no Python at all
        check_mace("/bin/false", str(model))
    assert info.value.reason == "model_not_installed"


def test_mace_run_train_arguments(tmp_path):
    from litraj_data.leaderboard.models.finetune.mace import KEYS, run_train_args

    args = run_train_args("/m/mace-mp-0.model", tmp_path / "train.extxyz", tmp_path / "valid.extxyz", tmp_path,
                          PROTOCOLS["mace-mp-0"], 7, "cuda")
    opts = dict(a[2:].split("=", 1) for a in args if "=" in a)
    assert [a for a in args if "=" not in a] == ["--save_cpu"]
    assert opts["foundation_model"] == "/m/mace-mp-0.model" and opts["multiheads_finetuning"] == "False"
    assert (float(opts["energy_weight"]), float(opts["forces_weight"]), float(opts["lr"])) == (1.0, 10.0, 1e-3)
    assert opts["batch_size"] == "16" and opts["max_num_epochs"] == "7" and opts["device"] == "cuda"
    assert opts["loss"] == "weighted" and opts["energy_key"] == KEYS["energy"] and opts["forces_key"] == KEYS["forces"]
    assert opts["train_file"].endswith("train.extxyz") and opts["valid_file"].endswith("valid.extxyz")
    assert len(opts) == len(args) - 1  # no option given twice


def test_mace_training_file_labels(tmp_path, release):
    """The extxyz handed to mace carries the DFT labels under REF_* keys (ASE reads them back)."""
    import ase.io

    from litraj_data.leaderboard.models.finetune.data import load_configs
    from litraj_data.leaderboard.models.finetune.mace import KEYS, write_mace_extxyz

    configs = load_configs("MPLiTrj", "train", release)
    write_mace_extxyz(tmp_path / "t.extxyz", configs)
    back = ase.io.read(tmp_path / "t.extxyz", ":")
    assert len(back) == 3 and back[0].calc is None
    for a, ref in zip(back, configs.atoms):
        assert a.info[KEYS["energy"]] == pytest.approx(ref.get_potential_energy(), abs=0)
        np.testing.assert_allclose(a.arrays[KEYS["forces"]], ref.get_forces(), rtol=0, atol=0)
        from ase.stress import full_3x3_to_voigt_6_stress

        np.testing.assert_allclose(full_3x3_to_voigt_6_stress(np.reshape(a.info[KEYS["stress"]], (3, 3))),
                                   ref.get_stress(), atol=1e-15)


def test_sevenn_input_yaml_is_accepted_by_sevenn(tmp_path):
    pytest.importorskip("sevenn")
    import yaml
    from sevenn.parse_input import read_config_yaml

    from litraj_data.leaderboard.models.finetune.sevennet import checkpoint_path, input_yaml

    cp = checkpoint_path(None)
    for name in ("train.extxyz", "valid.extxyz"):  # sevenn's parser checks that the data files exist
        (tmp_path / name).write_text("")
    config = input_yaml(cp, tmp_path / "train.extxyz", tmp_path / "valid.extxyz", PROTOCOLS["sevennet-0"], 3, "cpu")
    path = tmp_path / "input.yaml"
    path.write_text(yaml.safe_dump(config))
    model, train, data = read_config_yaml(str(path))  # sevenn's own parser validates every key
    assert train["force_loss_weight"] == 10 and train["stress_loss_weight"] == 1e-6 and train["epoch"] == 3
    assert train["optim_param"]["lr"] == 1e-3 and data["batch_size"] == 32 and train["loss"] == "mse"
    assert train["continue"]["checkpoint"] == cp and train["continue"]["reset_optimizer"] is True
    assert model["cutoff"] == 5.0 and model["channel"] == 128 and model["num_convolution_layer"] == 5
    with pytest.raises(FinetuneError) as info:
        input_yaml(cp, path, path, protocol_for("sevennet-0", energy_weight=2.0), 1, "cpu")
    assert info.value.reason == "bad_option"


def test_chgnet_stress_enters_in_vasp_convention(release):
    """StructureData multiplies the VASP stress (kbar) by -0.1: CHGNet must see the ASE stress in GPa."""
    pytest.importorskip("chgnet")
    from ase.stress import voigt_6_to_full_3x3_stress

    from litraj_data.leaderboard.models.finetune.chgnet import structure_data
    from litraj_data.leaderboard.models.finetune.data import load_configs

    configs = load_configs("MPLiTrj", "train", release)
    data = structure_data(configs, shuffle=False)
    for i, a in enumerate(configs.atoms):
        _, targets = data[i]
        gpa = voigt_6_to_full_3x3_stress(a.get_stress()) * 160.21766208
        np.testing.assert_allclose(targets["s"].numpy(), gpa, rtol=1e-5, atol=1e-6)
        assert float(targets["e"]) == pytest.approx(a.get_potential_energy() / len(a), rel=1e-6)
        np.testing.assert_allclose(targets["f"].numpy(), a.get_forces(), rtol=1e-6, atol=1e-6)


def test_model_card_is_what_weights_dir_reads(tmp_path, release):
    """The card validates against the runners' FineTuneCard schema (unknown keys refused) and resolves."""
    import yaml

    from litraj_data.leaderboard.models.finetune.data import load_configs
    from litraj_data.leaderboard.models.finetune.run import build_card
    from litraj_data.leaderboard.reference.umlip.finetuned import resolve_finetuned

    train = load_configs("MPLiTrj", "train", release)
    errors = {"n_configs": 3, "energy_rmse": 0.1, "energy_mae": 0.1, "force_rmse": 0.2, "force_mae": 0.1}
    trained = {"weights": "checkpoint_best.pth", "best_epoch": 2, "train_wall_time_s": 4.0, "command": ["sevenn"],
               "trainer_reported": {"energy_rmse": 0.1, "force_rmse": 0.2}, "history": [{"epoch": 1.0}]}
    card = build_card("sevennet-0", PROTOCOLS["sevennet-0"], train, train, trained, errors, errors,
                      dataset="MPLiTrj", source=release, subset="all", epochs=2, limit=None, val_split="train",
                      weights=None, python=None, seed=1, device="cpu", wall=5.0)
    assert card["hyperparameters"]["train_configs_per_s"] == pytest.approx(3 * 2 / 4.0)
    assert card["learning_rate"] == 1e-3 and card["loss_weights"]["force"] == 10.0 and card["split"] == "train"
    (tmp_path / "model_card.yaml").write_text(yaml.safe_dump(card))
    (tmp_path / "checkpoint_best.pth").write_bytes(b"")
    ft = resolve_finetuned(tmp_path, "sevennet-0")
    assert ft is not None and ft.weights == tmp_path / "checkpoint_best.pth"
    assert ft.card.before["force_rmse"] == 0.2 and ft.card.protocol["batch_size"] == 32
