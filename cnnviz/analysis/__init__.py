"""What a network looks at and what it looks for (no Qt here).

- :mod:`.saliency`: vanilla gradient, gradient x input, SmoothGrad;
- :mod:`.occlusion`: occlusion sensitivity maps;
- :mod:`.gradcam`: Grad-CAM on any feature-map layer;
- :mod:`.activation_max`: inputs that maximise a unit, a feature map or a class, and galleries;
- :mod:`.top_patches`: the images of a set that excite a unit most, cut to its receptive field;
- :mod:`.evaluation`: accuracy, confusion matrix, misclassified examples and confusion cells;
- :mod:`.display`: scaling, resampling and tiling for display;
- :mod:`.target`: the shared :class:`Target` and forward/backward passes.

Every method runs the given network's layers (their caches and ``grads``): give them a network no
other thread uses at the same time, e.g. ``model.copy()``.  Long methods take a
``progress(done, total)`` callback; returning False from it raises :class:`Cancelled`.
"""

from .activation_max import (AscentSettings, MaximizationResult, field_crop, filter_targets,
                             gallery, high_frequency_share, input_range, maximize, settings_for,
                             to_picture)
from .display import grid, normalize, resize_bilinear, to_uint8
from .evaluation import (Example, cell_examples, cell_indices, evaluate_dataset, examples,
                         misclassified_examples, most_confused, row_normalized, top_predictions)
from .gradcam import GradCamResult, grad_cam
from .occlusion import OcclusionResult, occlusion_map
from .saliency import gradient_x_input, saliency_map, smooth_grad, vanilla_gradient
from .target import Cancelled, Target, forward_backward, target_values
from .top_patches import TopPatch, top_patches, window_crop

__all__ = [
    "AscentSettings", "MaximizationResult", "field_crop", "filter_targets", "gallery", "maximize",
    "high_frequency_share", "input_range", "settings_for", "to_picture",
    "grid", "normalize", "resize_bilinear", "to_uint8", "Example", "cell_examples", "cell_indices",
    "evaluate_dataset", "examples", "misclassified_examples", "most_confused", "row_normalized",
    "top_predictions", "GradCamResult", "grad_cam", "OcclusionResult", "occlusion_map",
    "gradient_x_input", "saliency_map", "smooth_grad", "vanilla_gradient", "Cancelled", "Target",
    "forward_backward", "target_values", "TopPatch", "top_patches", "window_crop",
]
