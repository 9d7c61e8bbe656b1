"""Searchers by name, and their hyperparameters.

Hyperparameters are the keyword arguments of a searcher's `__init__` after `context` and
`seed`, with their defaults (scikit-learn style); a class may instead define a classmethod
`default_hyperparameters()`. Classes are imported on first use, so naming a searcher whose
module is heavy (torch) or not written yet costs nothing until it is asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from hwnas.errors import BadInputError
from hwnas.search.base import SearchContext, Searcher

_LOCATIONS: dict[str, str] = {
    "random": "hwnas.search.baselines:RandomSearch",
    "rea": "hwnas.search.baselines:RegularizedEvolution",
    "local": "hwnas.search.baselines:LocalSearch",
    "optiproxy": "hwnas.search.optiproxy:OptiProxySearcher",
    "proxybo": "hwnas.search.proxybo:ProxyBOSearcher",
}


class _LazySearchers(Mapping[str, type[Searcher]]):
    """name -> searcher class; lists only searchers whose module is present in this install."""

    def __init__(self, locations: dict[str, str]) -> None:
        self._locations = locations
        self._classes: dict[str, type[Searcher]] = {}

    def _available(self, name: str) -> bool:
        module = self._locations[name].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def __getitem__(self, name: str) -> type[Searcher]:
        if name not in self._classes:
            if name not in self._locations or not self._available(name):
                raise KeyError(name)
            module, attr = self._locations[name].split(":")
            self._classes[name] = getattr(importlib.import_module(module), attr)
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._locations if self._available(name))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._locations and self._available(name)


SEARCHERS: Mapping[str, type[Searcher]] = _LazySearchers(_LOCATIONS)


def searcher_class(name: str) -> type[Searcher]:
    if name not in SEARCHERS:
        raise BadInputError(f"unknown searcher {name!r}; known: {', '.join(SEARCHERS)}")
    return SEARCHERS[name]


def default_hyperparameters(name: str) -> dict[str, Any]:
    """Every hyperparameter of searcher `name` with its default value."""
    cls = searcher_class(name)
    custom = getattr(cls, "default_hyperparameters", None)
    if callable(custom):
        return dict(custom())
    params = list(inspect.signature(cls.__init__).parameters.values())[3:]  # self, context, seed
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def resolve_hyperparameters(name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults updated by `overrides`, rejecting names the searcher does not have."""
    values = default_hyperparameters(name)
    for key, value in (overrides or {}).items():
        if key not in values:
            known = ", ".join(sorted(values)) or "none"
            raise BadInputError(f"searcher {name} has no hyperparameter {key!r}; it has: {known}")
        values[key] = value
    return values


def parse_params(name: str, items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """`key=value` strings (CLI `--param`) typed like the searcher's defaults."""
    defaults = default_hyperparameters(name)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInputError(f"--param {item!r} must be key=value, e.g. population_size=30")
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise BadInputError(f"searcher {name} has no hyperparameter {key!r}; it has: {known}")
        out[key] = _coerce(key, text.strip(), defaults[key])
    return out


def _coerce(key: str, text: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(text)
            return number
        if isinstance(default, str):
            return text
        return json.loads(text)
    except (ValueError, json.JSONDecodeError):
        kind = "JSON" if default is None else type(default).__name__
        kind = f"a finite {kind}" if isinstance(default, float) else kind
        raise BadInputError(f"--param {key}={text}: expected {kind} like the default {default!r}") from None


def make_searcher(name: str, context: SearchContext, seed: int, **hyperparameters: Any) -> Searcher:
    """A fresh searcher; raises `BadInputError` for unknown names or invalid hyperparameters."""
    cls = searcher_class(name)
    values = resolve_hyperparameters(name, hyperparameters)
    try:
        return cls(context, seed, **values)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"searcher {name}: {exc}") from None
