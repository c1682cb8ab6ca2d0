"""Widgets and helpers that several workspaces use: image grids, colour maps, axes, scroll areas,
background workers, and the panels shown in more than one workspace (Prediction, Feature Maps,
Filters)."""
