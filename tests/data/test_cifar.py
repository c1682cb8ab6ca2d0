"""CIFAR-10's binary release: the record reader against hand-made records, unsafe archives
refused, the download against a local HTTP server (no mocks of urllib)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from cnnviz.data import (CIFAR10_ARCHIVE, CIFAR10_CLASSES, CifarError, DataError,
                         DownloadCancelled, DownloadError, download_cifar10, is_cifar10_binary,
                         load_cifar10, read_cifar_records)
from cnnviz.data.cifar import RECORD_BYTES, TEST_FILE, TRAIN_FILES

CLASSES = CIFAR10_CLASSES


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n random (3, 32, 32) uint8 images and labels 0-9."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
            rng.integers(0, 10, n, dtype=np.uint8))


def encode_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """The release's layout, written byte by byte from the definition (label, R, G, B planes,
    each row-major), independently of the reader's reshape."""
    out = bytearray()
    for image, label in zip(images, labels):
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                for col in range(32):
                    out.append(int(image[channel, row, col]))
    return bytes(out)


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, **info) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    for key, value in info.items():
        setattr(member, key, value)
    tar.addfile(member, io.BytesIO(data))


@pytest.fixture(scope="module")
def fake_release():
    """{file name: (images, labels)} of a tiny release: 3 records per training batch, 4 test."""
    parts = {name: make_images(3, seed) for seed, name in enumerate(TRAIN_FILES)}
    parts[TEST_FILE] = make_images(4, 99)
    return parts


