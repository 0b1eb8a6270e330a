"""litraj train gnn: M3GNet (matgl), NequIP and Allegro learn, transfer, and are scored."""
from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightning")

from litraj_data.leaderboard.models.gnn.data import TYPE_NAMES, GraphSplit  # noqa: E402
from litraj_data.leaderboard.models.gnn.errors import GNNError  # noqa: E402

# tiny networks and short cutoffs: each fit is a few seconds on one CPU core
TINY = {
    "m3gnet": {"cutoff": 4.0, "threebody_cutoff": 3.0, "nblocks": 1, "units": 16, "dim_node_embedding": 16,
               "dim_edge_embedding": 16, "batch_size": 4, "lr": 0.01},
    "nequip": {"r_max": 4.0, "num_layers": 2, "num_features": 8, "radial_mlp_width": 16, "batch_size": 4,
               "lr": 0.01},
    "allegro": {"r_max": 4.0, "num_layers": 1, "num_scalar_features": 16, "num_tensor_features": 4,
                "allegro_mlp_hidden_layers_width": 16, "batch_size": 4, "lr": 0.01},
}
# a learnable, extensive target: a per-species contribution summed over the cell (dummy X: 0.05)
WEIGHTS = {"Li": 0.21, "F": -0.07, "Cl": 0.13, "O": -0.11, "X": 0.05}


def synthetic(n: int, seed: int, hop: bool = True) -> GraphSplit:
    """Rattled LiF / LiCl / Li2O cells of 1 or 2 unit cells, a dummy X at a Li-Li midpoint."""
    from ase import Atoms
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    ids, frames, y = [], [], []
    for k in range(n):
        kind = k % 3
        if kind == 2:
            a = bulk("OLi", "zincblende", a=4.61, cubic=True)
            extra = a[[i for i, s in enumerate(a.get_chemical_symbols()) if s == "Li"]].copy()
            extra.positions += 4.61 / 2
            a += extra
            a.wrap()
        else:
            a = bulk("LiF" if kind == 0 else "LiCl", "rocksalt", a=4.03 if kind == 0 else 5.13, cubic=True)
        if rng.random() < 0.5:
            a = a.repeat((1, 1, 2))
        a.positions += rng.normal(scale=0.03, size=a.positions.shape)
        if hop:
            li = [i for i, s in enumerate(a.get_chemical_symbols()) if s == "Li"][:2]
            a += Atoms("X", positions=[a.positions[li].mean(axis=0)])
        ids.append(f"syn-{seed}-{k}")
        frames.append(a)
        y.append(sum(WEIGHTS[s] for s in a.get_chemical_symbols()) + rng.normal(scale=0.005))
    return GraphSplit(ids, frames, np.array(y))


@pytest.fixture(scope="module")
def synthetic_data():
    return {"train": synthetic(24, 1), "val": synthetic(8, 2), "test": synthetic(6, 3)}


def _hp(arch: str, **extra) -> dict:
    return {**TINY[arch], **extra}


@pytest.mark.parametrize("arch", ["m3gnet", "nequip", "allegro"])
def test_learns_synthetic_target(arch, synthetic_data, tmp_path):
    """Loss drops and the best-validation model beats the mean predictor on held-out cells."""
    from litraj_data.leaderboard.models.gnn.run import train_gnn

    epochs = 30 if arch == "m3gnet" else 15  # M3GNet's mean+std standardisation starts farther away
    rec = train_gnn(arch, "nebBVSE122k/em", tmp_path, epochs=epochs, data=synthetic_data, overrides=_hp(arch),
                    threads=1)
    run = json.loads((tmp_path / "run.json").read_text())
    losses = [h["train_loss"] for h in run["history"]]
    assert all(v is not None for v in losses) and len(losses) == rec["epochs_run"]
    assert min(losses[-3:]) < 0.5 * losses[0]
    assert rec["val_mae"] < 0.5 * rec["val_mae_mean_predictor"]
    # the saved model is the best-validation epoch
    assert run["best_val_mae"] == pytest.approx(min(h["val_mae"] for h in run["history"]), rel=1e-5)
    assert run["val_mae"] == pytest.approx(run["best_val_mae"], rel=1e-3, abs=1e-4)
    pred = pd.read_csv(tmp_path / "predictions.csv")
    assert list(pred.columns) == ["edge_id", "prediction"]
    assert pred["edge_id"].tolist() == synthetic_data["test"].ids
    test_mae = float(np.mean(np.abs(pred["prediction"] - synthetic_data["test"].y)))
    assert test_mae < np.mean(np.abs(synthetic_data["test"].y - synthetic_data["train"].y.mean()))
    card = __import__("yaml").safe_load((tmp_path / "model_card.yaml").read_text())
    assert card["n_parameters"] == rec["n_parameters"] > 0
    assert card["hyperparameters"]["seed"] == 0 and card["tasks"]["nebBVSE122k/em"]["wall_time_s"] > 0


