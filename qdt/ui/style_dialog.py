"""Layer style dialog: single colour, categorised by a field, graduated by a numeric field.

Builds :mod:`qdt.layers.style` objects (plain data the project file saves); the layer tree
shows their legend under the layer. As in QGIS's symbology page: choose a renderer, a field,
then classify; each class colour can be changed by double-clicking its swatch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qdt.layers.style import PALETTE, RAMPS, RGB, CategorisedStyle, GraduatedStyle, SingleStyle, Style
from qdt.ui.i18n import tr

MAX_CATEGORIES = 200  # more distinct values than this is not a categorised map (QGIS warns likewise)


def swatch(rgb: RGB, size: int = 14) -> QIcon:
    """A square colour icon for legends and lists."""
    pix = QPixmap(size, size)
    pix.fill(QColor(*rgb))
    return QIcon(pix)


def _codelist(layer: Any, field: str) -> Any:
    """The CIM code list of ``field`` of the layer's feature class, or None."""
    fc = getattr(layer, "feature_class", None)
    if not fc:
        return None
    try:
        from qdt.cim import catalogue

        cat = catalogue()
        fdef = cat.feature_class(fc).field(field)
        return cat.codelist(fdef.codelist) if fdef.codelist else None
    except (ImportError, KeyError, ValueError):
        return None


def categorise(layer: Any, field: str) -> CategorisedStyle:
    """A categorised style with one class per distinct value of ``field`` (labels from code lists).

    Raises ValueError naming the field when it does not exist or has too many values.
    """
    frame = layer.frame
    if field not in frame.columns:
        raise ValueError(f"layer '{layer.name}' has no field '{field}'")
    values = pd.unique(frame[field].dropna().astype(str))
    if len(values) > MAX_CATEGORIES:
        raise ValueError(f"field '{field}' of layer '{layer.name}' has {len(values)} distinct values "
                         f"(at most {MAX_CATEGORIES} categories)")
    codelist = _codelist(layer, field)

    def label(value: str) -> str:
        text = codelist.label(value) if codelist is not None else None
        return f"{text} ({value})" if text else value

    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    order = np.lexsort((np.asarray(values, dtype=str), numeric.fillna(np.inf).to_numpy()))
    values = [values[i] for i in order]
    cats = {v: (label(v), PALETTE[i % len(PALETTE)]) for i, v in enumerate(values)}
    return CategorisedStyle(field=field, categories=cats)


def graduate(layer: Any, field: str, classes: int, method: str, ramp: str) -> GraduatedStyle:
    """A graduated style on numeric ``field``: ``method`` "equal" (equal interval) or "quantile"."""
    frame = layer.frame
    if field not in frame.columns:
        raise ValueError(f"layer '{layer.name}' has no field '{field}'")
    values = pd.to_numeric(frame[field], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).any():
        raise ValueError(f"field '{field}' of layer '{layer.name}' has no numeric values")
    make = GraduatedStyle.quantile if method == "quantile" else GraduatedStyle.equal_interval
    return make(field, values, classes=classes, ramp=ramp)


def _method_of(breaks: list[float]) -> str:
    """"equal" for evenly spaced class breaks, else "quantile" (what the dialog offers)."""
    steps = np.diff(np.asarray(breaks, dtype=float))
    return "equal" if steps.size and np.allclose(steps, steps[0], rtol=1e-6) else "quantile"


def numeric_fields(layer: Any) -> list[str]:
    frame = layer.frame
    types = pd.api.types
    return [c for c in layer.columns if types.is_numeric_dtype(frame[c]) and not types.is_bool_dtype(frame[c])]


