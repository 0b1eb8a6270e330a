"""Hyperparameters of each architecture: the paper's settings as defaults, overrides checked.

Model keys shape the network (and are taken from the pretrained run with ``--init-from``);
training keys steer the optimiser and may change between pretraining and fine-tuning.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from litraj_data.io import did_you_mean
from litraj_data.leaderboard.models.gnn.errors import GNNError
from litraj_data.yamlsafe import YamlError, load_yaml

__all__ = ["ARCHS", "MODEL_DEFAULTS", "TRAIN_DEFAULTS", "resolve", "parse_overrides", "PAPER_NAMES", "PRESETS",
           "Preset", "get_preset"]

ARCHS = ("m3gnet", "nequip", "allegro")
#: model names as the paper's tables print them (reference rows of the leaderboard)
PAPER_NAMES = {"m3gnet": "M3GNet", "nequip": "Nequip", "allegro": "Allegro"}

# r_max = None: the paper's per-dataset cutoff (7.0 Å BVEL13k, 6.0 Å hop supercells)
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    # matgl's M3GNet defaults; the paper: cutoff 5 Å, three-body 4 Å, extensive readout
    "m3gnet": {"cutoff": 5.0, "threebody_cutoff": 4.0, "is_intensive": False, "nblocks": 3, "units": 64,
               "dim_node_embedding": 64, "dim_edge_embedding": 64, "max_n": 3, "max_l": 3},
    # nequip's NequIPGNNModel defaults
    "nequip": {"r_max": None, "num_layers": 4, "l_max": 1, "parity": True, "num_features": 32,
               "radial_mlp_depth": 1, "radial_mlp_width": 128, "num_bessels": 8, "model_dtype": "float32"},
    # allegro's AllegroModel defaults (the MLP depths and widths are its builder's defaults)
    "allegro": {"r_max": None, "num_layers": 2, "l_max": 1, "parity": True, "num_scalar_features": 64,
                "num_tensor_features": 16, "allegro_mlp_hidden_layers_width": 64, "num_bessels": 8,
                "model_dtype": "float32", "allegro_mlp_hidden_layers_depth": 1,
                "scalar_embed_mlp_hidden_layers_depth": 1, "scalar_embed_mlp_hidden_layers_width": 64,
                "readout_mlp_hidden_layers_depth": 1, "readout_mlp_hidden_layers_width": 32},
}
# matgl: Adam + cosine annealing over the run; nequip/allegro: ReduceLROnPlateau + early stopping.
# M3GNet batch 16: its line graphs of ~100-atom hop supercells take ~0.2 GB per graph on CPU
TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "m3gnet": {"batch_size": 16, "lr": 1e-3, "decay_alpha": 1e-2, "loss": "mse_loss", "num_workers": 0},
    "nequip": {"batch_size": 8, "lr": 5e-3, "lr_factor": 0.5, "lr_patience": 10, "early_stop_patience": 30,
               "num_workers": 0},
    "allegro": {"batch_size": 8, "lr": 2e-3, "lr_factor": 0.5, "lr_patience": 10, "early_stop_patience": 30,
                "num_workers": 0},
}


@dataclass(frozen=True)
class Preset:
    """A named network size: the model keys it sets and the parameter count it is meant to reach.

    ``target_parameters`` is the figure the preset aims at and ``target_source`` says where it
    comes from (the paper's Table 1 text, or a library's documented configuration when the
    paper gives none); the count of the instantiated network is checked against it (±10 %).
    """

    arch: str
    name: str                       # the row name on the leaderboard (the paper's spelling)
    model: Mapping[str, Any]        # model keys set on top of MODEL_DEFAULTS[arch]
    target_parameters: int
    target_source: str


# Counts are of the instantiated networks with the fixed 95-type list (H..Pu + X), whose
# per-type weights are a large share of NequIP's parameters; tests/test_gnn_presets.py builds
# each one on CPU and checks the count against ``target_parameters``.
PRESETS: dict[str, Preset] = {
    # NequIP's parameter count grows about as num_features**2 (441,344 at 32 features, 4 layers,
    # l_max 1); 56 features reach 2,000,384
    "nequip": Preset("nequip", "Nequip", {"num_features": 56}, 2_000_000,
                     "LiTraj paper, Table 1 (NequIP, about 2 M parameters)"),
    # 24 features with a 96-wide radial MLP: 203,520
    "nequip-s": Preset("nequip", "Nequip-s", {"num_features": 24, "radial_mlp_width": 96}, 200_000,
                       "LiTraj paper, Table 1 (NequIP-s, about 0.2 M parameters)"),
    # matgl's M3GNet defaults already are the paper's size: 288,541
    "m3gnet": Preset("m3gnet", "M3GNet", {}, 300_000, "LiTraj paper, Table 1 (M3GNet, about 0.3 M parameters)"),
    # the paper gives no Allegro size: the sizes of the Allegro documentation's tutorial config
    # (mir-group/allegro configs/tutorial.yaml: 2 layers, l_max 1, 64 scalar / 32 tensor
    # features, Allegro MLP 2 x 128, two-body MLP 2 x 64, readout 1 x 32): 127,648
    "allegro": Preset("allegro", "Allegro", {"num_tensor_features": 32, "allegro_mlp_hidden_layers_depth": 2,
                                             "allegro_mlp_hidden_layers_width": 128,
                                             "scalar_embed_mlp_hidden_layers_depth": 2,
                                             "scalar_embed_mlp_hidden_layers_width": 64},
                      127_648, "Allegro documentation, configs/tutorial.yaml sizes (the paper gives none)"),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (``nequip``, ``nequip-s``, ``m3gnet``, ``allegro``).

    Raises
    ------
    GNNError
        ``unknown_preset``, with the closest name.
    """
    if name not in PRESETS:
        raise GNNError(f"unknown preset {name!r} (one of {', '.join(PRESETS)}).{did_you_mean(name, PRESETS)}",
                       reason="unknown_preset")
    return PRESETS[name]


