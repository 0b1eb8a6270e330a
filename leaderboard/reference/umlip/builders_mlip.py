"""Builder functions of the registered uMLIPs (named by the ``builder`` key of a model card).

``build_NAME(weights, device, dtype, **options)`` loads the model once and returns a dict:
``calculator`` (a zero-argument factory of ASE calculators, one per NEB image, all sharing
the loaded model) and, for models with a batched band evaluator, ``evaluator`` (a factory
taking ``max_batch_atoms``). ``weights`` is a local file or folder, already resolved by
:mod:`~litraj_data.leaderboard.reference.umlip.runners` (a wheel's file, ``--weights PATH`` or a
fine-tuned model's folder); no builder downloads anything. Each package is imported inside
its builder: importing this module costs nothing.

``trusted`` is False for every file a user pointed at (unless ``--trust``): then no builder
hands the file to a loader that unpickles it. CHGNet and SevenNet checkpoints are read by
:func:`litraj_data.trust.load_torch` (tensors and plain data only) and the model is built
from that; the other packages load the file themselves, after
:func:`litraj_data.trust.check_weights` has loaded every file of it the restricted way.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path
from typing import Any

from litraj_data.lazy import lazy_from, lazy_import
from litraj_data.trust import UnsafeWeightsError, check_weights, load_torch

__all__ = ["build_chgnet", "build_sevennet", "build_mace", "build_m3gnet", "build_mattersim", "build_orb"]


def _quiet() -> contextlib.AbstractContextManager:
    # some packages print banners on stdout, which --json output reserves for its one document
    return contextlib.redirect_stdout(sys.stderr)


def build_chgnet(weights: str, device: str, dtype: str = "float32", trusted: bool = False) -> dict[str, Any]:
    """CHGNet from a checkpoint file, with its batched band evaluator."""
    CHGNet = lazy_from("chgnet.model", "CHGNet")
    CHGNetCalculator = lazy_from("chgnet.model.dynamics", "CHGNetCalculator")

    from litraj_data.leaderboard.reference.umlip.batched import CHGNetBandEvaluator

    with _quiet():
        if trusted:
            model = CHGNet.from_file(weights)  # CHGNet's own loader: torch.load(weights_only=False)
        else:  # what from_file does, from a restricted load: its checkpoints hold a state dict + config
            state = load_torch(weights)
            if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
                raise ValueError("not a CHGNet checkpoint: no 'model' entry")
            model = CHGNet.from_dict(state["model"])
    if not isinstance(model, CHGNet):
        raise TypeError(f"not a CHGNet checkpoint: {type(model).__name__}")
    model = model.to(device)

    def calculator() -> CHGNetCalculator:
        with _quiet():
            return CHGNetCalculator(model=model, use_device=device, on_isolated_atoms="ignore")

    return {"calculator": calculator, "evaluator": lambda n=None: CHGNetBandEvaluator(model, device, n)}


_SEVENN_LOAD = threading.Lock()


def _sevennet_checkpoint(weights: str, trusted: bool) -> Any:
    """sevenn's checkpoint object; untrusted files are read once by the restricted loader."""
    checkpoint = lazy_import("sevenn.checkpoint")
    util = lazy_import("sevenn.util")

    if trusted:
        return util.load_checkpoint(weights)  # a path: sevenn never resolves (or downloads) a model name here
    if not Path(weights).is_file():
        raise ValueError(f"{weights} is not a file")
    state = load_torch(weights)
    if not isinstance(state, dict):
        raise ValueError(f"not a SevenNet checkpoint: a {type(state).__name__}")
    cp = checkpoint.SevenNetCheckpoint(weights)
    # SevenNetCheckpoint._load calls its module's torch_load(weights_only=False); it is handed the
    # state already read instead (no second read of the file, nothing unpickled by sevenn)
    with _SEVENN_LOAD:
        original = checkpoint.torch_load
        checkpoint.torch_load = lambda *args, **kwargs: state
        try:
            cp._load()
        finally:
            checkpoint.torch_load = original
    return cp


def build_sevennet(weights: str, device: str, dtype: str = "float32", modal: str | None = None,
                   trusted: bool = False) -> dict[str, Any]:
    """SevenNet from a checkpoint file; batched bands unless the model is multi-fidelity (``modal``)."""
    KEY = lazy_import("sevenn._keys")
    SevenNetCalculator = lazy_from("sevenn.calculator", "SevenNetCalculator")

    from litraj_data.leaderboard.reference.umlip.batched import SevenNetBandEvaluator

    cp = _sevennet_checkpoint(weights, trusted)
    single = cp.build_model()
    single.set_is_batch_data(False)
    single.to(device).eval()
    out: dict[str, Any] = {"calculator": lambda: SevenNetCalculator(single, file_type="model_instance",
                                                                    device=device, modal=modal)}
    if modal is None:  # the batched evaluator feeds no data modality: single-fidelity models only
        cutoff = cp.config[KEY.CUTOFF]
        batch: list[Any] = []

        def evaluator(n: int | None = None) -> SevenNetBandEvaluator:
            if not batch:  # built at first use: image-by-image runs never pay for the second copy
                model = cp.build_model()  # its own copy: batch mode is a flag of the model
                batch.append(model.to(device).eval())
            return SevenNetBandEvaluator(batch[0], cutoff, device, max_batch_atoms=n)

        out["evaluator"] = evaluator
    else:
        out["calculator"]()  # a wrong modal fails now (sevenn checks it against the model), not per image
    return out


