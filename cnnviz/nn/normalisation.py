"""Normalisation layers: batch normalisation (per channel or per feature, with running
statistics as layer ``state``) and local response normalisation across channels (AlexNet).

They follow the layer contract of :mod:`cnnviz.nn.layers` (where they are registered in
``LAYER_TYPES``) and are imported from there too.
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .layers import (MAX_FEATURES, MAX_WINDOW, Layer, Setting, _batch_first, _channel_major,
                     _is_number, _require_image, int_setting, zero_grads)


class BatchNorm(Layer):
    """Batch normalisation per channel (after a convolution: the mean and variance over the
    batch and every position of each map) or per feature (a vector):
    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``.

    In training (``forward(x, training=True)``) ``mean`` and ``var`` are the batch's own
    statistics (the variance divided by the count, as PyTorch and ONNX normalise), and the
    running statistics move towards them: ``running = (1 - momentum) * running + momentum *
    batch`` (PyTorch's convention; the variance there is the unbiased one, divided by count - 1).
    In inference the running statistics are used, so that each image's output depends on that
    image alone.  ``gamma`` and ``beta`` are trained; ``running_mean`` and ``running_var`` are
    :attr:`state` (saved and restored with the weights, never touched by the optimiser).

    ``update_running`` False leaves the running statistics alone in training and only records
    the batch's (``batch_mean``, ``batch_var``, ``batch_count``): the data-parallel trainer
    (:mod:`cnnviz.nn.parallel`) combines its shards' statistics into the whole batch's and
    updates once (:meth:`update_statistics`).
    """

    kind = "BatchNorm"
    SETTINGS = {"num_features": int_setting(1, MAX_FEATURES, optional=True),
                "eps": Setting("a number from 1e-12 to 1", lambda v: _is_number(v, 1e-12, 1.0)),
                "momentum": Setting("a number from 0 to 1", lambda v: _is_number(v, 0.0, 1.0))}

    def __init__(self, num_features=None, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features = num_features
        self.eps, self.momentum = float(eps), float(momentum)
        self.update_running = True
        self.gamma_init = self.beta_init = self.running_mean_init = self.running_var_init = None

    def _output_shape(self, input_shape):
        if len(input_shape) not in (1, 3):
            raise ModelError(f"BatchNorm needs feature maps (channels, height, width) or a "
                             f"vector, got shape {input_shape}")
        c = input_shape[0]
        if self.num_features is None:
            self.num_features = c
        elif self.num_features != c:
            raise ModelError(f"BatchNorm expects {self.num_features} channels but receives {c}")
        return input_shape

    def build(self, input_shape, rng=None):
        shape = super().build(input_shape, rng)
        c = self.num_features

        def start(given, fill):
            return np.full(c, fill, np.float32) if given is None else \
                np.array(given, dtype=np.float32).reshape(c)

        self.params = {"gamma": start(self.gamma_init, 1.0), "beta": start(self.beta_init, 0.0)}
        self.grads = zero_grads(self.params)
        self.state = {"running_mean": start(self.running_mean_init, 0.0),
                      "running_var": start(self.running_var_init, 1.0)}
        return shape

    def file_arrays(self):
        return ["gamma", "beta", "running_mean", "running_var"]

    def _per_channel(self, x):
        """The channel-major view of ``x`` (C, ..., N) and the shape of a per-channel column."""
        if x.ndim == 4:
            return _channel_major(x), (-1, 1, 1, 1)
        return x.T, (-1, 1)

    @staticmethod
    def _back(y):
        return _batch_first(y) if y.ndim == 4 else y.T

    def forward(self, x, training=False):
        xc, column = self._per_channel(x)
        axes = tuple(range(1, xc.ndim))
        self._training = bool(training)
        if training:
            count = xc.size // xc.shape[0]
            mean = xc.mean(axis=axes, dtype=np.float64)
            var = ((xc - mean.reshape(column).astype(x.dtype)) ** 2).mean(axis=axes,
                                                                          dtype=np.float64)
            self.batch_mean, self.batch_var, self.batch_count = mean, var, count
            if self.update_running:
                self.update_statistics(mean, var, count)
        else:
            mean = self.state["running_mean"].astype(np.float64)
            var = self.state["running_var"].astype(np.float64)
        inv = 1.0 / np.sqrt(var + self.eps)
        self._inv = inv.astype(x.dtype).reshape(column)
        self._xhat = (xc - mean.astype(x.dtype).reshape(column)) * self._inv
        gamma = self.params["gamma"].astype(x.dtype, copy=False).reshape(column)
        beta = self.params["beta"].astype(x.dtype, copy=False).reshape(column)
        return self._back(self._xhat * gamma + beta)

    def update_statistics(self, mean, var, count) -> None:
        """Move the running statistics towards a batch's ``mean`` and biased ``var`` over
        ``count`` values per channel (unbiased: var * count / (count - 1), as PyTorch).  A
        batch of one value per channel (one vector) says nothing about the spread: it changes
        nothing (PyTorch refuses to train on it; a last batch of one image must not stop a run)."""
        if count < 2:
            return
        m = self.momentum
        running_mean, running_var = self.state["running_mean"], self.state["running_var"]
        unbiased = np.asarray(var, np.float64) * (count / (count - 1))
        self.state["running_mean"] = ((1 - m) * running_mean + m * np.asarray(mean)
                                      ).astype(running_mean.dtype)
        self.state["running_var"] = ((1 - m) * running_var + m * unbiased
                                     ).astype(running_var.dtype)

    def backward(self, dy):
        dyc, column = self._per_channel(dy)
        axes = tuple(range(1, dyc.ndim))
        xhat = self._xhat
        if self.need_param_grads:
            self.grads["gamma"] = (dyc * xhat).sum(axis=axes, dtype=np.float64).astype(dy.dtype)
            self.grads["beta"] = dyc.sum(axis=axes, dtype=np.float64).astype(dy.dtype)
        if not self.need_input_grad:
            return None
        gamma = self.params["gamma"].astype(dy.dtype, copy=False).reshape(column)
        g = dyc * gamma  # the gradient at xhat
        if not self._training:  # the statistics are constants
            return self._back(g * self._inv)
        # The batch statistics depend on x too: dx = inv * (g - mean(g) - xhat * mean(g * xhat))
        mean_g = g.mean(axis=axes, dtype=np.float64).astype(dy.dtype).reshape(column)
        mean_gx = (g * xhat).mean(axis=axes, dtype=np.float64).astype(dy.dtype).reshape(column)
        return self._back(self._inv * (g - mean_g - xhat * mean_gx))

    def config(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}


class LRN(Layer):
    """Local response normalisation across channels (AlexNet; ONNX's LRN, PyTorch's
    LocalResponseNorm for odd sizes): ``y = x / (bias + alpha / size * s) ** beta``, where ``s``
    sums ``x ** 2`` over the ``size`` channels around each one (``(size - 1) // 2`` before, the
    rest after), at the same position."""

    kind = "LRN"
    SETTINGS = {"size": int_setting(1, MAX_WINDOW, meaning="the number of channels summed"),
                "alpha": Setting("a number from 0 to 1000", lambda v: _is_number(v, 0.0, 1000.0)),
                "beta": Setting("a number from 0 to 10", lambda v: _is_number(v, 0.0, 10.0)),
                "bias": Setting("a number from 0.0001 to 1000",
                                lambda v: _is_number(v, 1e-4, 1000.0))}

    def __init__(self, size=5, alpha=1e-4, beta=0.75, bias=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.bias = int(size), float(alpha), float(beta), float(bias)

    def _output_shape(self, input_shape):
        _require_image(input_shape, self.kind)
        return input_shape

    def _window_sum(self, a, before, after):
        """Per channel, the sum of ``a`` over channels ``c - before .. c + after``."""
        out = a.copy()
        channels = a.shape[1]
        for offset in range(1, max(before, after) + 1):
            if offset <= before and offset < channels:
                out[:, offset:] += a[:, :-offset]
            if offset <= after and offset < channels:
                out[:, :-offset] += a[:, offset:]
        return out

    def forward(self, x, training=False):
        before = (self.size - 1) // 2
        self._x = x
        self._d = self.bias + (self.alpha / self.size) * self._window_sum(x * x, before,
                                                                          self.size - 1 - before)
        self._scale = self._d ** -self.beta
        return x * self._scale

    def backward(self, dy):
        # dx_j = dy_j d_j^-b - 2 a b / n x_j sum over channels c whose window holds j of
        # dy_c x_c d_c^(-b-1): a window sum with the offsets mirrored.
        before = (self.size - 1) // 2
        x = self._x
        inner = dy * x * self._scale / self._d
        mirrored = self._window_sum(inner, self.size - 1 - before, before)
        return dy * self._scale - (2 * self.alpha * self.beta / self.size) * x * mirrored

    def config(self):
        return {"size": self.size, "alpha": self.alpha, "beta": self.beta, "bias": self.bias}
