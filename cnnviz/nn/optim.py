"""Optimisers and learning-rate schedules.

Optimisers update a dict of parameter arrays in place from a dict of gradients with the same
keys, keeping their state (velocities, moments) per parameter name, so that a model's parameters
can be swapped (``Sequential.named_params``) without confusing the state.
"""

from __future__ import annotations

import math

import numpy as np


class Optimizer:
    def __init__(self, lr: float, weight_decay: float = 0.0):
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.steps = 0

    def _decayed(self, p, g):
        """The gradient with L2 weight decay (coupled, as PyTorch's ``weight_decay``)."""
        return g + self.weight_decay * p if self.weight_decay else g

    #: Names of the state vectors an optimiser keeps per parameter (flat-buffer path).
    _SLOTS: tuple[str, ...] = ()

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        flat = self._flatten(params, grads)
        if flat is None:
            for name, p in params.items():
                self._update(name, p, self._decayed(p, grads[name]))
            return
        g, spans = flat
        if self.weight_decay:
            g += self.weight_decay * self._gather(params, spans, self._p_flat)
        update = self._flat_update(g)
        for name, (a, b) in spans.items():
            p = params[name]
            p -= update[a:b].reshape(p.shape)

    def step_vector(self, params: np.ndarray, grads: np.ndarray, layout) -> None:
        """The same step, for parameters and gradients that each live in one flat vector
        (``layout``: ``(name, shape)`` of each, in order; the state stays by name): no gathering
        or scattering.  ``params`` is updated in place, ``grads`` left as it is."""
        layout = tuple((name, tuple(shape)) for name, shape in layout)
        if not self._SLOTS or params.dtype != grads.dtype or params.dtype.kind != "f":
            self.step(flat_views(params, layout), flat_views(grads, layout))
            return
        self.steps += 1
        if getattr(self, "_layout", None) != layout or self._g.dtype != params.dtype:
            self._build_flat(flat_views(params, layout), layout)
        g = grads
        if self.weight_decay:
            # g + decay * p, as step() computes it (IEEE addition commutes: the same bits).
            g = np.multiply(params, self.weight_decay, out=self._g)
            g += grads
        params -= self._flat_update(g)

    # Flat buffers: every gradient, and every state vector (velocities, moments), lives in one
    # contiguous array, so that an update is a few vector operations over all the parameters at
    # once instead of several small ones per parameter; ``state[name][slot]`` are views into it.
    def _flatten(self, params, grads):
        """The gradients in one flat vector and each name's ``(start, stop)`` in it; None when
        the parameters do not share one floating-point type (then the per-parameter path)."""
        if not self._SLOTS or not params:
            return None
        dtypes = {p.dtype for p in params.values()} | {grads[n].dtype for n in params}
        if len(dtypes) != 1 or dtypes.pop().kind != "f":
            return None
        layout = tuple((name, p.shape) for name, p in params.items())
        if getattr(self, "_layout", None) != layout or self._g.dtype != next(
                iter(params.values())).dtype:
            self._build_flat(params, layout)
        return self._gather(grads, self._spans, self._g), self._spans

    def _build_flat(self, params, layout):
        spans, offset = {}, 0
        for name, shape in layout:
            size = int(np.prod(shape))
            spans[name] = (offset, offset + size)
            offset += size
        dtype = next(iter(params.values())).dtype
        self._g = np.empty(offset, dtype)
        self._p_flat = np.empty(offset, dtype)
        self._tmp = np.empty(offset, dtype)
        for slot in self._SLOTS:
            buf = np.zeros(offset, dtype)
            for name, (a, b) in spans.items():
                st = self.state.setdefault(name, {})
                old = st.get(slot)
                view = buf[a:b].reshape(params[name].shape)
                if old is not None and old.shape == view.shape:
                    view[...] = old  # carry state kept before (or by the per-parameter path)
                st[slot] = view
            setattr(self, "_" + slot, buf)
        self._spans, self._layout = spans, layout

    @staticmethod
    def _gather(arrays, spans, out):
        for name, (a, b) in spans.items():
            out[a:b].reshape(arrays[name].shape)[...] = arrays[name]
        return out

    def _flat_update(self, g):
        """The step to subtract from the flat parameters, given their flat gradient ``g``
        (left unchanged: it may be the caller's)."""
        raise NotImplementedError

    def _update(self, name, p, g):
        raise NotImplementedError

    def config(self) -> dict:
        raise NotImplementedError


