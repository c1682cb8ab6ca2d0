"""The Interpret workspace as it ships: why the network says what it says.

The Canvas over the Prediction (draw or open the input to explain); the Analysis panel (saliency,
SmoothGrad, occlusion, Grad-CAM of the current input) in a wide column beside them; then the
Evaluation (accuracy, confusion matrix, mistakes: a click makes a mistake the input) with
Activation Maximisation (what each filter looks for) as a tab beside it: each has the column's
whole height for its pictures.
"""

from __future__ import annotations

from cnnviz.ui.window.workspaces import Workspace, place, resize_columns

COLUMNS = [["canvas", "prediction"], ["analysis"], ["evaluation"]]


def arrange(window) -> None:
    place(window, COLUMNS)
    docks = window.docks
    window.tabifyDockWidget(docks["evaluation"], docks["activation_gallery"])
    docks["activation_gallery"].show()
    docks["evaluation"].raise_()


def share(window) -> None:
    resize_columns(window, COLUMNS, [22, 38, 40], [[60, 40], [100], [100]])


WORKSPACE = Workspace(
    "interpret", "Interpret",
    "Explain a prediction, see what filters look for, evaluate on a test set",
    arrange, share)
