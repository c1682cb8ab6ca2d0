"""The main window's "Inside the network" part: the Feature Maps, Filters and Layers panels and the
receptive field that ties them to the Network Input (where each goes: the workspaces' layouts).

A mixin of :class:`~cnnviz.ui.window.main_window.MainWindow` (which provides ``document``,
``docks``, ``add_dock``, ``input_view`` and ``_on_cursor_info``):

- Feature Maps (one layer, large) and Filters;
- Layers (every layer, in order), scrolling when its dock is small;
- the :class:`~cnnviz.ui.explore.receptive_field.ReceptiveFieldController` draws the hovered unit's
  receptive field on the Network Input and its windows in the Layers panel, writes the status bar
  and opens the step-by-step calculation of a clicked unit.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

from cnnviz.ui.explore.layers_overview import LayersOverview
from cnnviz.ui.explore.receptive_field import ReceptiveFieldController
from cnnviz.ui.shared.feature_maps import FeatureMapsView
from cnnviz.ui.shared.filters_view import FiltersView
from cnnviz.ui.shared.panel_scroll_area import PanelScrollArea


def scrollable(panel: QWidget) -> QScrollArea:
    """``panel`` in a frameless scroll area that scrolls when the dock is smaller than the panel's
    minimum size."""
    return QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame, widget=panel)


class NetworkDocks:
    """Feature Maps, Filters and Layers docks and the receptive-field controller."""

    def create_network_panels(self) -> None:
        """Create the three panels in docks (call from ``create_panels`` once the Canvas,
        Network Input and Prediction docks exist, before the analysis panels join them)."""
        self.feature_maps = FeatureMapsView(self.document)
        self.filters_view = FiltersView(self.document)
        self.layers_overview = LayersOverview(self.document)
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        # Scrolling below its minimum size: its row of controls alone is wider than the room a
        # laptop's screen leaves beside the Canvas and the Network Input.
        self.add_dock("feature_maps", "Feature Maps", PanelScrollArea(self.feature_maps), left,
                      "one layer's activations, large: hover a unit for its receptive field, "
                      "click it for its calculation")
        self.add_dock("filters", "Filters", PanelScrollArea(self.filters_view), left,
                      "every kernel and bias of a convolution layer")
        self.layers_area = scrollable(self.layers_overview)
        self.add_dock("layers", "Layers", self.layers_area, left,
                      "every layer in order with its maps: click one to see it large")
        self.receptive_field = ReceptiveFieldController(
            self.document, self.input_view, self.layers_overview, self.feature_maps,
            self.filters_view, self)
        for source in (self.receptive_field, self.filters_view):
            source.cursor_info.connect(self._on_cursor_info)
        self.feature_maps.layer_changed.connect(self._scroll_to_layer)

    @Slot(int)
    def _scroll_to_layer(self, index: int) -> None:
        """Keep the row of the layer shown large in view when the Layers panel scrolls."""
        span = self.layers_overview.row_span(index)
        if span is None:
            return
        top, bottom = span
        self.layers_area.ensureVisible(0, (top + bottom) // 2, 0, (bottom - top) // 2 + 16)
