"""Find the files that ship with cnnviz (icons, bundled models).

The top-level ``resources/`` folder of the source tree is installed inside the package as
``cnnviz/resources/``. An installed wheel therefore has the files beside this module; a source
checkout or an editable install has them one folder up.
"""

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_INSTALLED_ROOT = _PACKAGE_DIR / "resources"
_CHECKOUT_ROOT = _PACKAGE_DIR.parent / "resources"


def resources_root() -> Path:
    """Return the folder that holds cnnviz's resources.

    Returns
    -------
    pathlib.Path
        ``cnnviz/resources`` inside the installed package if it exists, else the
        ``resources`` folder of the source checkout.

    Raises
    ------
    FileNotFoundError
        If neither folder exists (a broken installation).
    """
    for root in (_INSTALLED_ROOT, _CHECKOUT_ROOT):
        if root.is_dir():
            return root
    raise FileNotFoundError(
        f"cnnviz resources folder not found (looked for {_INSTALLED_ROOT} and {_CHECKOUT_ROOT}); "
        "reinstall cnnviz"
    )


def resource_path(*parts: str) -> Path:
    """Return the path of a file or folder shipped with cnnviz.

    Parameters
    ----------
    *parts : str
        Path components below the resources folder, e.g. ``("icons", "cnnviz.svg")``.

    Returns
    -------
    pathlib.Path
        The existing file or folder.

    Raises
    ------
    FileNotFoundError
        If the resource does not exist.
    """
    root = resources_root()
    path = root.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"cnnviz resource {'/'.join(parts)!r} not found in {root}")
    return path


def shipped_model_folders() -> list[Path]:
    """The folders of the networks shipped with cnnviz: the installed package's and, in a source
    checkout, the checkout's (resolved; those that exist)."""
    folders = [_INSTALLED_ROOT / "models"]
    if (_PACKAGE_DIR.parent / "pyproject.toml").is_file():  # a source checkout
        folders.append(_CHECKOUT_ROOT / "models")
    return [folder.resolve() for folder in folders if folder.is_dir()]


def is_shipped(path: str | os.PathLike) -> bool:
    """True when ``path`` is, or would be written into, a folder of shipped networks, or is
    another name (a link) of a shipped file: such a file must never be overwritten."""
    try:
        target = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL in the name
        return False
    for folder in shipped_model_folders():
        if target == folder or folder in target.parents:
            return True
        try:
            if target.is_file() and any(os.path.samefile(target, shipped)
                                        for shipped in folder.iterdir()):
                return True  # a hard link
        except OSError:
            continue
    return False
