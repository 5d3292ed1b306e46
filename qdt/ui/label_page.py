"""The style dialog's 标注 (labels) tab and the layer tree's label toggle.

The page edits a :class:`qdt.layers.style.LabelStyle`: the text (a field — offered with its
catalogue Chinese name — or a template of ``{expression}`` parts), a condition, font size,
colours, halo, priority, camera distance range and placement. It checks the text on the layer
as it is typed and shows the first feature's label, or the problem in one line.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from qdt.layers.style import RGB, LabelStyle
from qdt.ui.i18n import tr

NAME_FIELDS = ("name", "名称", "NAME", "code")  # what a new label shows first, if the layer has it


def default_label_style(layer: Any) -> LabelStyle:
    """A first label style for ``layer``: its name field (else its first field); along the line for roads."""
    columns = [str(c) for c in getattr(layer, "columns", [])]
    text = next((c for c in NAME_FIELDS if c in columns), columns[0] if columns else "")
    geometry = getattr(layer, "geometry_type", "")
    return LabelStyle(text=text, placement="line" if geometry == "LineString" else "point")


def toggle_labels(layer: Any) -> None:
    """Switch the layer's labels on or off (a new default style when it has none)."""
    if layer.labels is None:
        layer.labels = default_label_style(layer)
    else:
        layer.labels = replace(layer.labels, enabled=not layer.labels.enabled)


def labels_shown(layer: Any) -> bool:
    return layer.labels is not None and layer.labels.enabled


def _field_items(layer: Any) -> list[tuple[str, str]]:
    """(shown text, field) for the layer's fields: ``名称 (name)`` where the catalogue names them."""
    from qdt.query.expression import FieldResolver
    from qdt.render.label_placement import feature_class_of

    columns = [str(c) for c in getattr(layer, "columns", [])]
    resolver = FieldResolver(columns, feature_class_of(layer))
    items = []
    for column in columns:
        fd = resolver.field_def(column)
        zh = getattr(fd, "zh", "") if fd is not None else ""
        items.append((f"{zh} ({column})" if zh and zh != column else column, column))
    return items