def write_archive(path: Path, parts, extra=(), meta: bytes | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        add_bytes(tar, "cifar-10-batches-bin", b"", type=tarfile.DIRTYPE, mode=0o755)
        if meta is None:
            meta = ("\n".join(CLASSES) + "\n\n").encode()
        add_bytes(tar, "cifar-10-batches-bin/batches.meta.txt", meta)
        for name, (images, labels) in parts.items():
            add_bytes(tar, f"cifar-10-batches-bin/{name}", encode_records(images, labels))
        add_bytes(tar, "cifar-10-batches-bin/readme.html", b"<html></html>")
        for name, data, info in extra:
            add_bytes(tar, name, data, **info)
    return path


def check_matches(data, parts) -> None:
    train = [parts[name] for name in TRAIN_FILES]
    np.testing.assert_array_equal(data.train_x, np.concatenate([x for x, _ in train]))
    np.testing.assert_array_equal(data.train_y, np.concatenate([y for _, y in train]))
    np.testing.assert_array_equal(data.test_x, parts[TEST_FILE][0])
    np.testing.assert_array_equal(data.test_y, parts[TEST_FILE][1])
    assert data.train_x.dtype == np.uint8 and data.train_x.shape == (15, 3, 32, 32)
    assert data.input_shape == (3, 32, 32)
    assert data.class_names == CLASSES and data.name == "CIFAR-10"


def test_records_decode_label_then_red_green_blue_planes():
    images, labels = make_images(5, 1)
    got_x, got_y = read_cifar_records(encode_records(images, labels))
    np.testing.assert_array_equal(got_x, images)
    np.testing.assert_array_equal(got_y, labels)
    # One record by hand: label 7, red plane all 1, green plane a ramp, blue plane 3.
    green = np.arange(1024) % 256
    record = bytes([7]) + bytes([1] * 1024) + bytes(green.tolist()) + bytes([3] * 1024)
    x, y = read_cifar_records(record)
    assert y.tolist() == [7]
    assert (x[0, 0] == 1).all() and (x[0, 2] == 3).all()
    assert x[0, 1, 0, :5].tolist() == [0, 1, 2, 3, 4] and x[0, 1, 1, 0] == 32  # row-major


@pytest.mark.parametrize("size", [0, RECORD_BYTES - 1, 2 * RECORD_BYTES + 5])
def test_records_of_the_wrong_length_are_refused(size):
    with pytest.raises(CifarError, match="whole number of CIFAR-10 records"):
        read_cifar_records(bytes(size), "batch.bin")


def test_labels_above_nine_are_refused():
    images, labels = make_images(2, 2)
    labels[1] = 10
    with pytest.raises(CifarError, match="record 1 has label 10"):
        read_cifar_records(encode_records(images, labels), "batch.bin")


def test_archive_is_read_without_extracting(tmp_path, fake_release):
    archive = write_archive(tmp_path / "cifar-10-binary.tar.gz", fake_release)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert is_cifar10_binary(archive) and is_cifar10_binary(tmp_path)
    check_matches(load_cifar10(archive), fake_release)
    check_matches(load_cifar10(tmp_path), fake_release)  # the folder holding the archive
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing extracted


def test_extracted_folder_is_read(tmp_path, fake_release):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name, (images, labels) in fake_release.items():
        (folder / name).write_bytes(encode_records(images, labels))
    check_matches(load_cifar10(folder), fake_release)  # no batches.meta.txt: CIFAR-10's names
    check_matches(load_cifar10(tmp_path), fake_release)


def test_class_names_come_from_the_meta_file(tmp_path, fake_release):
    names = [f"class{i}" for i in range(10)]
    archive = write_archive(tmp_path / "a.tar.gz", fake_release, meta="\n".join(names).encode())
    assert load_cifar10(archive).class_names == tuple(names)


@pytest.mark.parametrize("name, info, reason", [
    ("/etc/evil", {}, "an absolute path"),
    ("cifar-10-batches-bin/../../evil", {}, r"a path leading out of its folder \(\.\.\)"),
    ("../evil", {}, r"a path leading out"),
    ("cifar-10-batches-bin/link", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "a link"),
    ("cifar-10-batches-bin/hard", {"type": tarfile.LNKTYPE, "linkname": "/etc/passwd"}, "a link"),
    ("cifar-10-batches-bin/dev", {"type": tarfile.CHRTYPE}, "a device"),
    ("cifar-10-batches-bin/fifo", {"type": tarfile.FIFOTYPE}, "a device or pipe"),
])
def test_archives_with_unsafe_members_are_refused(tmp_path, fake_release, name, info, reason):
    archive = write_archive(tmp_path / "bad.tar.gz", fake_release, [(name, b"x", info)])
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(CifarError, match=f"refused: member .* is {reason}"):
        load_cifar10(archive)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not Path("/etc/evil").exists()


def test_duplicate_and_oversized_members_are_refused(tmp_path, fake_release):
    images, labels = fake_release[TEST_FILE]
    twice = write_archive(tmp_path / "twice.tar.gz", fake_release,
                          [(f"cifar-10-batches-bin/{TEST_FILE}",
                            encode_records(images, labels), {})])
    with pytest.raises(CifarError, match="appears twice"):
        load_cifar10(twice)
    huge = tmp_path / "huge.tar"
    with tarfile.open(huge, "w") as tar:  # the header announces 10,001 records; no data needed
        member = tarfile.TarInfo(f"cifar-10-batches-bin/{TRAIN_FILES[0]}")
        member.size = 10_001 * RECORD_BYTES
        tar.addfile(member, io.BytesIO(bytes(member.size)))
    with pytest.raises(CifarError, match="more than the .* bytes a CIFAR-10 file has"):
        load_cifar10(huge)


def test_truncated_archive_and_missing_batches_are_clear_errors(tmp_path, fake_release):
    archive = write_archive(tmp_path / "whole.tar.gz", fake_release)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(CifarError, match="cannot read the archive"):
        load_cifar10(cut)
    partial = dict(fake_release)
    del partial[TEST_FILE]
    with pytest.raises(CifarError, match="test_batch.bin missing"):
        load_cifar10(write_archive(tmp_path / "partial.tar.gz", partial))
    with pytest.raises(CifarError, match="neither cifar-10-binary.tar.gz nor"):
        load_cifar10(tmp_path / "nothing-here")


def test_the_pickle_release_is_never_loaded(tmp_path):
    """A folder of the Python release's files (pickles) is not taken for CIFAR-10."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        (folder / name).write_bytes(b"\x80\x04K\x01.")  # a pickle of 1
    assert not is_cifar10_binary(folder)
    with pytest.raises(CifarError):
        load_cifar10(folder)


# --- the download ---------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _no_proxy(clean_download_environment):
    pass


@pytest.fixture(scope="module")
def archive_bytes(tmp_path_factory, fake_release) -> bytes:
    folder = tmp_path_factory.mktemp("release")
    # Large enough to arrive in many chunks (the reader skips the padding member).
    path = write_archive(folder / "cifar-10-binary.tar.gz", fake_release,
                         [("cifar-10-batches-bin/padding", np.random.default_rng(0).bytes(400_000),
                           {})])
    return path.read_bytes()


@pytest.fixture(scope="module")
def server(archive_bytes):
    """Paths /good/<name> and /corrupt/<name> (one byte flipped)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            parts = self.path.split("/")
            if len(parts) != 3 or parts[2] != CIFAR10_ARCHIVE[0]:
                self.send_error(404, "Not Found")
                return
            data = bytearray(archive_bytes)
            if parts[1] == "corrupt":
                data[len(data) // 2] ^= 0xFF
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(bytes(data))
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def expected(archive_bytes) -> tuple[str, int, str]:
    return (CIFAR10_ARCHIVE[0], len(archive_bytes), hashlib.md5(archive_bytes).hexdigest())


def test_download_verifies_reports_progress_and_loads(server, archive_bytes, tmp_path,
                                                      fake_release):
    calls = []
    path = download_cifar10(cache_dir=tmp_path, mirrors=[server + "/good/"],
                            progress=lambda *a: calls.append(a), timeout=10,
                            archive=expected(archive_bytes))
    assert path == tmp_path / "cifar10" / CIFAR10_ARCHIVE[0]
    assert path.read_bytes() == archive_bytes
    assert sorted(p.name for p in path.parent.iterdir()) == [CIFAR10_ARCHIVE[0]]
    done = [d for _, d, _ in calls]
    assert len(calls) > 5 and done == sorted(done) and done[-1] == len(archive_bytes)
    check_matches(load_cifar10(path), fake_release)
    # A second call finds the verified file and does not connect (no mirror given).
    again = []
    assert download_cifar10(cache_dir=tmp_path, mirrors=[], progress=lambda *a: again.append(a),
                            archive=expected(archive_bytes)) == path
    assert again == [(CIFAR10_ARCHIVE[0], len(archive_bytes), len(archive_bytes))]


def test_wrong_md5_is_refused_and_nothing_left(server, archive_bytes, tmp_path):
    with pytest.raises(DownloadError) as info:
        download_cifar10(cache_dir=tmp_path, mirrors=[server + "/corrupt/"], timeout=10,
                         archive=expected(archive_bytes))
    assert "wrong MD5" in str(info.value) and "--data PATH" in str(info.value)
    assert list((tmp_path / "cifar10").iterdir()) == []
    # The official checksum is what the default expects: our small archive is refused too.
    with pytest.raises(DownloadError, match="server announces .* bytes, expected 170052171"):
        download_cifar10(cache_dir=tmp_path, mirrors=[server + "/good/"], timeout=10)
    assert list((tmp_path / "cifar10").iterdir()) == []


def test_a_cached_archive_with_a_wrong_md5_is_downloaded_again(server, archive_bytes, tmp_path):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    damaged = bytearray(archive_bytes)
    damaged[100] ^= 1
    (folder / CIFAR10_ARCHIVE[0]).write_bytes(bytes(damaged))
    path = download_cifar10(cache_dir=tmp_path, mirrors=[server + "/good/"], timeout=10,
                            archive=expected(archive_bytes))
    assert path.read_bytes() == archive_bytes


def test_download_can_be_cancelled(server, archive_bytes, tmp_path):
    def stop_after_first_chunk(name, done, total):
        return done == 0

    with pytest.raises(DownloadCancelled):
        download_cifar10(cache_dir=tmp_path, mirrors=[server + "/good/"], timeout=10,
                         progress=stop_after_first_chunk, archive=expected(archive_bytes))
    assert list((tmp_path / "cifar10").iterdir()) == []


def test_offline_message_says_what_to_do(tmp_path):
    with pytest.raises(DownloadError) as info:
        download_cifar10(cache_dir=tmp_path, mirrors=["http://127.0.0.1:9/"], timeout=2)
    message = str(info.value)
    assert "cannot connect" in message and "To work offline" in message
    assert "CNNVIZ_CIFAR_DIR" in message and isinstance(info.value, DataError)


def test_an_archive_holding_too_much_is_refused_before_decompressing_it(tmp_path, fake_release,
                                                                        monkeypatch):
    from cnnviz.data import cifar as cifar_module

    archive = write_archive(tmp_path / "a.tar.gz", fake_release)
    monkeypatch.setattr(cifar_module, "MAX_ARCHIVE_BYTES", 5 * 3 * RECORD_BYTES)
    with pytest.raises(CifarError, match="more than .* bytes, far more than CIFAR-10"):
        load_cifar10(archive)


def test_the_python_release_archive_is_refused_unread(tmp_path):
    """cifar-10-python.tar.gz's members are pickles: a pickle that would create a file when
    loaded shows that nothing is unpickled."""
    import pickle

    marker = tmp_path / "pickle-ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = pickle.dumps(Evil())
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                     "data_batch_5", "test_batch", "batches.meta"):
            add_bytes(tar, f"cifar-10-batches-py/{name}", payload)
    with pytest.raises(CifarError, match="data_batch_1.bin, .* missing; not the CIFAR-10 release"):
        load_cifar10(archive)
    assert not marker.exists()


def test_the_archive_itself_is_a_data_path(tmp_path, fake_release):
    from cnnviz.data import describe_data_folder, load_data_folder

    archive = write_archive(tmp_path / "cifar-10-binary.tar.gz", fake_release)
    assert describe_data_folder(archive) == "cifar10" == describe_data_folder(tmp_path)
    check_matches(load_data_folder(archive), fake_release)
