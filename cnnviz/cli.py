"""The ``cnnviz`` command: the desktop application and headless subcommands.

This module never imports Qt, so headless subcommands work without a display and start fast;
``cnnviz gui`` (or plain ``cnnviz``) imports the UI only when it runs. Subcommands live in
:mod:`cnnviz.commands`, which explains how to add one.
"""

import argparse
import importlib
import sys
from collections.abc import Sequence

from cnnviz import __version__
from cnnviz.commands import COMMANDS, UserError

PROG = "cnnviz"
DEFAULT_COMMAND = "gui"


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered subcommand.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each subcommand's parser has the default ``run`` set to its
        ``run_<name>`` function.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="See how a convolutional neural network works. "
        f"Without a command, cnnviz starts the desktop application ({PROG} {DEFAULT_COMMAND}).",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS:
        module = importlib.import_module(f"cnnviz.commands.{name}")
        command_parser = getattr(module, f"add_{name}_parser")(subparsers)
        command_parser.set_defaults(run=getattr(module, f"run_{name}"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cnnviz`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` if None.

    Returns
    -------
    int
        The exit code: 0 on success, 2 for a user error, 130 if interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([DEFAULT_COMMAND])
    try:
        return args.run(args)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
