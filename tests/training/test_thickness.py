"""Thicker and thinner strokes in the digit augmentation (cnnviz.training.augment)."""

import numpy as np

from cnnviz.training.augment import Augmentation, change_thickness, distort


def naive_extreme(image: np.ndarray, pick) -> np.ndarray:
    """Grey dilation (pick=max) or erosion (pick=min) over 3x3, the edge repeated: plain loops."""
    h, w = image.shape
    out = np.empty_like(image)
    for y in range(h):
        for x in range(w):
            values = [image[min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)]
                      for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            out[y, x] = pick(values)
    return out


def test_thickness_blends_towards_the_dilation_or_the_erosion():
    rng = np.random.default_rng(0)
    images = rng.random((3, 9, 11)).astype(np.float32)
    amount = np.array([0.5, -0.25, 0.0])
    out = change_thickness(images, amount)
    expected = [images[0] + 0.5 * (naive_extreme(images[0], max) - images[0]),
                images[1] + 0.25 * (naive_extreme(images[1], min) - images[1]),
                images[2]]
    # ... scaled back to the image's own peak (the erosion dims it)
    expected = [e * image.max() / e.max() for e, image in zip(expected, images)]
    np.testing.assert_allclose(out, np.stack(expected), atol=1e-6)


def test_a_thinner_stroke_keeps_its_brightness():
    image = np.zeros((1, 12, 12), np.float32)
    image[0, 2:10, 4:8] = 0.8  # 4 px wide
    out = change_thickness(image, np.array([-0.5]))[0]
    assert out.max() == np.float32(0.8)
    np.testing.assert_allclose(out[5, 4:8], [0.4, 0.8, 0.8, 0.4], atol=1e-6)  # edges half
    thin = np.zeros((1, 12, 12), np.float32)
    thin[0, 2:10, 5:7] = 0.8  # 2 px wide: the erosion removes it all; dimmed, then scaled back
    np.testing.assert_allclose(change_thickness(thin, np.array([-0.5])), thin, atol=1e-6)


def test_distortions_make_strokes_thicker_and_thinner():
    x = np.zeros((400, 1, 28, 28), np.float32)
    x[:, :, 6:22, 11:15] = 1.0  # a 1, 4 px wide
    plain = distort(x, np.random.default_rng(3), Augmentation(thickness=0.0)).sum(axis=(1, 2, 3))
    varied = distort(x, np.random.default_rng(3)).sum(axis=(1, 2, 3))
    assert Augmentation().thickness > 0
    # The ink's amount spreads more widely: some strokes far thicker, some far thinner.
    assert varied.max() > plain.max() * 1.2 and varied.min() < plain.min() * 0.85
    assert varied.std() > 1.5 * plain.std()
