from __future__ import annotations

import hashlib
import http.server
import threading
import typing

import pytest

from hwnas.errors import DataError
from hwnas.tables.fetch import fetch

PAYLOAD = bytes(range(256)) * 2000  # 512 KB


class _Handler(http.server.BaseHTTPRequestHandler):
    ranges_seen: typing.ClassVar[list[str]] = []
    cut_after: int | None = None  # send only this many bytes, then drop the connection
    payload: bytes = PAYLOAD
    etag: str | None = '"v1"'  # None: a server that keeps no validator

    def do_GET(self):
        cls = type(self)
        start = 0
        header = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if header and (if_range is None or if_range == cls.etag):
            cls.ranges_seen.append(header)
            start = int(header.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(cls.payload) - 1}/{len(cls.payload)}")
        else:
            self.send_response(200)  # no range, or the file changed since the client's copy (RFC 9110 If-Range)
        if cls.etag:
            self.send_header("ETag", cls.etag)
        body = cls.payload[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cls.cut_after is not None:
            self.wfile.write(body[: cls.cut_after])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    _Handler.ranges_seen = []
    _Handler.cut_after = None
    _Handler.payload = PAYLOAD
    _Handler.etag = '"v1"'
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    httpd.shutdown()


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_verifies_checksum(server, tmp_path):
    result = fetch(server, tmp_path / "f.bin", SHA)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD and result.sha256 == SHA and result.resumed_from == 0
    assert not (tmp_path / "f.bin.part").exists()


def test_interrupted_download_resumes_with_range(server, tmp_path):
    _Handler.cut_after = 100_000
    with pytest.raises(DataError, match="rerun to resume"):
        fetch(server, tmp_path / "f.bin", SHA, timeout_s=5)
    assert not (tmp_path / "f.bin").exists()
    assert (tmp_path / "f.bin.part").stat().st_size == 100_000
    _Handler.cut_after = None
    result = fetch(server, tmp_path / "f.bin", SHA)
    assert _Handler.ranges_seen == ["bytes=100000-"]
    assert result.resumed_from == 100_000 and (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(server, tmp_path / "f.bin", "0" * 64)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_unreachable_server_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"download of http://127\.0\.0\.1:9/x failed"):
        fetch("http://127.0.0.1:9/x", tmp_path / "x", timeout_s=2)


def test_cli_fetch_places_and_validates_the_pickle(server, tmp_path, monkeypatch):
    """`hwnas data fetch` rejects a file that is not the HW-NAS-Bench pickle, naming what is wrong."""
    from click.testing import CliRunner

    from hwnas.cli import main

    result = CliRunner().invoke(
        main, ["data", "fetch", "hw-nas-bench-pickle", "--url", server, "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "not a readable HW-NAS-Bench pickle" in result.output
    # the rejected file never lands where `data list` would find it, and nothing is left behind
    assert not (tmp_path / "hw-nas-bench" / "HW-NAS-Bench-v1_0.pickle").exists()
    assert list((tmp_path / "hw-nas-bench").iterdir()) == []


def test_a_resume_from_a_file_that_changed_starts_over_instead_of_splicing(server, tmp_path):
    _Handler.cut_after = 100_000
    with pytest.raises(DataError, match="rerun to resume"):
        fetch(server, tmp_path / "f.bin", timeout_s=5)
    _Handler.cut_after = None
    _Handler.payload = bytes(reversed(PAYLOAD))  # the server's file was replaced meanwhile
    _Handler.etag = '"v2"'
    result = fetch(server, tmp_path / "f.bin")
    assert result.resumed_from == 0 and _Handler.ranges_seen == []
    assert (tmp_path / "f.bin").read_bytes() == _Handler.payload


def test_a_server_without_validators_is_never_resumed_blindly(server, tmp_path):
    _Handler.etag = None
    _Handler.cut_after = 100_000
    with pytest.raises(DataError, match="rerun to resume"):
        fetch(server, tmp_path / "f.bin", timeout_s=5)
    _Handler.cut_after = None
    result = fetch(server, tmp_path / "f.bin", SHA)
    assert result.resumed_from == 0 and not _Handler.ranges_seen and (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_an_unreachable_server_claims_no_partial_file(tmp_path):
    with pytest.raises(DataError) as failure:
        fetch("http://127.0.0.1:9/x", tmp_path / "x", timeout_s=2)
    assert "kept" not in str(failure.value) and list(tmp_path.iterdir()) == []


def test_fetch_defaults_to_the_user_cache_as_its_help_says(server, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from hwnas.cli import main
    from hwnas.paths import cache_dir

    monkeypatch.delenv("HWNAS_DATA_DIR", raising=False)
    result = CliRunner().invoke(main, ["data", "fetch", "hw-nas-bench-pickle", "--url", server])
    assert result.exit_code == 2 and str(cache_dir() / "data") in result.output
