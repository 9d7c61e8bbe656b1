"""Download upstream benchmark files: resumable, checksum-verified, atomically placed."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hwnas.atomic import atomic_write_json
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
        # Upstream publishes no checksum and hwnas has not downloaded the file to pin one: the
        # structure check (readers.read_hwnasbench_pickle, no code run) is what accepts it.
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
    check: Callable[[Path], None] | None = None,
) -> FetchResult:
    """Download `url` to `dest`, resuming `dest.part` with an HTTP Range request.

    A resume is only trusted when the server proves the file is the one the partial download
    came from: the first response's ETag (or Last-Modified) is kept beside the partial file and
    sent as `If-Range`; a server that answers with the whole file instead (it changed, or keeps
    no validator) restarts the download from zero, so bytes of two versions are never spliced.
    The file only appears at `dest` once complete, checksum-verified when `sha256` is given, and
    accepted by `check` (e.g. a structure check); anything else keeps nothing.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    validator_path = dest.with_name(dest.name + ".part.json")
    validator = _read_validator(validator_path, url)
    offset = part.stat().st_size if part.exists() and validator else 0
    if not offset:
        _discard(part, validator_path)
    request = urllib.request.Request(url, headers={"User-Agent": "hwnas"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
        request.add_header("If-Range", validator)
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the partial file is already whole
            return _finish(part, validator_path, dest, sha256, check, offset, offset)
        raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        kept = f"; {offset} bytes kept in {part} for the next attempt" if offset else ""
        raise DataError(f"download of {url} failed: {getattr(exc, 'reason', exc)}{kept}") from None
    with response:
        status = getattr(response, "status", 200)
        if offset and (status != 206 or not _range_starts_at(response.headers.get("Content-Range"), offset)):
            offset = 0  # the server sent the whole (possibly changed) file: start over
        if not offset:
            tag = response.headers.get("ETag") or response.headers.get("Last-Modified")
            if tag:
                atomic_write_json(validator_path, {"url": url, "validator": tag})
            else:
                validator_path.unlink(missing_ok=True)  # nothing proves a later resume: it will restart
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
    return _finish(part, validator_path, dest, sha256, check, done, offset)


def _read_validator(path: Path, url: str) -> str | None:
    """The ETag/Last-Modified a partial download of `url` started with, if it is known."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("url") != url or not isinstance(data.get("validator"), str):
        return None
    return data["validator"]


def _range_starts_at(content_range: str | None, offset: int) -> bool:
    """`Content-Range: bytes START-END/TOTAL` starts where the partial file ends."""
    if not content_range or not content_range.startswith("bytes "):
        return False
    start = content_range[6:].split("-", 1)[0].strip()
    return start.isdigit() and int(start) == offset


def _discard(part: Path, validator_path: Path) -> None:
    part.unlink(missing_ok=True)
    validator_path.unlink(missing_ok=True)


def _finish(
    part: Path,
    validator_path: Path,
    dest: Path,
    sha256: str | None,
    check: Callable[[Path], None] | None,
    size: int,
    resumed_from: int,
) -> FetchResult:
    digest = file_sha256(part)
    if sha256 and digest != sha256.lower():
        _discard(part, validator_path)
        raise DataError(
            f"checksum mismatch for {dest.name}: got sha256 {digest}, expected {sha256}; the download was discarded"
        )
    if check is not None:
        try:
            check(part)
        except DataError:
            _discard(part, validator_path)  # never lands at its final path, so listings stay sound
            raise
    os.replace(part, dest)
    validator_path.unlink(missing_ok=True)
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
