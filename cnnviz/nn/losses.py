"""Loss functions: each returns ``(loss, dlogits)`` for a batch, the loss averaged over it."""

from __future__ import annotations

import numpy as np


def _log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class SoftmaxCrossEntropy:
    """Softmax followed by cross-entropy, fused for stability and a simple gradient.

    ``targets`` are integer class labels, shape (N,), or probability rows, shape (N, K).
    The gradient with respect to the logits is ``(softmax(z) - targets) / N``.
    """

    name = "softmax_cross_entropy"

    def __call__(self, logits: np.ndarray, targets: np.ndarray):
        n, k = logits.shape
        log_p = _log_softmax(logits)
        probs = np.exp(log_p)
        if targets.ndim == 1:
            rows = np.arange(n)
            loss = -log_p[rows, targets].mean()
            grad = probs
            grad[rows, targets] -= 1
        else:
            loss = -(targets * log_p).sum(axis=1).mean()
            grad = probs - targets
        grad /= n
        return float(loss), grad.astype(logits.dtype, copy=False)


class MeanSquaredError:
    """Mean over all elements of ``(y - t)^2``; integer labels are one-hot encoded first."""

    name = "mse"

    def __call__(self, outputs: np.ndarray, targets: np.ndarray):
        if targets.ndim == 1 and outputs.ndim == 2:
            onehot = np.zeros_like(outputs)
            onehot[np.arange(len(targets)), targets] = 1
            targets = onehot
        diff = outputs - targets
        return float(np.mean(diff * diff)), (2.0 / diff.size) * diff


LOSSES = {cls.name: cls for cls in (SoftmaxCrossEntropy, MeanSquaredError)}
