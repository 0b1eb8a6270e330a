"""uMLIP runners: registry name -> model provider for the NEB harness (lazy imports).

=============  ==============  ==========================  ===========================
name           extra           weights                     batched bands
=============  ==============  ==========================  ===========================
chgnet         ``chgnet``      in the wheel (or --weights) yes (``predict_graph``)
sevennet-0     ``sevenn``      in the wheel (or --weights) yes (batched graph)
mace-mp-0      ``mace``        ``--weights FILE`` required no (image by image)
m3gnet         ``matgl``       ``--weights DIR`` required  no (image by image)
=============  ==============  ==========================  ===========================
"""
from __future__ import annotations

import importlib.util
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from litraj_data.leaderboard.neb.provider import cached
from litraj_data.leaderboard.umlip.errors import ModelUnavailable


@dataclass(frozen=True)
class ModelSpec:
    """How to build one registered model."""

    name: str
    package: str  # import name checked before anything is built
    extra: str  # pip extra of litraj-data that installs the package
    pip: str  # what to pip install
    weights_required: bool
    weights_hint: str
    batched: bool
    version: Callable[[], str]


def _dist_version(dist: str) -> Callable[[], str]:
    def get() -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(dist)
        except PackageNotFoundError:
            return "unknown"
    return get


MODELS: dict[str, ModelSpec] = {
    "chgnet": ModelSpec("chgnet", "chgnet", "chgnet", "chgnet", False,
                        "a CHGNet checkpoint (.pth.tar, e.g. chgnet/pretrained/0.3.0/*.pth.tar)", True,
                        _dist_version("chgnet")),
    "sevennet-0": ModelSpec("sevennet-0", "sevenn", "sevenn", "sevenn", False,
                            "a SevenNet checkpoint (.pth, e.g. sevenn/pretrained_potentials/SevenNet_0__11Jul2024/"
                            "checkpoint_sevennet_0.pth)", True, _dist_version("sevenn")),
    "mace-mp-0": ModelSpec("mace-mp-0", "mace", "mace", "mace-torch", True,
                           "a MACE-MP-0 model file (e.g. 2023-12-03-mace-128-L1_epoch-199.model from "
                           "https://github.com/ACEsuit/mace-mp/releases)", False, _dist_version("mace-torch")),
    "m3gnet": ModelSpec("m3gnet", "matgl", "matgl", "matgl", True,
                        "a matgl model folder (e.g. M3GNet-MP-2021.2.8-PES with model.pt and state.pt)", False,
                        _dist_version("matgl")),
}


def list_models() -> list[str]:
    """Registered model names."""
    return sorted(MODELS)


def _resolve_device(device: str) -> str:
    if device not in ("cpu", "cuda"):
        raise ModelUnavailable(f"--device must be cpu or cuda, got {device!r}", reason="device")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ModelUnavailable("--device cuda requested but torch sees no CUDA device "
                                   f"(torch {torch.__version__}); use --device cpu", reason="device")
    return device


class UMLIPProvider:
    """Calculator provider of a registered uMLIP (picklable; the model is built per process).

    Parameters
    ----------
    name : str
        Registry name (``chgnet``, ``sevennet-0``, ``mace-mp-0``, ``m3gnet``).
    weights : path, optional
        Local weights (required for mace-mp-0 and m3gnet).
    device : {"cpu", "cuda"}
    max_batch_atoms : int, optional
        Atoms per batched forward pass (default by model and device, see
        :data:`~litraj_data.leaderboard.umlip.batched.MAX_BATCH_ATOMS`).
    """

    def __init__(self, name: str, weights: str | Path | None = None, device: str = "cpu",
                 max_batch_atoms: int | None = None) -> None:
        self.spec = get_spec(name)
        self.weights = None if weights is None else str(weights)
        self.device = device
        if max_batch_atoms is not None and max_batch_atoms < 1:
            raise ValueError(f"max_batch_atoms must be >= 1, got {max_batch_atoms}")
        self.max_batch_atoms = max_batch_atoms
        self.key = f"{self.spec.name}:{self.weights or 'default'}:{device}"

    # -- checks ---------------------------------------------------------------------------
    def check(self) -> "UMLIPProvider":
        """Fail fast: package installed, weights present and loadable, device usable."""
        spec = self.spec
        if self.weights is not None and not Path(self.weights).exists():
            raise ModelUnavailable(f"{spec.name}: weights file {self.weights} does not exist; pass --weights PATH "
                                   f"to {spec.weights_hint}", reason="weights_missing")
        if spec.weights_required and self.weights is None:
            raise ModelUnavailable(f"{spec.name}: its weights cannot be downloaded here; download "
                                   f"{spec.weights_hint} elsewhere and pass it with --weights PATH",
                                   reason="weights_missing")
        if importlib.util.find_spec(spec.package) is None:
            raise ModelUnavailable(f"{spec.name} needs the '{spec.pip}' package, which is not installed: "
                                   f"pip install 'litraj-data[{spec.extra}]' (or pip install {spec.pip})",
                                   reason="model_not_installed")
        _resolve_device(self.device)
        self._model()
        return self

    # -- model building (cached per process) -----------------------------------------------
    def _model(self) -> Any:
        return cached(self.key, self._build)

    def _build(self) -> Any:
        try:
            return _BUILDERS[self.spec.name](self.weights, _resolve_device(self.device))
        except ModelUnavailable:
            raise
        except (RuntimeError, ValueError, KeyError, OSError, EOFError, pickle.UnpicklingError,
                zipfile.BadZipFile) as exc:  # a checkpoint of another model (missing keys), a corrupt file
            if self.weights is None:
                raise
            raise ModelUnavailable(f"{self.spec.name}: cannot load weights {self.weights} ({type(exc).__name__}: "
                                   f"{exc}); expected {self.spec.weights_hint}", reason="weights_invalid") from exc

    def calculator(self):
        """A fresh ASE calculator for one image (the loaded model is shared)."""
        return self._model()["calculator"]()

    def evaluator(self):
        """Batched band evaluator, or ``None`` for models evaluated image by image."""
        make = self._model().get("evaluator")
        return None if make is None else make(self.max_batch_atoms)

    def metadata(self) -> dict[str, Any]:
        """Model facts for a submission's metadata."""
        return {"model": self.spec.name, "model_version": self.spec.version(), "weights": self.weights,
                "device": self.device, "package": self.spec.pip, "max_batch_atoms": self.max_batch_atoms}

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.spec.name, "weights": self.weights, "device": self.device,
                "max_batch_atoms": self.max_batch_atoms}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"], state["weights"], state["device"], state.get("max_batch_atoms"))


