"""Shared helpers for the engine tests."""

import os

import numpy as np
import pytest


@pytest.fixture
def torch_oracle():
    """PyTorch as a reference; mandatory when CNNVIZ_REQUIRE_TORCH=1 (as in CI)."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CNNVIZ_REQUIRE_TORCH") == "1":
            pytest.fail("PyTorch is required here (CNNVIZ_REQUIRE_TORCH=1) but is not installed")
        pytest.skip("PyTorch is not installed")
    torch.set_default_dtype(torch.float32)
    return torch
