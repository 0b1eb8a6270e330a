"""Builder functions of the registered uMLIPs (named by the ``builder`` key of a model card).

``build_NAME(weights, device, dtype, **options)`` loads the model once and returns a dict:
``calculator`` (a zero-argument factory of ASE calculators, one per NEB image, all sharing
the loaded model) and, for models with a batched band evaluator, ``evaluator`` (a factory
taking ``max_batch_atoms``). ``weights`` is a local file or folder, already resolved by
:mod:`~litraj_data.leaderboard.reference.umlip.runners` (a wheel's file, ``--weights PATH`` or a
fine-tuned model's folder); no builder downloads anything. Each package is imported inside
its builder: importing this module costs nothing.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any

__all__ = ["build_chgnet", "build_sevennet", "build_mace", "build_m3gnet", "build_mattersim", "build_orb"]


def _quiet() -> contextlib.AbstractContextManager:
    # some packages print banners on stdout, which --json output reserves for its one document
    return contextlib.redirect_stdout(sys.stderr)


def build_chgnet(weights: str, device: str, dtype: str = "float32") -> dict[str, Any]:
    """CHGNet from a checkpoint file, with its batched band evaluator."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    from litraj_data.leaderboard.reference.umlip.batched import CHGNetBandEvaluator

    with _quiet():
        model = CHGNet.from_file(weights)  # CHGNet's own loader (its checkpoints hold a state dict + config)
    if not isinstance(model, CHGNet):
        raise TypeError(f"not a CHGNet checkpoint: {type(model).__name__}")
    model = model.to(device)

    def calculator() -> CHGNetCalculator:
        with _quiet():
            return CHGNetCalculator(model=model, use_device=device, on_isolated_atoms="ignore")

    return {"calculator": calculator, "evaluator": lambda n=None: CHGNetBandEvaluator(model, device, n)}


def build_sevennet(weights: str, device: str, dtype: str = "float32", modal: str | None = None) -> dict[str, Any]:
    """SevenNet from a checkpoint file; batched bands unless the model is multi-fidelity (``modal``)."""
    import sevenn._keys as KEY
    import sevenn.util as util
    from sevenn.calculator import SevenNetCalculator

    from litraj_data.leaderboard.reference.umlip.batched import SevenNetBandEvaluator

    cp = util.load_checkpoint(weights)  # a path: sevenn never resolves (or downloads) a model name here
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


def build_mace(weights: str, device: str, dtype: str = "float64") -> dict[str, Any]:
    """MACE from a model file (MACE-MP-0 small/medium, MACE-MPA-0, fine-tuned MACE)."""
    import inspect

    from mace.calculators import MACECalculator

    calc = MACECalculator(model_paths=weights, device=device, default_dtype=dtype)
    if "models" not in inspect.signature(MACECalculator.__init__).parameters:  # older mace: reload per image
        return {"calculator": lambda: MACECalculator(model_paths=weights, device=device, default_dtype=dtype)}
    models = calc.models  # MACECalculator keeps no per-image state beyond ASE's cache: share the model
    return {"calculator": lambda: MACECalculator(models=models, device=device, default_dtype=dtype)}


def build_m3gnet(weights: str, device: str, dtype: str = "float32") -> dict[str, Any]:
    """M3GNet from a local matgl model folder (``model.pt`` and ``state.pt``)."""
    import matgl
    from matgl.ext.ase import PESCalculator

    potential = matgl.load_model(weights)
    return {"calculator": lambda: PESCalculator(potential)}


def build_mattersim(weights: str, device: str, dtype: str = "float32") -> dict[str, Any]:
    """MatterSim from a checkpoint file (``mattersim-v1.0.0-1M.pth``)."""
    from mattersim.forcefield import MatterSimCalculator
    from mattersim.forcefield.potential import Potential

    potential = Potential.from_checkpoint(load_path=weights, device=device, load_training_state=False)
    return {"calculator": lambda: MatterSimCalculator(potential=potential, device=device)}


def build_orb(weights: str, device: str, dtype: str = "float32", model: str = "orb_v3_conservative_inf_mpa",
              precision: str = "float32-high") -> dict[str, Any]:
    """An Orb model: ``model`` names the constructor in ``orb_models.forcefield.pretrained``."""
    from orb_models.forcefield import pretrained
    from orb_models.forcefield.calculator import ORBCalculator

    make = getattr(pretrained, model, None)
    if make is None:
        raise ValueError(f"orb_models.forcefield.pretrained has no model {model!r}")
    orbff = make(weights_path=weights, device=device, precision=precision)
    return {"calculator": lambda: ORBCalculator(orbff, device=device)}
