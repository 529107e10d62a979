"""Detector names ↔ classes: how a model file's manifest names its detector.

A detector class registers itself under a short, stable name (``@register("sego")``); model
files store that name, never a pickled class, and :func:`get_detector_class` finds the class
again when the file is loaded. Built-in detectors are looked up lazily (their module is imported
on first use), so reading the registry imports no torch. ``molood.persist`` knows only this
module, never a detector class, so a new detector is saved and loaded without touching it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable, TypeVar

from molood.exceptions import MoloodModelError

if TYPE_CHECKING:  # pragma: no cover
    from molood.detectors.base import BaseDetector

__all__ = ["register", "get_detector_class", "available_detectors"]

T = TypeVar("T", bound=type)

_BUILTIN: dict[str, str] = {"sego": "molood.detectors.sego.detector",
                            "hybrid": "molood.detectors.hybrid.detector"}
"""Registry name → module that registers it (imported on first lookup)."""

_ALIASES: dict[str, str] = {"SEGODetector": "sego"}
"""Names written by model-file format 1 (the class name) → registry name."""

_REGISTRY: dict[str, type] = {}


def register(name: str) -> Callable[[T], T]:
    """Class decorator: register a :class:`~molood.detectors.base.BaseDetector` subclass under
    ``name`` (also set as its ``registry_name``)."""

    def deco(cls: T) -> T:
        other = _REGISTRY.get(name)
        if other is not None and other is not cls:
            raise ValueError(f"detector name {name!r} is already registered by "
                             f"{other.__module__}.{other.__qualname__}")
        cls.registry_name = name  # type: ignore[attr-defined]
        _REGISTRY[name] = cls
        return cls

    return deco


def get_detector_class(name: str) -> type["BaseDetector"]:
    """The detector class registered as ``name`` (or a format-1 class name); MoloodModelError
    listing the known names when there is none."""
    name = _ALIASES.get(name, name)
    if name not in _REGISTRY and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MoloodModelError(f"unknown detector {name!r}; known detectors: "
                               f"{', '.join(available_detectors())}") from None


def available_detectors() -> list[str]:
    """Names of the registered and built-in detectors, sorted."""
    return sorted(set(_BUILTIN) | set(_REGISTRY))
