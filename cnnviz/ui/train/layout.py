"""The Train workspace as it ships: set a run up on the left, watch it learn on the right.

The Training panel (the buttons and the run's progress, the data and the hyperparameters beside
the network's layer list at full height) takes the left part of the window, as wide as it needs.
On the right: the Training Curves, with the Network Health as a tab beside them (each needs the
width for its three plots); below, the Prediction over the first layer's Filters, and beside them
the Feature Maps of the current input, all changing as the weights do.
"""

from __future__ import annotations

from cnnviz.ui.window.workspaces import ACROSS, DOWN, Workspace, place, resize_columns

COLUMNS = [["training"], ["training_curves", "prediction"]]


def arrange(window) -> None:
    place(window, COLUMNS)
    docks = window.docks
    window.tabifyDockWidget(docks["training_curves"], docks["network_health"])
    window.splitDockWidget(docks["prediction"], docks["feature_maps"], ACROSS)
    window.splitDockWidget(docks["prediction"], docks["filters"], DOWN)
    for name in ("network_health", "feature_maps", "filters"):
        docks[name].show()
    docks["training_curves"].raise_()


def share(window) -> None:
    """The Training panel as wide as its two columns need (at least 38% of the window; on a
    small screen all but 230 pixels: the panels beside it scroll, not it), the rest for what
    changes while it trains."""
    width = window.width()
    needed = window.training_panel.minimumSizeHint().width() + 8  # + the dock's frame
    left = -(-min(max(needed, width * 38 // 100), width - 230) * 100 // width)  # rounded up
    resize_columns(window, COLUMNS, [left, 100 - left], [[100], [45, 55]])
    right = width * (100 - left) // 100
    docks = window.docks
    window.resizeDocks([docks["prediction"], docks["feature_maps"]],
                       [right * 45 // 100, right * 55 // 100], ACROSS)
    height = window.height()
    window.resizeDocks([docks["prediction"], docks["filters"]],
                       [height * 25 // 100, height * 30 // 100], DOWN)


WORKSPACE = Workspace(
    "train", "Train",
    "Choose data, build the network, train it and watch it learn",
    arrange, share)
