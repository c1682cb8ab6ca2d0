"""Accuracy, per-class accuracy and the confusion matrix of a network on a labelled set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.nn import Sequential


@dataclass(frozen=True)
class Evaluation:
    """Results of :func:`evaluate`.

    ``confusion[t, p]`` counts examples of true class ``t`` predicted as ``p``;
    ``probabilities`` is (N, K) for every example, in the order given.
    """

    accuracy: float
    loss: float
    per_class_accuracy: np.ndarray
    confusion: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    def misclassified(self) -> np.ndarray:
        """Indices of the wrongly predicted examples, most confidently wrong first."""
        wrong = np.nonzero(self.predictions != self.labels)[0]
        confidence = self.probabilities[wrong].max(axis=1)
        return wrong[np.argsort(-confidence, kind="stable")]

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "loss": self.loss,
                "per_class_accuracy": [float(v) for v in self.per_class_accuracy],
                "confusion_matrix": self.confusion.tolist(), "count": int(self.labels.size)}


def predict_proba_batched(model: Sequential, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """``model.predict_proba`` over ``x`` (N, *input_shape) in batches; returns (N, K) float32."""
    out = [model.predict_proba(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0,) + model.output_shape, np.float32)


def evaluate(model: Sequential, x: np.ndarray, labels: np.ndarray, batch_size: int = 500) -> Evaluation:
    """Evaluate ``model`` on images ``x`` (N, *input_shape) float32 and integer ``labels`` (N,)."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = predict_proba_batched(model, x, batch_size)
    k = probs.shape[1]
    pred = probs.argmax(axis=1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.zeros(k), where=totals > 0)
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return Evaluation(accuracy=float((pred == labels).mean()) if len(labels) else 0.0,
                      loss=float(-np.log(picked).mean()) if len(labels) else 0.0,
                      per_class_accuracy=per_class, confusion=confusion, probabilities=probs,
                      labels=labels)
