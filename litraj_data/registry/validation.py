"""Validate declarative YAML (dataset cards, task lists, model cards) against pydantic models.

Every registry file is data, so a typo must not be silently ignored: models forbid unknown
keys, and a failure is a :class:`~litraj_data.errors.RegistryError` naming the file and the
key path (``columns[3].unti``), never a pydantic traceback.
"""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from litraj_data.errors import RegistryError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every registry model: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith(("function-", "tagged-union")):
            out += ("." if out else "") + part
    return out or "(top level)"


def validate_document(model: type[M], data: Any, source: str) -> M:
    """``model`` validated from ``data`` (parsed YAML) read from ``source``.

    Raises
    ------
    RegistryError
        One line per problem: ``source: key.path: message`` (an unknown key says ``unknown key``).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{source}: {_where(tuple(err['loc']))}: {msg}")
        raise RegistryError("; ".join(lines)) from None
