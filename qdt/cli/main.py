"""``qdt`` entry point.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``.
User errors (missing or unreadable files, bad arguments) print one line on stderr and
exit with status 2; nothing prints a traceback at the user.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from qdt import __version__
from qdt.language import cli_text

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
    "export-tiles": "qdt.cli.export_tiles",
    "network": "qdt.cli.network",
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


class OneLineParser(argparse.ArgumentParser):
    """argparse with its usage errors on ONE stderr line (exit 2), like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="qdt", description="QDT digital-twin base map tools (青岛数字底板)")
    parser.add_argument("--version", action="version", version=f"qdt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).add_parser(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        text = f"{exc.strerror or cli_text('无法打开')}: '{exc.filename}'"
    else:
        text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def _stdout_closed() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = f"qdt {args.command}"
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return code
    except user_errors() as exc:
        print(f"{command}: {cli_text('错误')}: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _stdout_closed()
        print(f"{command}: {cli_text('错误：输出在全部写完之前被关闭（管道断开）')}",
              file=sys.stderr)
        return 2
    except RecursionError:
        print(f"{command}: {cli_text('错误：输入嵌套太深，无法读取')}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{command}: {cli_text('错误：内存不足，无法处理此输入；请换一个较小的文件或范围')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command}: {cli_text('已中断')}", file=sys.stderr)
        return 130
    except Exception as exc:  # a QDT bug: one line at the user (exit 1), the traceback on request
        if os.environ.get("QDT_DEBUG"):
            raise
        print(f"{command}: " + cli_text("内部错误：{kind}: {detail}（QDT 的缺陷；设置 QDT_DEBUG=1 重新运行可看详情）",
                                        kind=type(exc).__name__, detail=_one_line(exc)), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
