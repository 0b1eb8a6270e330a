"""What the harness needs from a model: calculators per image, optionally a batched evaluator.

A provider is pickled to worker processes (local pool or Dask) and builds its model there,
once per process (``_CACHE``), so the model weights never travel with the tasks.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

from ase.calculators.calculator import Calculator

from litraj_data.leaderboard.reference.neb.batch import BandEvaluator

_CACHE: dict[str, Any] = {}


@runtime_checkable
class CalculatorProvider(Protocol):
    """Source of calculators for the NEB harness.

    ``key`` identifies the model (process-level cache key, recorded in results);
    ``calculator()`` returns a calculator for one image (may share the loaded model);
    ``evaluator()`` returns a batched :class:`BandEvaluator` or ``None``.
    """

    key: str

    def calculator(self) -> Calculator: ...

    def evaluator(self) -> BandEvaluator | None: ...


def cached(key: str, build: Callable[[], Any]) -> Any:
    """Process-wide memo: build a model once per worker process."""
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


class FactoryProvider:
    """Provider over any picklable zero-argument function returning an ASE calculator.

    Parameters
    ----------
    factory : callable
        Called once per image (each NEB image needs its own calculator instance).
    key : str, optional
        Name recorded in the results (default: the factory's qualified name).
    """

    def __init__(self, factory: Callable[[], Calculator], key: str | None = None) -> None:
        if not callable(factory):
            raise TypeError(f"factory must be callable, got {type(factory).__name__}")
        self.factory = factory
        self.key = key or getattr(factory, "__qualname__", type(factory).__name__)

    def calculator(self) -> Calculator:
        return self.factory()

    def evaluator(self) -> BandEvaluator | None:
        return None
