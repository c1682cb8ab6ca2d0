"""``cnnviz gui``: start the desktop application (also what plain ``cnnviz`` does)."""

import argparse
import os
import sys

from cnnviz.commands import UserError
from cnnviz.commands._common import add_contract_options, contract_changes


def add_gui_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``gui`` subcommand.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The object returned by ``ArgumentParser.add_subparsers``.

    Returns
    -------
    argparse.ArgumentParser
        The parser of the subcommand.
    """
    parser = subparsers.add_parser(
        "gui",
        help="start the desktop application (the default)",
        description="Start the desktop application.",
    )
    parser.add_argument("--model", metavar="PATH", help="network file (.npz or .onnx) to open")
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="image to open as the input")
    add_contract_options(parser, "the network file's own; with --model only")
    return parser


def run_gui(args: argparse.Namespace) -> int:
    """Start the desktop application and return its exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments with ``model`` and ``image`` (paths or None).

    Returns
    -------
    int
        The exit code of the Qt event loop.

    Raises
    ------
    UserError
        If a given file does not exist, no display is available or Qt cannot be loaded.
    """
    for path in (args.model, args.image):
        if path is not None and not os.path.isfile(path):
            raise UserError(f"no such file: {path}")
    changes = contract_changes(args)  # the names read now; checked against the network later
    if changes and args.model is None:
        raise UserError(f"{' '.join('--' + key for key in changes)}: only with --model (the "
                        f"network whose input they describe)")
    _check_display()
    try:
        from cnnviz.ui.window.app import run_app
    except ImportError as exc:
        raise UserError(
            f"cannot load Qt ({exc}); on Debian/Ubuntu install the Qt system libraries "
            "listed in README.md"
        ) from exc
    extra = {"contract_changes": changes} if changes else {}
    return run_app(sys.argv[:1], model=args.model, image=args.image, **extra)


def _check_display() -> None:
    """Fail early, instead of Qt aborting, when Linux has no display to draw on."""
    if not sys.platform.startswith("linux"):
        return
    if any(os.environ.get(name) for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")):
        return
    raise UserError(
        "no display found (DISPLAY and WAYLAND_DISPLAY are not set); run cnnviz in a desktop "
        "session or under Xvfb, e.g. `xvfb-run cnnviz`"
    )
