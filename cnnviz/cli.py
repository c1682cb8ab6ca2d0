"""The ``cnnviz`` command: the desktop application and headless subcommands.

This module never imports Qt, so headless subcommands work without a display and start fast;
``cnnviz gui`` (or plain ``cnnviz``) imports the UI only when it runs. Subcommands live in
:mod:`cnnviz.commands`, which explains how to add one.
"""

import argparse
import importlib
import os
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
        The exit code: 0 on success, 2 for a user error, 130 if interrupted, 1 when standard
        output was closed before everything was written (``cnnviz summary | head -n 1``).
    """
    _tolerate_unencodable_output()
    try:
        code = _run(argv)
        if sys.stdout is not None:  # None in a gui-script on Windows (pythonw)
            sys.stdout.flush()  # a closed pipe shows now, not in the interpreter's exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 1


def gui_main() -> int:
    """The ``cnnviz-gui`` program (a gui-script: no console on Windows): ``cnnviz gui``."""
    return main([DEFAULT_COMMAND, *sys.argv[1:]])


def _run(argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run its command; user errors and Ctrl-C become exit codes."""
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself ignores a closed pipe for --help
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


def _silence_stdout() -> None:
    """Point standard output at the null device after its reader went away.

    What the Python documentation recommends for SIGPIPE: the interpreter flushes standard
    output on exit, which would raise BrokenPipeError once more, outside any handler.
    """
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def _tolerate_unencodable_output() -> None:
    """Print what the terminal's encoding cannot hold as escapes instead of failing.

    Names and paths come from files (a network's name may hold a lone surrogate); printing
    one must not end a command in UnicodeEncodeError.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (OSError, ValueError):
                pass
