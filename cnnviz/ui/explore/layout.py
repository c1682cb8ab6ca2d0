"""The Explore workspace as it ships: the picture and what the network makes of it.

Left to right: the Canvas (draw, or the opened picture); Feature Maps over Filters, with the
Filter Editor beside the Filters (hidden until a weight is clicked, then shown there, so that
nothing in view is covered); the Network Input, the Prediction and the Layers overview in one
column. My Drawings (the drawings you labelled, and fine-tuning on them) is a tab behind the
Filters, where it takes no room from the canvas, the maps or the prediction. The undo History is
one click away in View ▸ Panels.
"""

from __future__ import annotations

from cnnviz.ui.window.workspaces import ACROSS, Workspace, place, resize_columns

COLUMNS = [["canvas"], ["feature_maps", "filters"], ["input", "prediction", "layers"]]


def arrange(window) -> None:
    place(window, COLUMNS)
    window.splitDockWidget(window.docks["filters"], window.docks["filter_editor"], ACROSS)
    window.docks["filter_editor"].hide()
    window.tabifyDockWidget(window.docks["filters"], window.docks["my_drawings"])
    window.docks["my_drawings"].show()
    window.docks["filters"].raise_()


def share(window) -> None:
    resize_columns(window, COLUMNS, [22, 51, 27], [[100], [60, 40], [31, 33, 36]])


WORKSPACE = Workspace(
    "explore", "Explore",
    "Draw or open a picture and look inside the network: maps, filters, receptive fields",
    arrange, share)
