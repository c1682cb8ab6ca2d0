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

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        for name, p in params.items():
            self._update(name, p, self._decayed(p, grads[name]))

    def _update(self, name, p, g):
        raise NotImplementedError

    def config(self) -> dict:
        raise NotImplementedError


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

    def config(self):
        return {"name": "sgd", "lr": self.lr, "momentum": self.momentum,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as ``torch.optim.Adam``."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def step(self, params, grads):
        self._t = self.steps + 1
        super().step(params, grads)

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
