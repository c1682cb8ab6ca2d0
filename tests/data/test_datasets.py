"""Where data meets a network: the shape check every command and panel shares."""

import numpy as np
import pytest

from cnnviz.data import InputShapeError, check_network_input, input_shape_of


def test_the_network_input_check_names_both_shapes():
    grey = np.zeros((4, 28, 28), np.uint8)
    assert input_shape_of(grey) == (1, 28, 28)
    check_network_input((1, 28, 28), grey)                      # fits: no error
    with pytest.raises(InputShapeError) as caught:
        check_network_input((3, 32, 32), grey, "the test digits")
    assert caught.value.network_shape == (3, 32, 32) and caught.value.data_shape == (1, 28, 28)
    message = str(caught.value)
    assert "takes 3x32x32" in message and "the test digits are 1x28x28" in message
    assert "choose a network made for 1x28x28 images" in message
    with pytest.raises(InputShapeError):                         # same pixels, other layout
        check_network_input((1, 32, 28), np.zeros((2, 28, 32), np.uint8))


def _advice_messages(tmp_path, monkeypatch):
    """The messages of every way MNIST can be missing, as the window and the commands show them."""
    from cnnviz.data import DataError, download_mnist, load_default_mnist, load_mnist

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("CNNVIZ_MNIST_DIR", str(empty))
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "cache"))
    attempts = [lambda: load_mnist(tmp_path / "nowhere"), lambda: load_mnist(empty),
                lambda: load_default_mnist(download=False),
                lambda: download_mnist(cache_dir=tmp_path / "cache",
                                       mirrors=["http://127.0.0.1:9/"], timeout=2)]
    messages = []
    for attempt in attempts:
        with pytest.raises(DataError) as caught:
            attempt()
        messages.append(str(caught.value))
    return messages


def test_missing_mnist_messages_say_what_to_type_or_click(tmp_path, monkeypatch):
    import re

    for message in _advice_messages(tmp_path, monkeypatch):
        assert not re.search(r"cnnviz\.[a-z_]+|synthetic_dataset|download_mnist|\w\(\)", message)
        assert "--data offline" in message and "Offline digits in the Training panel" in message


def test_the_class_check_needs_one_score_per_label():
    from cnnviz.data import check_network_classes

    labels = np.array([0, 3, 9, 2])
    check_network_classes((10,), labels)
    check_network_classes((12,), labels)                          # spare scores are fine
    with pytest.raises(InputShapeError, match="gives 5 class scores .* labels 0 to 9"):
        check_network_classes((5,), labels, "the digits")
    with pytest.raises(InputShapeError, match="a 16x5x5 output, not one score per class"):
        check_network_classes((16, 5, 5), labels)


def test_an_mnist_folder_that_is_not_one_says_why(tmp_path):
    from cnnviz.data import MnistError, load_mnist

    afile = tmp_path / "digits.png"
    afile.write_bytes(b"x")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for path, why in [(tmp_path / "nowhere", "does not exist"), (afile, "is not a folder"),
                      (loop, "cannot be opened (")]:
        with pytest.raises(MnistError) as caught:
            load_mnist(path)
        assert str(caught.value).startswith(f"MNIST folder {path} {why}")


def test_the_shipped_network_is_suggested_only_where_it_fits():
    digits = np.zeros((2, 28, 28), np.uint8)
    with pytest.raises(InputShapeError, match=r"1x28x28 images \(such as the shipped lenet5\)"):
        check_network_input((3, 32, 32), digits)
    with pytest.raises(InputShapeError) as caught:
        check_network_input((1, 28, 28), np.zeros((2, 32, 32), np.uint8))
    assert "lenet5" not in str(caught.value)


def test_colour_datasets_keep_channels_first_and_name_their_classes():
    from cnnviz.data import DIGIT_CLASSES, Dataset, to_float_batch

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 3, 4, 5), dtype=np.uint8)
    y = (np.arange(12) % 3).astype(np.uint8)
    data = Dataset(x, y, x[:4], y[:4], name="colour", class_names=["a", "b", "c"],
                   notes=["2 files skipped"])
    assert data.input_shape == (3, 4, 5) and data.image_shape == (4, 5)
    assert data.classes == ("a", "b", "c") and data.n_classes == 3
    assert data.class_counts().tolist() == [4, 4, 4] and data.notes == ("2 files skipped",)
    floats, labels = data.as_float("test")
    assert floats.shape == (4, 3, 4, 5) and floats.dtype == np.float32
    np.testing.assert_array_equal(floats, x[:4] / np.float32(255))  # no channel axis added
    assert to_float_batch(x[:, :1]).shape == (12, 1, 4, 5)
    split = data.split_validation(3)
    assert split.train_x.shape == (9, 3, 4, 5) and split.val_x.shape == (3, 3, 4, 5)
    grey = Dataset(x[:, 0], y, x[:4, 0], y[:4])                  # the digit layout is unchanged
    assert grey.input_shape == (1, 4, 5) and grey.classes == DIGIT_CLASSES
    assert grey.class_counts().tolist() == [4, 4, 4] + [0] * 7
    assert input_shape_of(x) == (3, 4, 5)
    with pytest.raises(ValueError):
        Dataset(x[:, :, :, :, None], y, x[:4, :, :, :, None], y[:4])


def test_a_digit_network_meeting_colour_images_is_told_in_words():
    colour = np.zeros((2, 3, 32, 32), np.uint8)
    with pytest.raises(InputShapeError) as caught:
        check_network_input((1, 28, 28), colour, "the CIFAR-10 images")
    assert str(caught.value).startswith(
        "this network takes 1x28x28 images (grey, 28x28 pixels) but the CIFAR-10 images are "
        "3x32x32 (colour, 32x32 pixels): choose a network made for 3x32x32 images")
    assert caught.value.network_shape == (1, 28, 28) and caught.value.data_shape == (3, 32, 32)
