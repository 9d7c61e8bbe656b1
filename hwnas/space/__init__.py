"""Search spaces. Searchers only see the `SearchSpace` interface."""

from hwnas.errors import BadInputError
from hwnas.space.base import GraphEncoding, Relaxation, SearchSpace
from hwnas.space.nb201 import NB201Arch, NB201Space, parse_arch

SPACES: dict[str, type[SearchSpace]] = {"nb201": NB201Space}


def get_space(name: str = "nb201") -> SearchSpace:
    try:
        return SPACES[name]()
    except KeyError:
        raise BadInputError(f"unknown search space {name!r}; known: {', '.join(SPACES)}") from None


__all__ = [
    "GraphEncoding",
    "NB201Arch",
    "NB201Space",
    "Relaxation",
    "SearchSpace",
    "get_space",
    "parse_arch",
]
