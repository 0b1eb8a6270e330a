"""Named GNN sizes (`litraj train gnn --preset`): the instantiated networks reach the paper's parameter counts."""
from __future__ import annotations

import json
import warnings

import pytest
import yaml

pytest.importorskip("lightning")
pytest.importorskip("nequip")
pytest.importorskip("matgl")

from litraj_data.leaderboard.models.gnn.errors import GNNError  # noqa: E402
from litraj_data.leaderboard.models.gnn.run import network_parameters, preset_parameters, train_gnn  # noqa: E402
from litraj_data.leaderboard.models.gnn.settings import MODEL_DEFAULTS, PRESETS, resolve  # noqa: E402

# the figures the brief and the paper's Table 1 text give (Allegro: the Allegro tutorial's sizes)
EXPECTED = {"nequip": 2_000_000, "nequip-s": 200_000, "m3gnet": 300_000, "allegro": 127_648}


@pytest.fixture(scope="module")
def counts():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: preset_parameters(name) for name in PRESETS}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_reaches_its_parameter_count(name, counts):
    """Counted on the instantiated network (CPU, untrained), within 10 % of the target figure."""
    assert PRESETS[name].target_parameters == EXPECTED[name]
    assert counts[name] == pytest.approx(EXPECTED[name], rel=0.10), (name, counts[name])


def test_presets_differ_from_the_default_and_from_each_other(counts):
    """The default NequIP (0.44 M) is neither of the paper's two sizes: the presets really change the network."""
    default = network_parameters("nequip", {**MODEL_DEFAULTS["nequip"]})
    assert default == pytest.approx(441_344, rel=0.01)
    assert counts["nequip"] > 4 * default and counts["nequip-s"] < 0.6 * default
    assert counts["nequip"] > 8 * counts["nequip-s"]
    # Allegro's preset changes the MLP depths that the builder would otherwise default
    assert counts["allegro"] != network_parameters("allegro", {**MODEL_DEFAULTS["allegro"]})


def test_resolve_applies_preset_then_overrides():
    model, _ = resolve("nequip", {}, preset="nequip-s")
    assert model["num_features"] == 24 and model["radial_mlp_width"] == 96 and model["num_layers"] == 4
    model, _ = resolve("nequip", {"num_features": 8}, preset="nequip-s")
    assert model["num_features"] == 8 and model["radial_mlp_width"] == 96  # an explicit --hp still wins
    with pytest.raises(GNNError) as err:
        resolve("m3gnet", {}, preset="nequip")
    assert err.value.reason == "arch_mismatch"
    with pytest.raises(GNNError) as err:
        resolve("nequip", {}, preset="nequip-xs")
    assert err.value.reason == "unknown_preset" and "nequip-s" in str(err.value)
    # a pretrained run fixes the network: a preset that changes it is refused like an --hp
    pretrained, _ = resolve("nequip", {})
    with pytest.raises(GNNError) as err:
        resolve("nequip", {}, model_from=pretrained, preset="nequip")
    assert err.value.reason == "bad_hyperparameter"


def test_preset_run_writes_count_and_row_name_in_the_card(tmp_path, counts):
    """A (one-epoch, tiny-data) run of the nequip-s preset: its card names the row and carries the count."""
    from tests.test_gnn import synthetic

    data = {"train": synthetic(6, 1), "val": synthetic(3, 2), "test": synthetic(3, 3)}
    rec = train_gnn(None, "nebBVSE122k/em", tmp_path, epochs=1, data=data, preset="nequip-s",
                    overrides={"r_max": 4.0, "batch_size": 3}, threads=1)
    card = yaml.safe_load((tmp_path / "model_card.yaml").read_text())
    run = json.loads((tmp_path / "run.json").read_text())
    assert rec["arch"] == "nequip" and card["model_name"] == "Nequip-s" and run["preset"] == "nequip-s"
    assert card["n_parameters"] == rec["n_parameters"] == counts["nequip-s"]
    assert card["hyperparameters"]["preset"] == "nequip-s" and card["hyperparameters"]["num_features"] == 24


def test_cli_preset_without_arch_and_bad_preset(tmp_path, capsys):
    from litraj_data.cli import main

    assert main(["train", "gnn", "--task", "nebBVSE122k/em", "--epochs", "1", "--out", str(tmp_path / "r"),
                 "--preset", "nequip", "--arch", "m3gnet", "--json"]) == 2
    rec = json.loads(capsys.readouterr().out)["records"][0]
    assert rec["ok"] is False and rec["reason"] == "arch_mismatch"
    assert not (tmp_path / "r").exists()  # refused before anything is written
    with pytest.raises(SystemExit) as exc:
        main(["train", "gnn", "--task", "nebBVSE122k/em", "--epochs", "1", "--out", str(tmp_path / "r"),
              "--preset", "nequip-xl"])
    assert exc.value.code == 2