def test_dummy_is_its_own_species(synthetic_data):
    """X is a separate type in every backend's type list (not dropped, not mapped onto an element)."""
    assert TYPE_NAMES[-1] == "X" and TYPE_NAMES.count("X") == 1 and len(set(TYPE_NAMES)) == len(TYPE_NAMES)
    from matgl.ext.ase import Atoms2Graph

    from litraj_data.leaderboard.models.gnn import m3gnet

    atoms = synthetic_data["train"].atoms[0]
    g, _, _ = Atoms2Graph(TYPE_NAMES, cutoff=4.0).get_graph(atoms)
    assert int(g.node_type[-1]) == TYPE_NAMES.index("X")
    model = m3gnet.build_model({**__import__("litraj_data.leaderboard.models.gnn.settings", fromlist=["x"])
                                .MODEL_DEFAULTS["m3gnet"], "nblocks": 1})
    assert model.element_types[-1] == "X"


@pytest.mark.parametrize("arch", ["m3gnet", "nequip"])
def test_transfer_loads_pretrained_weights(arch, synthetic_data, tmp_path):
    """--init-from starts from the pretrained weights (BVSE -> DFT), not from a fresh init."""
    import torch

    from litraj_data.leaderboard.models.gnn.run import load_weights, train_gnn

    pre = tmp_path / "pre"
    train_gnn(arch, "nebBVSE122k/em", pre, epochs=2, data=synthetic_data, overrides=_hp(arch), threads=1)
    pretrained = load_weights(pre)
    seen = {}

    if arch == "m3gnet":
        from litraj_data.leaderboard.models.gnn import m3gnet as backend
    else:
        from litraj_data.leaderboard.models.gnn import nequip_family as backend
    real_load = backend.load_state

    def spy(model, state, where="--init-from"):
        real_load(model, state, where)
        seen["after_load"] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    backend.load_state = spy
    try:
        rec = train_gnn(arch, "nebDFT2k/em", tmp_path / "ft", epochs=1, data=synthetic_data,
                        init_from=pre, overrides={"lr": 1e-3}, seed=1, threads=1)
    finally:
        backend.load_state = real_load
    # a fresh network of the same config (another seed) starts elsewhere
    if arch == "m3gnet":
        torch.manual_seed(1)
        fresh_net = backend.build_model(json.loads((pre / "run.json").read_text())["model_hp"])
    else:
        cfg = dict(json.loads((pre / "run.json").read_text())["model_config"], seed=1)
        with backend.nequip_state(1):
            fresh_net = backend.build_module(cfg, {"lr": 1e-3, "lr_factor": 0.5, "lr_patience": 1},
                                             {"train": 1, "val": 1, "test": 1, "predict": 0}).model["sole_model"]
    trainable = sorted(n for n, p in fresh_net.named_parameters() if p.requires_grad and p.numel() > 4)
    assert trainable
    fresh = fresh_net.state_dict()
    for name in trainable[:3]:
        assert torch.equal(seen["after_load"][name], pretrained[name])
        assert not torch.equal(fresh[name], pretrained[name])
    assert torch.get_default_dtype() == torch.float32  # nequip's float64 default does not leak out
    assert rec["model"].endswith("-tl")
    card = __import__("yaml").safe_load((tmp_path / "ft" / "model_card.yaml").read_text())
    assert card["model_name"].endswith("-tl") and card["hyperparameters"]["init_from"] == str(pre)
    assert set(card["training_data"]["datasets"]) == {"nebDFT2k", "nebBVSE122k"}


