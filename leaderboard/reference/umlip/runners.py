"""uMLIP runners: registry name -> model provider for the NEB harness (lazy imports).

The models are declared by YAML cards in :mod:`~litraj_data.leaderboard.reference.umlip.models`
(package, builder, weights source, licence, dtype, e3nn constraint, batched or not);
``litraj models`` lists them with what is usable here. Weights come from the package's wheel
(CHGNet, SevenNet-0), or from ``--weights PATH`` for models whose weights are published for
download (never fetched at run time), or from a fine-tuned model's folder (``--weights DIR``
holding ``model_card.yaml``, see :mod:`~litraj_data.leaderboard.reference.umlip.finetuned`).

Any other ASE calculator plugs into the harness from Python through
:class:`~litraj_data.leaderboard.reference.neb.provider.FactoryProvider`.
"""
from __future__ import annotations

import importlib.util
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from litraj_data.errors import LitrajError, RegistryError
from litraj_data.lazy import lazy_import
from litraj_data.leaderboard.reference.neb.provider import cached
from litraj_data.leaderboard.reference.umlip.errors import ModelUnavailable
from litraj_data.leaderboard.reference.umlip.finetuned import FineTuned, resolve_finetuned
from litraj_data.leaderboard.reference.umlip.models import UMLIPCard, canonical_name, card_names, load_cards
from litraj_data.trust import check_weights

__all__ = ["ModelSpec", "MODELS", "UMLIPProvider", "get_provider", "get_spec", "list_models", "package_folder"]


def _dist_version(dist: str) -> Callable[[], str]:
    def get() -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(dist)
        except PackageNotFoundError:
            return "unknown"
    return get


@dataclass(frozen=True)
class ModelSpec:
    """How to build one registered model (the card, and the fields older callers read)."""

    name: str
    package: str  # import name checked before anything is built
    extra: str | None  # pip extra of litraj-data that installs the package
    pip: str  # what to pip install; its version is the model version
    weights_required: bool  # no weights in the wheel: --weights PATH is needed
    weights_hint: str
    batched: bool
    version: Callable[[], str]
    card: UMLIPCard

    @classmethod
    def from_card(cls, card: UMLIPCard) -> "ModelSpec":
        return cls(card.name, card.package, card.extra, card.pip, card.weights.source != "wheel", card.weights.hint,
                   card.batched, _dist_version(card.pip), card)

    def install_hint(self) -> str:
        """What to pip install (the litraj-data extra when there is one)."""
        if self.extra:
            return f"pip install 'litraj-data[{self.extra}]' (or pip install {self.pip})"
        return f"pip install {self.pip}"


MODELS: dict[str, ModelSpec] = {name: ModelSpec.from_card(card) for name, card in load_cards().items()}


def list_models() -> list[str]:
    """Registered model names."""
    return sorted(MODELS)


def get_spec(name: str) -> ModelSpec:
    """Registry entry of ``name`` or one of its aliases (case-insensitive); ``ModelUnavailable`` if unknown."""
    key = card_names().get(canonical_name(name))
    if key is None:
        from litraj_data.io import did_you_mean

        raise ModelUnavailable(f"unknown model {name!r}; known: {', '.join(list_models())}."
                               f"{did_you_mean(canonical_name(name), list(card_names()))}", reason="unknown_model")
    return MODELS[key]


def package_folder(package: str) -> Path | None:
    """Folder of an installed package, found without importing it (``None`` when not installed)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # a parent package that fails to import, a broken __spec__
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _external_interpreter(spec: ModelSpec) -> bool:
    """MACE may run in its own venv's python (``LITRAJ_MACE_PYTHON``, see ``mace_pipe``)."""
    if spec.card.builder != "mace":
        return False
    from litraj_data.leaderboard.reference.umlip.mace_pipe import mace_python

    return mace_python() is not None


def _resolve_device(device: str) -> str:
    if device not in ("cpu", "cuda"):
        raise ModelUnavailable(f"--device must be cpu or cuda, got {device!r}", reason="device")
    if device == "cuda":
        torch = lazy_import("torch")

        if not torch.cuda.is_available():
            raise ModelUnavailable("--device cuda requested but torch sees no CUDA device "
                                   f"(torch {torch.__version__}); use --device cpu", reason="device")
    return device


