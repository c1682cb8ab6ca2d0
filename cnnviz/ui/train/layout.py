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
    """The Training panel as wide as its two columns need (at least 38% of the window, at most
    62%), the rest for what changes while it trains."""
    width = window.width()
    needed = window.training_panel.minimumSizeHint().width() + 24  # + the dock's frame, a bar
    left = min(max(needed, width * 38 // 100), width * 62 // 100) * 100 // width
    resize_columns(window, COLUMNS, [left, 100 - left], [[100], [38, 27, 35]])
    right = width * (100 - left) // 100
    window.resizeDocks([window.docks[name] for name in ROW],
                       [right * 28 // 100, right * 36 // 100, right * 36 // 100], ACROSS)


WORKSPACE = Workspace(
    "train", "Train",
    "Choose data, build the network, train it and watch it learn",
    arrange, share)