def get_spec(name: str) -> ModelSpec:
    """Registry entry of ``name`` (case-insensitive); ``ModelUnavailable`` if unknown."""
    key = name.lower().replace("_", "-")
    key = {"sevennet": "sevennet-0", "7net-0": "sevennet-0", "mace": "mace-mp-0", "matgl": "m3gnet"}.get(key, key)
    if key not in MODELS:
        raise ModelUnavailable(f"unknown model {name!r}; known: {', '.join(list_models())}", reason="unknown_model")
    return MODELS[key]


def get_provider(name: str, weights: str | Path | None = None, device: str = "cpu",
                 check: bool = True, max_batch_atoms: int | None = None) -> UMLIPProvider:
    """Provider of a registered model, checked (installed, weights, device) unless ``check=False``."""
    provider = UMLIPProvider(name, weights, device, max_batch_atoms)
    return provider.check() if check else provider


# --------------------------------------------------------------------------- builders

def _build_chgnet(weights: str | None, device: str) -> dict[str, Any]:
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    from litraj_data.leaderboard.umlip.batched import CHGNetBandEvaluator

    with _quiet():  # CHGNet prints banners on stdout, which --json output reserves
        model = CHGNet.from_file(weights) if weights else CHGNet.load(verbose=False)
    if not isinstance(model, CHGNet):
        raise TypeError(f"not a CHGNet checkpoint: {type(model).__name__}")
    model = model.to(device)

    def calculator() -> CHGNetCalculator:
        with _quiet():
            return CHGNetCalculator(model=model, use_device=device, on_isolated_atoms="ignore")

    return {"calculator": calculator, "evaluator": lambda n=None: CHGNetBandEvaluator(model, device, n)}


def _quiet():
    import contextlib
    import sys

    return contextlib.redirect_stdout(sys.stderr)


def _build_sevennet(weights: str | None, device: str) -> dict[str, Any]:
    import sevenn._keys as KEY
    import sevenn.util as util
    from sevenn.calculator import SevenNetCalculator

    from litraj_data.leaderboard.umlip.batched import SevenNetBandEvaluator

    cp = util.load_checkpoint(weights or "7net-0")
    single = cp.build_model()
    single.set_is_batch_data(False)
    single.to(device).eval()
    batch_model = cp.build_model()  # its own copy: batch mode is a flag of the model
    batch_model.to(device).eval()
    cutoff = cp.config[KEY.CUTOFF]
    return {"calculator": lambda: SevenNetCalculator(single, file_type="model_instance", device=device),
            "evaluator": lambda n=None: SevenNetBandEvaluator(batch_model, cutoff, device, max_batch_atoms=n)}


def _build_mace(weights: str | None, device: str) -> dict[str, Any]:
    from mace.calculators import MACECalculator

    calc = MACECalculator(model_paths=weights, device=device, default_dtype="float64")
    # MACECalculator keeps no per-image state beyond ASE's cache: one instance per image, same model
    models = calc.models
    return {"calculator": lambda: MACECalculator(models=models, device=device, default_dtype="float64")
            if _accepts_models() else MACECalculator(model_paths=weights, device=device, default_dtype="float64")}


def _accepts_models() -> bool:
    import inspect

    from mace.calculators import MACECalculator

    return "models" in inspect.signature(MACECalculator.__init__).parameters


def _build_m3gnet(weights: str | None, device: str) -> dict[str, Any]:
    import matgl
    from matgl.ext.ase import PESCalculator

    potential = matgl.load_model(weights)
    return {"calculator": lambda: PESCalculator(potential)}


_BUILDERS: dict[str, Callable[[str | None, str], dict[str, Any]]] = {
    "chgnet": _build_chgnet, "sevennet-0": _build_sevennet, "mace-mp-0": _build_mace, "m3gnet": _build_m3gnet,
}
