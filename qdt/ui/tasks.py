"""Run :class:`qdt.tasks.Task` objects on a worker thread; results arrive on the GUI thread."""

from __future__ import annotations

import threading
import traceback
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

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


class _Runnable(QRunnable):
    def __init__(self, handle: TaskHandle) -> None:
        super().__init__()
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
    """Starts tasks on a private thread pool and keeps their handles alive until they end."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._running: set[TaskHandle] = set()

    def start(self, task: Task) -> TaskHandle:
        handle = TaskHandle(task)
        self._running.add(handle)
        for sig in (handle.finished, handle.failed, handle.cancelled):
            sig.connect(lambda *_a, h=handle: self._running.discard(h))
        self.pool.start(_Runnable(handle))
        return handle

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)

    @property
    def running(self) -> list[Any]:
        return list(self._running)
