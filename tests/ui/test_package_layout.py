"""The ``cnnviz.ui`` package mirrors the window: one sub-package per workspace (explore, train,
interpret), one for the window itself and one for what they share. A workspace never imports
another workspace, and the shared widgets import no workspace and not the window's main parts."""

import ast
from pathlib import Path

import pytest

import cnnviz.ui

UI = Path(cnnviz.ui.__file__).parent
WORKSPACES = ("explore", "train", "interpret")
PACKAGES = WORKSPACES + ("window", "shared")


def imported_ui_packages(path: Path) -> set[str]:
    """The ``cnnviz.ui`` sub-packages a module imports (at any depth of its code)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["cnnviz", "ui"] and len(parts) > 2:
                found.add(parts[2])
    return found


def test_every_module_lives_in_a_sub_package():
    loose = sorted(p.name for p in UI.glob("*.py") if p.name != "__init__.py")
    assert loose == []
    assert sorted(p.name for p in UI.iterdir() if p.is_dir() and p.name != "__pycache__") \
        == sorted(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_layering(package):
    allowed = {"explore": {"explore", "shared", "window"}, "train": {"train", "shared", "window"},
               "interpret": {"interpret", "shared", "window"}, "shared": {"shared", "window"},
               "window": set(PACKAGES)}[package]
    wrong = {}
    for path in sorted((UI / package).glob("*.py")):
        bad = imported_ui_packages(path) - allowed
        if bad:
            wrong[path.name] = sorted(bad)
    assert wrong == {}


def test_the_checker_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from cnnviz.ui.train import training_panel\n")
    assert imported_ui_packages(module) == {"train"}