def flat_views(vector, layout):
    """Views of ``vector`` by name, as ``layout`` (``(name, shape)`` pairs in order) lays it out."""
    views, offset = {}, 0
    for name, shape in layout:
        size = int(np.prod(shape))
        views[name] = vector[offset:offset + size].reshape(shape)
        offset += size
    return views


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _update(self, name, p, g):
        if self.momentum:
            v = self.state.setdefault(name, {}).get("velocity")
            if v is None:
                v = self.state[name]["velocity"] = g.copy()
            else:
                v *= self.momentum
                v += g
            g = g + self.momentum * v if self.nesterov else v
        p -= self.lr * g

    # No flat buffers: SGD does three operations per parameter, and gathering the gradients
    # into one vector first costs more than it saves (vgg-small 0.23 -> 0.31 ms a step).

    def config(self):
        return {"name": "sgd", "lr": self.lr, "momentum": self.momentum,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as ``torch.optim.Adam``."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    _SLOTS = ("m", "v")

    def step(self, params, grads):
        self._t = self.steps + 1
        super().step(params, grads)

    def step_vector(self, params, grads, layout):
        self._t = self.steps + 1
        super().step_vector(params, grads, layout)

    def _flat_update(self, g):
        # The same operations, in the same order, as _update: the same numbers to the last bit.
        m, v, tmp = self._m, self._v, self._tmp
        m *= self.beta1
        np.multiply(g, 1 - self.beta1, out=tmp)
        m += tmp
        v *= self.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.beta2
        v += tmp
        c1 = 1 - self.beta1 ** self._t
        c2 = 1 - self.beta2 ** self._t
        np.divide(v, c2, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr / c1
        return tmp

    def _update(self, name, p, g):
        st = self.state.setdefault(name, {})
        if "m" not in st:
            st["m"] = np.zeros_like(p)
            st["v"] = np.zeros_like(p)
        m, v = st["m"], st["v"]
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        c1 = 1 - self.beta1 ** self._t
        c2 = 1 - self.beta2 ** self._t
        denom = np.sqrt(v / c2)
        denom += self.eps
        p -= (self.lr / c1) * (m / denom)

    def config(self):
        return {"name": "adam", "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps, "weight_decay": self.weight_decay}


class StepLR:
    """Multiply the optimiser's learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if step_size < 1:
            raise ValueError("step_size must be at least 1")
        self.optimizer = optimizer
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)

    def step(self) -> float:
        """Advance one epoch and return the new learning rate."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr


class CosineLR:
    """Anneal the learning rate from its start value to zero over ``total_steps`` steps along half
    a cosine (as ``torch.optim.lr_scheduler.CosineAnnealingLR`` with ``eta_min=0``), one call of
    :meth:`step` per batch."""

    def __init__(self, optimizer: Optimizer, total_steps: int):
        if total_steps < 1:
            raise ValueError("total_steps must be at least 1")
        self.optimizer = optimizer
        self.total_steps = int(total_steps)
        self.base_lr = optimizer.lr
        self.steps = 0

    def lr_at(self, step: int) -> float:
        return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * min(step, self.total_steps)
                                                    / self.total_steps))

    def step(self) -> float:
        """Advance one batch and return the new learning rate."""
        self.steps += 1
        self.optimizer.lr = self.lr_at(self.steps)
        return self.optimizer.lr


def make_optimizer(name: str, **kwargs) -> Optimizer:
    """Build an optimiser by name (``"sgd"`` or ``"adam"``), passing only relevant settings."""
    cls = {"sgd": SGD, "adam": Adam}.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown optimiser {name!r}; choose sgd or adam")
    allowed = cls.__init__.__code__.co_varnames[1:cls.__init__.__code__.co_argcount]
    return cls(**{k: v for k, v in kwargs.items() if k in allowed and v is not None})