def build_mace(weights: str, device: str, dtype: str = "float64", trusted: bool = False) -> dict[str, Any]:
    """MACE from a model file (MACE-MP-0 small/medium, MACE-MPA-0, fine-tuned MACE).

    A MACE ``.model`` file is a whole pickled ``torch.nn.Module``: it only loads with ``--trust``.
    When ``mace`` is not importable here (it pins e3nn 0.4.4) and ``LITRAJ_MACE_PYTHON`` names
    the mace venv's python, the model runs in that interpreter behind a pipe
    (:mod:`~litraj_data.leaderboard.reference.umlip.mace_pipe`), after the same trust check.
    """
    import importlib.util
    import inspect

    check_weights(weights, trust=trusted, what="MACE model file")
    if importlib.util.find_spec("mace") is None:
        from litraj_data.leaderboard.reference.umlip.mace_pipe import MacePipeCalculator, MaceServer, mace_python

        python = mace_python()
        if python is not None:
            server = MaceServer(python, weights, device, dtype)
            return {"calculator": lambda: MacePipeCalculator(server), "server": server}
    MACECalculator = lazy_from("mace.calculators", "MACECalculator")

    calc = MACECalculator(model_paths=weights, device=device, default_dtype=dtype)
    if "models" not in inspect.signature(MACECalculator.__init__).parameters:  # older mace: reload per image
        return {"calculator": lambda: MACECalculator(model_paths=weights, device=device, default_dtype=dtype)}
    models = calc.models  # MACECalculator keeps no per-image state beyond ASE's cache: share the model
    return {"calculator": lambda: MACECalculator(models=models, device=device, default_dtype=dtype)}


def build_m3gnet(weights: str, device: str, dtype: str = "float32", trusted: bool = False) -> dict[str, Any]:
    """M3GNet from a local matgl model folder (``model.pt`` and ``state.pt``)."""
    import json

    matgl = lazy_import("matgl")
    PESCalculator = lazy_from("matgl.ext.ase", "PESCalculator")

    folder = Path(weights)
    if not (folder / "model.json").is_file():
        raise ValueError(f"{weights}: a matgl model folder holds model.json, model.pt and state.pt")
    if not trusted:
        # matgl imports the module and class that model.json names: only matgl's own
        try:
            spec = json.loads((folder / "model.json").read_text(encoding="utf-8"))
            module = str(spec.get("@module", ""))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            raise ValueError(f"{weights}/model.json: not a matgl model description ({exc})") from None
        if not (module == "matgl" or module.startswith("matgl.")):
            raise UnsafeWeightsError(f"{weights}/model.json names the module {module!r}, not one of matgl's: "
                                     "loading it would import that module; pass --trust only if you trust "
                                     "where the folder came from")
        check_weights(folder, trust=False, what="matgl model")
    potential = matgl.load_model(weights)
    return {"calculator": lambda: PESCalculator(potential)}


def build_mattersim(weights: str, device: str, dtype: str = "float32", trusted: bool = False) -> dict[str, Any]:
    """MatterSim from a checkpoint file (``mattersim-v1.0.0-1M.pth``)."""
    check_weights(weights, trust=trusted, what="MatterSim checkpoint")
    MatterSimCalculator = lazy_from("mattersim.forcefield", "MatterSimCalculator")
    Potential = lazy_from("mattersim.forcefield.potential", "Potential")

    potential = Potential.from_checkpoint(load_path=weights, device=device, load_training_state=False)
    return {"calculator": lambda: MatterSimCalculator(potential=potential, device=device)}


def build_orb(weights: str, device: str, dtype: str = "float32", model: str = "orb_v3_conservative_inf_mpa",
              precision: str = "float32-high", trusted: bool = False) -> dict[str, Any]:
    """An Orb model: ``model`` names the constructor in ``orb_models.forcefield.pretrained``."""
    check_weights(weights, trust=trusted, what="Orb checkpoint")
    pretrained = lazy_from("orb_models.forcefield", "pretrained")
    ORBCalculator = lazy_from("orb_models.forcefield.calculator", "ORBCalculator")

    make = getattr(pretrained, model, None)
    if make is None:
        raise ValueError(f"orb_models.forcefield.pretrained has no model {model!r}")
    orbff = make(weights_path=weights, device=device, precision=precision)
    return {"calculator": lambda: ORBCalculator(orbff, device=device)}