_M3GNET_LOSSES = ("mse_loss", "huber_loss", "smooth_l1_loss", "l1_loss")  # ModelLightningModule's names


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["units=16", "lr=0.01"]`` -> ``{"units": 16, "lr": 0.01}`` (values read as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise GNNError(f"--hp {item!r}: expected KEY=VALUE", reason="bad_hyperparameter")
        try:
            out[key.strip()] = load_yaml(value, f"--hp {key.strip()}")
        except YamlError as exc:
            raise GNNError(f"--hp {item!r}: value is not a YAML scalar ({exc})", reason="bad_hyperparameter") from None
    return out


def resolve(arch: str, overrides: Mapping[str, Any], model_from: Mapping[str, Any] | None = None,
            preset: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model_hp, train_hp)`` for ``arch`` with ``preset`` then ``overrides`` applied.

    Parameters
    ----------
    model_from
        Model hyperparameters of a pretrained run (``--init-from``): they win, and an
        override of a model key that differs from them is refused (the weights would not fit).
    preset
        A name of :data:`PRESETS` for ``arch``: its model keys are applied before ``overrides``
        (an override still wins), and checked against ``model_from`` like an override.
    """
    if arch not in ARCHS:
        raise GNNError(f"unknown architecture {arch!r} (one of {', '.join(ARCHS)}).{did_you_mean(arch, ARCHS)}",
                       reason="unknown_arch")
    if preset is not None:
        chosen = get_preset(preset)
        if chosen.arch != arch:
            raise GNNError(f"preset {preset!r} is a {chosen.arch} network, not {arch}", reason="arch_mismatch")
        overrides = {**chosen.model, **overrides}
    # a run saved before a model key existed gets that key's default (it was built with it)
    model = dict(MODEL_DEFAULTS[arch]) if model_from is None else {**MODEL_DEFAULTS[arch], **model_from}
    train = dict(TRAIN_DEFAULTS[arch])
    known = set(MODEL_DEFAULTS[arch]) | set(train)
    for key, value in overrides.items():
        if key not in known:
            raise GNNError(f"unknown hyperparameter {key!r} for {arch}.{did_you_mean(key, known)} "
                           f"(known: {', '.join(sorted(known))})", reason="bad_hyperparameter")
        if key in train:
            train[key] = value
        elif model_from is not None and model.get(key) != value:
            raise GNNError(f"{key}={value!r} differs from the pretrained model ({model.get(key)!r}): "
                           "model hyperparameters come from --init-from", reason="bad_hyperparameter")
        else:
            model[key] = value
    for key in ("batch_size", "num_workers"):
        if not isinstance(train[key], int) or train[key] < (1 if key == "batch_size" else 0):
            raise GNNError(f"{key} must be a {'positive' if key == 'batch_size' else 'non-negative'} integer, "
                           f"got {train[key]!r}", reason="bad_hyperparameter")
    if arch == "m3gnet" and train["loss"] not in _M3GNET_LOSSES:
        # matgl falls back to an L1 loss for any other name: say so instead
        raise GNNError(f"loss must be one of {', '.join(_M3GNET_LOSSES)}, got {train['loss']!r}",
                       reason="bad_hyperparameter")
    if not isinstance(train["lr"], (int, float)) or train["lr"] <= 0:
        raise GNNError(f"lr must be a positive number, got {train['lr']!r}", reason="bad_hyperparameter")
    return model, train
