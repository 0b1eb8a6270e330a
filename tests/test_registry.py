"""Dataset cards are validated data: unknown, missing or inconsistent keys name the file and the key."""
from __future__ import annotations

import copy
from importlib import resources

import pytest
import yaml

from litraj_data.errors import RegistryError, UnknownDatasetError
from litraj_data.registry import get_config, list_datasets, parse_card


def _card(name: str) -> dict:
    text = resources.files("litraj_data.registry").joinpath("datasets", f"{name}.yaml").read_text()
    return yaml.safe_load(text)


def test_every_shipped_card_validates():
    assert list_datasets() == ["BVEL13k", "MPLiTrj", "MPLiTrj_subsample", "nebBVSE122k", "nebDFT2k"]
    for name in list_datasets():
        cfg = get_config(name)
        assert cfg.row_id in cfg.column_names
        assert set(cfg.splits) == {"train", "val", "test"}


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.update(drop_failed=True), "BVEL13k.yaml: drop_failed: unknown key"),
    (lambda r: r["columns"][2].update(unti="eV"), "BVEL13k.yaml: columns[2]: unti: unknown key"),
    (lambda r: r["release"].update(layout="zip"), "BVEL13k.yaml: release: Input tag 'zip'"),
    (lambda r: r["release"].pop("split_file"), "BVEL13k.yaml: release.split_files.split_file: Field required"),
    (lambda r: r.update(row_id="mid"), "BVEL13k.yaml: row_id: 'mid' is not a column"),
    (lambda r: r.update(task_targets=["E_4D"]), "task_targets[0]: 'E_4D' is not a column"),
    (lambda r: r["columns"].append({"include": "nope"}), "unknown column block 'nope'"),
    (lambda r: r["columns"][0].update(type="float"), "columns[0]: type: Input should be"),
    (lambda r: r["splits"].update(validation=3), "splits.validation"),
])
def test_a_broken_card_names_file_and_key(mutate, message):
    raw = copy.deepcopy(_card("BVEL13k"))
    mutate(raw)
    with pytest.raises(RegistryError) as err:
        parse_card(raw, "BVEL13k.yaml")
    assert message in str(err.value)


def test_include_description_reaches_the_included_columns():
    cfg = get_config("nebDFT2k")
    assert cfg.column("positions").description.startswith("centroid supercell")
    assert get_config("BVEL13k").column("positions").description == "Cartesian positions"


def test_unknown_dataset_suggests_the_closest_name():
    with pytest.raises(UnknownDatasetError, match="Did you mean 'nebDFT2k'"):
        get_config("nebDFT2")
    assert get_config("bvel13k").name == "BVEL13k"
