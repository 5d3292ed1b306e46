"""Attribute filter expressions: a small SQL-WHERE-like language, parsed by hand, evaluated column-wise.

The text is tokenised and parsed (recursive descent) into a tree of :class:`Node` objects, which
is then evaluated on a whole table with numpy/pandas — one array operation per node, never a
loop over rows and never ``eval``.

Language
--------
======================  ===========================================================================
conditions              ``a = b``, ``a != b`` (also ``<>``, ``==``), ``<``, ``<=``, ``>``, ``>=``
logic                   ``AND``, ``OR``, ``NOT``; precedence NOT > AND > OR; parentheses
membership              ``x IN (1, 2, 3)``, ``x NOT IN ('a', 'b')``
ranges                  ``x BETWEEN 10 AND 20`` (inclusive), ``x NOT BETWEEN ...``
patterns                ``name LIKE '香港%'``: ``%`` any run of characters, ``_`` one character; ``LIKE`` is
                        case-sensitive, ``ILIKE`` is not; the pattern is a text literal
missing values          ``x IS NULL``, ``x IS NOT NULL``
arithmetic              ``+ - * /`` and unary minus on numbers; division by zero gives NULL
values                  numbers (``12``, ``0.5``, ``1e3``), text in single quotes (``'故障'``, ``'it''s'``),
                        ``TRUE``, ``FALSE``, ``NULL``
fields                  a column name, or the catalogue's Chinese name, English name or alias of a field
                        (``状态``, ``Status``, ``ZT`` all name ``status`` of a streetlight); names that
                        are not plain words go in double quotes (``"pole height"``, ``"in"``)
======================  ===========================================================================

Keywords are case-insensitive. Full-width ``（ ） ， ＝ ＜ ＞ ！`` typed with a Chinese input method
are read as their ASCII forms outside text literals.

Values of a field with a code list may be written as labels: ``状态 = '故障'`` is ``status = 2`` and
``管线类别 IN ('给水', '燃气')`` is ``network IN ('JS', 'RQ')`` (``=``, ``<>``, comparisons and ``IN``).
A date field compares with a text literal in ISO form: ``install_date >= '2020-01-01'``.

NULL follows SQL's three-valued logic: a comparison with NULL is *unknown*; ``NOT unknown`` is
unknown; ``unknown AND false`` is false, ``unknown OR true`` is true; a row is selected only
when the whole condition is true.

Errors
------
Every problem — syntax, unknown field, a type mismatch, a label not in the code list — raises
:class:`ExpressionError`, whose message is one line naming the position (counted from 1) and
showing the text with ``^`` where the problem is::

    expected a value after '=' at position 10: status = ^
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MAX_DEPTH",
    "Expression",
    "ExpressionError",
    "FieldResolver",
    "evaluate",
    "parse_expression",
]

# Deeper trees than this are refused: nobody writes them by hand, and evaluating them would
# exhaust Python's recursion limit.
MAX_DEPTH = 100

KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "ILIKE", "IS", "NULL", "TRUE", "FALSE"})
_FULL_WIDTH = str.maketrans({"（": "(", "）": ")", "，": ",", "＝": "=", "＜": "<", "＞": ">", "！": "!"})
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[^\W\d]\w*")
_OPERATORS = ("<>", "!=", "==", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "(", ")", ",")
_COMPARISONS = {"=": "=", "==": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class ExpressionError(ValueError):
    """A filter expression that cannot be parsed or evaluated.

    ``str()`` is one line naming what is wrong and where. Attributes: ``text`` (the whole
    expression), ``offset`` (0-based index of the problem in ``text``, or None) and
    ``position`` (the same counted from 1, as the message says).
    """

    def __init__(self, message: str, text: str = "", offset: int | None = None, hint: str = "") -> None:
        self.text = text
        self.offset = offset
        self.position = None if offset is None else offset + 1
        self.reason = message
        if offset is not None:
            message = f"{message} at position {offset + 1}: {_excerpt(text, offset)}"
        if hint:
            message = f"{message}; {hint}"
        super().__init__(message)

    def in_context(self, prefix: str) -> ExpressionError:
        """The same error with ``prefix`` (e.g. "layer '路灯', where: ") in front of the message."""
        err = ExpressionError.__new__(ExpressionError)
        ValueError.__init__(err, prefix + str(self))
        err.text, err.offset, err.position, err.reason = self.text, self.offset, self.position, self.reason
        return err


def _excerpt(text: str, offset: int, width: int = 40) -> str:
    """The text around ``offset`` on one line with ``^`` marking the spot."""
    flat = " ".join(text.split("\n"))
    start = max(0, offset - width)
    end = min(len(flat), offset + width)
    head = ("…" if start > 0 else "") + flat[start:offset]
    tail = flat[offset:end] + ("…" if end < len(flat) else "")
    return f"{head}^{tail}".strip()


# --------------------------------------------------------------------------------------
# tokens
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` is NUMBER, STRING, NAME (plain or quoted), KEYWORD, OP or END."""

    kind: str
    value: Any
    pos: int
    text: str

    def describe(self) -> str:
        if self.kind == "END":
            return "the end"
        return f"'{self.text}'"


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens (the last one is END); raises ExpressionError on a bad character."""
    src = text.translate(_FULL_WIDTH)
    tokens: list[Token] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "'" or ch == '"':
            j, parts = i + 1, []
            while True:
                k = src.find(ch, j)
                if k < 0:
                    what = "text" if ch == "'" else "quoted field name"
                    raise ExpressionError(f"unterminated {what} (missing closing {ch})", text, i)
                parts.append(src[j:k])
                if k + 1 < n and src[k + 1] == ch:  # a doubled quote stands for one
                    parts.append(ch)
                    j = k + 2
                    continue
                break
            value = "".join(parts)
            if ch == '"' and not value.strip():
                raise ExpressionError("empty quoted field name", text, i)
            tokens.append(Token("STRING" if ch == "'" else "NAME", value, i, text[i:k + 1]))
            i = k + 1
            continue
        m = _NUMBER.match(src, i)
        if m:
            literal = m.group()
            tokens.append(Token("NUMBER", float(literal), i, literal))
            i = m.end()
            continue
        m = _WORD.match(src, i)
        if m:
            word = m.group()
            if word.upper() in KEYWORDS:
                tokens.append(Token("KEYWORD", word.upper(), i, word))
            else:
                tokens.append(Token("NAME", word, i, word))
            i = m.end()
            continue
        op = next((o for o in _OPERATORS if src.startswith(o, i)), None)
        if op is None:
            raise ExpressionError(f"unexpected character {text[i]!r}", text, i)
        tokens.append(Token("OP", op, i, op))
        i += len(op)
    tokens.append(Token("END", None, n, ""))
    return tokens


# --------------------------------------------------------------------------------------
# the tree
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    """Base of the expression tree; ``pos`` is the 0-based offset of the node's first token."""

    pos: int