def test_init_from_refuses_other_arch_and_bad_folder(synthetic_data, tmp_path):
    from litraj_data.leaderboard.models.gnn.run import train_gnn

    with pytest.raises(GNNError) as exc:
        train_gnn("nequip", "nebDFT2k/em", tmp_path / "x", epochs=1, data=synthetic_data, init_from=tmp_path)
    assert exc.value.reason == "bad_init_from" and "run.json" in str(exc.value)
    pre = tmp_path / "pre"
    train_gnn("nequip", "nebBVSE122k/em", pre, epochs=1, data=synthetic_data, overrides=_hp("nequip"), threads=1)
    with pytest.raises(GNNError) as exc:
        train_gnn("allegro", "nebDFT2k/em", tmp_path / "y", epochs=1, data=synthetic_data, init_from=pre)
    assert exc.value.reason == "arch_mismatch"
    with pytest.raises(GNNError) as exc:  # a model key changed against the pretrained network
        train_gnn("nequip", "nebDFT2k/em", tmp_path / "z", epochs=1, data=synthetic_data, init_from=pre,
                  overrides={"num_features": 64})
    assert exc.value.reason == "bad_hyperparameter" and "init-from" in str(exc.value)
    # a pickle in place of the weights is refused by the weights-only loader (litraj_data.trust)
    import pickle

    (pre / "model.pt").write_bytes(pickle.dumps(argparse.Namespace(a=1)))
    with pytest.raises(GNNError) as exc:
        train_gnn("nequip", "nebDFT2k/em", tmp_path / "w", epochs=1, data=synthetic_data, init_from=pre)
    assert exc.value.reason == "unsafe_weights" and "argparse.Namespace" in str(exc.value)


def test_bad_inputs_are_named(synthetic_data, tmp_path):
    from litraj_data.leaderboard.models.gnn.run import train_gnn
    from litraj_data.leaderboard.models.gnn.settings import parse_overrides

    cases = [
        (dict(arch="m3gnet", task_id="nebDFT2k/umlip_neb"), "unsupported_task"),
        (dict(arch="m3gnet", task_id="nebDFT2k/em", device="cuda"), "no_cuda"),
        (dict(arch="m3gnet", task_id="nebDFT2k/em", overrides={"unitz": 3}), "bad_hyperparameter"),
        (dict(arch="m3gnet", task_id="nebDFT2k/em", overrides={"batch_size": 0}), "bad_hyperparameter"),
        (dict(arch="gcn", task_id="nebDFT2k/em"), "unknown_arch"),
        (dict(arch="m3gnet", task_id="nebDFT2k/em", overrides={"loss": "l2"}), "bad_hyperparameter"),
    ]
    import torch

    for kwargs, reason in cases:
        if reason == "no_cuda" and torch.cuda.is_available():
            continue
        with pytest.raises(GNNError) as exc:
            train_gnn(out_dir=tmp_path / reason, epochs=1, data=synthetic_data, **kwargs)
        assert exc.value.reason == reason, kwargs
    with pytest.raises(GNNError, match="Did you mean 'units'"):
        train_gnn("m3gnet", "nebDFT2k/em", tmp_path / "u", epochs=1, data=synthetic_data, overrides={"unitz": 3})
    with pytest.raises(GNNError, match="KEY=VALUE"):
        parse_overrides(["units"])
    few = {"train": synthetic(1, 1), "val": synthetic(1, 2), "test": synthetic(1, 3)}
    with pytest.raises(GNNError) as exc:
        train_gnn("m3gnet", "nebDFT2k/em", tmp_path / "f", epochs=1, data=few)
    assert exc.value.reason == "too_few_rows"
    odd = synthetic(4, 4)
    odd.atoms[0][0].symbol = "Am"  # Z = 95: outside the type list
    with pytest.raises(GNNError) as exc:
        train_gnn("nequip", "nebDFT2k/em", tmp_path / "e", epochs=1, data={**synthetic_data, "train": odd})
    assert exc.value.reason == "unknown_element" and odd.ids[0] in str(exc.value)
    assert not (tmp_path / "e" / "predictions.csv").exists()


def _cli():
    from litraj_data.leaderboard.models.gnn import cli as gcli
    from litraj_data.leaderboard.page import cli as scli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="c", required=True)
    gcli.register(sub)
    scli.register(sub)

    def run(*argv):
        args = parser.parse_args([str(a) for a in argv])
        return args.func(args)

    return run


