"""Evaluation: confusion sums, accuracy on the diagonal, misclassified lists and confusion cells."""

import numpy as np
import pytest

from cnnviz.analysis import (Cancelled, cell_examples, cell_indices, evaluate_dataset, examples,
                             misclassified_examples, most_confused, row_normalized,
                             top_predictions)
from cnnviz.nn import Dense, Flatten, Sequential
from cnnviz.training import evaluate


@pytest.fixture(scope="module")
def evaluated():
    """A random 4-class network on 300 random images: plenty of mistakes."""
    model = Sequential([Flatten(), Dense(out_features=4)], input_shape=(1, 6, 6), seed=3)
    rng = np.random.default_rng(0)
    x = rng.random((300, 1, 6, 6), dtype=np.float32)
    labels = rng.integers(0, 4, 300)
    return model, x, labels, evaluate_dataset(model, x, labels, batch_size=64)


def test_confusion_matrix_sums_to_the_set_and_its_diagonal_is_the_accuracy(evaluated):
    model, x, labels, ev = evaluated
    predictions = model.predict(x)
    assert ev.confusion.sum() == len(x)
    assert np.trace(ev.confusion) / len(x) == pytest.approx(ev.accuracy)
    assert ev.accuracy == pytest.approx(np.mean(predictions == labels))
    for t in range(4):
        np.testing.assert_array_equal(ev.confusion[t], np.bincount(predictions[labels == t],
                                                                   minlength=4))
        assert ev.per_class_accuracy[t] == pytest.approx(np.mean(predictions[labels == t] == t))
    plain = evaluate(model, x, labels)
    np.testing.assert_array_equal(plain.confusion, ev.confusion)
    np.testing.assert_allclose(plain.probabilities, ev.probabilities, rtol=1e-6)


def test_misclassified_examples_are_exactly_the_wrong_predictions(evaluated):
    model, x, labels, ev = evaluated
    predictions = model.predict(x)
    wrong = misclassified_examples(ev, k=3)
    assert {e.index for e in wrong} == set(np.nonzero(predictions != labels)[0])
    confidences = [e.confidence for e in wrong]
    assert confidences == sorted(confidences, reverse=True)
    probs = model.predict_proba(x)
    for e in wrong:
        assert not e.correct and e.label == labels[e.index] and e.predicted == predictions[e.index]
        order = np.argsort(-probs[e.index])[:3]
        np.testing.assert_array_equal(e.top_classes, order)
        np.testing.assert_allclose(e.top_probabilities, probs[e.index, order], rtol=1e-6)
        assert e.top_classes[0] == e.predicted and e.top_probabilities[0] == e.confidence
    assert len(misclassified_examples(ev, limit=5)) == 5


def test_cell_examples_hold_the_cell_most_confident_first(evaluated):
    _, _, labels, ev = evaluated
    for t in range(4):
        for p in range(4):
            cell = cell_examples(ev, t, p)
            assert len(cell) == ev.confusion[t, p]
            assert all(e.label == t and e.predicted == p for e in cell)
            confidences = [ev.probabilities[e.index, p] for e in cell]
            assert confidences == sorted(confidences, reverse=True)
            np.testing.assert_array_equal(cell_indices(ev, t, p), [e.index for e in cell])
    assert len(cell_examples(ev, 0, 1, limit=2)) == min(2, ev.confusion[0, 1])
    assert examples(ev, []) == []


def test_top_predictions_and_tie_order():
    probs = np.array([[0.1, 0.4, 0.4, 0.1], [0.7, 0.1, 0.1, 0.1]])
    classes, values = top_predictions(probs, k=3)
    np.testing.assert_array_equal(classes, [[1, 2, 0], [0, 1, 2]])
    np.testing.assert_array_equal(values, [[0.4, 0.4, 0.1], [0.7, 0.1, 0.1]])
    assert top_predictions(probs, k=10)[0].shape == (2, 4)


def test_row_normalised_confusion_and_most_confused_pairs():
    confusion = np.array([[5, 3, 0], [0, 0, 0], [1, 7, 2]])
    rows = row_normalized(confusion)
    np.testing.assert_allclose(rows[0], [5 / 8, 3 / 8, 0])
    np.testing.assert_array_equal(rows[1], 0)
    assert most_confused(confusion) == [(2, 1, 7), (0, 1, 3), (2, 0, 1)]
    assert most_confused(confusion, limit=1) == [(2, 1, 7)]


def test_progress_and_cancellation(evaluated):
    model, x, labels, _ = evaluated
    calls = []
    evaluate_dataset(model, x, labels, batch_size=128, progress=lambda *a: calls.append(a))
    assert calls == [(128, 300), (256, 300), (300, 300)]
    with pytest.raises(Cancelled):
        evaluate_dataset(model, x, labels, batch_size=128, progress=lambda d, t: d < 200)