@dataclass(frozen=True)
class Literal(Node):
    value: Any  # float, str, bool or None (NULL)


@dataclass(frozen=True)
class Field(Node):
    name: str


@dataclass(frozen=True)
class Negate(Node):
    operand: Node


@dataclass(frozen=True)
class Arithmetic(Node):
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str  # = <> < <= > >=
    left: Node
    right: Node
    op_pos: int = 0


@dataclass(frozen=True)
class In(Node):
    operand: Node
    items: tuple[Node, ...]
    negated: bool = False


@dataclass(frozen=True)
class Between(Node):
    operand: Node
    low: Node
    high: Node
    negated: bool = False


@dataclass(frozen=True)
class Like(Node):
    operand: Node
    pattern: str
    negated: bool = False
    case_insensitive: bool = False


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool = False


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]


_CONDITIONS = (Compare, In, Between, Like, IsNull, Not, And, Or)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (Negate, Not, Like, IsNull)):
        return (node.operand,)
    if isinstance(node, (Arithmetic, Compare)):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.operand, *node.items)
    if isinstance(node, Between):
        return (node.operand, node.low, node.high)
    if isinstance(node, (And, Or)):
        return node.items
    return ()


def _depth(node: Node) -> int:
    children = _children(node)
    return 1 + (max(_depth(c) for c in children) if children else 0)


@dataclass(frozen=True)
class Expression:
    """A parsed filter: the original ``text`` and the ``root`` of its tree."""

    text: str
    root: Node

    @property
    def fields(self) -> list[str]:
        """Field names as written, in order of first use."""
        out: list[str] = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, Field) and node.name not in out:
                out.append(node.name)
            stack.extend(reversed(_children(node)))
        return out

    def __str__(self) -> str:
        return self.text