def test_cli_on_sample_is_scored(tmp_path, capsys, monkeypatch):
    """`litraj train gnn` on the embedded sample -> predictions.csv + card accepted by `litraj score`."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # training from scratch needs no download
    run = _cli()
    out = tmp_path / "run"
    assert run("train", "gnn", "--arch", "nequip", "--task", "BVEL13k/E_1D", "--source", "sample", "--epochs", "2",
               "--out", out, "--hp", "num_layers=1", "--hp", "num_features=4", "--hp", "radial_mlp_width=8",
               "--hp", "r_max=5.0", "--threads", "1", "--json") == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # stdout is exactly one JSON document; progress went to stderr
    rec, = doc["records"]
    assert rec["file"] == str(out) and rec["n_predicted"] == 4 and rec["epochs_run"] == 2
    assert "epoch" in captured.err
    assert run("submit", "validate", out / "predictions.csv", "--task", "BVEL13k/E_1D", "--source", "sample",
               "--metadata", out / "model_card.yaml", "--json") == 0
    val = json.loads(capsys.readouterr().out)["records"][0]
    assert val["valid"] and val["metadata"]["model_card"] == "complete"
    assert run("score", out / "predictions.csv", "--task", "BVEL13k/E_1D", "--source", "sample", "--metadata",
               out / "model_card.yaml", "--out", tmp_path / "rec.json", "--bootstrap", "50") == 0
    scored = json.loads((tmp_path / "rec.json").read_text())
    assert scored["subsets"]["all"]["n"] >= 1 and np.isfinite(scored["subsets"]["all"]["mae"])


def test_cli_error_is_one_json_record(tmp_path, capsys):
    run = _cli()
    assert run("train", "gnn", "--arch", "m3gnet", "--task", "nebDFT2k/em", "--source", "sample", "--epochs", "1",
               "--out", tmp_path / "r", "--init-from", tmp_path / "nothing", "--json") == 2
    captured = capsys.readouterr()
    rec, = json.loads(captured.out)["records"]
    assert rec["ok"] is False and rec["reason"] == "bad_init_from"
    assert "train gnn failed" in captured.err


def test_cli_bvse_to_dft_transfer_on_built_archive(tmp_path, capsys):
    """Pretrain on the nebBVSE122k sample, fine-tune on an official-layout nebDFT2k, score the -tl run."""
    from litraj_data.builders.from_release import import_release
    from litraj_data.testing import write_release

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = write_release("nebDFT2k", tmp_path / "rel", {"train": 8, "val": 3, "test": 4}, seed=3)
        built = import_release("nebDFT2k", archive, tmp_path / "built", progress=False)
    run = _cli()
    tiny = ["--hp", "nblocks=1", "--hp", "units=8", "--hp", "dim_node_embedding=8", "--hp", "dim_edge_embedding=8",
            "--hp", "cutoff=4.0", "--hp", "threebody_cutoff=3.0"]
    assert run("train", "gnn", "--arch", "m3gnet", "--task", "nebBVSE122k/em", "--source", "sample", "--epochs", "1",
               "--out", tmp_path / "bvse", "--threads", "1", *tiny) == 0
    capsys.readouterr()
    assert run("train", "gnn", "--arch", "m3gnet", "--task", "nebDFT2k/em", "--source", built, "--epochs", "1",
               "--out", tmp_path / "tl", "--init-from", tmp_path / "bvse", "--threads", "1", "--json") == 0
    rec, = json.loads(capsys.readouterr().out)["records"]
    assert rec["model"] == "M3GNet-tl" and rec["n_predicted"] == 4
    run_json = json.loads((tmp_path / "tl" / "run.json").read_text())
    pre_json = json.loads((tmp_path / "bvse" / "run.json").read_text())
    assert run_json["model_hp"] == pre_json["model_hp"] and run_json["norm"] == pre_json["norm"]
    assert run("score", tmp_path / "tl" / "predictions.csv", "--task", "nebDFT2k/em", "--source", built,
               "--metadata", tmp_path / "tl" / "model_card.yaml", "--out", tmp_path / "tl.json", "--bootstrap",
               "50") == 0
    scored = json.loads((tmp_path / "tl.json").read_text())
    assert scored["subsets"]["all"]["n"] == 4
