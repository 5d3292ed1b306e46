"""A status bar whose temporary messages never run into the permanent widgets (coordinates, scale).

``showMessage`` elides a long message to the room left of the permanent widgets and keeps the
whole text as the tooltip, so the cursor coordinates and the camera scale stay readable.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStatusBar, QWidget


class ElidingStatusBar(QStatusBar):
    """QStatusBar with elided temporary messages (full text in the tooltip)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.messageChanged.connect(self._message_changed)

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 - Qt's name
        room = self._message_room()
        shown = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(room, 40)) if room else text
        super().showMessage(shown, timeout)
        self._full = text  # after the signal: currentMessage() is the whole message, only the display is cut
        self.setToolTip(text if shown != text else "")

    def currentMessage(self) -> str:  # noqa: N802 - Qt's name
        """The whole message (what is drawn may be elided)."""
        return self._full if super().currentMessage() else ""

    def shown_message(self) -> str:
        """The message as drawn (elided to the room left of the permanent widgets)."""
        return super().currentMessage()

    def _message_changed(self, text: str) -> None:
        if not text:  # cleared or timed out
            self._full = ""
            self.setToolTip("")

    def _message_room(self) -> int:
        """Pixels left of the leftmost visible permanent widget."""
        lefts = [w.geometry().left() for w in self.findChildren(QWidget) if w.parent() is self and w.isVisible()
                 and w.geometry().left() > 0]
        return (min(lefts) if lefts else self.width()) - 12