class UMLIPProvider:
    """Calculator provider of a registered uMLIP (picklable; the model is built per process).

    Parameters
    ----------
    name : str
        Registry name or alias (``litraj models`` lists them).
    weights : path, optional
        A weights file or folder, or a fine-tuned model's folder (with ``model_card.yaml``,
        whose ``base_model`` must be ``name``). Required for models whose weights are not in
        their package's wheel.
    device : {"cpu", "cuda"}
    max_batch_atoms : int, optional
        Atoms per batched forward pass (default by model and device, see
        :data:`~litraj_data.leaderboard.reference.umlip.batched.MAX_BATCH_ATOMS`).
    trust : bool
        Let the package's own loader read ``weights`` even when the file needs more than tensors
        and plain data (a pickle can run code: ``--trust``). Default: such files are refused
        (``unsafe_weights``, see :mod:`litraj_data.trust`). The wheel's own files are always
        loaded by their package.

    Raises
    ------
    ModelUnavailable
        Unknown name, or a fine-tuned model card that is invalid, points outside its folder,
        lacks its weights file or names another base model.
    """

    def __init__(self, name: str, weights: str | Path | None = None, device: str = "cpu",
                 max_batch_atoms: int | None = None, trust: bool = False) -> None:
        self.spec = get_spec(name)
        self.weights = None if weights is None else str(weights)
        self.device = device
        self.trust = bool(trust)
        if max_batch_atoms is not None and max_batch_atoms < 1:
            raise ValueError(f"max_batch_atoms must be >= 1, got {max_batch_atoms}")
        self.max_batch_atoms = max_batch_atoms
        try:
            self.finetuned: FineTuned | None = None if weights is None else resolve_finetuned(weights, self.spec.name)
        except RegistryError as exc:
            raise ModelUnavailable(str(exc), reason=exc.reason) from None
        # trust is part of the key: a model built under --trust is never handed to an untrusted caller
        self.key = f"{self.model_name}:{self.weights or 'default'}:{device}:{'trust' if self.trust else 'safe'}"

    @property
    def model_name(self) -> str:
        """Name in records: the registry name, ``BASE-ft`` (or the card's ``name``) when fine-tuned."""
        if self.finetuned is None:
            return self.spec.name
        return self.finetuned.card.name or f"{self.spec.name}-ft"

    # -- checks ---------------------------------------------------------------------------
    def weights_path(self) -> Path | None:
        """The weights file or folder the builder loads (``None``: the wheel lacks it)."""
        if self.finetuned is not None:
            return self.finetuned.weights
        if self.weights is not None:
            return Path(self.weights)
        w = self.spec.card.weights
        folder = package_folder(self.spec.package)
        if w.source != "wheel" or folder is None:
            return None
        path = folder / w.path
        return path if path.exists() else None

    def check(self) -> "UMLIPProvider":
        """Fail fast: package installed, weights present and loadable, device usable."""
        spec = self.spec
        card = spec.card
        # what can be installed is said before what must be downloaded: a user without the package
        # learns that first, instead of fetching weights they cannot use yet
        if package_folder(spec.package) is None and not _external_interpreter(spec):
            raise ModelUnavailable(f"{spec.name} needs the '{spec.pip}' package, which is not installed: "
                                   f"{spec.install_hint()}", reason="model_not_installed")
        if self.weights is not None and not Path(self.weights).exists():
            raise ModelUnavailable(f"{spec.name}: weights file {self.weights} does not exist; pass --weights PATH "
                                   f"to {spec.weights_hint}", reason="weights_missing")
        if self.weights is None and card.weights.source == "local":
            raise ModelUnavailable(f"{spec.name}: its weights are a local file or folder; pass --weights PATH to "
                                   f"{spec.weights_hint}", reason="weights_missing")
        if self.weights is None and card.weights.source == "download":
            where = f" from {card.weights.url}" if card.weights.url else ""
            raise ModelUnavailable(f"{spec.name}: its weights are not shipped with {spec.pip} and are never "
                                   f"downloaded at run time; download {spec.weights_hint}{where} elsewhere and "
                                   f"pass it with --weights PATH", reason="weights_missing")
        if self.weights_path() is None:  # installed, but the wheel's file is not where the card says
            raise ModelUnavailable(f"{spec.name}: {card.weights.path} is not in the installed {spec.pip} "
                                   f"{spec.version()}; pass --weights PATH to {spec.weights_hint}",
                                   reason="weights_missing")
        _resolve_device(self.device)
        self.check_trust()
        self._model()
        return self

    def check_trust(self) -> None:
        """Refuse user weights that cannot be loaded without running code (unless ``trust``).

        The restricted load of :func:`litraj_data.trust.check_weights`, done before any data is
        read (``preflight``); the builder loads the same way again when it builds the model.
        """
        if self.weights is None or self.trust:
            return
        path = self.weights_path()
        if path is None or not Path(path).exists():
            return  # check() names the missing file
        try:
            check_weights(path, what=f"{self.spec.name} weights")
        except LitrajError as exc:
            raise ModelUnavailable(f"{self.spec.name}: {exc}", reason=exc.reason) from None

    # -- model building (cached per process) -----------------------------------------------
    def _model(self) -> Any:
        return cached(self.key, self._build)

    def _build(self) -> Any:
        from litraj_data.leaderboard.reference.umlip import builders_mlip

        card = self.spec.card
        build = getattr(builders_mlip, f"build_{card.builder}")
        path = self.weights_path()
        if path is None:
            self.check()  # raises the clear message (weights or package); _build is not reached again
        # the wheel's own file is as trusted as the package's code; anything the user pointed at is not,
        # unless they said --trust
        trusted = self.trust or self.weights is None
        try:
            return build(str(path), _resolve_device(self.device), card.dtype, trusted=trusted, **card.options)
        except ModelUnavailable:
            raise
        except LitrajError as exc:  # unsafe_weights, weights_invalid from litraj_data.trust: keep the reason
            raise ModelUnavailable(f"{self.spec.name}: {exc}", reason=exc.reason) from None
        except (RuntimeError, ValueError, KeyError, OSError, EOFError, TypeError, pickle.UnpicklingError,
                zipfile.BadZipFile) as exc:  # a checkpoint of another model (missing keys), a corrupt file
            if self.weights is None:
                raise  # the wheel's own file failing to load is a bug (of the card or the package), not user input
            raise ModelUnavailable(f"{self.spec.name}: cannot load weights {path} ({type(exc).__name__}: "
                                   f"{exc}); expected {self.spec.weights_hint}", reason="weights_invalid") from exc

    def calculator(self):
        """A fresh ASE calculator for one image (the loaded model is shared)."""
        return self._model()["calculator"]()

    def evaluator(self):
        """Batched band evaluator, or ``None`` for models evaluated image by image."""
        make = self._model().get("evaluator")
        return None if make is None else make(self.max_batch_atoms)

    def metadata(self) -> dict[str, Any]:
        """Model facts for a submission's metadata (keys of the leaderboard's metadata vocabulary).

        A fine-tuned model says so: ``model`` is ``BASE-ft``, ``fine_tuned_on_litraj`` is true,
        ``training_data`` names the LiTraj data and version, and ``fine_tune`` carries the
        card's facts (base model and version, data version, split, subset, epochs, ...).
        """
        card = self.spec.card
        version = self.spec.version()
        if version == "unknown" and _external_interpreter(self.spec):  # mace in its own venv: ask that python
            from litraj_data.leaderboard.reference.umlip.mace_pipe import mace_python, package_version

            version = package_version(str(mace_python()))
        meta: dict[str, Any] = {"model": self.model_name, "model_version": version,
                                "weights": self.weights, "device": self.device, "package": self.spec.pip,
                                "max_batch_atoms": self.max_batch_atoms, "url": card.url,
                                "training_data": card.training_data, "fine_tuned_on_litraj": False}
        if self.finetuned is not None:
            meta.update(fine_tuned_on_litraj=True, training_data=self.finetuned.training_data(card.training_data),
                        fine_tune=self.finetuned.metadata())
        return meta

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.spec.name, "weights": self.weights, "device": self.device,
                "max_batch_atoms": self.max_batch_atoms, "trust": self.trust}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"], state["weights"], state["device"], state.get("max_batch_atoms"),
                      state.get("trust", False))


def get_provider(name: str, weights: str | Path | None = None, device: str = "cpu",
                 check: bool = True, max_batch_atoms: int | None = None, trust: bool = False) -> UMLIPProvider:
    """Provider of a registered model, checked (installed, weights, device) unless ``check=False``.

    Parameters
    ----------
    name : str
        Registry name or alias.
    weights : path, optional
        Weights file/folder, or a fine-tuned model's folder with ``model_card.yaml``.
    device : {"cpu", "cuda"}
    check : bool
        Build the model now (fail fast) rather than at first use.
    max_batch_atoms : int, optional
        Atoms per batched forward pass.
    trust : bool
        Load user weights that need more than tensors and plain data (``--trust``; can run code).

    Returns
    -------
    UMLIPProvider
    """
    provider = UMLIPProvider(name, weights, device, max_batch_atoms, trust)
    return provider.check() if check else provider
