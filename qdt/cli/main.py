"""``qdt`` entry point.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``.
User errors (missing or unreadable files, bad arguments) print one line on stderr and
exit with status 2; nothing prints a traceback at the user.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from qdt import __version__

# subcommand → module under qdt.cli
COMMANDS = {
    "info": "qdt.cli.info",
    "snapshot": "qdt.cli.snapshot",
    "edit": "qdt.cli.edit",
    "query": "qdt.cli.query",
    "clearance": "qdt.cli.clearance",
    "db": "qdt.cli.db",
    "report": "qdt.cli.report",
    "export-scene": "qdt.cli.export_scene",
    "poles": "qdt.cli.poles",
    "live": "qdt.cli.live",
}


class UserError(Exception):
    """An error the user can fix; its message is printed as one line."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user."""
    from qdt.crs import CRSProblem
    from qdt.io import ReadError
    from qdt.project import ProjectError
    from qdt.query import ClearanceError, ExportError, ExpressionError, QueryError

    return (UserError, ReadError, ProjectError, CRSProblem, QueryError, ExpressionError, ClearanceError, ExportError,
            FileNotFoundError, PermissionError, IsADirectoryError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qdt", description="QDT digital-twin base map tools (青岛数字底板)")
    parser.add_argument("--version", action="version", version=f"qdt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).add_parser(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        text = f"{exc.strerror or 'cannot open'}: '{exc.filename}'"
    else:
        text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except user_errors() as exc:
        print(f"qdt {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qdt {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
