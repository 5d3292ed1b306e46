"""The filter expression language: parsing, NULL logic, Chinese names and labels, errors, and properties."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdt.cim import catalogue
from qdt.query.expression import MAX_DEPTH, Expression, ExpressionError, evaluate, parse_expression

LIGHTS = pd.DataFrame({
    "status": pd.array([1, 2, 3, 4, 2, None], dtype="Int64"),
    "power_w": [60.0, 120.0, np.nan, 150.0, 90.0, 250.0],
    "lamp_type": ["LED", "HPS", "LED", None, "LED", "MH"],
    "road_name": ["香港中路", "山东路", "香港西路", "闽江路", None, "香港中路"],
    "install_date": pd.to_datetime(["2019-05-01", "2021-01-01", None, "2020-01-01", "2024-07-15", "2010-03-03"]),
    "pole height": [8.0, 10.0, 12.0, 8.0, 10.0, 6.0],
}, index=pd.Index([11, 12, 13, 14, 15, 16], name="fid"))
STREETLIGHT = catalogue().feature_class("streetlight")


def select(text: str, frame: pd.DataFrame = LIGHTS, cls=STREETLIGHT) -> list[int]:
    return frame.index[evaluate(text, frame, cls)].tolist()


@pytest.mark.parametrize(("text", "fids"), [
    ("status = 2", [12, 15]),
    ("status == 2", [12, 15]),
    ("status != 2", [11, 13, 14]),  # NULL status is neither equal nor unequal
    ("status <> 2", [11, 13, 14]),
    ("power_w > 100 AND status >= 2", [12, 14]),
    ("power_w < 100 OR lamp_type = 'MH'", [11, 15, 16]),
    ("NOT power_w > 100", [11, 15]),  # NULL power: NOT unknown is unknown
    ("status IN (3, 4)", [13, 14]),
    ("status NOT IN (3, 4)", [11, 12, 15]),
    ("lamp_type IN ('HPS', NULL)", [12]),
    ("lamp_type NOT IN ('HPS', NULL)", []),  # x NOT IN (…, NULL) is never true
    ("power_w BETWEEN 90 AND 150", [12, 14, 15]),
    ("power_w NOT BETWEEN 90 AND 150", [11, 16]),
    ("road_name LIKE '香港%'", [11, 13, 16]),
    ("road_name LIKE '香港_路'", [11, 13, 16]),
    ("road_name LIKE '香港'", []),
    ("road_name NOT LIKE '香港%'", [12, 14]),
    ("lamp_type LIKE 'led'", []),
    ("lamp_type ILIKE 'led'", [11, 13, 15]),
    ("lamp_type IS NULL", [14]),
    ("power_w IS NOT NULL AND status IS NOT NULL", [11, 12, 14, 15]),
    ("power_w * 2 + 10 >= 250", [12, 14, 16]),
    ("-power_w < -100", [12, 14, 16]),
    ("(power_w - 50) / 10 = 1", [11]),
    ("power_w / 0 IS NULL", [11, 12, 13, 14, 15, 16]),  # division by zero gives NULL
    ("1 + 2 * 3 = 7", [11, 12, 13, 14, 15, 16]),  # * binds tighter than +
    ("status = 1 OR status = 2 AND power_w > 100", [11, 12]),  # AND binds tighter than OR
    ("(status = 1 OR status = 2) AND power_w > 100", [12]),
    ("NOT status = 1 AND power_w > 100", [12, 14]),  # NOT binds tighter than AND
    ("install_date >= '2020-01-01'", [12, 14, 15]),
    ("install_date BETWEEN '2019-01-01' AND '2020-12-31'", [11, 14]),
    ("\"pole height\" >= 10", [12, 13, 15]),
    ("TRUE", [11, 12, 13, 14, 15, 16]),
    ("NULL", []),
    ("status = NULL", []),  # comparisons with NULL are unknown: use IS NULL
    ("lamp_type = 'it''s'", []),
])
def test_semantics(text, fids):
    assert select(text) == fids


@pytest.mark.parametrize(("text", "fids"), [
    ("状态 = '故障'", [12, 15]),  # a code-list label where a code is stored
    ("状态 = 'Fault'", [12, 15]),
    ("运行状态 IN ('维修中', '停用')", [13, 14]),  # an alias as the field name
    ("ZT <> '正常'", [12, 13, 14, 15]),
    ("额定功率 >= 150", [14, 16]),  # the catalogue's Chinese display name of power_w
    ("Status = 2", [12, 15]),  # column names ignore case; the English name is "Status"
    ("光源类型 = 'LED' AND 所在道路 LIKE '香港%'", [11, 13]),
    ("lamp_type = '高压钠灯'", [12]),  # text codes take their labels too (HPS)
    ("状态 = 1 OR status = 4", [11, 14]),
])
def test_chinese_names_aliases_and_labels(text, fids):
    assert select(text) == fids


def test_full_width_punctuation_from_a_chinese_input_method():
    assert select("状态 IN（2，3）") == select("status IN (2, 3)") == [12, 13, 15]
    assert select("power_w ＞ 100") == [12, 14, 16]


def test_keywords_ignore_case_and_whitespace():
    assert select("status in (1,2)\n  and\tpower_w between 50 and 100") == [11, 15]


def test_columns_only_without_a_catalogue_class():
    assert select("status = 2", cls=None) == [12, 15]
    with pytest.raises(ExpressionError, match="unknown field '状态'"):
        select("状态 = 2", cls=None)
    with pytest.raises(ExpressionError, match="cannot compare the number field 'status' with the text '故障'"):
        select("status = '故障'", cls=None)


def test_a_tree_not_text():
    expr = parse_expression("status = 2 AND (road_name LIKE '香港%' OR power_w IS NULL)")
    assert isinstance(expr, Expression)
    assert expr.fields == ["status", "road_name", "power_w"]
    assert type(expr.root).__name__ == "And"
    assert evaluate(expr, LIGHTS, STREETLIGHT).tolist() == [False, False, False, False, False, False]


@pytest.mark.parametrize(("text", "message", "position"), [
    ("status = ", "expected a value after '=' at position 10: status = ^", 10),
    ("status = 2 3", "unexpected '3' at position 12: status = 2 ^3", 12),
    ("(status = 2", "expected ')' to close the '(' opened at position 1", 1),
    ("status = 2)", "unmatched ')' at position 11", 11),
    ("status IN 2", "expected '(' after IN at position 11", 11),
    ("status IN ()", "expected at least one value in IN (...) at position 12", 12),
    ("status BETWEEN 1 3", "expected AND in BETWEEN … AND …, found '3' at position 18", 18),
    ("status IS 3", "expected NULL after IS at position 11", 11),
    ("road_name LIKE 3", "expected a text pattern in single quotes after LIKE", 16),
    ("road_name = '香港", "unterminated text (missing closing ') at position 13", 13),
    ("status # 2", "unexpected character '#' at position 8", 8),
    ("1 < 2 < 3", "comparisons cannot be chained", 7),
    ("in = 1", "expected a value, found the keyword IN at position 1", 1),
    ("NOT", "expected a value after 'NOT' at position 4", 4),
])
def test_syntax_errors_point_at_the_position(text, message, position):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert message in str(info.value)
    assert info.value.position == position and info.value.offset == position - 1
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("hieght > 3", "unknown field 'hieght' at position 1"),
    ("statsu = 1", "did you mean 'status'?"),
    ("road_name = 香港中路", "text values go in single quotes"),
    ("状态 = '坏了'", "'坏了' is not a code or label of field 'status' (状态) at position 6"),
    ("road_name > 3", "cannot compare the text field 'road_name' (所在道路) with the number 3 at position 11"),
    ("power_w + 'a' > 1", "'+' needs numbers, not the text 'a'"),
    ("power_w LIKE '1%'", "LIKE needs text, not the number field 'power_w' (额定功率)"),
    ("status", "expected a condition, not the number field 'status' (状态)"),
    ("(status = 1) + 1 > 0", "expected a value here, found a condition"),
    ("install_date > 'yesterday'", "'yesterday' is not a date"),
])
def test_evaluation_errors_name_the_field_and_position(text, message):
    with pytest.raises(ExpressionError) as info:
        select(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_field_lists_the_available_ones_with_chinese_names():
    with pytest.raises(ExpressionError) as info:
        select("hieght > 3")
    assert "fields: status (状态), power_w (额定功率), lamp_type (光源类型)" in str(info.value)


def test_empty_and_too_deep_expressions():
    with pytest.raises(ExpressionError, match="empty"):
        parse_expression("   ")
    deep = "(" * (MAX_DEPTH + 5) + "1 = 1" + ")" * (MAX_DEPTH + 5)
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse_expression(deep)
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse_expression("x = " + " + ".join(["1"] * (MAX_DEPTH + 5)))
    # long flat lists are fine: AND/OR chains and IN lists do not nest
    assert parse_expression(" OR ".join(["status = 1"] * 500))
    assert select("status IN (" + ", ".join(str(v) for v in range(1000)) + ")") == [11, 12, 13, 14, 15]


# --------------------------------------------------------------------------------------
# properties: random valid expressions evaluate like the same filter written in pandas
# --------------------------------------------------------------------------------------

RNG = np.random.default_rng(5)
N = 80
WORDS = ["甲", "乙", "丙丁", "ab", "Ab", "a_b", "a%b", "", "香港中路"]
DATA = pd.DataFrame({
    "a": pd.array(np.where(RNG.random(N) < 0.15, None, RNG.integers(-4, 5, N)).tolist(), dtype="Int64"),
    "b": np.where(RNG.random(N) < 0.15, np.nan, np.round(RNG.uniform(-10, 10, N), 1)),
    "高度": np.where(RNG.random(N) < 0.1, np.nan, RNG.integers(0, 50, N).astype(float)),
    "s": [None if RNG.random() < 0.15 else str(RNG.choice(WORDS)) for _ in range(N)],
})
# the reference: pandas nullable dtypes, whose logic is SQL's (Kleene) three-valued logic
REF = pd.DataFrame({"a": DATA["a"].astype("Float64"), "b": DATA["b"].astype("Float64"),
                    "高度": DATA["高度"].astype("Float64"), "s": DATA["s"].astype("string")})


def _bool(value):
    if isinstance(value, (bool, np.bool_)):
        return pd.Series([bool(value)] * N, dtype="boolean")
    return value.astype("boolean")


def _num(value):
    return value if isinstance(value, pd.Series) else pd.Series([float(value)] * N, dtype="Float64")


def _kw(word):
    return st.sampled_from([word, word.lower(), word.capitalize()])


numbers = st.integers(-6, 6).map(lambda v: (str(v) if v >= 0 else f"({v})", float(v)))
columns = st.sampled_from([("a", "a"), ("b", "b"), ("高度", "高度"), ('"a"', "a")]).map(
    lambda t: (t[0], REF[t[1]]))
num_atoms = st.one_of(numbers, columns)


def _extend_num(children):
    def binary(op):
        return st.tuples(children, children).map(
            lambda p, op=op: (f"({p[0][0]} {op} {p[1][0]})",
                              {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y}[op](
                                  _num(p[0][1]), _num(p[1][1]))))

    divide = st.tuples(children, st.sampled_from([2, 4, -5])).map(
        lambda p: (f"({p[0][0]} / {p[1]})", _num(p[0][1]) / p[1]))
    negate = children.map(lambda c: (f"-({c[0]})", -_num(c[1])))
    return st.one_of(binary("+"), binary("-"), binary("*"), divide, negate)


num_exprs = st.recursive(num_atoms, _extend_num, max_leaves=4)
comparisons = st.tuples(num_exprs, st.sampled_from(["=", "<>", "!=", "<", "<=", ">", ">="]), num_exprs).map(
    lambda t: (f"{t[0][0]} {t[1]} {t[2][0]}",
               _bool({"=": lambda x, y: x == y, "<>": lambda x, y: x != y, "!=": lambda x, y: x != y,
                      "<": lambda x, y: x < y, "<=": lambda x, y: x <= y, ">": lambda x, y: x > y,
                      ">=": lambda x, y: x >= y}[t[1]](_num(t[0][1]), _num(t[2][1])))))
words = st.sampled_from(WORDS + ["丙", "zz"])
text_tests = st.one_of(
    st.tuples(st.sampled_from(["=", "<>", "<", ">="]), words).map(
        lambda t: (f"s {t[0]} '{t[1]}'", _bool({"=": REF.s == t[1], "<>": REF.s != t[1], "<": REF.s < t[1],
                                                 ">=": REF.s >= t[1]}[t[0]]))),
    st.lists(words, min_size=1, max_size=3).map(
        lambda ws: ("s IN (" + ", ".join(f"'{w}'" for w in ws) + ")",
                    _bool(REF.s.isin(ws).astype("boolean").mask(REF.s.isna())))),
    st.text(alphabet="ab甲乙%_丙", max_size=4).map(
        lambda p: (f"s LIKE '{p}'", _bool(REF.s.str.fullmatch(
            "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in p), flags=re.S)))),
)
null_tests = st.tuples(st.sampled_from(["a", "b", "s", "高度"]), st.booleans()).map(
    lambda t: (f"{t[0]} IS {'NOT ' if t[1] else ''}NULL", _bool(REF[t[0]].notna() if t[1] else REF[t[0]].isna())))
betweens = st.tuples(num_exprs, numbers, numbers).map(
    lambda t: (f"{t[0][0]} BETWEEN {t[1][0]} AND {t[2][0]}",
               _bool((_num(t[0][1]) >= t[1][1]) & (_num(t[0][1]) <= t[2][1]))))
num_in = st.tuples(st.sampled_from(["a", "高度"]), st.lists(st.integers(-4, 10), min_size=1, max_size=4)).map(
    lambda t: (f"{t[0]} IN ({', '.join(map(str, t[1]))})",
               _bool(REF[t[0]].isin([float(v) for v in t[1]]).astype("boolean").mask(REF[t[0]].isna()))))
conditions = st.one_of(comparisons, text_tests, null_tests, betweens, num_in)


def _extend_cond(children):
    and_or = st.tuples(children, st.sampled_from(["AND", "OR"]).flatmap(_kw), children).map(
        lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})",
                   (t[0][1] & t[2][1]) if t[1].upper() == "AND" else (t[0][1] | t[2][1])))
    negation = st.tuples(_kw("NOT"), children).map(lambda t: (f"{t[0]} ({t[1][0]})", ~t[1][1]))
    return st.one_of(and_or, negation)


filters = st.recursive(conditions, _extend_cond, max_leaves=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filters)
def test_random_filters_match_pandas(case):
    text, expected = case
    got = evaluate(text, DATA)
    want = expected.fillna(False).to_numpy(dtype=bool)
    assert got.tolist() == want.tolist(), text


VOCABULARY = ["a", "b", "s", "高度", "'甲'", "'x", "\"a\"", "\"", "1", "2.5", "1e3", ".", "=", "<>", "!=", "<", ">=",
              "+", "-", "*", "/", "(", ")", ",", "AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "ILIKE", "IS",
              "NULL", "TRUE", "FALSE", "（", "）", "％", "#", "''", "unknown_field"]


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(VOCABULARY), max_size=14).map(" ".join)))
def test_garbage_raises_only_expression_error(text):
    try:
        mask = evaluate(text, DATA)
    except ExpressionError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert mask.dtype == bool and mask.shape == (N,)
