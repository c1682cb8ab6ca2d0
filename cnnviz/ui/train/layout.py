"""The Train workspace as it ships: set a run up on the left, watch it learn on the right.

The Training panel (the buttons and the run's progress, the data and the hyperparameters beside
the network's layer list at full height) takes the left part of the window. On the right, top to
bottom: the Training Curves, the Network Health, and in one row the Prediction, the Filters and
the Feature Maps of the current input, all changing as the weights do.
"""

from __future__ import annotations

from cnnviz.ui.window.workspaces import ACROSS, Workspace, place, resize_columns

COLUMNS = [["training"], ["training_curves", "network_health", "prediction"]]
ROW = ["prediction", "filters", "feature_maps"]


def arrange(window) -> None:
    place(window, COLUMNS)
    docks = window.docks
    for left, right in zip(ROW, ROW[1:]):
        window.splitDockWidget(docks[left], docks[right], ACROSS)
        docks[right].show()


def share(window) -> None:
    resize_columns(window, COLUMNS, [59, 41], [[100], [40, 30, 30]])
    width = window.width() * 41 // 100
    window.resizeDocks([window.docks[name] for name in ROW],
                       [width * 28 // 100, width * 36 // 100, width * 36 // 100], ACROSS)


WORKSPACE = Workspace(
    "train", "Train",
    "Choose data, build the network, train it and watch it learn",
    arrange, share)