# --------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------

class _Parser:
    """Recursive descent over the grammar (lowest precedence first)::

        or       := and (OR and)*
        and      := not (AND not)*
        not      := NOT not | test
        test     := sum [ cmp sum | [NOT] IN '(' or (',' or)* ')' | [NOT] BETWEEN sum AND sum
                         | [NOT] (LIKE | ILIKE) STRING | IS [NOT] NULL ]
        sum      := product (('+' | '-') product)*
        product  := unary (('*' | '/') unary)*
        unary    := ('-' | '+') unary | atom
        atom     := NUMBER | STRING | TRUE | FALSE | NULL | NAME | '(' or ')'
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.nesting = 0

    # --- token helpers ---------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "END":
            self.i += 1
        return tok

    def at(self, kind: str, value: Any = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (value is None or tok.value == value)

    def previous(self) -> Token | None:
        return self.tokens[self.i - 1] if self.i > 0 else None

    def fail(self, message: str, tok: Token | None = None, hint: str = "") -> ExpressionError:
        tok = tok or self.tok
        return ExpressionError(message, self.text, tok.pos, hint)

    def expect_value(self) -> ExpressionError:
        prev = self.previous()
        after = f" after {prev.describe()}" if prev is not None else ""
        if self.tok.kind == "END":
            return self.fail(f"expected a value{after}")
        return self.fail(f"expected a value{after}, found {self.tok.describe()}")

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.fail(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")

    def leave(self) -> None:
        self.nesting -= 1

    # --- grammar ---------------------------------------------------------------------
    def parse(self) -> Expression:
        if self.tok.kind == "END":
            raise ExpressionError("the expression is empty", self.text, None)
        root = self.parse_or()
        if self.tok.kind != "END":
            tok = self.tok
            if tok.kind == "OP" and tok.value == ")":
                raise self.fail("unmatched ')'")
            raise self.fail(f"unexpected {tok.describe()}", hint="expected AND, OR, an operator or the end")
        if _depth(root) > MAX_DEPTH:
            raise ExpressionError(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)",
                                  self.text, root.pos)
        return Expression(self.text, root)

    def parse_or(self) -> Node:
        self.enter()
        first = self.parse_and()
        items = [first]
        while self.at("KEYWORD", "OR"):
            self.advance()
            items.append(self.parse_and())
        self.leave()
        return first if len(items) == 1 else Or(first.pos, tuple(items))

    def parse_and(self) -> Node:
        first = self.parse_not()
        items = [first]
        while self.at("KEYWORD", "AND"):
            self.advance()
            items.append(self.parse_not())
        return first if len(items) == 1 else And(first.pos, tuple(items))

    def parse_not(self) -> Node:
        if self.at("KEYWORD", "NOT"):
            tok = self.advance()
            self.enter()
            operand = self.parse_not()
            self.leave()
            return Not(tok.pos, operand)
        return self.parse_test()

    def parse_test(self) -> Node:
        left = self.parse_sum()
        tok = self.tok
        if tok.kind == "OP" and tok.value in _COMPARISONS:
            self.advance()
            right = self.parse_sum()
            node = Compare(left.pos, _COMPARISONS[tok.value], left, right, tok.pos)
            nxt = self.tok
            if nxt.kind == "OP" and nxt.value in _COMPARISONS:
                raise self.fail(f"unexpected {nxt.describe()}",
                                hint="comparisons cannot be chained; join them with AND")
            return node
        negated = False
        if tok.kind == "KEYWORD" and tok.value == "NOT":
            nxt = self.tokens[self.i + 1]
            if nxt.kind == "KEYWORD" and nxt.value in ("IN", "BETWEEN", "LIKE", "ILIKE"):
                self.advance()
                negated = True
                tok = self.tok
        if tok.kind != "KEYWORD":
            return left
        if tok.value == "IN":
            self.advance()
            if not self.at("OP", "("):
                raise self.fail("expected '(' after IN")
            open_tok = self.advance()
            if self.at("OP", ")"):
                raise self.fail("expected at least one value in IN (...)")
            items = [self.parse_or()]
            while self.at("OP", ","):
                self.advance()
                items.append(self.parse_or())
            if not self.at("OP", ")"):
                if self.tok.kind == "END":
                    raise self.fail("expected ')' to close the list opened", open_tok)
                raise self.fail(f"expected ',' or ')' in the IN list, found {self.tok.describe()}")
            self.advance()
            return In(left.pos, left, tuple(items), negated)
        if tok.value == "BETWEEN":
            self.advance()
            low = self.parse_sum()
            if not self.at("KEYWORD", "AND"):
                raise self.fail(f"expected AND in BETWEEN … AND …, found {self.tok.describe()}")
            self.advance()
            high = self.parse_sum()
            return Between(left.pos, left, low, high, negated)
        if tok.value in ("LIKE", "ILIKE"):
            self.advance()
            if not self.at("STRING"):
                raise self.fail(f"expected a text pattern in single quotes after {tok.value}")
            pattern = self.advance().value
            return Like(left.pos, left, pattern, negated, tok.value == "ILIKE")
        if tok.value == "IS":
            self.advance()
            negated = False
            if self.at("KEYWORD", "NOT"):
                self.advance()
                negated = True
            if not self.at("KEYWORD", "NULL"):
                raise self.fail("expected NULL after IS" + (" NOT" if negated else ""))
            self.advance()
            return IsNull(left.pos, left, negated)
        return left

    def parse_sum(self) -> Node:
        left = self.parse_product()
        while self.tok.kind == "OP" and self.tok.value in ("+", "-"):
            op = self.advance().value
            left = Arithmetic(left.pos, op, left, self.parse_product())
        return left

    def parse_product(self) -> Node:
        left = self.parse_unary()
        while self.tok.kind == "OP" and self.tok.value in ("*", "/"):
            op = self.advance().value
            left = Arithmetic(left.pos, op, left, self.parse_unary())
        return left

    def parse_unary(self) -> Node:
        if self.tok.kind == "OP" and self.tok.value in ("-", "+"):
            tok = self.advance()
            self.enter()
            operand = self.parse_unary()
            self.leave()
            if tok.value == "+":
                return operand
            if isinstance(operand, Literal) and isinstance(operand.value, float):
                return Literal(tok.pos, -operand.value)
            return Negate(tok.pos, operand)
        return self.parse_atom()

    def parse_atom(self) -> Node:
        tok = self.tok
        if tok.kind == "NUMBER":
            self.advance()
            return Literal(tok.pos, tok.value)
        if tok.kind == "STRING":
            self.advance()
            return Literal(tok.pos, tok.value)
        if tok.kind == "NAME":
            self.advance()
            return Field(tok.pos, tok.value)
        if tok.kind == "KEYWORD" and tok.value in ("TRUE", "FALSE", "NULL"):
            self.advance()
            return Literal(tok.pos, {"TRUE": True, "FALSE": False, "NULL": None}[tok.value])
        if tok.kind == "OP" and tok.value == "(":
            self.advance()
            if self.at("OP", ")"):
                raise self.fail("expected an expression inside ( )")
            inner = self.parse_or()
            if not self.at("OP", ")"):
                if self.tok.kind == "END":
                    raise self.fail("expected ')' to close the '(' opened", tok)
                raise self.fail(f"expected ')', found {self.tok.describe()}")
            self.advance()
            return inner
        if tok.kind == "KEYWORD":
            raise self.expect_value() if tok.value in ("AND", "OR") else self.fail(
                f"expected a value, found the keyword {tok.value}",
                hint="field names that are keywords go in double quotes" if tok.value != "NOT" else "")
        raise self.expect_value()


def parse_expression(text: str) -> Expression:
    """Parse ``text`` into an :class:`Expression`.

    Raises
    ------
    ExpressionError
        For any syntax problem (one line with the position) or an empty text.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, not {type(text).__name__}")
    return _Parser(text).parse()


