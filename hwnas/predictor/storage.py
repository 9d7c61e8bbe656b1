"""Saving fitted latency predictors as data, never as pickles.

A predictor file is a numpy `.npz` read with `allow_pickle=False`: one JSON string (format,
what the predictor was fitted on, each model's settings) and plain numeric arrays (ridge
coefficients, the extra-trees' node arrays, the GCN's weights). Loading builds the models
from those numbers, so a crafted file can at worst fail to load; it cannot run code.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.atomic import atomic_write_bytes
from hwnas.errors import DataError

STORAGE_FORMAT = "hwnas-latency-predictor-npz"
STORAGE_VERSION = 1
META_KEY = "meta"


class TreeEnsemble:
    """Mean prediction of regression trees given as sklearn's node arrays (an extra-trees forest
    rebuilt from a file: same splits, same leaf values, same predictions)."""

    def __init__(self, trees: list[dict[str, np.ndarray]]) -> None:
        self.trees = trees

    @classmethod
    def from_sklearn(cls, forest: Any) -> TreeEnsemble:
        return cls([
            {
                "left": np.asarray(t.tree_.children_left, dtype=np.int64),
                "right": np.asarray(t.tree_.children_right, dtype=np.int64),
                "feature": np.asarray(t.tree_.feature, dtype=np.int64),
                "threshold": np.asarray(t.tree_.threshold, dtype=np.float64),
                "value": np.asarray(t.tree_.value[:, 0, 0], dtype=np.float64),
            }
            for t in forest.estimators_
        ])

    def predict(self, x: np.ndarray) -> np.ndarray:
        # sklearn compares float32 features with float64 thresholds (`<=` goes left).
        x = np.asarray(x, dtype=np.float32)
        if any(int(t["feature"].max()) >= x.shape[1] for t in self.trees):
            raise DataError(f"saved trees split on features beyond the {x.shape[1]} this space has")
        rows = np.arange(len(x))
        total = np.zeros(len(x))
        for tree in self.trees:
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                inner = tree["left"][node] >= 0
                if not inner.any():
                    break
                at = node[inner]
                go_left = x[rows[inner], tree["feature"][at]] <= tree["threshold"][at]
                node[inner] = np.where(go_left, tree["left"][at], tree["right"][at])
            total += tree["value"][node]
        return total / len(self.trees)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}{i}.{key}": value for i, tree in enumerate(self.trees) for key, value in tree.items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str, count: int) -> TreeEnsemble:
        keys = ("left", "right", "feature", "threshold", "value")
        trees = [{k: np.asarray(arrays[f"{prefix}{i}.{k}"]) for k in keys} for i in range(count)]
        for i, tree in enumerate(trees):
            _check_tree(tree, i)
        return cls(trees)


def _check_tree(tree: dict[str, np.ndarray], number: int) -> None:
    """A tree from a file must be one sklearn could have grown: every child after its parent and
    inside the tree (so a crafted file cannot make prediction loop or read out of bounds)."""
    n = len(tree["left"])
    nodes = np.arange(n)
    shapes_ok = n > 0 and all(len(tree[k]) == n and tree[k].ndim == 1 for k in tree)
    inner = tree["left"] >= 0 if shapes_ok else np.zeros(0, dtype=bool)
    ok = (
        shapes_ok
        and np.issubdtype(tree["left"].dtype, np.integer)
        and np.issubdtype(tree["right"].dtype, np.integer)
        and np.issubdtype(tree["feature"].dtype, np.integer)
        and np.all((tree["right"] >= 0) == inner)
        and np.all(tree["left"][inner] > nodes[inner])
        and np.all(tree["right"][inner] > nodes[inner])
        and np.all(tree["left"][inner] < n)
        and np.all(tree["right"][inner] < n)
        and np.all(tree["feature"][inner] >= 0)
        and np.all(np.isfinite(tree["value"]))
    )
    if not ok:
        raise ValueError(f"tree {number} is not a valid regression tree")


def write_npz(path: str | Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """`meta` as JSON plus `arrays`, written atomically; nothing in it needs pickle to read."""
    payload = {META_KEY: np.array(json.dumps({**meta, "format": STORAGE_FORMAT, "version": STORAGE_VERSION}))}
    for key, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"predictor array {key} is not numeric")
        payload[f"a/{key}"] = array
    buffer = io.BytesIO()
    np.savez(buffer, **payload)
    return atomic_write_bytes(path, buffer.getvalue())


def read_npz(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON meta and the arrays of a predictor file; a one-line `DataError` for anything else."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no latency predictor at {path}; fit one with `hwnas predictor fit --device ...`")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data[META_KEY][()]))
            arrays = {k[2:]: data[k] for k in data.files if k.startswith("a/")}
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise DataError(
            f"{path} is not an hwnas latency predictor file ({type(exc).__name__}: {str(exc)[:120]}); "
            "predictors are .npz files written by `hwnas predictor fit` (older .pkl files must be refitted)"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != STORAGE_FORMAT:
        raise DataError(f"{path} is not an hwnas latency predictor file (format {meta.get('format')!r})")
    if meta.get("version") != STORAGE_VERSION:
        raise DataError(f"{path} is predictor file version {meta.get('version')}; refit it with this hwnas")
    return meta, arrays
