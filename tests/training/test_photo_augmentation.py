"""Augmentation of photos (flips and padded crops) and the choice of augmentation by pipeline."""

import numpy as np
import pytest

from cnnviz.training import TrainConfig, Trainer, augment_batch, augmentation_for, distort
from cnnviz.training.augment import flip_crop, random_flip_crop


def naive_flip_crop(images, top, left, flip, padding):
    out = np.empty_like(images)
    h, w = images.shape[2:]
    for i, image in enumerate(images):
        padded = np.pad(image, ((0, 0), (padding, padding), (padding, padding)))
        window = padded[:, top[i]:top[i] + h, left[i]:left[i] + w]
        out[i] = window[:, :, ::-1] if flip[i] else window
    return out


@pytest.mark.parametrize("channels,padding", [(3, 4), (1, 2), (3, 0)])
def test_flip_crop_matches_padding_and_slicing_each_image(channels, padding):
    rng = np.random.default_rng(channels + padding)
    images = rng.random((9, channels, 7, 5), dtype=np.float32)
    top = rng.integers(0, 2 * padding + 1, 9)
    left = rng.integers(0, 2 * padding + 1, 9)
    flip = rng.random(9) < 0.5
    flip[:2] = (True, False)
    got = flip_crop(images, top, left, flip, padding)
    np.testing.assert_array_equal(got, naive_flip_crop(images, top, left, flip, padding))
    assert got.dtype == np.float32 and got.shape == images.shape


def test_flip_crop_refuses_offsets_outside_the_padding():
    images = np.zeros((1, 3, 4, 4), np.float32)
    with pytest.raises(ValueError):
        flip_crop(images, np.array([9]), np.array([0]), np.array([False]), padding=4)


def test_random_flip_crop_is_seeded_and_draws_every_offset_and_both_flips():
    n, padding = 300, 4
    images = 1 + np.arange(n * 3 * 6 * 6, dtype=np.float32).reshape(n, 3, 6, 6)  # all distinct
    a = random_flip_crop(images, np.random.default_rng(5), padding)
    np.testing.assert_array_equal(a, random_flip_crop(images, np.random.default_rng(5), padding))
    # Find, for each image, the one (top, left, flip) whose naive crop gives what was drawn.
    tops, lefts, flips = [], [], []
    for image, out in zip(images[:, None], a):
        found = [(t, left, f) for t in range(9) for left in range(9) for f in (False, True)
                 if np.array_equal(naive_flip_crop(image, [t], [left], [f], padding)[0], out)]
        assert len(found) == 1
        tops.append(found[0][0])
        lefts.append(found[0][1])
        flips.append(found[0][2])
    for drawn in (tops, lefts):
        counts = np.bincount(drawn, minlength=9)
        assert counts.min() > n / 9 / 2 and counts.max() < n / 9 * 2  # every offset, evenly
    assert 0.4 < np.mean(flips) < 0.6


def test_augmentation_follows_the_pipeline():
    assert augmentation_for("digits") == "digits"
    assert augmentation_for("image") == augmentation_for("none") == "photos"
    rng = np.random.default_rng(0)
    colour = rng.random((4, 3, 8, 8), dtype=np.float32)
    assert augment_batch(colour, np.random.default_rng(1), "photos").shape == colour.shape
    with pytest.raises(ValueError, match="one-channel"):
        distort(colour, rng)
    with pytest.raises(ValueError, match="unknown augmentation"):
        TrainConfig(augment=True, augmentation="sideways").validate()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_colour_network_trains_on_augmented_colour_batches(workers):
    """(N, 3, H, W) batches through the trainer, its worker processes and the photo augmentation:
    a colour-only task (red vs blue images, same brightness) is learnt."""
    from cnnviz.nn import build_preset

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 128)
    x = rng.random((128, 3, 32, 32), dtype=np.float32) * 0.2
    x[np.arange(128), 2 * y] += 0.6  # red for class 0, blue for class 1
    model = build_preset("cifar-tutorial", seed=0, outputs=2)
    config = TrainConfig(epochs=3, batch_size=32, augment=True, augmentation="photos",
                         workers=workers, seed=1)
    reports = list(Trainer(model, x[:96], y[:96], x[96:], y[96:], config=config).run())
    assert reports[-1].kind == "finished"
    assert reports[-2].val_accuracy == 1.0


def test_by_default_augmentation_follows_the_networks_channels(monkeypatch):
    """A caller that does not say (the window) gets distortions for one-channel networks and flips
    and crops for colour ones, never digit distortions of a colour batch."""
    import cnnviz.training.trainer as trainer_module
    from cnnviz.nn import build_preset

    kinds = []
    real = trainer_module.augment_batch

    def spy(x, rng, kind):
        kinds.append((x.shape[1], kind))
        return real(x, rng, kind)

    monkeypatch.setattr(trainer_module, "augment_batch", spy)
    assert TrainConfig().augmentation == "auto"
    rng = np.random.default_rng(0)
    for preset, shape in (("tiny", (1, 28, 28)), ("cifar-tutorial", (3, 32, 32))):
        x = rng.random((8, *shape), dtype=np.float32)
        y = rng.integers(0, 10, 8)
        config = TrainConfig(batch_size=8, augment=True, workers=1)
        assert list(Trainer(build_preset(preset, seed=0), x, y, config=config).run())[-1].kind \
            == "finished"
    assert kinds == [(1, "digits"), (3, "photos")]


def test_a_colour_set_without_validation_has_an_empty_colour_validation_set():
    from cnnviz.data import Dataset
    from cnnviz.training.sources import split_training_data

    images = np.zeros((6, 3, 8, 8), np.uint8)
    labels = np.arange(6, dtype=np.uint8) % 2
    data = split_training_data(Dataset(images, labels, images[:1], labels[:1]), validation=0)
    assert data.train_x.shape == (6, 3, 8, 8) and data.val_x.shape == (0, 3, 8, 8)


def test_worker_processes_give_the_one_process_gradient_of_a_colour_batch():
    from cnnviz.nn import SoftmaxCrossEntropy, build_preset
    from cnnviz.nn.parallel import ParallelGradients

    model = build_preset("vgg-small", seed=1, outputs=4)
    reference = model.copy()
    rng = np.random.default_rng(2)
    # Six images: the one process and each worker (three images) then compute every convolution
    # the same way (im2col; Winograd takes over from 2,048 output tiles, eight such images). With
    # different algorithms, a max-pooling window of ReLU outputs that are 0 in one and 3e-8 in the
    # other routes its gradient elsewhere, and the gradients differ by a few percent, rightly.
    x, y = rng.standard_normal((6, 3, 32, 32)).astype(np.float32), rng.integers(0, 4, 6)
    reference.layers[0].need_input_grad = False
    loss, grad = SoftmaxCrossEntropy()(reference.forward(x, training=True), y)
    reference.backward(grad)
    with ParallelGradients(model, 2, max_batch=6) as parallel:
        got_loss, _, grads = parallel(x, y)
    assert got_loss == pytest.approx(loss, rel=1e-5)
    for name, g in reference.named_grads().items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-4, atol=1e-6, err_msg=name)
