"""Data for cnnviz: MNIST, CIFAR-10, folders of images, offline synthetic digits, image files,
digit preprocessing, dataset statistics.

Qt-free (numpy, Pillow and the standard library only). Conventions: network
images are float32 in [0, 1], (C, H, W); digits are white ink on black, 1x28x28; datasets hold
uint8 arrays, (N, H, W) grey or (N, C, H, W) channels first.
"""

from .cifar import (CIFAR10_ARCHIVE, CIFAR10_CLASSES, cifar10_cache_dir, download_cifar10,
                    is_cifar10_binary, load_cifar10, read_cifar_records)
from .datasets import (DIGIT_CLASSES, Dataset, ValidationSplit, check_network_classes,
                       check_network_input, format_input_shape, input_shape_of, to_float_batch)
from .download import (
    DEFAULT_MIRRORS,
    default_cache_dir,
    download_file,
    download_mnist,
    find_mnist,
    load_default_mnist,
    mnist_cache_dir,
    verify_mnist_folder,
)
from .errors import (CifarError, DataError, DownloadCancelled, DownloadError, ImageFolderError,
                     ImageLoadCancelled, ImageLoadError, InputShapeError, MnistError)
from .folders import IMAGE_SUFFIXES, guess_input_shape, is_image_folder, load_image_folder
from .images import LoadedImage, load_image, resize_float, to_grey, to_network_input
from .pipeline import (NetworkInput, PipelineError, batch_to_input, crop_box, image_to_input,
                       normalise, pad_geometry)
from .mnist import MNIST_FILES, find_mnist_files, has_mnist_files, load_mnist, read_idx
from .preprocess import (
    PreprocessInfo,
    center_of_mass,
    ink_is_dark,
    is_blank,
    preprocess_digit,
    preprocess_digit_info,
    preprocess_photo,
    to_white_on_black,
)
from .loaders import (CIFAR10_SHAPE, describe_data_folder, find_cifar10, load_data_folder,
                      load_default_cifar10)
from .stats import channel_statistics
from .synthetic import make_drawn_digits, make_synthetic_digits, synthetic_dataset

__all__ = [
    "CIFAR10_ARCHIVE",
    "CIFAR10_CLASSES",
    "CIFAR10_SHAPE",
    "CifarError",
    "DIGIT_CLASSES",
    "IMAGE_SUFFIXES",
    "ImageFolderError",
    "channel_statistics",
    "cifar10_cache_dir",
    "describe_data_folder",
    "download_cifar10",
    "download_file",
    "find_cifar10",
    "guess_input_shape",
    "is_cifar10_binary",
    "is_image_folder",
    "load_cifar10",
    "load_data_folder",
    "load_default_cifar10",
    "load_image_folder",
    "read_cifar_records",
    "DEFAULT_MIRRORS",
    "MNIST_FILES",
    "DataError",
    "Dataset",
    "DownloadCancelled",
    "DownloadError",
    "ImageLoadCancelled",
    "ImageLoadError",
    "InputShapeError",
    "LoadedImage",
    "MnistError",
    "NetworkInput",
    "PipelineError",
    "batch_to_input",
    "crop_box",
    "normalise",
    "pad_geometry",
    "image_to_input",
    "PreprocessInfo",
    "ValidationSplit",
    "center_of_mass",
    "check_network_classes",
    "check_network_input",
    "default_cache_dir",
    "download_mnist",
    "find_mnist",
    "find_mnist_files",
    "format_input_shape",
    "has_mnist_files",
    "ink_is_dark",
    "input_shape_of",
    "is_blank",
    "load_default_mnist",
    "load_image",
    "load_mnist",
    "make_drawn_digits",
    "make_synthetic_digits",
    "mnist_cache_dir",
    "preprocess_digit",
    "preprocess_digit_info",
    "preprocess_photo",
    "read_idx",
    "resize_float",
    "synthetic_dataset",
    "to_float_batch",
    "to_grey",
    "to_network_input",
    "to_white_on_black",
    "verify_mnist_folder",
]
