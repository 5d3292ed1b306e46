"""Validation and type coercion of attribute tables against the catalogue — vectorised.

Every rule works on whole columns (pandas/numpy); Python only formats the messages of the
offending rows, at most :data:`MAX_ROW_ISSUES` per field and rule plus one summary line.

Messages are one English line naming the layer, the field with its Chinese display name,
the feature id and the value, e.g.
``buildings: field 'height' (高度) of feature 12: 'abc' is not a number``. Rules (the
``rule`` of an issue): ``type`` (not a number / whole number / date / yes-no), ``required``,
``codelist``, ``parent`` (a sub-type code of another network), ``range``, ``length``,
``pattern``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qdt.cim.schema import CodeList, FeatureClass, FieldDef, catalogue

MAX_ROW_ISSUES = 20
# tried in this order after ISO 8601 (which also covers "2021-05-03 10:00:00" and a trailing "Z")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                "%Y/%m/%d %H:%M:%S", "%Y年%m月%d日")
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
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return repr(int(value)) if abs(value) < 1e15 else repr(value)
    return repr(value)


def _fid(index: pd.Index, i: int) -> Any:
    fid = index[i]
    try:
        return int(fid)
    except (TypeError, ValueError):
        return fid


def _row_issues(layer: str, fdef: FieldDef, frame: pd.DataFrame, bad: np.ndarray, values: pd.Series,
                rule: str, explain: str) -> list[ValidationIssue]:
    """Issues for the rows where ``bad`` is True; ``explain`` is formatted with {value}.

    Only the first :data:`MAX_ROW_ISSUES` rows get a message each; the rest are counted in
    one summary issue (``fid`` None) so a broken column of 300 000 rows stays readable.
    """
    idx = np.flatnonzero(bad)
    if idx.size == 0:
        return []
    issues = []
    for i in idx[:MAX_ROW_ISSUES]:
        fid = _fid(frame.index, int(i))
        value = values.iloc[i]
        msg = f"{layer}: field {fdef.display} of feature {fid}: {explain.format(value=_fmt(value))}"
        issues.append(ValidationIssue(layer, fdef.name, fid, value, rule, msg))
    if len(idx) > MAX_ROW_ISSUES:
        more = len(idx) - MAX_ROW_ISSUES
        fids = ", ".join(str(_fid(frame.index, int(i))) for i in idx[MAX_ROW_ISSUES:MAX_ROW_ISSUES + 5])
        issues.append(ValidationIssue(layer, fdef.name, None, None, rule,
                                      f"{layer}: field {fdef.display}: {more} more features break the same rule "
                                      f"({rule}; e.g. features {fids})"))
    return issues


def _applies(fdef: FieldDef, frame: pd.DataFrame) -> np.ndarray:
    """Rows the field applies to (``applies_to``, e.g. gas pressure only where network is RQ)."""
    mask = np.ones(len(frame), dtype=bool)
    for other, allowed in fdef.applies_to.items():
        if other in frame.columns:
            mask &= frame[other].astype("string").isin([str(a) for a in allowed]).fillna(False).to_numpy(dtype=bool)
    return mask


def _is_null(s: pd.Series) -> np.ndarray:
    """None, NaN, NaT, pd.NA and blank text (DBF pads empty fields with spaces)."""
    out = s.isna().to_numpy(dtype=bool, copy=True)
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        out |= s.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    return out


def _as_text(s: pd.Series) -> pd.Series:
    """Values as stripped text; whole floats (1.0, 20210503.0 read from a DBF) lose their '.0'."""
    if pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(v) & (np.abs(v) < 2.0 ** 53)  # floats hold whole numbers exactly up to 2^53
        whole[whole] = np.mod(v[whole], 1) == 0
        text = s.astype("string")
        if whole.any():
            text[whole] = pd.array(v[whole].astype(np.int64).astype(str), dtype="string")
        return text.str.strip()
    return s.astype("string").str.strip()


def _parse_dates(s: pd.Series) -> pd.Series:
    """Dates and datetimes (objects or text in ISO 8601 and :data:`DATE_FORMATS`) → datetime64[ns].

    Zoned text is converted to UTC and made naive; what cannot be read is NaT.
    """
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            return s.dt.tz_convert("UTC").dt.tz_localize(None)
        return s
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    present = s.notna().to_numpy(dtype=bool)
    if not present.any():
        return out
    # date/datetime objects print as "2021-05-03" / "2021-05-03 10:00:00", which ISO 8601 reads
    text = _as_text(s[present])
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
    parsed = parsed.astype("datetime64[ns]")
    for fmt in DATE_FORMATS:
        missing = parsed.isna().to_numpy(dtype=bool)
        if not missing.any():
            break
        parsed[missing] = pd.to_datetime(text[missing], format=fmt, errors="coerce")
    out[present] = parsed.to_numpy()
    return out


def _code_keys(cl: CodeList, s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The code each value stands for (a code, or a Chinese/English label) and a mask of hits.

    Dictionary lookups on whole columns (the same matching as :meth:`CodeList.code_for`);
    values that match nothing are left for the ``codelist`` rule to report.
    """
    text = _as_text(s)
    idx = text.map(cl.lookup).astype("float64")
    miss = idx.isna().to_numpy(dtype=bool)
    if miss.any():
        idx[miss] = text[miss].str.lower().map(cl.lookup_lower).astype("float64")
    if cl.dtype == "int":  # "2.0" or 2.0 for code 2
        miss = idx.isna().to_numpy(dtype=bool)
        if miss.any():
            num = pd.to_numeric(text[miss], errors="coerce")
            idx[miss] = num.map(cl.lookup_number).astype("float64")
    found = idx.notna().to_numpy(dtype=bool)
    codes = np.array(cl.codes + [None], dtype=object)
    return codes[idx.fillna(len(cl.codes)).to_numpy(dtype=np.int64)], found


