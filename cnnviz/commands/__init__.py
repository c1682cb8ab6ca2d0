"""Subcommands of the ``cnnviz`` command line.

To add a subcommand ``name``:

1. write ``cnnviz/commands/<name>.py`` with two functions:

   - ``add_<name>_parser(subparsers) -> argparse.ArgumentParser``: calls
     ``subparsers.add_parser("<name>", help=..., description=...)``, adds the options and
     returns the parser;
   - ``run_<name>(args: argparse.Namespace) -> int``: does the work and returns the exit code;

2. append ``"<name>"`` to :data:`COMMANDS`.

Import heavy or optional modules (Qt, training, torch) inside ``run_<name>``, not at module
level: every command module is imported whenever ``cnnviz`` starts, and ``cnnviz.cli`` must
stay quick and Qt-free. Raise :class:`UserError` for mistakes the user can fix (a missing
file, a bad value); ``cnnviz`` prints ``cnnviz: error: <message>`` and exits with status 2.
"""

#: Names of the subcommand modules, in the order ``cnnviz --help`` lists them.
COMMANDS: list[str] = ["gui", "summary", "train", "evaluate", "predict", "export", "bench"]


class UserError(Exception):
    """A mistake the user can fix; reported without a traceback."""
