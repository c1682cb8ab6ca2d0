"""Reading and writing raw ``.npz`` archives in the model-file tests (no checks, no pickles)."""

from __future__ import annotations

import numpy as np


def entries(path) -> dict[str, np.ndarray]:
    """Every entry of the archive at ``path``, by name."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def write_npz(path, arrays: dict):
    """Write ``arrays`` as an archive at ``path`` (exactly that name) and return the path."""
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path