def _codes(fdef: FieldDef, s: pd.Series) -> pd.Series:
    """Map labels and codes of a code-list column to codes (unknown values stay as they are)."""
    cl = catalogue().codelist(fdef.codelist)  # type: ignore[arg-type]
    codes, found = _code_keys(cl, s)
    out = s.astype(object).copy()
    if found.any():
        out[found] = codes[found]
    return out


#: ``frame.attrs`` key listing the coded fields kept as stored because they ignore their code list.
UNCODED_ATTR = "qdt_uncoded_fields"


def _ignores_codelist(fdef: FieldDef, s: pd.Series, null: np.ndarray) -> bool:
    """True when most stored values are neither codes nor labels of the field's code list: the
    layer uses its own words, which converting would destroy (they would become null)."""
    present = ~null
    if not present.any():
        return False
    _, found = _code_keys(catalogue().codelist(fdef.codelist), s[present])  # type: ignore[arg-type]
    return float(found.mean()) < 0.5


def coerce_table(cls: FeatureClass, frame: pd.DataFrame, layer: str, *,
                 keep_foreign_vocabulary: bool = True) -> tuple[pd.DataFrame, list[ValidationIssue]]:
    """Convert the columns named like the class's fields to the schema's types.

    Code-list columns accept labels ("故障") and store codes (2). Numbers may come as text
    ("12.5"); dates as ISO text, 2021/05/03, 20210503 or date objects. Values that cannot
    be converted become null and are reported (layer, field, fid, value; rule ``type``).
    Columns are matched by canonical name only (use :meth:`FeatureClass.map_columns` to
    rename source columns first). Returns a new frame; ``frame`` is not changed.

    Result dtypes: float → float64, int → Int64, date → datetime64[ns], bool → boolean,
    str → object holding str or None.

    ``keep_foreign_vocabulary``: a loaded layer whose coded column mostly holds its own words
    keeps them as stored (reported once); an editor's single value is never "a vocabulary".
    """
    out = frame.copy()
    issues: list[ValidationIssue] = []
    for fdef in cls.fields:
        if fdef.name not in out.columns:
            continue
        s = out[fdef.name]
        was_null = _is_null(s)
        if fdef.codelist:
            if keep_foreign_vocabulary and _ignores_codelist(fdef, s, was_null):
                # a third-party vocabulary ("foul", "storm"): keep what is stored, say so once;
                # filters then compare with the stored words (qdt.query.expression)
                cl = catalogue().codelist(fdef.codelist)  # type: ignore[arg-type]
                sample = ", ".join(repr(v) for v in pd.unique(s[~was_null].astype(str))[:3])
                issues.append(ValidationIssue(layer, fdef.name, None, None, "codelist",
                                              f"{layer}: field {fdef.display} does not follow the code list "
                                              f"'{cl.name}' (values such as {sample}); kept as stored"))
                out.attrs.setdefault(UNCODED_ATTR, []).append(fdef.name)
                continue
            s = _codes(fdef, s)
        if fdef.type in ("int", "float"):
            num = pd.to_numeric(s.where(~was_null), errors="coerce")
            bad = num.isna().to_numpy() & ~was_null
            issues += _row_issues(layer, fdef, out, bad, frame[fdef.name], "type", "{value} is not a number")
            if fdef.type == "int":
                with np.errstate(invalid="ignore"):  # inf (e.g. "1e400") is caught as too large below
                    frac = num.notna().to_numpy() & (np.mod(num.fillna(0).to_numpy(dtype=float), 1) != 0)
                issues += _row_issues(layer, fdef, out, frac, frame[fdef.name], "type", "{value} is not a whole number")
                num = num.where(~frac)
                # a whole number must fit the 64-bit integer a GeoPackage stores (SQLite INTEGER)
                huge = num.notna().to_numpy() & ~(np.abs(num.fillna(0).to_numpy(dtype=float)) < 2.0**63)
                issues += _row_issues(layer, fdef, out, huge, frame[fdef.name], "type",
                                      "{value} is too large for a whole-number field (64-bit)")
                num = num.where(~huge)
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
            # GeoPackage and DBF store a nullable yes/no as a number: 1.0 / 0.0 read as "1" / "0"
            text = (_as_text(s) if pd.api.types.is_float_dtype(s.dtype) else s.astype("string")).str.strip().str.lower()
            val = pd.Series(pd.NA, index=s.index, dtype="boolean")
            val[text.isin(TRUE_WORDS).fillna(False)] = True
            val[text.isin(FALSE_WORDS).fillna(False)] = False
            bad = val.isna().to_numpy() & ~was_null
            issues += _row_issues(layer, fdef, out, bad, frame[fdef.name], "type", "{value} is not yes/no")
            out[fdef.name] = val
        else:  # str: whole floats read from a DBF (1.0) become "1"; nulls stay null
            text = _as_text(s) if pd.api.types.is_float_dtype(s.dtype) else s.astype("string")
            out[fdef.name] = text.astype(object).where(~was_null, None)
    return out, issues


