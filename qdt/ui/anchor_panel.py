"""Layer → 设置模型锚点…: place a model that has no georeference (an IFC without IfcMapConversion, a local
3D Tiles set) by an anchor — a point, a rotation and an elevation in the project CRS — that the
project stores with the layer (``"anchor": [x, y, z, rotation]``), as QGIS georeferences a layer by hand.

The dialog starts at the layer's current anchor, or at the ground point the view looks at. The model
moves in place (:func:`qdt.io.anchor.reanchor`), the project is marked modified.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QWidget,
)

from qdt.io.anchor import anchor_tuple, is_anchored, reanchor
from qdt.io.errors import ReadError
from qdt.ui.i18n import tr
from qdt.ui.panels import register_panel


class AnchorDialog(QDialog):
    """Choose an anchored layer and its anchor (x, y, elevation, rotation)."""

    def __init__(self, bench: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bench = bench
        self.setObjectName("AnchorDialog")
        self.setWindowTitle(tr("设置模型锚点"))
        form = QFormLayout(self)
        self.layer_box = QComboBox()
        self.layers = [layer for layer in bench.project.layers if is_anchored(layer)] if bench.project else []
        self.layer_box.addItems([layer.name for layer in self.layers])
        form.addRow(tr("图层"), self.layer_box)
        self.fields: dict[str, QDoubleSpinBox] = {}
        for key, label, low, high, decimals in (("x", tr("X（东）"), -1e8, 1e8, 3), ("y", tr("Y（北）"), -1e8, 1e8, 3),
                                                ("z", tr("高程"), -1e4, 1e5, 3),
                                                ("rotation", tr("旋转角（度，逆时针）"), -360.0, 360.0, 2)):
            box = QDoubleSpinBox()
            box.setRange(low, high)
            box.setDecimals(decimals)
            box.setObjectName(f"anchor_{key}")
            self.fields[key] = box
            form.addRow(label, box)
        self.note = QLabel(tr("锚点为模型局部原点在项目坐标系中的位置，随项目保存。"))
        self.note.setWordWrap(True)
        form.addRow(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        form.addRow(buttons)
        self.layer_box.currentIndexChanged.connect(self._load)
        self._load()

    def entry(self) -> Any:
        layer = self.current_layer()
        return next((e for e in self.bench.project.entries if e.layer is layer), None) if layer is not None else None

    def current_layer(self) -> Any:
        index = self.layer_box.currentIndex()
        return self.layers[index] if 0 <= index < len(self.layers) else None

    def _load(self) -> None:
        entry = self.entry()
        anchor = entry.extra.get("anchor") if entry is not None else None
        if anchor is None and self.bench.scene is not None and self.bench.scene.origin is not None:
            focal = self.bench.scene.camera_state()["focal_point"]
            anchor = [focal[0], focal[1], focal[2], 0.0]
        x, y, z, rotation = anchor_tuple(anchor)
        for key, value in zip(("x", "y", "z", "rotation"), (x, y, z, rotation), strict=True):
            self.fields[key].setValue(value)

    def anchor(self) -> list[float]:
        return [self.fields[k].value() for k in ("x", "y", "z", "rotation")]

    def apply(self) -> None:
        layer, entry = self.current_layer(), self.entry()
        if layer is None or entry is None:
            self.reject()
            return
        new = self.anchor()
        try:
            reanchor(layer, entry.extra.get("anchor"), new)
        except ReadError as exc:
            self.bench.error.emit(tr("无法设置锚点"), str(exc))
            return
        entry.extra["anchor"] = new
        self.bench.project.dirty = True
        self.bench.view.request_render()
        self.bench.message.emit(tr("已设置 {name} 的锚点").format(name=layer.name), 8000)
        self.accept()


@register_panel("anchor", area=None, menu_toggle=False)
def anchor_panel(bench: Any) -> QWidget:
    """No dock: an action in the Layer menu opening :class:`AnchorDialog`."""
    holder = QWidget(bench.dialog_parent)  # owns the action (found among the window's children); never shown
    holder.setObjectName("AnchorPanel")
    holder.hide()
    action = QAction(tr("设置模型锚点…"), holder)
    action.setObjectName("act_set_anchor")
    action.setStatusTip(tr("为无地理参考的 BIM/3D Tiles 模型设置位置、高程和旋转角"))

    def open_dialog() -> None:
        if bench.project is None:
            return
        dialog = AnchorDialog(bench, bench.dialog_parent)
        if not dialog.layers:
            bench.message.emit(tr("项目中没有需要锚点的模型图层"), 5000)
            dialog.deleteLater()
            return
        holder.dialog = dialog
        dialog.open()

    action.triggered.connect(open_dialog)
    holder.action = action
    bench.add_action(action, menu=tr("图层(&L)"))
    return holder
