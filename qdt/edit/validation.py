"""Checking and converting edited values before they enter the edit buffer.

A value typed by a user (``"维修中"``, ``"2024-03-01"``, ``"12.5"``) becomes the value the layer
stores (code ``3``, ``Timestamp('2024-03-01')``, ``12.5``) or is refused with an
:class:`~qdt.edit.errors.EditError` naming the field (with its Chinese name), the value and
the rule. Fields of a CIM catalogue class are checked with :func:`qdt.cim.validate_value`
(type, range, code list, required, length, pattern, dates); other columns by their dtype.

The same module turns values read back from the file into the layer's representation, so
a commit can tell whether another program changed a cell (:meth:`FieldValidator.decode`),
and compares values null-aware (:func:`same_values`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

from qdt.cim import FeatureClass, FieldDef, catalogue, coerce_table, validate_value
from qdt.cim.validate import DATE_FORMATS, FALSE_WORDS, TRUE_WORDS
from qdt.edit.errors import EditError
from qdt.layers.vector import VectorLayer


def is_null(value: Any) -> bool:
    """None, NaN, NaT, pd.NA and blank text are null."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-likes are not scalars: not null
        return False


def to_python(value: Any) -> Any:
    """A numpy/pandas scalar as a plain Python value (nulls → None; Timestamps stay Timestamps)."""
    if is_null(value) and not isinstance(value, str):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _normalised(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(null mask, object array) in a form where ``==`` means "same value" across dtypes."""
    s = values
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    null = s.isna().to_numpy(dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        arr = s.astype("datetime64[ns]").to_numpy().astype(np.int64).astype(object)
    elif pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan).astype(object)
    else:
        arr = s.to_numpy(dtype=object, na_value=None)
    return null, arr


def same_values(a: pd.Series | Sequence[Any], b: pd.Series | Sequence[Any]) -> np.ndarray:
    """Element-wise "same value": equal, or both null. Integers equal equal floats; dates compare as instants."""
    a = a if isinstance(a, pd.Series) else pd.Series(list(a), dtype=object)
    b = b if isinstance(b, pd.Series) else pd.Series(list(b), dtype=object)
    if a.dtype == object and pd.api.types.is_datetime64_any_dtype(b.dtype):
        a = pd.to_datetime(a, errors="coerce")
    if b.dtype == object and pd.api.types.is_datetime64_any_dtype(a.dtype):
        b = pd.to_datetime(b, errors="coerce")
    a_null, a_arr = _normalised(a)
    b_null, b_arr = _normalised(b)
    equal = np.zeros(len(a_arr), dtype=bool)
    both = ~a_null & ~b_null
    if both.any():
        equal[both] = np.asarray(a_arr[both] == b_arr[both], dtype=bool)
    return (a_null & b_null) | equal


class FieldValidator:
    """Validation and conversion of values for the fields of one vector layer.

    Parameters
    ----------
    layer
        The layer being edited; its ``feature_class`` (if any) names the catalogue class
        whose rules apply; other columns are checked against their dtype only.
    editable
        Columns that may be edited (e.g. those stored in the file); all attribute columns
        when omitted. Others are refused with ``rule="field"``.
    """

    def __init__(self, layer: VectorLayer, editable: Collection[str] | None = None) -> None:
        self.layer = layer
        self.editable = frozenset(editable) if editable is not None else None
        self.feature_class: FeatureClass | None = None
        if layer.feature_class:
            try:
                self.feature_class = catalogue().feature_class(layer.feature_class)
            except KeyError as exc:
                raise EditError(f"{layer.name}: {exc.args[0]}", rule="session") from exc

    # --- fields -------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """How messages name the layer."""
        return self.layer.name

    def field_def(self, field: str) -> FieldDef | None:
        """The catalogue definition of ``field``, or None for a column the class does not define."""
        if self.feature_class is None or field not in self.feature_class.field_names:
            return None
        return self.feature_class.field(field)

    def display(self, field: str) -> str:
        """``'status' (状态)`` — how messages name a field."""
        fdef = self.field_def(field)
        return fdef.display if fdef is not None else f"'{field}'"

    def check_field(self, field: str) -> None:
        """Raise EditError unless ``field`` is an editable attribute column of the layer."""
        if field == self.layer.geometry_column:
            raise EditError(f"{self.label}: field '{field}' is the geometry; attribute editing cannot change it",
                            field=field, rule="field")
        if field not in self.layer.columns:
            known = ", ".join(self.layer.columns)
            raise EditError(f"{self.label}: no field '{field}' (fields: {known})", field=field, rule="field")
        if self.editable is not None and field not in self.editable:
            raise EditError(f"{self.label}: field '{field}' is not stored in the layer's file and cannot be edited",
                            field=field, rule="field")

    def label_of(self, field: str, value: Any) -> str:
        """A value as people read it: code-list codes with their Chinese label (``3 维修中``), dates as YYYY-MM-DD."""
        if is_null(value):
            return "空 (null)"
        fdef = self.field_def(field)
        if fdef is not None and fdef.codelist:
            label = catalogue().codelist(fdef.codelist).label(value)
            if label:
                return f"{to_python(value)} {label}"
        if isinstance(value, pd.Timestamp):
            return value.strftime("%Y-%m-%d") if value == value.normalize() else value.isoformat()
        return str(to_python(value))

    # --- user input → stored value -----------------------------------------------------
    def _refuse(self, field: str, value: Any, rule: str, explain: str) -> EditError:
        return EditError(f"{self.label}: field {self.display(field)}: {_fmt(value)} {explain}",
                         field=field, value=value, rule=rule)

    def coerce(self, field: str, value: Any) -> Any:
        """The value to store for ``value`` typed into ``field``, or EditError (nothing changes).

        Code-list fields accept a code or its Chinese/English label and store the code; date
        fields accept YYYY-MM-DD (and the other formats the catalogue knows) and store a
        Timestamp (milliseconds, GeoPackage's precision); blank text is null.
        """
        self.check_field(field)
        fdef = self.field_def(field)
        stored = self._coerce_catalogue(fdef, value) if fdef is not None else self._coerce_dtype(field, value)
        return self._fit_column(field, stored)

    def coerce_many(self, field: str, values: Sequence[Any]) -> list[Any]:
        """:meth:`coerce` for many values (each distinct value is checked once)."""
        self.check_field(field)
        series = pd.Series(list(values), dtype=object)
        keys = series.map(lambda v: (type(v).__name__, repr(v)))
        firsts = ~keys.duplicated()
        converted = {k: self.coerce(field, v) for k, v in zip(keys[firsts], series[firsts], strict=True)}
        return keys.map(converted).tolist()

    def _coerce_catalogue(self, fdef: FieldDef, value: Any) -> Any:
        assert self.feature_class is not None
        if isinstance(value, str):
            value = value.strip()
        if is_null(value):  # decided here: the catalogue's date parser warns on an all-null column
            if fdef.required:
                raise EditError(f"{self.label}: field {fdef.display}: a value is required (got {_fmt(value)})",
                                field=fdef.name, value=value, rule="required")
            return None
        if fdef.codelist:
            codelist = catalogue().codelist(fdef.codelist)
            if codelist.code_for(value) is None:
                choices = ", ".join(f"{e.code} {e.zh}" for e in codelist.entries[:12])
                raise self._refuse(fdef.name, value, "codelist", f"is not in the code list {codelist.zh} ({choices})")
        issue = validate_value(self.feature_class, fdef.name, value)
        if issue is not None:
            explain = issue.message.split(f"{fdef.display}: ", 1)[-1]
            raise EditError(f"{self.label}: field {fdef.display}: {explain}", field=fdef.name, value=value,
                            rule=issue.rule)
        frame = pd.DataFrame({fdef.name: pd.Series([value], dtype=object)})
        coerced, _ = coerce_table(self.feature_class, frame, self.label)
        return to_python(coerced[fdef.name].iloc[0])

    def _coerce_dtype(self, field: str, value: Any) -> Any:
        dtype = self.layer.frame[field].dtype
        if is_null(value):
            return None
        if pd.api.types.is_bool_dtype(dtype):
            word = str(value).strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise self._refuse(field, value, "type", "is not yes/no")
        if pd.api.types.is_numeric_dtype(dtype):
            number = pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").iloc[0]
            if pd.isna(number) or isinstance(value, bool):
                raise self._refuse(field, value, "type", "is not a number")
            if not np.isfinite(float(number)):
                raise self._refuse(field, value, "type", "is not a finite number")
            if pd.api.types.is_integer_dtype(dtype):
                if float(number) != int(float(number)):
                    raise self._refuse(field, value, "type", "is not a whole number")
                info = np.iinfo(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype)
                if not info.min <= int(float(number)) <= info.max:
                    raise self._refuse(field, value, "type", f"does not fit the column's {info.bits}-bit integers")
                return int(float(number))
            return float(number)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            stamp = parse_date(value)
            if stamp is None:
                raise self._refuse(field, value, "type", "is not a date (use YYYY-MM-DD)")
            return stamp
        return str(value) if not isinstance(value, str) else value.strip()

    def _fit_column(self, field: str, value: Any) -> Any:
        """Shape a valid value for the layer's column (Timestamps for datetime columns, ms precision)."""
        if value is None:
            return None
        dtype = self.layer.frame[field].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            stamp = parse_date(value)
            if stamp is None:
                raise self._refuse(field, value, "type", "is not a date (use YYYY-MM-DD)")
            stamp = stamp.floor("ms")
            tz = getattr(dtype, "tz", None)
            if tz is not None:
                stamp = stamp.tz_localize(tz) if stamp.tzinfo is None else stamp.tz_convert(tz)
            return stamp
        if pd.api.types.is_integer_dtype(dtype) and isinstance(value, float) and value.is_integer():
            return int(value)
        if pd.api.types.is_float_dtype(dtype) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    # --- file value → layer value ------------------------------------------------------
    def decode(self, field: str, raw: Sequence[Any]) -> pd.Series:
        """Values read from the GeoPackage (SQLite values) in the layer's representation.

        Applies what loading applied: ISO text → Timestamps for date columns, numbers,
        code-list labels → codes (catalogue fields), so a cell that nobody changed decodes
        to the value the layer shows.
        """
        series = pd.Series(list(raw), dtype=object)
        dtype = self.layer.frame[field].dtype
        fdef = self.field_def(field)
        if pd.api.types.is_datetime64_any_dtype(dtype) or (fdef is not None and fdef.type == "date"):
            return parse_dates(series)
        if fdef is not None:
            coerced, _ = coerce_table(self.feature_class, pd.DataFrame({field: series}), self.label)  # type: ignore[arg-type]
            return coerced[field]
        if pd.api.types.is_bool_dtype(dtype):
            return pd.to_numeric(series, errors="coerce").map(bool, na_action="ignore")
        if pd.api.types.is_numeric_dtype(dtype):
            return pd.to_numeric(series, errors="coerce")
        return series.map(str, na_action="ignore")


def parse_date(value: Any) -> pd.Timestamp | None:
    """One date/datetime value as a tz-naive Timestamp (UTC for zoned text), None if it is not one."""
    parsed = parse_dates(pd.Series([value], dtype=object)).iloc[0]
    return None if pd.isna(parsed) else parsed


def parse_dates(values: pd.Series) -> pd.Series:
    """ISO 8601 text (GeoPackage DATE/DATETIME, with or without ``Z``), the catalogue's date
    formats, and date objects → tz-naive ``datetime64[ns]`` (zoned values converted to UTC)."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    present = values.notna().to_numpy(dtype=bool)
    if not present.any():
        return out
    todo = values[present]
    is_text = todo.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    if (~is_text).any():
        objs = pd.to_datetime(todo[~is_text], errors="coerce", utc=True).dt.tz_localize(None)
        out[todo.index[~is_text]] = objs.astype("datetime64[ns]")
    text = todo[is_text].str.strip()
    if len(text):
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
        for fmt in DATE_FORMATS:
            missing = parsed.isna()
            if not missing.any():
                break
            parsed[missing] = pd.to_datetime(text[missing], format=fmt, errors="coerce")
        out[text.index] = parsed.astype("datetime64[ns]")
    return out


def _fmt(value: Any) -> str:
    value = to_python(value)
    if isinstance(value, float) and value.is_integer():
        return repr(int(value))
    return repr(value)
