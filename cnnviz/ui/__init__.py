"""The Qt user interface: the only part of cnnviz that imports PySide6 or pyqtgraph."""