class StyleDialog(QDialog):
    """Edit the style and opacity of one layer. ``style()`` is the style chosen; accepting the
    dialog applies it (and the opacity) to the layer."""

    def __init__(self, layer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self.setWindowTitle(tr("图层样式") + f" — {layer.name}")
        self.resize(460, 520)
        self._single_colour: RGB = (200, 200, 200)
        self._categories: CategorisedStyle | None = None
        self._graduated: GraduatedStyle | None = None
        vector = hasattr(layer, "frame") and hasattr(layer, "columns")

        form = QFormLayout()
        self.kind = QComboBox()
        self.kind.addItem(tr("单一符号"), "single")
        if vector:
            self.kind.addItem(tr("分类"), "categorised")
            self.kind.addItem(tr("分级"), "graduated")
        form.addRow(tr("样式类型"), self.kind)
        opacity_row = QHBoxLayout()
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_spin = QSpinBox()
        self.opacity_spin.setRange(0, 100)
        self.opacity_spin.setSuffix(" %")
        self.opacity_slider.valueChanged.connect(self.opacity_spin.setValue)
        self.opacity_spin.valueChanged.connect(self.opacity_slider.setValue)
        self.opacity_spin.setValue(round(layer.opacity * 100))
        opacity_row.addWidget(self.opacity_slider)
        opacity_row.addWidget(self.opacity_spin)
        form.addRow(tr("不透明度"), opacity_row)

        self.pages = QStackedWidget()
        self.pages.addWidget(self._single_page())
        if vector:
            self.pages.addWidget(self._categorised_page())
            self.pages.addWidget(self._graduated_page())
        self.kind.currentIndexChanged.connect(self.pages.setCurrentIndex)

        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.Apply)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(tr("确定"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("取消"))
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).setText(tr("应用"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self._load(layer.style)

    # --- pages ------------------------------------------------------------------------------
    def _single_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.colour_button = QPushButton()
        self.colour_button.clicked.connect(self._choose_single_colour)
        form.addRow(tr("颜色"), self.colour_button)
        return page

    def _categorised_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        self.cat_field = QComboBox()
        self._fill_fields(self.cat_field, self.layer.columns)
        self.classify_button = QPushButton(tr("生成分类"))
        self.classify_button.clicked.connect(self.classify)
        row.addWidget(QLabel(tr("字段")))
        row.addWidget(self.cat_field, 1)
        row.addWidget(self.classify_button)
        layout.addLayout(row)
        self.cat_list = self._class_list()
        self.cat_list.itemDoubleClicked.connect(self._recolour_category)
        layout.addWidget(self.cat_list)
        return page

    def _graduated_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        form = QFormLayout()
        self.grad_field = QComboBox()
        self._fill_fields(self.grad_field, numeric_fields(self.layer))
        self.grad_method = QComboBox()
        self.grad_method.addItem(tr("等间距"), "equal")
        self.grad_method.addItem(tr("分位数"), "quantile")
        self.grad_classes = QSpinBox()
        self.grad_classes.setRange(2, 12)
        self.grad_classes.setValue(5)
        self.grad_ramp = QComboBox()
        for name in RAMPS:
            self.grad_ramp.addItem(name, name)
        form.addRow(tr("字段"), self.grad_field)
        form.addRow(tr("分级方法"), self.grad_method)
        form.addRow(tr("级数"), self.grad_classes)
        form.addRow(tr("色带"), self.grad_ramp)
        layout.addLayout(form)
        self.graduate_button = QPushButton(tr("生成分级"))
        self.graduate_button.clicked.connect(self.graduate)
        layout.addWidget(self.graduate_button)
        self.grad_list = self._class_list()
        layout.addWidget(self.grad_list)
        # a changed field, method, count or ramp reclassifies at once (QGIS does the same)
        for combo in (self.grad_field, self.grad_method, self.grad_ramp):
            combo.currentIndexChanged.connect(self._regraduate)
        self.grad_classes.valueChanged.connect(self._regraduate)
        return page

    @staticmethod
    def _class_list() -> QTreeWidget:
        tree = QTreeWidget()
        tree.setRootIsDecorated(False)
        tree.setColumnCount(2)
        tree.setHeaderLabels([tr("值"), tr("图例")])
        return tree

    # --- state -----------------------------------------------------------------------------
    def _fill_fields(self, combo: QComboBox, names: list[str]) -> None:
        """Fields by their catalogue name in the interface language, the column in brackets (data: the column)."""
        from qdt.ui.editing import field_info
        from qdt.ui.inspector import catalogue_name

        for name in names:
            fdef, _ = field_info(self.layer, name)
            label = catalogue_name(fdef) if fdef is not None else ""
            combo.addItem(f"{label} ({name})" if label and label != name else name, name)

    def _load(self, style: Style) -> None:
        if isinstance(style, SingleStyle):
            self._single_colour = tuple(style.colour)  # type: ignore[assignment]
        self._update_colour_button()
        index = self.kind.findData(style.kind)
        if index >= 0:
            self.kind.setCurrentIndex(index)
        if isinstance(style, CategorisedStyle) and self.kind.findData("categorised") >= 0:
            self.cat_field.setCurrentIndex(max(self.cat_field.findData(style.field), 0))
            self._categories = CategorisedStyle(style.field, dict(style.categories), style.default)
            self._fill_categories()
        elif isinstance(style, GraduatedStyle) and self.kind.findData("graduated") >= 0:
            for combo, value in ((self.grad_field, style.field), (self.grad_ramp, style.ramp),
                                 (self.grad_method, _method_of(style.breaks))):
                combo.blockSignals(True)
                combo.setCurrentIndex(max(combo.findData(value), 0))
                combo.blockSignals(False)
            self.grad_classes.blockSignals(True)
            self.grad_classes.setValue(max(len(style.breaks) - 1, 2))
            self.grad_classes.blockSignals(False)
            self._graduated = GraduatedStyle(style.field, list(style.breaks), style.ramp, style.default)
            self._fill_graduated()

    def _update_colour_button(self) -> None:
        self.colour_button.setIcon(swatch(self._single_colour, 20))
        self.colour_button.setText("#{:02x}{:02x}{:02x}".format(*self._single_colour))

    def _choose_single_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(*self._single_colour), self, tr("选择颜色"))
        if colour.isValid():
            self.set_single_colour((colour.red(), colour.green(), colour.blue()))

    def set_single_colour(self, rgb: RGB) -> None:
        self._single_colour = tuple(int(c) for c in rgb)  # type: ignore[assignment]
        self._update_colour_button()

    def classify(self) -> None:
        """One category per distinct value of the chosen field."""
        try:
            self._categories = categorise(self.layer, self.cat_field.currentData() or "")
        except ValueError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText("")
        self._fill_categories()

    def _fill_categories(self) -> None:
        self.cat_list.clear()
        for value, (label, rgb) in (self._categories.categories.items() if self._categories else []):
            item = QTreeWidgetItem([value, label])
            item.setIcon(1, swatch(rgb))
            item.setData(0, Qt.ItemDataRole.UserRole, value)
            self.cat_list.addTopLevelItem(item)

    def _recolour_category(self, item: QTreeWidgetItem, _column: int) -> None:
        value = item.data(0, Qt.ItemDataRole.UserRole)
        label, rgb = self._categories.categories[value]
        colour = QColorDialog.getColor(QColor(*rgb), self, tr("选择颜色"))
        if colour.isValid():
            self._categories.categories[value] = (label, (colour.red(), colour.green(), colour.blue()))
            item.setIcon(1, swatch(self._categories.categories[value][1]))

    def _regraduate(self, *_: object) -> None:
        if self._graduated is not None:
            self.graduate()

    def graduate(self) -> None:
        """Classes from the chosen field, method, count and ramp."""
        if not self.grad_field.currentData():
            self.message.setText(tr("该图层没有数值字段"))
            return
        try:
            self._graduated = graduate(self.layer, self.grad_field.currentData(), self.grad_classes.value(),
                                       self.grad_method.currentData(), self.grad_ramp.currentData())
        except ValueError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText("")
        self._fill_graduated()

    def _fill_graduated(self) -> None:
        self.grad_list.clear()
        for label, rgb in (self._graduated.legend() if self._graduated else []):
            item = QTreeWidgetItem([label, ""])
            item.setIcon(1, swatch(rgb))
            self.grad_list.addTopLevelItem(item)

    def style(self) -> Style | None:
        """The style the dialog describes; None (with a message) when it is not classified yet."""
        kind = self.kind.currentData()
        if kind == "categorised":
            if self._categories is None or self._categories.field != self.cat_field.currentData():
                self.classify()
            return self._categories
        if kind == "graduated":
            if self._graduated is None or self._graduated.field != self.grad_field.currentData():
                self.graduate()
            return self._graduated
        return SingleStyle(colour=self._single_colour)

    def apply(self) -> bool:
        style = self.style()
        if style is None:
            return False
        self.layer.opacity = self.opacity_spin.value() / 100
        self.layer.style = style
        return True

    def accept(self) -> None:
        if self.apply():
            super().accept()


class OpacityWidget(QWidget):
    """Slider + spin box (0–100 %) bound to a layer's opacity; for the layer tree's context menu."""

    def __init__(self, layer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 8, 2)
        row.addWidget(QLabel(tr("不透明度")))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0, 100)
        self.spin.setDecimals(0)
        self.spin.setSuffix(" %")
        value = round(layer.opacity * 100)
        self.slider.setValue(value)
        self.spin.setValue(value)
        self.slider.valueChanged.connect(lambda v: self.spin.setValue(v))
        self.spin.valueChanged.connect(self._changed)
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)

    def _changed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(int(value))
        self.slider.blockSignals(False)
        self.layer.opacity = value / 100