# --------------------------------------------------------------------------------------
# field names
# --------------------------------------------------------------------------------------

class FieldResolver:
    """Maps the names a user may write to the table's columns.

    Order of lookup: the exact column name; the column name ignoring case; then, when a
    catalogue class is known, its fields' Chinese names, English names and aliases
    (ignoring case), for the fields the table has (directly or under an alias column).
    """

    def __init__(self, columns: Iterable[str], feature_class: Any = None) -> None:
        self.columns = [str(c) for c in columns]
        self.feature_class = feature_class
        self._lookup: dict[str, str] = {}
        self._defs: dict[str, Any] = {}
        self._labels: dict[str, str] = {}
        for col in self.columns:
            self._lookup.setdefault(col, col)
        for col in self.columns:
            self._lookup.setdefault(col.lower(), col)
        if feature_class is not None:
            mapping = feature_class.map_columns(self.columns)
            names: list[tuple[str, str]] = []
            for source, canonical in mapping.items():
                fd = feature_class.field(canonical)
                self._defs[source] = fd
                if fd.zh:
                    self._labels[source] = fd.zh
                names.append((canonical.lower(), source))
                names.append((fd.zh.lower(), source))
                names.append((fd.en.lower(), source))
                names.extend((alias.lower(), source) for alias in fd.aliases)
            for key, source in names:
                if key:
                    self._lookup.setdefault(key, source)

    def resolve(self, name: str) -> str | None:
        """The column for ``name``, or None."""
        return self._lookup.get(name) or self._lookup.get(name.strip().lower())

    def field_def(self, column: str) -> Any:
        """The catalogue FieldDef of a column (None without a class or for an unknown column)."""
        return self._defs.get(column)

    def label(self, column: str) -> str:
        """``status (状态)`` — how messages name a column."""
        zh = self._labels.get(column)
        return f"'{column}' ({zh})" if zh and zh != column else f"'{column}'"

    def available(self, limit: int = 40) -> str:
        items = [f"{c} ({self._labels[c]})" if c in self._labels and self._labels[c] != c else c
                 for c in self.columns]
        if len(items) > limit:
            items = items[:limit] + [f"… {len(items) - limit} more"]
        return ", ".join(items) if items else "(none)"

    def suggestion(self, name: str) -> str | None:
        keys = list(self._lookup)
        close = difflib.get_close_matches(name.lower(), keys, n=1, cutoff=0.75)
        return self._lookup[close[0]] if close else None


