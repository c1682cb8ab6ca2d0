"""Tests of the MNIST download against a real local HTTP server (no mocks of urllib)."""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cnnviz.data import (
    MNIST_FILES,
    DownloadCancelled,
    DownloadError,
    MnistError,
    default_cache_dir,
    download_mnist,
    find_mnist,
    load_default_mnist,
    load_mnist,
    mnist_cache_dir,
    verify_mnist_folder,
)

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
FIRST = next(iter(MNIST_FILES))  # the first file download_mnist fetches


@pytest.fixture(autouse=True)
def _no_proxy_no_env(clean_download_environment):
    """Talk to 127.0.0.1 directly and start from a clean cnnviz environment."""


def _make_handler(files: dict[str, bytes]):
    class Handler(BaseHTTPRequestHandler):
        """Paths are /<mode>/<file name>; modes: good, missing, corrupt, truncated."""

        def do_GET(self):  # noqa: N802 (http.server API)
            parts = self.path.split("/")
            mode, name = (parts[1], parts[2]) if len(parts) == 3 else ("missing", "")
            data = files.get(name)
            if mode == "missing" or data is None:
                self.send_error(404, "Not Found")
                return
            if mode == "corrupt":  # right length, wrong content
                data = bytearray(data)
                data[len(data) // 2] ^= 0xFF
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if mode == "truncated":  # announce everything, send half, hang up
                data = data[: len(data) // 2]
                self.close_connection = True
            try:
                self.wfile.write(bytes(data))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client cancelled

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture(scope="module")
def server(mnist_dir):
    """Base URL of a local server holding the MNIST files."""
    files = {name: (mnist_dir / name).read_bytes() for name in MNIST_FILES}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(files))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def downloaded(server, tmp_path_factory):
    """A cache folder filled by one successful download; returns (cache_dir, progress calls)."""
    cache = tmp_path_factory.mktemp("cache")
    calls = []
    folder = download_mnist(cache_dir=cache, mirrors=[server + "/good/"],
                            progress=lambda *a: calls.append(a), timeout=10)
    assert folder == cache / "mnist"
    return cache, calls


def closed_port_url() -> str:
    """URL of a port on which nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.mnist
def test_download_verifies_and_loads(downloaded):
    cache, _ = downloaded
    folder = cache / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(MNIST_FILES)
    for name, (size, digest) in MNIST_FILES.items():
        assert (folder / name).stat().st_size == size
        assert md5(folder / name) == digest
    data = load_mnist(folder)
    assert data.n_train == 60000 and data.n_test == 10000
    assert data.class_counts("train").tolist() == TRAIN_COUNTS


@pytest.mark.mnist
def test_download_reports_progress(downloaded):
    _, calls = downloaded
    for name, (size, _) in MNIST_FILES.items():
        mine = [c for c in calls if c[0] == name]
        assert mine[0][1] == 0 and mine[-1][1] == size
        assert all(total == size for _, _, total in mine)
        done = [d for _, d, _ in mine]
        assert done == sorted(done)
    assert len([c for c in calls if c[0] == FIRST]) > 10  # streamed in chunks


@pytest.mark.mnist
def test_second_download_skips_verified_files(downloaded):
    cache, _ = downloaded
    calls = []
    folder = download_mnist(cache_dir=cache, mirrors=[closed_port_url()],
                            progress=lambda *a: calls.append(a))
    assert verify_mnist_folder(folder)
    assert calls == [(name, size, size) for name, (size, _) in MNIST_FILES.items()]


@pytest.mark.mnist
def test_corrupt_file_is_rejected_and_nothing_left(server, tmp_path):
    with pytest.raises(DownloadError) as info:
        download_mnist(cache_dir=tmp_path, mirrors=[server + "/corrupt/"], timeout=10)
    message = str(info.value)
    assert server + "/corrupt/" + FIRST in message and "MD5" in message
    assert list((tmp_path / "mnist").iterdir()) == []


@pytest.mark.mnist
def test_truncated_transfer_is_rejected_and_nothing_left(server, tmp_path):
    with pytest.raises(DownloadError, match="incomplete"):
        download_mnist(cache_dir=tmp_path, mirrors=[server + "/truncated/"], timeout=10)
    assert list((tmp_path / "mnist").iterdir()) == []


@pytest.mark.mnist
def test_first_mirror_404_second_good(server, tmp_path):
    mirrors = [server + "/missing/", server + "/good/"]
    folder = download_mnist(cache_dir=tmp_path, mirrors=mirrors, timeout=10)
    assert verify_mnist_folder(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(MNIST_FILES)


@pytest.mark.mnist
def test_all_mirrors_fail_lists_each_reason(server, tmp_path):
    dead = closed_port_url()
    with pytest.raises(DownloadError) as info:
        download_mnist(cache_dir=tmp_path, mirrors=[server + "/missing", dead], timeout=5)
    message = str(info.value)
    assert "404" in message and server + "/missing/" + FIRST in message
    assert dead + FIRST in message and "cannot connect" in message
    assert "offline" in message and "--data offline" in message
    assert list((tmp_path / "mnist").iterdir()) == []


@pytest.mark.mnist
def test_cancel_by_returning_false(server, tmp_path):
    seen = []

    def progress(name, done, total):
        seen.append(done)
        return done < 200_000

    with pytest.raises(DownloadCancelled):
        download_mnist(cache_dir=tmp_path, mirrors=[server + "/good/"], progress=progress)
    assert 200_000 <= seen[-1] < MNIST_FILES[FIRST][0]
    assert list((tmp_path / "mnist").iterdir()) == []


@pytest.mark.mnist
def test_cancel_by_raising(server, tmp_path):
    def progress(name, done, total):
        if done > 0:
            raise DownloadCancelled("user pressed stop")

    with pytest.raises(DownloadCancelled, match="user pressed stop"):
        download_mnist(cache_dir=tmp_path, mirrors=[server + "/good/"], progress=progress)
    assert list((tmp_path / "mnist").iterdir()) == []


def test_cache_dir_locations(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "custom"))
    assert default_cache_dir() == tmp_path / "custom"
    assert mnist_cache_dir() == tmp_path / "custom" / "mnist"
    monkeypatch.delenv("CNNVIZ_CACHE_DIR")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "cnnviz"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == tmp_path / ".cache" / "cnnviz"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert default_cache_dir() == tmp_path / "Library" / "Caches" / "cnnviz"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert default_cache_dir() == tmp_path / "Local" / "cnnviz" / "Cache"


@pytest.mark.mnist
def test_find_mnist_prefers_env_folder(monkeypatch, mnist_dir, tmp_path):
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path))
    assert find_mnist() is None
    with pytest.raises(MnistError, match="CNNVIZ_MNIST_DIR"):
        load_default_mnist()
    monkeypatch.setenv("CNNVIZ_MNIST_DIR", str(mnist_dir))
    assert find_mnist() == mnist_dir


@pytest.mark.mnist
def test_find_mnist_uses_verified_cache(monkeypatch, downloaded, tmp_path):
    cache, _ = downloaded
    monkeypatch.setenv("CNNVIZ_MNIST_DIR", str(tmp_path / "empty"))  # holds nothing
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(cache))
    assert find_mnist() == cache / "mnist"
    assert load_default_mnist().n_test == 10000
    # a cache with a damaged file is not used
    damaged = tmp_path / "damaged"
    (damaged / "mnist").mkdir(parents=True)
    for name in MNIST_FILES:
        (damaged / "mnist" / name).write_bytes((cache / "mnist" / name).read_bytes())
    last = damaged / "mnist" / name
    data = bytearray(last.read_bytes())
    data[-1] ^= 0xFF
    last.write_bytes(bytes(data))
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(damaged))
    assert find_mnist() is None


@pytest.mark.mnist
def test_a_killed_download_is_cleared_by_the_next(server, tmp_path):
    """A download killed mid-file leaves its temporary file (its pid in the name); the next
    download of that file removes it."""
    import subprocess
    import sys

    from cnnviz.fileio import temporary_name

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    folder = tmp_path / "mnist"
    folder.mkdir()
    stale = folder / temporary_name(folder / FIRST, pid=child.pid)
    stale.write_bytes(b"half a file")
    download_mnist(cache_dir=tmp_path, mirrors=[server + "/good/"], timeout=10)
    assert sorted(p.name for p in folder.iterdir()) == sorted(MNIST_FILES)
