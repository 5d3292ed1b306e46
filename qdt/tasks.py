"""Long work as a task: ``run(progress, is_cancelled)`` returns a result or raises.

The UI runs a task on a worker thread and receives ``finished``/``failed`` on the GUI
thread; the CLI and tests call :meth:`Task.run_sync`. Nothing here knows about Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


class Cancelled(Exception):
    """Raised inside a task when the user cancelled it."""


class Task:
    """A unit of long work.

    Parameters
    ----------
    title
        Shown next to the progress bar ("正在打开项目…").
    fn
        ``fn(progress, is_cancelled) -> result``. ``progress(fraction, message)`` takes a
        fraction in [0, 1]; the function should call :func:`check_cancel` between steps.
    cancellable
        Whether the UI offers a cancel button.
    """

    def __init__(self, title: str, fn: Callable[[ProgressFn, CancelFn], Any], cancellable: bool = True):
        self.title = title
        self.fn = fn
        self.cancellable = cancellable

    def run(self, progress: ProgressFn, is_cancelled: CancelFn) -> Any:
        return self.fn(progress, is_cancelled)

    def run_sync(self, progress: ProgressFn | None = None) -> Any:
        return self.fn(progress or (lambda f, m: None), lambda: False)


def check_cancel(is_cancelled: CancelFn) -> None:
    if is_cancelled():
        raise Cancelled()
