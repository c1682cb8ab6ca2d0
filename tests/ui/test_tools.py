"""The latency benchmark and the screenshot script keep working (they start the real window)."""

from pathlib import Path

import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_the_latency_benchmark_runs_and_reports_its_figures(run_python):
    result = run_python([str(REPO_ROOT / "benchmarks" / "ui_latency.py"), "--moves", "40",
                         "--starts", "1"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "window construction + show:" in out
    assert "mouse move -> prediction panel updated: n=40  median" in out
    assert "cold start to window on screen" in out


def test_the_screenshot_script_writes_the_readme_images(run_python, tmp_path):
    result = run_python([str(REPO_ROOT / "docs" / "screenshots.py"), "--out", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert "drawn 3 read as 3" in result.stdout
    for name in ("main-window.png", "opened-image.png", "main-window-dark.png"):
        with Image.open(tmp_path / name) as image:
            # 1280x800, or the window's minimum size when its docks need more.
            assert image.size[0] >= 1280 and image.size[1] >= 800
            assert len(image.convert("L").getcolors(1 << 16)) > 50  # a picture, not a blank
