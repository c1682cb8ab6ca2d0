"""The Interpret workspace as it ships: why the network says what it says.

The Analysis panel (saliency, SmoothGrad, occlusion, Grad-CAM of the current input) in a wide
column with the Canvas over the Prediction beside it (draw or open the input to explain); then the
Evaluation (accuracy, confusion matrix, mistakes: a click makes a mistake the input) over
Activation Maximisation (what each filter looks for).
"""

from __future__ import annotations

from cnnviz.ui.window.workspaces import Workspace, place, resize_columns

COLUMNS = [["canvas", "prediction"], ["analysis"], ["evaluation", "activation_gallery"]]


def arrange(window) -> None:
    place(window, COLUMNS)


def share(window) -> None:
    resize_columns(window, COLUMNS, [20, 40, 40], [[60, 40], [100], [55, 45]])


WORKSPACE = Workspace(
    "interpret", "Interpret",
    "Explain a prediction, see what filters look for, evaluate on a test set",
    arrange, share)
