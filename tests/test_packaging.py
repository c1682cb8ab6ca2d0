"""The wheel: resources inside the package, the console script, the PySide6 pin.

The wheel is built from the checkout and installed into a temporary folder; the installed copy
then runs from a folder outside the checkout, so nothing comes from the source tree.
"""

import importlib.util
import subprocess
import sys
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cnnviz import __version__

REPO_ROOT = Path(__file__).resolve().parent.parent
DIST_INFO = f"cnnviz-{__version__}.dist-info"


def pip(*args: str) -> None:
    """Run this interpreter's pip quietly; raise CalledProcessError if it fails."""
    subprocess.run([sys.executable, "-m", "pip", "--quiet", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the project's wheel without build isolation (no network needed)."""
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("hatchling is missing: install the test extra, pip install -e '.[test]'")
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(REPO_ROOT))
    (built,) = out.glob("cnnviz-*.whl")
    return built


def test_wheel_holds_every_resource(wheel):
    shipped = {
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / "resources").rglob("*")
        if path.is_file()
    }
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "resources/icons/cnnviz.svg" in shipped
    assert {f"cnnviz/{name}" for name in shipped} <= names
    assert not any(name.startswith(("tests/", "resources/")) for name in names)


@pytest.fixture(scope="module")
def metadata(wheel) -> Message:
    """The wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        return Parser().parsestr(archive.read(f"{DIST_INFO}/METADATA").decode())


def test_wheel_has_the_console_script_and_the_gui_script(wheel):
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert "[console_scripts]\ncnnviz = cnnviz.cli:main\n" in entry_points
    # a gui-script: on Windows the installer makes a program that opens no console
    assert "[gui_scripts]\ncnnviz-gui = cnnviz.cli:gui_main\n" in entry_points
    module, function = "cnnviz.cli:gui_main".split(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_wheel_carries_the_licence_authors_and_classifiers(wheel, metadata):
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    with zipfile.ZipFile(wheel) as archive:
        licence = archive.read(f"{DIST_INFO}/licenses/LICENSE").decode()
    assert licence == (REPO_ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License\n") and "the cnnviz authors" in licence
    assert "the cnnviz authors" in metadata["Author"]
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3 :: Only" in classifiers
    assert "Topic :: Scientific/Engineering :: Artificial Intelligence" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # the expression says it


def test_the_desktop_entry_starts_the_gui_script_with_the_icon(wheel):
    from configparser import ConfigParser

    entry = ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read_string((REPO_ROOT / "resources" / "cnnviz.desktop").read_text())
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"].split()[0] == "cnnviz-gui" and desktop["Terminal"] == "false"
    assert (REPO_ROOT / "resources" / "icons" / f"{desktop['Icon']}.svg").is_file()
    with zipfile.ZipFile(wheel) as archive:
        assert "cnnviz/resources/cnnviz.desktop" in archive.namelist()


def test_wheel_version_and_requirements(metadata):
    assert metadata["Version"] == __version__
    assert metadata["Requires-Python"] == ">=3.11"
    requirements = [Requirement(text) for text in metadata.get_all("Requires-Dist")]
    assert "torch" not in {requirement.name for requirement in requirements}


@pytest.mark.parametrize(
    ("python", "allowed", "refused"), [("3.11", "6.11.3", "6.12.0"), ("3.12", "6.12.0", "6.6")]
)
def test_wheel_pins_pyside6_by_python_version(metadata, python, allowed, refused):
    environment = {"python_version": python, "extra": ""}
    (pyside,) = (
        requirement
        for requirement in map(Requirement, metadata.get_all("Requires-Dist"))
        if canonicalize_name(requirement.name) == "pyside6-essentials"
        and requirement.marker.evaluate(environment)
    )
    assert pyside.specifier.contains(allowed)
    assert not pyside.specifier.contains(refused)


def test_installed_wheel_finds_its_resources(wheel, tmp_path, run_python):
    target = tmp_path / "site"
    pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    code = (
        "import cnnviz, cnnviz.cli; from cnnviz.resources import resource_path; "
        "print(cnnviz.__file__); print(resource_path('icons', 'cnnviz.svg'))"
    )
    result = run_python(["-c", code], cwd=outside, env={"PYTHONPATH": str(target)})
    assert result.returncode == 0, result.stderr
    package_file, icon = map(Path, result.stdout.split())
    assert package_file == target / "cnnviz" / "__init__.py"
    assert icon == target / "cnnviz" / "resources" / "icons" / "cnnviz.svg"
    assert icon.read_bytes() == (REPO_ROOT / "resources" / "icons" / "cnnviz.svg").read_bytes()
