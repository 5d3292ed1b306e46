"""Spatial bookmarks dock: named camera views saved in the project (as QGIS's spatial bookmarks)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qdt.project import Bookmark, Camera
from qdt.ui.i18n import tr


class BookmarksDock(QDockWidget):
    """Lists the workbench project's bookmarks; add (current view), go to, rename in place, delete.

    Signals: ``changed()`` after any add, rename or delete (the project is then modified).
    """

    changed = Signal()

    def __init__(self, bench: Any) -> None:
        super().__init__(tr("空间书签"), bench.dialog_parent)
        self.setObjectName("BookmarksDock")
        self.bench = bench
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget(body)
        self.list.itemDoubleClicked.connect(lambda item: self.go_to(self.list.row(item)))
        self.list.itemChanged.connect(self._renamed)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        self.add_button = self._button(tr("添加"), tr("以当前视图新建书签 (Ctrl+B)"), self.add_current)
        self.go_button = self._button(tr("转到"), tr("转到所选书签"), lambda: self.go_to(self.list.currentRow()))
        self.rename_button = self._button(tr("重命名"), tr("重命名所选书签"), self._edit_current)
        self.delete_button = self._button(tr("删除"), tr("删除所选书签"), lambda: self.remove(self.list.currentRow()))
        for b in (self.add_button, self.go_button, self.rename_button, self.delete_button):
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)
        self.setWidget(body)
        self._filling = False

    def _button(self, text: str, tip: str, slot: Any) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    @property
    def bookmarks(self) -> list[Bookmark]:
        project = self.bench.project
        return project.bookmarks if project is not None else []

    def refresh(self) -> None:
        """Show the project's bookmarks."""
        self._filling = True
        self.list.clear()
        for b in self.bookmarks:
            item = QListWidgetItem(b.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.list.addItem(item)
        self._filling = False

    def add(self, name: str) -> Bookmark | None:
        """Bookmark the current view as ``name``; None when there is no scene yet."""
        scene = self.bench.scene
        if scene is None or self.bench.project is None:
            return None
        bookmark = Bookmark(name, Camera.from_dict(scene.camera_state()))
        self.bench.project.bookmarks.append(bookmark)
        self.refresh()
        self.list.setCurrentRow(len(self.bookmarks) - 1)
        self.changed.emit()
        return bookmark

    def add_current(self) -> Bookmark | None:
        """Ask for a name (a numbered default offered), show the panel and bookmark the current view;
        None when cancelled or without a scene."""
        from PySide6.QtWidgets import QDialog, QInputDialog

        if self.bench.scene is None or self.bench.project is None:
            return None
        names = {b.name for b in self.bookmarks}
        n = len(self.bookmarks) + 1
        while f"{tr('书签')} {n}" in names:
            n += 1
        dialog = QInputDialog(self.bench.dialog_parent)
        dialog.setObjectName("BookmarkNameDialog")
        dialog.setWindowTitle(tr("新建空间书签"))
        dialog.setLabelText(tr("书签名称："))
        dialog.setTextValue(f"{tr('书签')} {n}")
        self.name_dialog = dialog  # for tests
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        name = dialog.textValue().strip()
        dialog.deleteLater()
        if not accepted or not name:
            return None
        self.show()  # the new bookmark is seen where it lives
        self.raise_()
        return self.add(name)

    def go_to(self, row: int) -> None:
        scene = self.bench.scene
        if scene is None or not 0 <= row < len(self.bookmarks):
            return
        scene.go_to_bookmark(self.bookmarks[row])
        self.bench.request_render()
        self.bench.notify_camera_moved()

    def rename(self, row: int, name: str) -> None:
        name = name.strip()
        if not 0 <= row < len(self.bookmarks) or not name or self.bookmarks[row].name == name:
            QTimer.singleShot(0, self.refresh)  # put the old name back (not while the item emits)
            return
        self.bookmarks[row].name = name
        item = self.list.item(row)
        if item is not None and item.text() != name:
            self._filling = True
            item.setText(name)
            self._filling = False
        self.changed.emit()

    def remove(self, row: int) -> None:
        if not 0 <= row < len(self.bookmarks):
            return
        del self.bookmarks[row]
        self.refresh()
        self.changed.emit()

    def _edit_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def _renamed(self, item: QListWidgetItem) -> None:
        if not self._filling:
            self.rename(self.list.row(item), item.text())
