"""Run :class:`qdt.tasks.Task` objects on a worker thread; results arrive on the GUI thread."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from qdt.tasks import Cancelled, Task


class TaskHandle(QObject):
    """Signals of one running task; emitted from the worker, delivered (queued) on the GUI thread.

    ``progress(fraction, message)``, ``finished(result)``, ``failed(message, details)``, ``cancelled()``.
    """

    progress = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task
        self._cancel = threading.Event()
        self.done = False

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()


class _Runnable:
    """The body of one worker thread: runs the task and reports through the handle's signals."""

    def __init__(self, handle: TaskHandle) -> None:
        self.handle = handle

    def run(self) -> None:
        h = self.handle
        try:
            result = h.task.run(lambda f, m: h.progress.emit(float(f), str(m)), h.is_cancelled)
        except Cancelled:
            h.done = True
            h.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the user, none crashes the app
            h.done = True
            h.failed.emit(" ".join(str(exc).split()) or type(exc).__name__, traceback.format_exc())
        else:
            h.done = True
            h.finished.emit(result)


class TaskRunner(QObject):
    """Starts each task on its own Python thread and keeps its handle alive until it ends.

    Why Python threads and not a QThreadPool: pyproj keeps its PROJ context per Python thread
    state, and a pool thread gets a fresh thread state for every task, so a CRS touched in a
    second task on the same pool thread crashed the process (pyproj 3.7 / PROJ 9.5). A Python
    thread keeps one thread state for its life.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: set[TaskHandle] = set()
        self._threads: list[threading.Thread] = []

    def start(self, task: Task, connect: Callable[[TaskHandle], Any] | None = None, *, finished: Any = None,
              failed: Any = None, cancelled: Any = None, progress: Any = None) -> TaskHandle:
        """Run ``task`` on a worker thread. Slots (``finished`` ..., or any connections made by
        ``connect(handle)``) are connected before the worker starts: a fast task may end before the
        caller could connect to the returned handle, and connecting while the worker emits races."""
        handle = TaskHandle(task)
        self._running.add(handle)
        for sig, slot in ((handle.finished, finished), (handle.failed, failed), (handle.cancelled, cancelled),
                          (handle.progress, progress)):
            if slot is not None:
                sig.connect(slot)
        for sig in (handle.finished, handle.failed, handle.cancelled):
            sig.connect(lambda *_a, h=handle: self._running.discard(h))
        if connect is not None:
            connect(handle)
        thread = threading.Thread(target=_Runnable(handle).run, name=f"qdt-task {getattr(task, 'title', '')}",
                                  daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return handle

    def wait(self, msecs: int = -1) -> bool:
        """Wait for the running workers (at most ``msecs`` each; -1: no limit); True if all ended."""
        for thread in list(self._threads):
            thread.join(None if msecs < 0 else msecs / 1000)
        return not any(t.is_alive() for t in self._threads)

    @property
    def running(self) -> list[Any]:
        return list(self._running)
