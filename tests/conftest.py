"""Shared fixtures: headless Qt, isolated settings, MNIST and PyTorch look-up.

Environment variables
---------------------
CNNVIZ_MNIST_DIR
    Folder with the four original MNIST ``*-ubyte.gz`` files; defaults to
    ``<repo>/../shared/data/mnist``.
CNNVIZ_REQUIRE_MNIST=1
    Fail, instead of skip, tests that need MNIST when it is missing (set by ``.ci/run``).
CNNVIZ_CIFAR_DIR
    CIFAR-10 as JPEG files in class folders (``train/CLASS/*.jpg``, ``test/CLASS/*.jpg``);
    defaults to ``<repo>/../shared/data/cifar10``.
CNNVIZ_REQUIRE_CIFAR=1
    Fail, instead of skip, tests that need CIFAR-10 when it is missing (set by ``.ci/run``).
CNNVIZ_REQUIRE_TORCH=1
    Fail, instead of skip, tests that need PyTorch when it is missing (set by ``.ci/run``).
"""

import os
import subprocess
import sys
from pathlib import Path

# Before anything imports Qt: the tests never need a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def _missing(what: str, require_variable: str) -> None:
    """Skip the test, or fail it if ``require_variable`` is set to 1."""
    if os.environ.get(require_variable) == "1":
        pytest.fail(f"{what} ({require_variable}=1)", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder holding the four original MNIST files.

    ``CNNVIZ_MNIST_DIR`` if set, else ``<repo>/../shared/data/mnist``. Skips the test when the
    files are missing, or fails it when ``CNNVIZ_REQUIRE_MNIST=1``.
    """
    from cnnviz.data import find_mnist_files

    default = REPO_ROOT.parent / "shared" / "data" / "mnist"
    folder = Path(os.environ.get("CNNVIZ_MNIST_DIR") or default)
    missing = [part for part, path in find_mnist_files(folder).items() if path is None]
    if missing:
        _missing(f"MNIST {', '.join(missing)} missing in {folder}", "CNNVIZ_REQUIRE_MNIST")
    return folder


@pytest.fixture(scope="session")
def cifar_dir() -> Path:
    """Folder holding CIFAR-10 as images: ``train/CLASS/*.jpg`` and ``test/CLASS/*.jpg``.

    ``CNNVIZ_CIFAR_DIR`` if set, else ``<repo>/../shared/data/cifar10``. Skips the test when the
    folder is missing, or fails it when ``CNNVIZ_REQUIRE_CIFAR=1``.
    """
    default = REPO_ROOT.parent / "shared" / "data" / "cifar10"
    folder = Path(os.environ.get("CNNVIZ_CIFAR_DIR") or default)
    missing = [split for split in ("train", "test") if not (folder / split / "airplane").is_dir()]
    if missing:
        _missing(f"CIFAR-10 {'/'.join(missing)}/airplane missing in {folder}",
                 "CNNVIZ_REQUIRE_CIFAR")
    return folder


def require_torch():
    """Import and return PyTorch, or skip the test (fail if ``CNNVIZ_REQUIRE_TORCH=1``).

    PyTorch only serves as a reference implementation in tests; cnnviz never imports it.
    """
    try:
        import torch
    except ImportError as exc:
        _missing(f"PyTorch is not installed ({exc})", "CNNVIZ_REQUIRE_TORCH")
    return torch


@pytest.fixture(scope="session")
def torch():
    """The ``torch`` module; see :func:`require_torch`."""
    return require_torch()


@pytest.fixture(scope="session", autouse=True)
def isolated_qt_settings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep QSettings and QStandardPaths of the test process away from the user's files."""
    from PySide6.QtCore import QSettings, QStandardPaths

    folder = tmp_path_factory.mktemp("qt-settings")
    QStandardPaths.setTestModeEnabled(True)
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def run_python(tmp_path: Path):
    """Return ``run(args, cwd=REPO_ROOT, env=None)`` running ``python *args`` in a child process.

    The child uses this interpreter, headless Qt and a configuration folder in ``tmp_path``
    (so it never touches the user's settings). With ``cwd`` the repository root, ``-c`` and
    ``-m`` import the source tree. ``env`` updates the environment; a value of None removes the
    variable. ``run`` returns the ``subprocess.CompletedProcess`` with text ``stdout``/``stderr``.
    """

    def run(
        args: list[str], cwd: Path = REPO_ROOT, env: dict[str, str | None] | None = None
    ) -> subprocess.CompletedProcess:
        child_env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        child_env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
        for name, value in (env or {}).items():
            if value is None:
                child_env.pop(name, None)
            else:
                child_env[name] = value
        return subprocess.run(
            [sys.executable, *args],
            cwd=cwd,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
