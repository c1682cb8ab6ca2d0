"""The engine, data, training, analysis and CLI modules never import Qt.

Each module is imported in a fresh interpreter (this test process has Qt loaded already).
"""

import importlib.util

import pytest

QT_MODULES = ("PySide6", "shiboken6", "pyqtgraph")
REQUIRED = ("cnnviz.nn", "cnnviz.data", "cnnviz.data.user_drawings", "cnnviz.training.finetune",
            "cnnviz.cli", "cnnviz.example_networks")
NOT_WRITTEN_YET = ("cnnviz.training", "cnnviz.analysis")


@pytest.mark.parametrize("module", REQUIRED + NOT_WRITTEN_YET)
def test_module_does_not_import_qt(run_python, module):
    if module in NOT_WRITTEN_YET and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} does not exist yet")
    code = (
        f"import sys, {module}; "
        f"print(sorted(name for name in {QT_MODULES!r} if name in sys.modules))"
    )
    result = run_python(["-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n", f"{module} imports {result.stdout.strip()}"