class ColourButton(QPushButton):
    """A button showing a colour; clicking it opens the colour dialog."""

    def __init__(self, rgb: RGB, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rgb: RGB = tuple(rgb)  # type: ignore[assignment]
        self.clicked.connect(self._choose)
        self._show()

    def set_rgb(self, rgb: RGB) -> None:
        self.rgb = tuple(int(c) for c in rgb)  # type: ignore[assignment]
        self._show()

    def _show(self) -> None:
        from qdt.ui.style_dialog import swatch

        self.setIcon(swatch(self.rgb, 20))
        self.setText("#{:02x}{:02x}{:02x}".format(*self.rgb))

    def _choose(self) -> None:
        colour = QColorDialog.getColor(QColor(*self.rgb), self, tr("选择颜色"))
        if colour.isValid():
            self.set_rgb((colour.red(), colour.green(), colour.blue()))


class LabelPage(QWidget):
    """Edits the label style of ``layer``; :meth:`label_style` gives the result (or raises ValueError)."""

    def __init__(self, layer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        style = layer.labels or default_label_style(layer)
        self._had_style = layer.labels is not None
        form = QFormLayout()
        self.show_labels = QCheckBox(tr("显示此图层的标注"))
        self.show_labels.setChecked(labels_shown(layer))
        form.addRow(self.show_labels)
        self.text = QComboBox()
        self.text.setEditable(True)
        for shown, column in _field_items(layer):
            self.text.addItem(shown, column)
        self.text.setEditText(style.text)
        self.text.setToolTip(tr("字段名，或含 {表达式} 的模板，如 {名称}（{高度} m）"))
        self.text.activated.connect(self._field_chosen)
        form.addRow(tr("标注文本"), self.text)
        self.where = QLineEdit(style.where)
        self.where.setPlaceholderText(tr("全部要素（如 高度 >= 60）"))
        form.addRow(tr("条件"), self.where)
        self.size = QDoubleSpinBox()
        self.size.setRange(4, 200)
        self.size.setDecimals(1)
        self.size.setSuffix(" px")
        self.size.setValue(style.size)
        form.addRow(tr("字号"), self.size)
        self.colour = ColourButton(style.colour)
        form.addRow(tr("文字颜色"), self.colour)
        self.halo_colour = ColourButton(style.halo_colour)
        form.addRow(tr("光晕颜色"), self.halo_colour)
        self.halo = QDoubleSpinBox()
        self.halo.setRange(0, 20)
        self.halo.setDecimals(1)
        self.halo.setSuffix(" px")
        self.halo.setValue(style.halo)
        form.addRow(tr("光晕宽度"), self.halo)
        self.priority = QSpinBox()
        self.priority.setRange(0, 10)
        self.priority.setValue(style.priority)
        self.priority.setToolTip(tr("标注重叠时优先级高者显示"))
        form.addRow(tr("优先级"), self.priority)
        self.min_distance = QDoubleSpinBox()
        self.max_distance = QDoubleSpinBox()
        for spin, value in ((self.min_distance, style.min_distance), (self.max_distance, style.max_distance)):
            spin.setRange(0, 1e7)
            spin.setDecimals(0)
            spin.setSuffix(" m")
            spin.setSpecialValueText(tr("不限"))
            spin.setValue(value)
        form.addRow(tr("最小相机距离"), self.min_distance)
        form.addRow(tr("最大相机距离"), self.max_distance)
        self.placement = QComboBox()
        self.placement.addItem(tr("要素上方"), "point")
        self.placement.addItem(tr("沿线（贴地）"), "line")
        self.placement.setCurrentIndex(max(0, self.placement.findData(style.placement)))
        form.addRow(tr("放置方式"), self.placement)
        self.spacing = QDoubleSpinBox()
        self.spacing.setRange(10, 1e6)
        self.spacing.setDecimals(0)
        self.spacing.setSuffix(" m")
        self.spacing.setValue(style.spacing)
        form.addRow(tr("沿线重复间距"), self.spacing)
        self.preview = QLabel("")
        self.preview.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addStretch(1)
        self.text.editTextChanged.connect(self._check)
        self.where.textChanged.connect(self._check)
        self._check()

    def _field_chosen(self, index: int) -> None:
        self.text.setEditText(str(self.text.itemData(index)))

    def _style(self) -> LabelStyle:
        enabled = self.show_labels.isChecked()
        return LabelStyle(text=self.text.currentText().strip(), where=self.where.text().strip(), enabled=enabled,
                          size=self.size.value(), colour=self.colour.rgb, halo_colour=self.halo_colour.rgb,
                          halo=self.halo.value(), priority=self.priority.value(),
                          min_distance=self.min_distance.value(), max_distance=self.max_distance.value(),
                          placement=self.placement.currentData(), spacing=self.spacing.value())

    def _check(self, *_: object) -> str | None:
        """Evaluate the text on the layer: show the first label, or the problem (returned)."""
        from qdt.render.label_placement import LabelError, label_texts

        style = self._style()
        if not style.text:
            self.preview.setStyleSheet("color: #b00020")
            self.preview.setText(tr("请选择字段或输入标注文本"))
            return self.preview.text()
        try:
            texts = label_texts(self.layer, style)
        except LabelError as exc:
            self.preview.setStyleSheet("color: #b00020")
            self.preview.setText(str(exc))
            return str(exc)
        first = next((t for t in texts if t), None)
        count = sum(1 for t in texts if t)
        self.preview.setStyleSheet("")
        self.preview.setText(tr("示例：{text}  ({count} / {total})").format(text=first or "—", count=count,
                                                                              total=len(texts)))
        return None

    def label_style(self) -> LabelStyle | None:
        """The label style the page describes (None: unlabelled, as before); ValueError with the
        message when the text or condition cannot be evaluated."""
        if not self.show_labels.isChecked() and not self._had_style:
            return None
        problem = self._check()
        if problem is not None and self.show_labels.isChecked():
            raise ValueError(problem)
        return self._style()
