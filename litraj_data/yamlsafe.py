"""The one YAML reader for every YAML a user (or a stranger) hands us.

Model cards, fine-tune cards, uMLIP cards, dataset cards, task lists and submissions'
metadata are read here and nowhere else. ``yaml.safe_load`` constructs no Python objects,
but it is not *bounded*: a 2 KB document of nested aliases ("billion laughs") expands to
billions of nodes and keeps a process busy for minutes, a deeply nested document exhausts
the recursion of the composer, and ``.inf`` / ``.nan`` pass as numbers and crash whatever
formats them later. :func:`load_yaml` parses with a :class:`yaml.SafeLoader` subclass that

* refuses anchors and aliases (no card needs them; ``<<`` merge keys need them too),
* refuses documents larger than ``max_bytes`` before parsing anything,
* refuses nesting deeper than ``max_depth`` while composing (so the composer never recurses
  deeper than that),
* refuses duplicate mapping keys (YAML keeps the last one silently: two readers of the same
  card could disagree),
* refuses non-finite floats (``.inf``, ``.nan``) unless ``allow_non_finite=True``,

each with a named ``reason`` (a :class:`YamlError`, which is a
:class:`~litraj_data.errors.RegistryError`), at once: none of these checks depends on the
expanded size of the document.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml

from litraj_data.errors import RegistryError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "YamlError", "load_yaml", "read_yaml"]

#: largest YAML document read (bytes); every card and metadata file is a few KB
MAX_BYTES = 1_000_000
#: deepest nesting of mappings and sequences; cards nest 4 levels at most
MAX_DEPTH = 32


class YamlError(RegistryError):
    """A YAML document refused before or while parsing.

    ``reason``: ``yaml_too_large``, ``yaml_too_deep``, ``yaml_alias``, ``yaml_duplicate_key``,
    ``yaml_non_finite`` or ``bad_yaml`` (not YAML, not UTF-8, several documents).
    """

    reason = "bad_yaml"


def _where(source: str, mark: Any) -> str:
    return f"{source}:{mark.line + 1}" if mark is not None else source


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader without aliases or anchors, with a depth cap, unique keys and finite floats."""

    source = "<yaml>"
    max_depth = MAX_DEPTH
    allow_non_finite = False

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise YamlError(f"{_where(self.source, event.start_mark)}: YAML aliases (*{event.anchor}) are not "
                            "allowed in litraj-data files", reason="yaml_alias")
        if getattr(event, "anchor", None) is not None:
            raise YamlError(f"{_where(self.source, event.start_mark)}: YAML anchors (&{event.anchor}) are not "
                            "allowed in litraj-data files", reason="yaml_alias")
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise YamlError(f"{_where(self.source, event.start_mark)}: nested deeper than {self.max_depth} "
                                "levels", reason="yaml_too_deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: SafeConstructor names it below
                    continue
                if duplicate:
                    raise YamlError(f"{_where(self.source, key_node.start_mark)}: duplicate key {key!r}",
                                    reason="yaml_duplicate_key")
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_float(self, node: Any) -> float:
        value = super().construct_yaml_float(node)
        if not self.allow_non_finite and not math.isfinite(value):
            raise YamlError(f"{_where(self.source, node.start_mark)}: {node.value!r} is not a finite number",
                            reason="yaml_non_finite")
        return value


_BoundedLoader.add_constructor("tag:yaml.org,2002:float", _BoundedLoader.construct_yaml_float)
# SafeConstructor registers construct_yaml_map, which calls construct_mapping: duplicates are
# caught for every mapping, whichever constructor runs


def load_yaml(data: str | bytes, source: str = "<yaml>", *, max_bytes: int = MAX_BYTES,
              max_depth: int = MAX_DEPTH, allow_non_finite: bool = False) -> Any:
    """Parse one YAML document with the bounds of this module.

    Parameters
    ----------
    data : str or bytes
        The document (bytes must be UTF-8).
    source : str
        Named in every error (a file name, ``OUT/model_card.yaml``, ...).
    max_bytes, max_depth : int
        Size (UTF-8 bytes) and nesting caps.
    allow_non_finite : bool
        Accept ``.inf`` / ``.nan`` (no litraj-data card needs them).

    Returns
    -------
    object
        What ``yaml.safe_load`` would return (``None`` for an empty document).

    Raises
    ------
    YamlError
        With ``reason`` ``yaml_too_large``, ``yaml_too_deep``, ``yaml_alias``,
        ``yaml_duplicate_key``, ``yaml_non_finite`` or ``bad_yaml``.
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise YamlError(f"{source}: {size} bytes, more than the {max_bytes} a litraj-data YAML file may hold",
                        reason="yaml_too_large")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlError(f"{source}: not UTF-8 text ({exc})", reason="bad_yaml") from None
    loader = None
    try:
        loader = _BoundedLoader(data)  # its reader refuses non-printable characters already here
        loader.source, loader.max_depth, loader.allow_non_finite = source, max_depth, allow_non_finite
        return loader.get_single_data()
    except YamlError:
        raise
    except yaml.YAMLError as exc:  # syntax errors, unknown tags, several documents
        raise YamlError(f"{source}: not YAML: {exc}", reason="bad_yaml") from None
    except RecursionError:  # the scanner/parser on pathological input: depth already capped in compose
        raise YamlError(f"{source}: nested too deeply to parse", reason="yaml_too_deep") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(path: str | os.PathLike, source: str | None = None, **bounds: Any) -> Any:
    """:func:`load_yaml` of a file, reading at most ``max_bytes + 1`` bytes of it.

    Raises
    ------
    YamlError
        As :func:`load_yaml`; ``reason`` ``bad_yaml`` also for a file that cannot be read.
    """
    path = Path(path)
    name = source or str(path)
    limit = int(bounds.get("max_bytes", MAX_BYTES))
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)  # never the whole of a huge file
    except OSError as exc:
        raise YamlError(f"{name}: cannot read ({exc.strerror or exc})", reason="bad_yaml") from None
    return load_yaml(data, name, **bounds)
