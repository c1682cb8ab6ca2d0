"""Light and dark: follow the system's colour scheme, or a choice made in the View menu.

Widgets follow the application palette by themselves; the pyqtgraph views and the canvas pick
their colours from the palette in :func:`plot_colors` / :func:`paper_and_ink` and redo it when
they receive a ``QEvent.PaletteChange`` (which Qt sends when the system scheme changes too).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

#: The choices of the View > Appearance menu, as stored in the settings.
SCHEMES = ("system", "light", "dark")

_ROLE = QPalette.ColorRole


def is_dark(palette: QPalette) -> bool:
    """True when the palette has light text on a dark window."""
    return palette.color(_ROLE.Window).lightness() < 128


def plot_colors(palette: QPalette) -> tuple[QColor, QColor]:
    """Background and foreground (axes, text) of the pyqtgraph views for ``palette``."""
    return palette.color(_ROLE.Base), palette.color(_ROLE.Text)


def paper_and_ink(palette: QPalette) -> tuple[QColor, QColor]:
    """Colours of the canvas: paper and ink (dark ink on light paper, or the reverse)."""
    return palette.color(_ROLE.Base), palette.color(_ROLE.Text)


def accent(palette: QPalette) -> QColor:
    """The highlight colour (the predicted class's bar, overlays)."""
    return palette.color(_ROLE.Highlight)


def dark_palette() -> QPalette:
    """A dark Fusion palette, for platforms that cannot switch their own scheme."""
    window, base, text = QColor(45, 45, 48), QColor(30, 30, 32), QColor(230, 230, 230)
    palette = QPalette(window)
    for role, colour in (
        (_ROLE.Window, window), (_ROLE.WindowText, text), (_ROLE.Base, base),
        (_ROLE.AlternateBase, window), (_ROLE.Text, text), (_ROLE.Button, window),
        (_ROLE.ButtonText, text), (_ROLE.ToolTipBase, base), (_ROLE.ToolTipText, text),
        (_ROLE.PlaceholderText, QColor(140, 140, 140)), (_ROLE.BrightText, QColor(255, 90, 90)),
        (_ROLE.Highlight, QColor(64, 140, 230)), (_ROLE.HighlightedText, QColor(255, 255, 255)),
        (_ROLE.Link, QColor(100, 170, 255)), (_ROLE.Mid, QColor(80, 80, 84)),
        (_ROLE.Dark, QColor(25, 25, 27)), (_ROLE.Light, QColor(70, 70, 74)),
    ):
        palette.setColor(role, colour)
    disabled = QPalette.ColorGroup.Disabled
    for role in (_ROLE.WindowText, _ROLE.Text, _ROLE.ButtonText):
        palette.setColor(disabled, role, QColor(120, 120, 120))
    return palette


def light_palette() -> QPalette:
    """The light palette of the Fusion style."""
    palette = QPalette(QColor(239, 239, 239))
    palette.setColor(_ROLE.Base, QColor(255, 255, 255))
    palette.setColor(_ROLE.Highlight, QColor(48, 140, 198))
    return palette


def apply_scheme(scheme: str) -> None:
    """Use ``"light"``, ``"dark"`` or the ``"system"`` scheme for the whole application.

    Asks the platform first (Qt 6.8+ ``QStyleHints.setColorScheme``); where it cannot switch
    (for example the offscreen and plain X11 platforms), sets the palette itself.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown colour scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    app = QGuiApplication.instance()
    hints = QGuiApplication.styleHints()
    if scheme == "system":
        if hasattr(hints, "unsetColorScheme"):
            hints.unsetColorScheme()
        app.setPalette(QPalette())
        return
    wanted = Qt.ColorScheme.Dark if scheme == "dark" else Qt.ColorScheme.Light
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(wanted)
    if hints.colorScheme() != wanted:
        app.setPalette(dark_palette() if scheme == "dark" else light_palette())
    else:
        app.setPalette(QPalette())


class ThemedPanel:
    """Mixin for a panel with a ``cursor_info`` signal and an ``_apply_palette`` method: it
    re-themes when the palette changes and clears the status line when the pointer leaves.

    List it before the Qt widget class, e.g. ``class InputView(ThemedPanel, QWidget)``.
    """

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        self.cursor_info.emit("")
        super().leaveEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)