# --------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------

@dataclass
class _Value:
    """A column or a constant: ``data`` (array or scalar), ``null`` (bool array or scalar)."""

    kind: str  # "num", "str", "date", "bool", "null"
    data: Any
    null: Any
    node: Node
    column: str | None = None


@dataclass
class _Cond:
    """Three-valued truth: ``true`` and ``false`` masks; neither means unknown."""

    true: Any
    false: Any


#: The name of the feature id in expressions (``fid = 3``, ``fid IN (1, 2)``), when no column has it.
FID_FIELD = "fid"

_KIND_NOUNS = {"num": "number", "str": "text", "date": "date", "bool": "true/false", "null": "NULL"}


def _column_value(series: pd.Series) -> tuple[str, np.ndarray, np.ndarray]:
    """(kind, data, null) for one column; nulls are filled so comparisons never see None."""
    dtype = series.dtype
    null = series.isna().to_numpy(dtype=bool)
    if pd.api.types.is_bool_dtype(dtype):
        return "bool", series.to_numpy(dtype=bool, na_value=False), null
    if pd.api.types.is_numeric_dtype(dtype):
        return "num", series.to_numpy(dtype=np.float64, na_value=np.nan), null
    if pd.api.types.is_datetime64_any_dtype(dtype):
        values = series
        if getattr(dtype, "tz", None) is not None:
            values = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return "date", values.to_numpy(dtype="datetime64[ns]"), null
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        data = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return "num", data, np.isnan(data)
    if inferred == "boolean":
        return "bool", series.fillna(False).to_numpy(dtype=bool), null
    if inferred in ("datetime64", "datetime", "date"):
        data = pd.to_datetime(series, errors="coerce").to_numpy(dtype="datetime64[ns]")
        return "date", data, np.isnat(data)
    values = series.to_numpy(dtype=object, na_value=None)
    if inferred not in ("string", "empty"):
        values = np.array(["" if v is None else str(v) for v in values], dtype=object)
    data = np.where(null, "", values).astype(object)
    return "str", data, null


def _like_regex(pattern: str) -> str:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return "".join(out)


