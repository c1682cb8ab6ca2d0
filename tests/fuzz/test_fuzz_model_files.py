"""Thousands of hostile network files: each loads and runs, or ends in one clean ModelFileError.

The sample is seeded (``CNNVIZ_FUZZ_SEED``, default 0) and sized by ``CNNVIZ_FUZZ_CASES``
(default 1500, ~10 s of CPU); ``python tests/fuzz/model_file_mutations.py --cases N`` runs more
and prints the outcomes by class.
"""

import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import main
from model_file_mutations import MUTATORS, base_files, generate, run_case

CASES = int(os.environ.get("CNNVIZ_FUZZ_CASES", "1500"))
SEED = int(os.environ.get("CNNVIZ_FUZZ_SEED", "0"))


@pytest.fixture(scope="module")
def bases():
    return base_files()


def test_every_generated_file_loads_or_is_refused_cleanly(bases, tmp_path):
    outcomes, refused_by, failures = Counter(), Counter(), []
    path = tmp_path / "case.npz"
    for index, name, data in generate(SEED, CASES, bases):
        outcome, detail, seconds = run_case(path, data)
        outcomes[outcome] += 1
        if outcome == "ModelFileError":
            refused_by[name] += 1
            refused_by["input contract"] += "the input description" in detail
        elif not outcome.startswith("loaded"):
            failures.append(f"case {index} ({name}): {outcome}: {detail}")
    assert not failures, f"{len(failures)} of {CASES} cases failed:\n" + "\n".join(failures[:20])
    # the generator really produces both kinds of files, and every mutator damages some
    assert outcomes["loaded"] > 0 and outcomes["ModelFileError"] > CASES // 2, outcomes
    if CASES >= 500:
        assert set(refused_by) == set(MUTATORS) | {"input contract"}, refused_by
        assert refused_by["input contract"] >= 10, refused_by  # the contract is fuzzed too


@pytest.fixture(scope="module")
def refused(bases, tmp_path_factory):
    """The first refused file of each mutator."""
    found, path = {}, tmp_path_factory.mktemp("probe") / "probe.npz"
    for index, name, data in generate(SEED + 1, 600, bases):
        if name not in found and name != "architecture" or name == "architecture" and \
                name not in found and b"Conv2D" in data:
            if run_case(path, data)[0] == "ModelFileError":
                found[name] = data
        if len(found) == len(MUTATORS):
            break
    return found


def test_the_commands_report_each_class_in_one_line(refused, tmp_path, capsys):
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    assert set(refused) == set(MUTATORS)
    for name, data in refused.items():
        path = tmp_path / f"{name}.npz"
        path.write_bytes(data)
        for argv in (["summary", str(path)], ["predict", "--model", str(path), str(image)]):
            status = main(argv)
            err = capsys.readouterr().err
            assert status == 2, (name, argv, err)
            assert err.startswith(f"cnnviz: error: {name}.npz: ") and err.count("\n") == 1, err
            assert "Traceback" not in err


def test_a_real_process_prints_no_traceback(refused, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for name in ("json", "npy_header", "member_corrupt"):
        path = tmp_path / f"{name}.npz"
        path.write_bytes(refused[name])
        out = subprocess.run([sys.executable, "-m", "cnnviz", "summary", str(path)],
                             capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 2 and out.stdout == "", out
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
