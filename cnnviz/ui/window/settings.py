"""What cnnviz remembers between runs (``QSettings``, organisation and application ``cnnviz``).

Every value is read with an explicit ``type=`` (some platforms give strings back otherwise) and
checked, so that a damaged settings file falls back to the defaults instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

SETTINGS_ORGANIZATION = "cnnviz"
SETTINGS_APPLICATION = "cnnviz"
GEOMETRY_KEY = "main_window/geometry"
STATE_KEY = "main_window/state"
RECENT_FILES_KEY = "files/recent"
IMAGE_FOLDER_KEY = "files/image_folder"
NETWORK_FOLDER_KEY = "files/network_folder"
EXPORT_FOLDER_KEY = "files/export_folder"
#: File name (in the shipped models folder) of the example network used last.
EXAMPLE_NETWORK_KEY = "files/example_network"
BRUSH_SIZE_KEY = "canvas/brush_size"
SCHEME_KEY = "view/color_scheme"
#: The workspace shown last (its name: "explore", "train", "interpret").
WORKSPACE_KEY = "main_window/workspace"
#: Version of the saved tool bar and dock layout; bump it when the docks change so that layouts
#: saved by older versions are ignored.
STATE_VERSION = 4
MAX_RECENT_FILES = 8


def workspace_state_key(name: str) -> str:
    """Where the arrangement of the docks of workspace ``name`` is saved."""
    return f"main_window/workspaces/{name}/state"


def app_settings() -> QSettings:
    """Return the user settings of cnnviz."""
    return QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)


def read_bytes(key: str) -> QByteArray:
    value = app_settings().value(key, QByteArray())
    if isinstance(value, (bytes, bytearray)):
        return QByteArray(bytes(value))
    return value if isinstance(value, QByteArray) else QByteArray()


def read_str(key: str, default: str = "") -> str:
    value = app_settings().value(key, default, type=str)
    return value if isinstance(value, str) else default


def read_int(key: str, default: int) -> int:
    # Read untyped: type=int turns an unreadable value into 0 instead of the default.
    value = app_settings().value(key, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def write(key: str, value) -> None:
    app_settings().setValue(key, value)


def recent_files() -> list[str]:
    """The recently opened files, newest first (at most ``MAX_RECENT_FILES``)."""
    value = app_settings().value(RECENT_FILES_KEY, [], type=list)
    return [str(path) for path in value if isinstance(path, str) and path][:MAX_RECENT_FILES]


def add_recent_file(path: str | Path) -> list[str]:
    """Put ``path`` first in the recent files and return the new list."""
    path = str(Path(path).resolve())
    files = [path] + [p for p in recent_files() if p != path]
    files = files[:MAX_RECENT_FILES]
    write(RECENT_FILES_KEY, files)
    return files


def remove_recent_file(path: str) -> list[str]:
    files = [p for p in recent_files() if p != path]
    write(RECENT_FILES_KEY, files)
    return files


def last_folder(key: str) -> str:
    """The folder last used for a kind of file ("" when none or gone)."""
    folder = read_str(key)
    return folder if folder and Path(folder).is_dir() else ""


def remember_folder(key: str, path: str | Path) -> None:
    write(key, str(Path(path).resolve().parent))
