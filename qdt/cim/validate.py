"""Validation and type coercion of attribute tables against the catalogue — vectorised.

Every rule works on whole columns (pandas/numpy); Python only formats the messages of the
offending rows, at most :data:`MAX_ROW_ISSUES` per field and rule plus one summary line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qdt.cim.schema import FeatureClass, FieldDef, catalogue

MAX_ROW_ISSUES = 20
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
TRUE_WORDS = {"true", "t", "yes", "y", "1", "是", "真"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "否", "假"}


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in a table. ``fid`` is None for table-wide problems (a missing field)."""

    layer: str
    field: str
    fid: int | None
    value: Any
    rule: str
    message: str

    def __str__(self) -> str:
        return self.message


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return repr(int(value)) if abs(value) < 1e15 else repr(value)
    return repr(value.item() if isinstance(value, np.generic) else value)


def _row_issues(layer: str, fdef: FieldDef, frame: pd.DataFrame, bad: np.ndarray, values: pd.Series,
                rule: str, explain: str) -> list[ValidationIssue]:
    """Issues for the rows where ``bad`` is True; ``explain`` is formatted with {value}."""
    idx = np.flatnonzero(bad)
    issues = []
    for i in idx[:MAX_ROW_ISSUES]:
        fid = int(frame.index[i])
        value = values.iloc[i]
        msg = f"{layer}: field {fdef.display} of feature {fid}: {explain.format(value=_fmt(value))}"
        issues.append(ValidationIssue(layer, fdef.name, fid, value, rule, msg))
    if len(idx) > MAX_ROW_ISSUES:
        more = len(idx) - MAX_ROW_ISSUES
        fids = ", ".join(str(int(frame.index[i])) for i in idx[MAX_ROW_ISSUES:MAX_ROW_ISSUES + 5])
        issues.append(ValidationIssue(layer, fdef.name, None, None, rule,
                                      f"{layer}: field {fdef.display}: {more} more features break the same rule "
                                      f"({rule}; e.g. features {fids})"))
    return issues


