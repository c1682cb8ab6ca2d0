"""cnnviz.analysis must run without Qt (in worker processes, scripts and the CLI)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_importing_the_analysis_package_loads_no_qt():
    code = ("import sys, cnnviz.analysis, cnnviz.analysis.display; "
            "print(sorted(m for m in ('PySide6', 'shiboken6', 'pyqtgraph') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def test_the_analysis_sources_never_mention_qt():
    for path in (REPO / "cnnviz" / "analysis").glob("*.py"):
        text = path.read_text()
        for name in ("PySide6", "shiboken6", "pyqtgraph", "QtCore"):
            assert name not in text, f"{path.name} mentions {name}"