class _Evaluator:
    def __init__(self, expression: Expression, frame: pd.DataFrame, resolver: FieldResolver) -> None:
        self.expr = expression
        self.frame = frame
        self.resolver = resolver
        self.n = len(frame)
        self.columns: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
        self.stored_values: dict[str, set[Any]] = {}

    def fail(self, message: str, where: Node | int, hint: str = "") -> ExpressionError:
        offset = where if isinstance(where, int) else where.pos
        return ExpressionError(message, self.expr.text, offset, hint)

    # --- fields ----------------------------------------------------------------------
    def check_fields(self, node: Node, right_of: Node | None = None) -> None:
        """Resolve every field up front so an unknown name is reported before any work."""
        stack: list[tuple[Node, bool]] = [(node, False)]
        while stack:
            current, is_right = stack.pop()
            if isinstance(current, Field) and self.resolver.resolve(current.name) is None:
                close = self.resolver.suggestion(current.name)
                hint = f"did you mean '{close}'? " if close else ""
                if is_right:
                    hint += "text values go in single quotes; "
                raise self.fail(f"unknown field '{current.name}'", current,
                                f"{hint}fields: {self.resolver.available()}")
            if isinstance(current, Compare):
                stack.append((current.right, True))
                stack.append((current.left, False))
            else:
                stack.extend((c, isinstance(current, In) and c is not current.operand) for c in _children(current))

    def field(self, node: Field) -> _Value:
        column = self.resolver.resolve(node.name)
        if column not in self.columns:
            series = self.frame[column] if column != FID_FIELD or FID_FIELD in self.frame.columns else \
                pd.Series(self.frame.index.to_numpy(), index=self.frame.index)  # the feature id (index)
            self.columns[column] = _column_value(series)
        kind, data, null = self.columns[column]
        return _Value(kind, data, null, node, column)

    # --- values ----------------------------------------------------------------------
    def value(self, node: Node) -> _Value:
        if isinstance(node, Literal):
            v = node.value
            if v is None:
                return _Value("null", np.nan, True, node)
            if isinstance(v, bool):
                return _Value("bool", v, False, node)
            if isinstance(v, float):
                return _Value("num", np.float64(v), False, node)
            return _Value("str", v, False, node)
        if isinstance(node, Field):
            return self.field(node)
        if isinstance(node, Negate):
            operand = self.value(node.operand)
            self.require_number(operand, "unary minus")
            return _Value(operand.kind, -operand.data if operand.kind == "num" else operand.data, operand.null, node)
        if isinstance(node, Arithmetic):
            left, right = self.value(node.left), self.value(node.right)
            self.require_number(left, f"'{node.op}'")
            self.require_number(right, f"'{node.op}'")
            if left.kind == "null" or right.kind == "null":
                return _Value("null", np.nan, True, node)
            with np.errstate(all="ignore"):
                if node.op == "+":
                    data = left.data + right.data
                elif node.op == "-":
                    data = left.data - right.data
                elif node.op == "*":
                    data = left.data * right.data
                else:
                    data = left.data / right.data
            null = left.null | right.null
            if node.op == "/":
                null = null | (np.asarray(right.data) == 0)
            return _Value("num", data, null, node)
        if isinstance(node, _CONDITIONS):
            raise self.fail("expected a value here, found a condition", node)
        raise self.fail("cannot evaluate this part", node)  # pragma: no cover - all node types handled

    def require_number(self, value: _Value, what: str) -> None:
        if value.kind not in ("num", "null"):
            raise self.fail(f"{what} needs numbers, not {self.typed(value)}", value.node)

    def typed(self, value: _Value) -> str:
        """'the text field 'name' (名称)', 'the number 3' — a value named with its type, for messages."""
        noun = _KIND_NOUNS[value.kind]
        if value.column is not None:
            return f"the {noun} field {self.resolver.label(value.column)}"
        if isinstance(value.node, Literal):
            v = value.node.value
            if v is None:
                return "NULL"
            if isinstance(v, bool):
                return "TRUE" if v else "FALSE"
            if isinstance(v, float):
                return f"the number {v:g}"
            return f"the text {v!r}"
        return f"a {noun} value"

    # --- code lists and dates ----------------------------------------------------------
    def _codelist(self, value: _Value) -> Any:
        if value.column is None:
            return None
        fd = self.resolver.field_def(value.column)
        if fd is None or not fd.codelist or value.column in self.frame.attrs.get("qdt_uncoded_fields", ()):
            return None
        from qdt.cim import catalogue

        try:
            return catalogue().codelist(fd.codelist)
        except KeyError:
            return None

    def stored(self, field: _Value, text: str) -> bool:
        """Whether ``text`` is literally one of the column's stored values."""
        if field.kind != "str":
            return False
        values = self.stored_values.get(field.column)
        if values is None:
            values = self.stored_values[field.column] = set(np.asarray(field.data)[~np.asarray(field.null)].tolist())
        return text in values

    def adapt(self, field: _Value, other: _Value) -> _Value:
        """Make a text literal fit a coded, numeric or date field (labels → codes, ISO text → dates).

        A literal that is stored as-is in the column is compared as it is: a label is translated
        to its code only when it is not itself a stored value (third-party layers keep their own
        words in coded fields).
        """
        if other.kind != "str" or not isinstance(other.node, Literal) or field.column is None:
            return other
        if self.stored(field, other.data):
            return other
        codelist = self._codelist(field)
        if codelist is not None:
            code = codelist.code_for(other.data)
            if code is not None:
                if isinstance(code, bool) or not isinstance(code, (int, float)):
                    return _Value("str", str(code), False, other.node)
                return _Value("num", float(code), False, other.node)
            if field.kind == "num":
                entries = ", ".join(f"{e.code} {e.zh}" for e in codelist.entries[:12])
                raise self.fail(f"{other.data!r} is not a code or label of field {self.resolver.label(field.column)}",
                                other.node, f"values: {entries}")
        if field.kind == "date":
            try:
                stamp = pd.Timestamp(other.data)
            except (ValueError, TypeError):
                stamp = None
            if stamp is None or stamp is pd.NaT:
                raise self.fail(f"{other.data!r} is not a date (write it as 'YYYY-MM-DD')", other.node)
            if stamp.tzinfo is not None:
                stamp = stamp.tz_convert("UTC").tz_localize(None)
            return _Value("date", np.datetime64(stamp.to_datetime64(), "ns"), False, other.node)
        return other

    def comparable(self, left: _Value, right: _Value, where: Node | int) -> tuple[_Value, _Value]:
        right = self.adapt(left, right)
        left = self.adapt(right, left)
        if left.kind == "null" or right.kind == "null" or left.kind == right.kind:
            return left, right
        raise self.fail(f"cannot compare {self.typed(left)} with {self.typed(right)}", where)

    # --- conditions ------------------------------------------------------------------
    def cond(self, node: Node) -> _Cond:
        if isinstance(node, Compare):
            left, right = self.comparable(self.value(node.left), self.value(node.right), node.op_pos)
            return self.compare(node.op, left, right)
        if isinstance(node, And):
            parts = [self.cond(item) for item in node.items]
            true, false = parts[0].true, parts[0].false
            for p in parts[1:]:
                true = true & p.true
                false = false | p.false
            return _Cond(true, false)
        if isinstance(node, Or):
            parts = [self.cond(item) for item in node.items]
            true, false = parts[0].true, parts[0].false
            for p in parts[1:]:
                true = true | p.true
                false = false & p.false
            return _Cond(true, false)
        if isinstance(node, Not):
            inner = self.cond(node.operand)
            return _Cond(inner.false, inner.true)
        if isinstance(node, IsNull):
            if isinstance(node.operand, _CONDITIONS):
                raise self.fail("IS NULL needs a value, found a condition", node.operand)
            operand = self.value(node.operand)
            null = np.broadcast_to(operand.null, (self.n,))
            return _Cond(~null, null) if node.negated else _Cond(null, ~null)
        if isinstance(node, Between):
            operand = self.value(node.operand)
            lo_l, lo_r = self.comparable(operand, self.value(node.low), node.low)
            hi_l, hi_r = self.comparable(operand, self.value(node.high), node.high)
            ge, le = self.compare(">=", lo_l, lo_r), self.compare("<=", hi_l, hi_r)
            out = _Cond(ge.true & le.true, ge.false | le.false)
            return _Cond(out.false, out.true) if node.negated else out
        if isinstance(node, In):
            out = self.isin(node)
            return _Cond(out.false, out.true) if node.negated else out
        if isinstance(node, Like):
            operand = self.value(node.operand)
            if operand.kind == "null":
                return self.unknown()
            if operand.kind != "str":
                raise self.fail(f"LIKE needs text, not {self.typed(operand)}", node.operand)
            flags = re.DOTALL | (re.IGNORECASE if node.case_insensitive else 0)
            regex = re.compile(_like_regex(node.pattern), flags)
            if np.ndim(operand.data) == 0:
                hit = np.full(self.n, regex.fullmatch(operand.data) is not None)
            else:
                hit = pd.Series(operand.data, dtype=object).str.fullmatch(regex).to_numpy(dtype=bool, na_value=False)
            known = ~np.broadcast_to(operand.null, (self.n,))
            true, false = hit & known, ~hit & known
            return _Cond(false, true) if node.negated else _Cond(true, false)
        # a bare value used as a condition: only truth values qualify
        value = self.value(node)
        if value.kind == "bool":
            known = ~np.asarray(value.null, dtype=bool)
            data = np.asarray(value.data, dtype=bool)
            return _Cond(data & known, ~data & known)
        if value.kind == "null":
            return self.unknown()
        raise self.fail(f"expected a condition, not {self.typed(value)}", node,
                        "compare it with something, e.g. = or IS NULL")

    def unknown(self) -> _Cond:
        return _Cond(np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool))

    def compare(self, op: str, left: _Value, right: _Value) -> _Cond:
        if left.kind == "null" or right.kind == "null":
            return self.unknown()
        a, b = left.data, right.data
        if op == "=":
            res = a == b
        elif op == "<>":
            res = a != b
        elif op == "<":
            res = a < b
        elif op == "<=":
            res = a <= b
        elif op == ">":
            res = a > b
        else:
            res = a >= b
        res = np.broadcast_to(np.asarray(res, dtype=bool), (self.n,))
        known = ~np.broadcast_to(np.asarray(left.null, dtype=bool) | np.asarray(right.null, dtype=bool), (self.n,))
        return _Cond(res & known, ~res & known)

    def isin(self, node: In) -> _Cond:
        operand = self.value(node.operand)
        items = [self.value(item) for item in node.items]
        literal = all(isinstance(item.node, Literal) for item in items)
        if not literal or operand.kind == "null" or np.ndim(operand.data) == 0:
            # general case: x IN (a, b) is x = a OR x = b, which gives SQL's NULL semantics
            true = np.zeros(self.n, dtype=bool)
            false = np.ones(self.n, dtype=bool)
            for item in items:
                left, right = self.comparable(operand, item, item.node)
                c = self.compare("=", left, right)
                true, false = true | c.true, false & c.false
            return _Cond(true, false)
        adapted = [self.comparable(operand, item, item.node)[1] for item in items]
        has_null = any(a.kind == "null" for a in adapted)
        wanted = [a.data for a in adapted if a.kind != "null"]
        if operand.kind == "str":
            hit = pd.Series(operand.data, dtype=object).isin(set(wanted)).to_numpy(dtype=bool)
        else:
            hit = np.isin(operand.data, np.asarray(wanted, dtype=operand.data.dtype)) if wanted else \
                np.zeros(self.n, dtype=bool)
        known = ~np.asarray(operand.null, dtype=bool)
        true = hit & known
        false = ~hit & known
        if has_null:  # x IN (…, NULL) is unknown, not false, where x matched nothing
            false = np.zeros(self.n, dtype=bool)
        return _Cond(true, false)


