"""The uMLIP model registry: one validated YAML card per model in this folder.

A card says everything needed to build a model here, or to say clearly why it cannot be
built: the package to import and the pip distribution (and litraj-data extra) that installs
it, how its version is looked up, which builder function of
:mod:`~litraj_data.leaderboard.reference.umlip.builders_mlip` builds its ASE calculator (and its
batched band evaluator, where one exists), where the weights come from, the licences, the
dtype and the e3nn constraint of its package::

    name: chgnet
    title: CHGNet 0.3.0
    aliases: [chgnet-0.3.0]
    package: chgnet                  # import name, checked before anything is built
    pip: chgnet                      # distribution: its version is the model_version
    extra: chgnet                    # pip install 'litraj-data[chgnet]' (null: no extra)
    e3nn: null                       # e3nn version its package needs (a specifier), or null
    builder: chgnet                  # builders_mlip.build_chgnet
    options: {}                      # keyword arguments of the builder
    weights:
      source: wheel                  # wheel | local | download
      path: pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar   # inside the package (wheel)
      url: null                      # where to download them (documented; never fetched)
      hint: a CHGNet checkpoint (.pth.tar)
    licence: {code: BSD-3-Clause, weights: BSD-3-Clause}
    dtype: float32
    batched: true
    url: https://github.com/CederGroupHub/chgnet
    training_data: MPtrj
    notes: null

Unknown or missing keys are errors naming the file and the key
(:func:`litraj_data.registry.validation.validate_document`).
"""
from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from litraj_data.errors import RegistryError
from litraj_data.registry.validation import Strict, validate_document
from litraj_data.yamlsafe import YamlError, load_yaml

__all__ = ["UMLIPCard", "WeightsSource", "Licence", "load_cards", "parse_card", "card_names", "canonical_name"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
# a weights path inside a package: relative, forward slashes, no "..": the card is package data,
# but a typo must not make the registry look outside the installed package
_REL_PATH = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[\w.+-]+(?:/[\w.+-]+)*$")


class WeightsSource(Strict):
    """Where a model's weights come from.

    ``wheel``: a file shipped inside the installed package (``path``, relative to the package
    folder). ``local``: the user passes a file or folder with ``--weights``. ``download``:
    published at ``url``, which is documented and never fetched at run time, so the user
    downloads them elsewhere and passes ``--weights PATH``.
    """

    source: Literal["wheel", "local", "download"]
    path: str | None = None
    url: str | None = None
    hint: str = Field(min_length=1)

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str | None) -> str | None:
        if v is not None and not _REL_PATH.match(v):
            raise ValueError(f"{v!r} must be a relative path inside the package (no '..', no leading '/')")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("https://"):
            raise ValueError(f"{v!r} is not an https:// URL")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "WeightsSource":
        if self.source == "wheel" and not self.path:
            raise ValueError("weights.source is wheel, so weights.path (inside the package) is required")
        if self.source == "download" and not self.url:
            raise ValueError("weights.source is download, so weights.url is required")
        if self.source != "wheel" and self.path:
            raise ValueError(f"weights.path is only for source wheel (this card says {self.source})")
        return self


class Licence(Strict):
    """Licences of the code and of the weights (SPDX identifiers where there is one)."""

    code: str
    weights: str


class UMLIPCard(Strict):
    """One registered uMLIP (see the module docstring for an example)."""

    name: str
    title: str
    aliases: list[str] = []
    package: str
    pip: str
    extra: str | None
    e3nn: str | None
    builder: str
    options: dict[str, Any] = {}
    weights: WeightsSource
    licence: Licence
    dtype: Literal["float32", "float64"]
    batched: bool
    url: str
    training_data: str
    paper_doi: str | None = None
    notes: str | None = None

    @field_validator("name", "aliases")
    @classmethod
    def _names(cls, v: Any) -> Any:
        for n in [v] if isinstance(v, str) else v:
            if not _NAME.match(n):
                raise ValueError(f"{n!r}: names are lower case letters, digits, '.' and '-'")
        return v

    @field_validator("e3nn")
    @classmethod
    def _specifier(cls, v: str | None) -> str | None:
        if v is not None:
            from packaging.specifiers import InvalidSpecifier, SpecifierSet

            try:
                SpecifierSet(v)
            except InvalidSpecifier as exc:
                raise ValueError(f"{v!r} is not a version specifier (e.g. '>=0.5' or '==0.4.4')") from exc
        return v

    @field_validator("builder")
    @classmethod
    def _builder_exists(cls, v: str) -> str:
        from litraj_data.leaderboard.reference.umlip import builders_mlip

        if not callable(getattr(builders_mlip, f"build_{v}", None)):
            known = sorted(n[len("build_"):] for n in dir(builders_mlip) if n.startswith("build_"))
            raise ValueError(f"no builder function build_{v} in builders_mlip; known: {', '.join(known)}")
        return v


def canonical_name(name: str) -> str:
    """``name`` as registry keys are spelt: lower case, ``_`` as ``-``."""
    return name.strip().lower().replace("_", "-")


def parse_card(text: str, source: str) -> UMLIPCard:
    """A card validated from its YAML ``text`` read from ``source`` (named in errors)."""
    try:
        doc = load_yaml(text, source)
    except YamlError as exc:  # syntax errors are invalid cards; the bounds keep their own reason (yaml_alias, ...)
        raise RegistryError(str(exc), reason="invalid_card" if exc.reason == "bad_yaml" else exc.reason) from None
    card = validate_document(UMLIPCard, doc, source)
    stem = source.rsplit("/", 1)[-1].removesuffix(".yaml")
    if source.endswith(".yaml") and stem != card.name:
        raise RegistryError(f"{source}: name: {card.name!r} differs from the file name {stem!r}", reason="invalid_card")
    return card


@functools.lru_cache(maxsize=1)
def load_cards() -> dict[str, UMLIPCard]:
    """Every card of this folder by name (validated once per process).

    Raises
    ------
    RegistryError
        A card that does not validate, or a name/alias used twice.
    """
    cards: dict[str, UMLIPCard] = {}
    taken: dict[str, str] = {}
    folder = resources.files(__name__)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        card = parse_card(entry.read_text(encoding="utf-8"), f"umlip/models/{entry.name}")
        for n in [card.name, *card.aliases]:
            if n in taken:
                raise RegistryError(f"umlip/models/{entry.name}: {n!r} is already the name or alias of "
                                    f"{taken[n]}", reason="invalid_card")
            taken[n] = card.name
        cards[card.name] = card
    return cards


def card_names() -> dict[str, str]:
    """Every name and alias -> the card's name."""
    return {n: c.name for c in load_cards().values() for n in [c.name, *c.aliases]}