def _applies(fdef: FieldDef, frame: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for other, allowed in fdef.applies_to.items():
        if other in frame.columns:
            mask &= frame[other].astype("string").isin([str(a) for a in allowed]).fillna(False).to_numpy(dtype=bool)
    return mask


def _is_null(s: pd.Series) -> np.ndarray:
    out = s.isna().to_numpy(dtype=bool, copy=True)
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        out |= s.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    return out


def _parse_dates(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    text = s.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    # python date/datetime objects
    is_obj_date = s.map(lambda v: hasattr(v, "year") and hasattr(v, "month"), na_action="ignore").fillna(False)
    if is_obj_date.any():
        out[is_obj_date.astype(bool)] = pd.to_datetime(s[is_obj_date.astype(bool)], errors="coerce")
    for fmt in DATE_FORMATS:
        todo = out.isna() & text.notna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    return out


def _codes(fdef: FieldDef, s: pd.Series) -> pd.Series:
    """Map labels and codes of a code-list column to codes (unknown values stay as they are)."""
    cl = catalogue().codelist(fdef.codelist)  # type: ignore[arg-type]
    uniques = pd.unique(s.dropna())
    mapping = {}
    for u in uniques:  # loop over distinct values only
        code = cl.code_for(u)
        mapping[u] = code if code is not None else u
    return s.map(mapping, na_action="ignore")


def coerce_table(cls: FeatureClass, frame: pd.DataFrame, layer: str) -> tuple[pd.DataFrame, list[ValidationIssue]]:
    """Convert the columns named like the class's fields to the schema's types.

    Code-list columns accept labels ("故障") and store codes (2). Values that cannot be
    converted become null and are reported (layer, field, fid, value). Returns a new frame.
    """
    out = frame.copy()
    issues: list[ValidationIssue] = []
    for fdef in cls.fields:
        if fdef.name not in out.columns:
            continue
        s = out[fdef.name]
        was_null = _is_null(s)
        if fdef.codelist:
            s = _codes(fdef, s)
        if fdef.type in ("int", "float"):
            num = pd.to_numeric(s.where(~was_null), errors="coerce")
            bad = num.isna().to_numpy() & ~was_null
            issues += _row_issues(layer, fdef, out, bad, frame[fdef.name], "type", "{value} is not a number")
            if fdef.type == "int":
                frac = num.notna().to_numpy() & (np.mod(num.fillna(0).to_numpy(dtype=float), 1) != 0)
                issues += _row_issues(layer, fdef, out, frac, frame[fdef.name], "type", "{value} is not a whole number")
                num = num.where(~frac)
                out[fdef.name] = num.round().astype("Int64")
            else:
                out[fdef.name] = num.astype("float64")
        elif fdef.type == "date":
            parsed = _parse_dates(s.where(~was_null))
            bad = parsed.isna().to_numpy() & ~was_null
            issues += _row_issues(layer, fdef, out, bad, frame[fdef.name], "type",
                                  "{value} is not a date (use YYYY-MM-DD)")
            out[fdef.name] = parsed
        elif fdef.type == "bool":
            text = s.astype("string").str.strip().str.lower()
            val = pd.Series(pd.NA, index=s.index, dtype="boolean")
            val[text.isin(TRUE_WORDS).fillna(False)] = True
            val[text.isin(FALSE_WORDS).fillna(False)] = False
            bad = val.isna().to_numpy() & ~was_null
            issues += _row_issues(layer, fdef, out, bad, frame[fdef.name], "type", "{value} is not yes/no")
            out[fdef.name] = val
        else:  # str: whole floats read from DBF (1.0) become "1"; nulls stay null
            if pd.api.types.is_float_dtype(s):
                s = s.map(lambda v: str(int(v)) if float(v).is_integer() else str(v), na_action="ignore")
            out[fdef.name] = s.astype("string").where(~was_null, pd.NA).astype(object).where(~was_null, None)
    return out, issues


def validate_table(cls: FeatureClass, frame: pd.DataFrame, layer: str) -> list[ValidationIssue]:
    """Check a (coerced) table against the class: required, type, code list, range, length, pattern."""
    cat = catalogue()
    issues: list[ValidationIssue] = []
    for fdef in cls.fields:
        if fdef.name not in frame.columns:
            if fdef.required and not fdef.applies_to:
                issues.append(ValidationIssue(layer, fdef.name, None, None, "required",
                                              f"{layer}: required field {fdef.display} is missing"))
            continue
        s = frame[fdef.name]
        applies = _applies(fdef, frame)
        null = _is_null(s)
        present = ~null & applies
        if fdef.required:
            issues += _row_issues(layer, fdef, frame, null & applies, s, "required", "a value is required")
        if fdef.type in ("int", "float"):
            num = pd.to_numeric(s, errors="coerce")
            not_num = num.isna().to_numpy() & present
            issues += _row_issues(layer, fdef, frame, not_num, s, "type", "{value} is not a number")
            v = num.to_numpy(dtype=float, na_value=np.nan)
            if fdef.type == "int":
                frac = present & np.isfinite(v) & (np.mod(np.nan_to_num(v), 1) != 0)
                issues += _row_issues(layer, fdef, frame, frac, s, "type", "{value} is not a whole number")
            unit = f" {fdef.unit}" if fdef.unit else ""
            if fdef.min is not None:
                low = present & (v < fdef.min)
                issues += _row_issues(layer, fdef, frame, low, s, "range",
                                      f"{{value}} is below the minimum {fdef.min:g}{unit}")
            if fdef.max is not None:
                high = present & (v > fdef.max)
                issues += _row_issues(layer, fdef, frame, high, s, "range",
                                      f"{{value}} is above the maximum {fdef.max:g}{unit}")
        elif fdef.type == "date":
            parsed = _parse_dates(s)
            bad = parsed.isna().to_numpy() & present
            issues += _row_issues(layer, fdef, frame, bad, s, "type", "{value} is not a date (use YYYY-MM-DD)")
        if fdef.codelist:
            cl = cat.codelist(fdef.codelist)
            allowed = [str(c) for c in cl.codes]
            keys = s.map(lambda v, cl=cl: str(cl._normalise(v)), na_action="ignore")
            bad = ~keys.isin(allowed).fillna(False).to_numpy(dtype=bool) & present
            choices = ", ".join(f"{e.code} {e.zh}" for e in cl.entries[:12])
            issues += _row_issues(layer, fdef, frame, bad, s, "codelist",
                                  f"{{value}} is not in the code list {cl.zh} ({choices})")
        if fdef.type == "str" and (fdef.max_length or fdef.pattern):
            text = s.astype("string")
            if fdef.max_length:
                long_ = (text.str.len() > fdef.max_length).fillna(False).to_numpy(dtype=bool) & present
                issues += _row_issues(layer, fdef, frame, long_, s, "length",
                                      f"{{value}} is longer than {fdef.max_length} characters")
            if fdef.pattern:
                ok = text.str.fullmatch(fdef.pattern).fillna(False).to_numpy(dtype=bool)
                shown = fdef.pattern.replace("{", "{{").replace("}", "}}")
                issues += _row_issues(layer, fdef, frame, present & ~ok, s, "pattern",
                                      f"{{value}} does not match the pattern {shown}")
    return issues


def validate_value(cls: FeatureClass, field_name: str, value: Any) -> ValidationIssue | None:
    """Check one value (as an editor would before accepting it); None when it is valid."""
    fdef = cls.field(field_name)
    frame = pd.DataFrame({field_name: pd.Series([value], dtype=object)}, index=pd.Index([0], name="fid"))
    coerced, issues = coerce_table(cls, frame, cls.name)
    if not issues:
        issues = validate_table(_single_field_class(cls, fdef), coerced, cls.name)
    if not issues:
        return None
    issue = issues[0]
    # an edit is about a value, not a feature: drop "of feature 0"
    msg = issue.message.replace(" of feature 0", "")
    return ValidationIssue(issue.layer, issue.field, None, value, issue.rule, msg)


def _single_field_class(cls: FeatureClass, fdef: FieldDef) -> FeatureClass:
    # conditional requirements depend on other fields that a single value does not have
    plain = FieldDef(**{**fdef.__dict__, "applies_to": {}})
    return FeatureClass(cls.name, cls.zh, cls.en, cls.geometry, cls.category, cls.level, (plain,))


