"""Evaluation on a labelled set, for browsing: what :func:`cnnviz.training.evaluate` computes
(accuracy, per-class accuracy, confusion matrix, probabilities) plus progress and cancellation,
the misclassified examples with their top predictions, and the examples behind a confusion cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.nn import Sequential
from cnnviz.training.metrics import Evaluation, evaluate

from .target import Cancelled, keep_going


@dataclass(frozen=True)
class Example:
    """One evaluated example and what the network made of it.

    Attributes
    ----------
    index : int
        Position in the evaluated set.
    label, predicted : int
        True and predicted class.
    confidence : float
        Probability of the predicted class.
    top_classes, top_probabilities : ndarray, shape (k,)
        The ``k`` most probable classes, most probable first, and their probabilities.
    """

    index: int
    label: int
    predicted: int
    confidence: float
    top_classes: np.ndarray
    top_probabilities: np.ndarray

    @property
    def correct(self) -> bool:
        return self.label == self.predicted


class _ReportingModel:
    """Stands in for a network inside :func:`evaluate`: reports each batch to ``progress``."""

    def __init__(self, model: Sequential, total: int, progress):
        self._model, self._total, self._progress, self._done = model, total, progress, 0
        self.output_shape = model.output_shape

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out = self._model.predict_proba(x)
        self._done += len(x)
        if not keep_going(self._progress, self._done, self._total):
            raise Cancelled()
        return out


def evaluate_dataset(model: Sequential, x: np.ndarray, labels: np.ndarray, batch_size: int = 500,
                     progress=None) -> Evaluation:
    """:func:`cnnviz.training.evaluate` with a progress callback.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32
    labels : ndarray, shape (N,), int
    progress : callable, optional
        ``progress(done, total)`` after each batch (counting images); returning False raises
        :class:`~cnnviz.analysis.target.Cancelled`.

    Returns
    -------
    Evaluation
    """
    if progress is None:
        return evaluate(model, x, labels, batch_size)
    return evaluate(_ReportingModel(model, len(x), progress), x, labels, batch_size)


def top_predictions(probabilities: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most probable classes of each row, most probable first (ties: lower class).

    Parameters
    ----------
    probabilities : ndarray, shape (N, K)

    Returns
    -------
    classes : ndarray, shape (N, min(k, K)), int
    values : ndarray, shape (N, min(k, K))
    """
    k = min(k, probabilities.shape[1])
    classes = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return classes, np.take_along_axis(probabilities, classes, axis=1)


def examples(evaluation: Evaluation, indices, k: int = 3) -> list[Example]:
    """:class:`Example` records for the given positions of the evaluated set, in that order."""
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    classes, values = top_predictions(evaluation.probabilities[indices], k)
    return [Example(int(i), int(evaluation.labels[i]), int(c[0]), float(v[0]), c, v)
            for i, c, v in zip(indices, classes, values)]


def misclassified_examples(evaluation: Evaluation, k: int = 3, limit: int | None = None
                           ) -> list[Example]:
    """The wrongly predicted examples, most confidently wrong first, with their top ``k``
    predictions; at most ``limit`` of them."""
    return examples(evaluation, evaluation.misclassified()[:limit], k)


def cell_indices(evaluation: Evaluation, label: int, predicted: int) -> np.ndarray:
    """Positions of the examples of true class ``label`` predicted as ``predicted`` (the cell
    ``confusion[label, predicted]``), most confident prediction first."""
    hits = np.nonzero((evaluation.labels == label) & (evaluation.predictions == predicted))[0]
    confidence = evaluation.probabilities[hits, predicted]
    return hits[np.argsort(-confidence, kind="stable")]


def cell_examples(evaluation: Evaluation, label: int, predicted: int, k: int = 3,
                  limit: int | None = None) -> list[Example]:
    """:class:`Example` records of a confusion cell, most confident first (see
    :func:`cell_indices`)."""
    return examples(evaluation, cell_indices(evaluation, label, predicted)[:limit], k)


def row_normalized(confusion: np.ndarray) -> np.ndarray:
    """Each row of a confusion matrix (K, K) divided by its total: ``[t, p]`` is the fraction of
    class ``t`` predicted as ``p`` (rows without examples stay 0)."""
    totals = confusion.sum(axis=1, keepdims=True)
    return np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)


def most_confused(confusion: np.ndarray, limit: int = 10) -> list[tuple[int, int, int]]:
    """The largest off-diagonal cells as ``(true, predicted, count)``, largest first, skipping
    empty cells."""
    off = confusion.astype(np.int64).copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:limit]
    pairs = [np.unravel_index(i, off.shape) for i in order]
    return [(int(t), int(p), int(off[t, p])) for t, p in pairs if off[t, p] > 0]