def validate_table(cls: FeatureClass, frame: pd.DataFrame, layer: str) -> list[ValidationIssue]:
    """Check a (coerced) table against the class.

    Rules: required (a missing required column is one issue with ``fid`` None), type,
    code list (codes only: run :func:`coerce_table` first to turn labels into codes),
    sub-type belongs to the row's network (``parent``), min/max (``range``), text length
    (``length``) and pattern (e.g. the 16-digit object code). Fields restricted with
    ``applies_to`` (gas pressure, voltage, hole count) are checked on their rows only.
    """
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
            if cl.dtype == "int":
                in_list = np.isin(pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan),
                                  np.array([float(c) for c in cl.codes]))
            else:
                in_list = _as_text(s).isin([str(c) for c in cl.codes]).fillna(False).to_numpy(dtype=bool)
            bad = ~in_list & present
            choices = ", ".join(f"{e.code} {e.zh}" for e in cl.entries[:12])
            issues += _row_issues(layer, fdef, frame, bad, s, "codelist",
                                  f"{{value}} is not in the code list {cl.zh} ({choices})")
            if fdef.parent_field and fdef.parent_field in frame.columns:
                issues += _parent_issues(layer, fdef, cl, frame, s, present & in_list)
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


def _parent_issues(layer: str, fdef: FieldDef, cl: CodeList, frame: pd.DataFrame, s: pd.Series,
                   check: np.ndarray) -> list[ValidationIssue]:
    """A sub-type code must belong to the row's network (YS is drainage, not water)."""
    parents = {str(e.code): e.parent for e in cl.entries if e.parent is not None}
    if not parents:
        return []
    own = _as_text(s).map(parents)
    other = _as_text(frame[fdef.parent_field])  # type: ignore[index]
    bad = check & own.notna().to_numpy(dtype=bool) & other.notna().to_numpy(dtype=bool)
    bad &= (own.astype("string") != other).fillna(False).to_numpy(dtype=bool)
    if not bad.any():
        return []
    parent_list = catalogue().codelist(cl.parent) if cl.parent else None
    # the explanation depends on the row's own parent: one message template per distinct parent
    issues: list[ValidationIssue] = []
    for code in pd.unique(own[bad]):
        rows = bad & (own == code).fillna(False).to_numpy(dtype=bool)
        label = parent_list.label(code) if parent_list is not None else None
        named = f"'{code}' ({label})" if label else f"'{code}'"
        issues += _row_issues(layer, fdef, frame, rows, s, "parent",
                              f"{{value}} is a sub-type of {fdef.parent_field} {named}, "
                              f"not of the row's {fdef.parent_field}")
    return issues


def validate_value(cls: FeatureClass, field_name: str, value: Any) -> ValidationIssue | None:
    """Check one value (as an editor would before accepting it); None when it is valid.

    Labels are accepted for code-list fields ("维修中" for status 3). The message names
    the class instead of a layer and has no feature id:
    ``streetlight: field 'status' (状态): 9 is not in the code list 设施状态 (...)``.
    """
    fdef = cls.field(field_name)
    frame = pd.DataFrame({field_name: pd.Series([value], dtype=object)}, index=pd.Index([0], name="fid"))
    coerced, issues = coerce_table(cls, frame, cls.name, keep_foreign_vocabulary=False)
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
    plain = FieldDef(**{**fdef.__dict__, "applies_to": {}, "parent_field": None})
    return FeatureClass(cls.name, cls.zh, cls.en, cls.geometry, cls.category, cls.level, (plain,))
