"""Download upstream benchmark files: resumable, checksum-verified, atomically placed."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hwnas.errors import BadInputError, DataError

CHUNK = 1 << 16


@dataclass(frozen=True)
class Upstream:
    name: str
    url: str
    relative_path: str  # where it lands under the data folder
    sha256: str | None  # None: upstream publishes none; pass --sha256 to pin one
    description: str


UPSTREAM: dict[str, Upstream] = {
    "hw-nas-bench-pickle": Upstream(
        "hw-nas-bench-pickle",
        "https://raw.githubusercontent.com/GATECH-EIC/HW-NAS-Bench/main/HW-NAS-Bench-v1_0.pickle",
        "hw-nas-bench/HW-NAS-Bench-v1_0.pickle",
        None,
        "HW-NAS-Bench v1.0: NB201 latency/energy on 6 devices for 3 datasets, FBNet block tables",
    ),
}


@dataclass(frozen=True)
class FetchResult:
    path: Path
    sha256: str
    size: int
    resumed_from: int


def fetch(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    timeout_s: float = 60.0,
) -> FetchResult:
    """Download `url` to `dest`, resuming `dest.part` with an HTTP Range request.

    The file only appears at `dest` once complete and, when `sha256` is given, verified; a
    mismatch keeps nothing, so the next attempt starts clean.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "hwnas"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the partial file is already whole
            return _finish(part, dest, sha256, offset, offset)
        raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DataError(
            f"download of {url} failed: {getattr(exc, 'reason', exc)}; partial data kept in {part}"
        ) from None
    with response:
        status = getattr(response, "status", 200)
        if offset and status != 206:
            offset = 0  # server ignored Range: start over
        length = response.headers.get("Content-Length")
        total = int(length) + offset if length is not None else None
        done = offset
        try:
            with part.open("ab" if offset else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise DataError(f"download of {url} interrupted at {done} bytes ({exc}); rerun to resume") from None
    if total is not None and done < total:
        raise DataError(f"download of {url} stopped at {done} of {total} bytes; rerun to resume")
    return _finish(part, dest, sha256, done, offset)


def _finish(part: Path, dest: Path, sha256: str | None, size: int, resumed_from: int) -> FetchResult:
    digest = file_sha256(part)
    if sha256 and digest != sha256.lower():
        part.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for {dest.name}: got sha256 {digest}, expected {sha256}; the download was discarded"
        )
    os.replace(part, dest)
    return FetchResult(dest, digest, size, resumed_from)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def get_upstream(name: str) -> Upstream:
    if name not in UPSTREAM:
        raise BadInputError(f"unknown upstream file {name!r}; known: {', '.join(UPSTREAM)}")
    return UPSTREAM[name]