def evaluate(expression: Expression | str, frame: pd.DataFrame, feature_class: Any = None) -> np.ndarray:
    """Rows of ``frame`` for which ``expression`` is true.

    Parameters
    ----------
    expression
        A parsed :class:`Expression` or its text.
    frame
        The table (a GeoDataFrame's geometry column is simply not usable as a field).
    feature_class
        A :class:`qdt.cim.FeatureClass` (or its name) to resolve Chinese names, English
        names and aliases, and code-list labels; ``None`` allows column names only.

    Returns
    -------
    numpy.ndarray
        Boolean mask, one entry per row; NULL/unknown counts as not selected.

    Raises
    ------
    ExpressionError
        Syntax error, unknown field (the message lists the available ones), a type mismatch
        or a label that is not in the field's code list.
    """
    expr = parse_expression(expression) if isinstance(expression, str) else expression
    if isinstance(feature_class, str):
        from qdt.cim import catalogue

        feature_class = catalogue().feature_class(feature_class)
    geometry = getattr(frame, "_geometry_column_name", None)
    columns: Sequence[str] = [c for c in frame.columns if c != geometry]
    if frame.index.name == FID_FIELD and FID_FIELD not in columns:
        columns = [*columns, FID_FIELD]  # the feature id, as in QGIS's $id / OGR SQL's FID
    evaluator = _Evaluator(expr, frame, FieldResolver(columns, feature_class))
    evaluator.check_fields(expr.root)
    result = evaluator.cond(expr.root)
    return np.array(np.broadcast_to(result.true, (len(frame),)), dtype=bool)
