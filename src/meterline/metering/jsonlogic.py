"""jsonLogic for usage meters (billing rule D5), compiled once into closures, with exact Decimal numbers.

A meter's matcher and computation are jsonLogic over `attribute.<name>` (exact decimals) and `dimension.<name>`
(strings). `compile_logic(text)` parses the JSON once (numbers become `Decimal`) and turns it into nested Python
closures (no eval/exec, no tree walking per event); results are cached by text. `Compiled(data)` evaluates.
Callers: a matcher matches when `truthy(result)`; a computation's result goes through `to_units`, and any
`EvaluationError` marks the event INGESTION_FAILED_UNITS_INVALID.

Operators are jsonLogic's (jsonlogic.com/operations.html), with these rules where JavaScript would use floats:

- Numbers are `Decimal` (JSON ints too; `int` in data is accepted). Floats are refused wherever a value is used as
  a number or compared (EvaluationError); a pre-parsed expression's floats are read through their shortest repr.
- A *numeric string* is optional blanks, optional sign, ASCII digits with an optional fraction and exponent
  ("12.5", " -3 ", "1e3"); no "Infinity", hex, underscores or empty string.
- Arithmetic (`+ - * / % max min`, unary `+` and `-`) is strict: each operand must be a finite number or a numeric
  string, else EvaluationError (JS would give NaN, or 0 for null). `+`, `-`, `*`, `%` keep 100 significant digits
  (exact for any real quantity; only a result needing more is rounded half-even); `/` is exact when the quotient
  is (1/4 = 0.25), else rounded half-even to 50 significant digits. Division or modulo by zero, or an exponent
  beyond +-999999, is an EvaluationError. `{"+": []}` is 0; `max`/`min` need one argument or more.
- `===`/`!==`: same kind (null, bool, number, string, list, object) and equal; numbers compare by value
  (1.0 === 1); lists and objects only equal themselves (JS identity). `in` on a list uses `===`.
- `==`/`!=` (JS loose equality): same kind as `===`; null equals only null; number vs string compares the string's
  JS number (trimmed "" is 0, a non-numeric string equals nothing); a bool is first turned into 1 or 0; a list vs a
  number/string is first turned into its JS string ([1,2] -> "1,2"), an object into "[object Object]".
- `< <= > >=`: lists/objects become their JS string; two strings compare by code point; otherwise both become JS
  numbers (null 0, true 1, false 0, "" 0, numeric string its value) and anything else makes the comparison false.
- Strings (`cat`, `in` on a string, `substr`, var paths) use JS string forms: null "null", true "true", numbers
  without trailing zeros (Decimal("1.50") -> "1.5"), in exponent form below 1e-6 and from 1e21 ("1e+21"), lists
  joined with "," (null items empty), objects "[object Object]".
- Truthiness is jsonLogic's: false, null, 0, "" and [] are falsy; everything else ("0", {}) is truthy.
- `var` reads a dotted path through mappings and lists (canonical integer indexes), "" or null is the whole data;
  a missing step gives the default (or None), a present null stays null. In `map`/`filter`/`reduce`/`all`/`none`/
  `some` the logic argument sees the element (`reduce`: {"current", "accumulator"}). `all` of an empty or non-list
  value is false. `Compiled.variables` holds the constant paths read from the event (not the "" path, not paths
  computed at runtime, not those read from elements inside iterators); `Compiled.opaque` says it also reads data
  it cannot name (a computed path, the "" path outside an iterator, `missing` of computed names). `missing`
  counts null and "" as missing.
- `and`/`or` need one argument or more, `!`/`!!` exactly one, `substr` two or three (JS substr semantics, negative
  length trims from the end); an object with other than one key is a literal, as in jsonLogic.

Guards: source text over 100,000 characters, nesting deeper than 64 lists/objects, more than 2,000 JSON values, or
a string (or key) holding NUL or a lone UTF-16 surrogate (neither database can store one) are refused at compile
time with JsonLogicError. One evaluation (one rule on one event) is bounded too, else it fails with an
EvaluationError saying "too much work" (what a failing rule does: the event fails):

- at most `MAX_STEPS` (100,000) steps: each element an iterator (`map`, `filter`, `reduce`, `all`, `some`, `none`)
  visits costs one step plus the size (JSON values) of its logic, and each item or character that `merge`, `cat`,
  `in`, `missing`/`missing_some` or a list's string form goes through costs one step;
- text built during evaluation (`cat`, a list's string form) is at most `MAX_TEXT` (10,000) characters, and a list
  built (`merge`, `map`, `filter`) at most `MAX_ITEMS` (10,000) items;
- running out of memory or stack fails the rule the same way.
"""

from __future__ import annotations

import json
import re
import reprlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, DecimalException, DivisionByZero, InvalidOperation, Overflow
from functools import lru_cache
from typing import Any

import simplejson

from meterline.core.text import has_lone_surrogate

MAX_DEPTH = 64
MAX_NODES = 2000
MAX_SOURCE_CHARS = 100_000
MAX_STEPS = 100_000  # per evaluation: one rule on one event (see "Guards" above)
MAX_TEXT = 10_000  # characters of text built during an evaluation
MAX_ITEMS = 10_000  # items of a list built during an evaluation
EXACT_DIGITS = 100  # + - * %: exact for any operand a meter sees
DIVISION_DIGITS = 50  # /: exact quotients stay exact, others round half-even here

_TRAPS = [InvalidOperation, DivisionByZero, Overflow]
_EXACT = Context(prec=EXACT_DIGITS, rounding=ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999, traps=_TRAPS)
_DIVIDE = Context(prec=DIVISION_DIGITS, rounding=ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999, traps=_TRAPS)
# (unambiguous, so that a long non-numeric string fails in linear time: "[0-9]+\\.?[0-9]*" backtracked quadratically)
_NUMERIC = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)
_INDEX = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_ZERO = Decimal(0)
_MISSING = object()
_ANY = "\x00any"  # in `seen` while compiling: the expression is opaque (a literal cannot hold NUL)

Fn = Callable[[Any], Any]


class JsonLogicError(ValueError):
    """The expression cannot be compiled (bad JSON, unknown operator, wrong arity, too deep or too large)."""


class EvaluationError(ValueError):
    """The expression failed on this data (arithmetic on a non-number, division by zero, too much work...)."""


class _Budget(threading.local):
    left = MAX_STEPS  # steps left to the evaluation running in this thread


_budget = _Budget()


def _charge(steps: int) -> None:
    budget = _budget
    budget.left -= steps
    if budget.left < 0:
        raise EvaluationError(f"too much work: the rule took more than {MAX_STEPS:,} steps on one event")


def _too_long(what: str, size: int) -> EvaluationError:
    limit = MAX_TEXT if what == "text" else MAX_ITEMS
    unit = "characters" if what == "text" else "items"
    return EvaluationError(f"too much work: {what} of more than {limit:,} {unit} built ({size:,})")


@dataclass(frozen=True, slots=True)
class Compiled:
    source: str  # normalized JSON text
    variables: frozenset[str]  # constant `var` paths read from the data, e.g. {"attribute.calls"}
    fn: Fn = field(repr=False, compare=False)
    # reads data it cannot name when compiled: a computed `var` path, the whole data (`{"var": ""}` outside an
    # iterator), `missing` of computed names; `variables` is then not all it reads
    opaque: bool = False

    def __call__(self, data: Mapping[str, Any]) -> Any:
        _budget.left = MAX_STEPS
        try:
            return self.fn(data)
        except EvaluationError:
            raise
        except MemoryError:
            raise EvaluationError("too much work: the rule ran out of memory") from None
        except (ArithmeticError, TypeError, RecursionError) as exc:  # safety net: weird data never escapes as a 500
            raise EvaluationError(f"cannot evaluate: {type(exc).__name__}") from exc


# --- values -------------------------------------------------------------------------------------------------------


class _Shown(reprlib.Repr):
    """repr with bounded work and length, whatever the value (a list nested in itself 10,000 times included)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict = 3, 6, 6, 4
        self.maxstring, self.maxother, self.maxlong = 40, 40, 40

    def repr_Decimal(self, value: Decimal, level: int) -> str:  # noqa: N802 - reprlib's naming
        text = str(value)
        return text if len(text) <= 40 else text[:37] + "..."


_shown = _Shown()


def _show(value: Any) -> str:
    text = _shown.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _float(value: float) -> EvaluationError:
    return EvaluationError(f"float {_show(value)} is not exact; numbers must be Decimal")


def truthy(value: Any) -> bool:
    """jsonLogic truthiness: false, null, 0, "" and [] are falsy; "0" and {} are truthy."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, Decimal):
        return not value.is_zero() and not value.is_nan()
    if isinstance(value, (str, list, tuple)):
        return len(value) > 0
    if isinstance(value, (int, float)):
        return value != 0 and value == value
    return True


def _num(value: Any, op: str) -> Decimal:
    """Strict number for arithmetic: a finite number or a numeric string."""
    if type(value) is Decimal:
        if value.is_finite():
            return value
    elif type(value) is int:
        return Decimal(value)
    elif isinstance(value, str):
        if _NUMERIC.fullmatch(value):
            try:
                return Decimal(value.strip())
            except DecimalException:
                pass
    elif isinstance(value, float):
        raise _float(value)
    raise EvaluationError(f"'{op}' needs numbers, got {_show(value)}")


def to_units(value: Any) -> Decimal:
    """A computation's result as an exact finite Decimal (numbers and numeric strings; never bool or float)."""
    try:
        return _num(value, "units")
    except EvaluationError as exc:
        if isinstance(value, float):
            raise
        raise EvaluationError(f"the computation gave {_show(value)}, not a number") from exc


def _num_str(d: Decimal) -> str:
    """JS Number#toString for a Decimal: no trailing zeros, exponent form below 1e-6 and from 1e21."""
    if not d.is_finite():
        return "NaN" if d.is_nan() else ("-Infinity" if d.is_signed() else "Infinity")
    if d.is_zero():
        return "0"
    sign, digit_tuple, exponent = d.as_tuple()
    exp = int(exponent)  # an int: only NaN and the infinities (handled above) have a letter there
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exp += len(digit_tuple) - len(digits)
    point = len(digits) + exp  # value = 0.<digits> * 10**point
    if -6 < point <= 21:
        if exp >= 0:
            text = digits + "0" * exp
        elif point > 0:
            text = digits[:point] + "." + digits[point:]
        else:
            text = "0." + "0" * -point + digits
    else:
        text = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + f"e{point - 1:+d}"
    return "-" + text if sign else text


def _js_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, Decimal):
        return _num_str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return _joined(value, MAX_TEXT)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, float):
        raise _float(value)
    return str(value)


def _joined(value: list | tuple, limit: int, charged: bool = True) -> str:
    """A list's JS string form (items joined with ",", nested lists too, null items empty), without recursion: each
    item visited is a step (`charged`), and text beyond `limit` characters is too long (EvaluationError), or, when
    not charged, cut there (at most `limit` items visited)."""
    parts: list[str] = []
    size = visited = 0
    allowed = _budget.left if charged else limit
    stack = [iter(value)]
    first = [True]
    while stack:
        item = next(stack[-1], _MISSING)
        if item is _MISSING:
            stack.pop()
            first.pop()
            continue
        if first[-1]:
            first[-1] = False
        else:
            parts.append(",")
            size += 1
        visited += 1
        if isinstance(item, (list, tuple)):
            stack.append(iter(item))
            first.append(True)
        elif item is not None:
            text = _js_str(item)
            parts.append(text)
            size += len(text)
        if size > limit or visited > allowed:
            if not charged:
                return "".join(parts)[:limit]
            if size > limit:
                raise _too_long("text", size)
            _charge(visited)  # (raises: more than the steps left)
    if charged:
        _charge(visited)
    return "".join(parts)


_NULL, _BOOL, _NUM, _STR, _LIST, _OBJ, _OTHER = range(7)


def js_text(value: Any, limit: int = MAX_TEXT) -> str:
    """A value in its JS string form (as `cat` writes it): what a derived dimension becomes (enrichments.py). A
    list's form is cut at `limit` characters (bounded work, for a value a rule returned)."""
    if isinstance(value, (list, tuple)):
        return _joined(value, limit, charged=False)
    return _js_str(value)


def _kind(value: Any) -> int:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, (Decimal, int)):
        return _NUM
    if isinstance(value, str):
        return _STR
    if isinstance(value, (list, tuple)):
        return _LIST
    if isinstance(value, Mapping):
        return _OBJ
    if isinstance(value, float):
        raise _float(value)
    return _OTHER


_PLAIN = (str, Decimal)  # fast paths: same plain type compares with ==


def _strict_eq(a: Any, b: Any) -> bool:
    if type(a) is type(b) and type(a) in _PLAIN:
        return a == b
    kind = _kind(a)
    if kind != _kind(b):
        return False
    return a is b if kind >= _LIST else a == b  # Decimal NaN is unequal to everything, as in JS


def _primitive(value: Any) -> Any:
    return _js_str(value) if isinstance(value, (list, tuple, Mapping)) else value


def _js_number(value: Any) -> Decimal | int | None:
    """JS ToNumber; None stands for NaN."""
    value = _primitive(value)
    if value is None or isinstance(value, bool):
        return int(value or 0)
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if not value.strip():
            return 0
        try:
            return Decimal(value.strip()) if _NUMERIC.fullmatch(value) else None
        except DecimalException:
            return None
    if isinstance(value, float):
        raise _float(value)
    return None


def _loose_eq(a: Any, b: Any) -> bool:
    if type(a) is type(b) and type(a) in _PLAIN:
        return a == b
    ka, kb = _kind(a), _kind(b)
    if ka == kb:
        return _strict_eq(a, b)
    if ka == _NULL or kb == _NULL:
        return False
    if ka == _BOOL:
        return _loose_eq(int(a), b)
    if kb == _BOOL:
        return _loose_eq(a, int(b))
    if {ka, kb} == {_NUM, _STR}:
        x, y = _js_number(a), _js_number(b)
        return x is not None and y is not None and x == y
    if ka in (_NUM, _STR) and kb in (_LIST, _OBJ):
        return _loose_eq(a, _primitive(b))
    if kb in (_NUM, _STR) and ka in (_LIST, _OBJ):
        return _loose_eq(_primitive(a), b)
    return False


def _cmp(a: Any, b: Any) -> int | None:
    """JS abstract relational comparison as -1/0/1; None when either side is NaN."""
    if type(a) is Decimal and type(b) is Decimal and not (a.is_nan() or b.is_nan()):
        return (a > b) - (a < b)
    a, b = _primitive(a), _primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    x, y = _js_number(a), _js_number(b)
    if x is None or y is None:
        return None
    return (x > y) - (x < y)


# --- var ----------------------------------------------------------------------------------------------------------


def _steps(path: Any) -> tuple[tuple[str, int | None], ...]:
    if path is None or path == "":
        return ()
    return tuple((key, int(key) if _INDEX.fullmatch(key) else None) for key in _js_str(path).split("."))


def _lookup(data: Any, steps: tuple[tuple[str, int | None], ...]) -> Any:
    for key, index in steps:
        if type(data) is dict or isinstance(data, Mapping):  # (a plain dict skips the ABC check: the hot case)
            data = data.get(key, _MISSING)
            if data is _MISSING:
                return data
        elif isinstance(data, (list, tuple)) and index is not None and index < len(data):
            data = data[index]
        else:
            return _MISSING
    return data


def _absent(data: Any, key: Any) -> bool:
    value = _lookup(data, _steps(key))
    return value is _MISSING or value is None or value == ""


# --- operators: each builder takes the compiled arguments (and the raw ones) and returns a closure -------------------


def _b_var(f: list[Fn], raw: list, scoped: bool, seen: set[str]) -> Fn:
    default = f[1] if len(f) > 1 else (lambda data: None)
    if raw and isinstance(raw[0], (dict, list)):  # path computed at evaluation
        path = f[0]
        seen.add(_ANY)

        def dynamic_var(data: Any) -> Any:
            value = _lookup(data, _steps(path(data)))
            return default(data) if value is _MISSING else value

        return dynamic_var
    steps = _steps(raw[0] if raw else None)
    if not scoped:
        seen.add(".".join(key for key, _ in steps) if steps else _ANY)

    def var(data: Any) -> Any:
        value = _lookup(data, steps)
        return default(data) if value is _MISSING else value

    return var


def _b_missing(f: list[Fn], raw: list, scoped: bool, seen: set[str]) -> Fn:
    names = raw[0] if len(raw) == 1 and isinstance(raw[0], list) else raw
    if any(isinstance(n, (dict, list)) for n in names):
        seen.add(_ANY)
    if not scoped:
        seen.update(_js_str(n) for n in names if isinstance(n, (str, Decimal)) and n != "")

    def missing(data: Any) -> list:
        keys = [g(data) for g in f]
        keys = keys[0] if keys and isinstance(keys[0], list) else keys
        _charge(len(keys))
        return [key for key in keys if _absent(data, key)]

    return missing


def _b_missing_some(f: list[Fn], raw: list, scoped: bool, seen: set[str]) -> Fn:
    if not isinstance(raw[1], list) or any(isinstance(n, (dict, list)) for n in raw[1]):
        seen.add(_ANY)
    if not scoped and isinstance(raw[1], list):
        seen.update(_js_str(n) for n in raw[1] if isinstance(n, (str, Decimal)) and n != "")
    need_fn, options_fn = f

    def missing_some(data: Any) -> list:
        need, options = _num(need_fn(data), "missing_some"), options_fn(data)
        if not isinstance(options, list):
            raise EvaluationError("'missing_some' needs a list of names as its second argument")
        _charge(len(options))
        gone = [key for key in options if _absent(data, key)]
        return [] if len(options) - len(gone) >= need else gone

    return missing_some


def _b_if(f: list[Fn], *_: Any) -> Fn:
    if len(f) == 3:
        cond, then, other = f
        return lambda data: then(data) if truthy(cond(data)) else other(data)
    pairs = [(f[i], f[i + 1]) for i in range(0, len(f) - 1, 2)]
    last = f[-1] if len(f) % 2 else (lambda data: None)

    def if_(data: Any) -> Any:
        for cond, then in pairs:
            if truthy(cond(data)):
                return then(data)
        return last(data)

    return if_


def _b_logic(stop: bool) -> Callable[..., Fn]:
    """`and` stops at the first falsy value, `or` at the first truthy one; else the last value."""

    def build(f: list[Fn], *_: Any) -> Fn:
        def logic(data: Any) -> Any:
            for g in f:
                value = g(data)
                if truthy(value) is stop:
                    return value
            return value

        return logic

    return build


def _binary(test: Callable[[Any, Any], bool]) -> Callable[..., Fn]:
    return lambda f, *_: (lambda a, b: lambda data: test(a(data), b(data)))(*f)


def _relation(test: Callable[[int], bool]) -> Callable[..., Fn]:
    def build(f: list[Fn], *_: Any) -> Fn:
        def ok(x: Any, y: Any) -> bool:
            c = _cmp(x, y)
            return c is not None and test(c)

        if len(f) == 2:
            a, b = f
            return lambda data: ok(a(data), b(data))
        a, b, c = f

        def between(data: Any) -> bool:
            x, y, z = a(data), b(data), c(data)
            return ok(x, y) and ok(y, z)

        return between

    return build


def _arith(op: str, fold: Callable[[Decimal, Decimal], Decimal], unary: Callable[[Decimal], Decimal]) -> Callable:
    def build(f: list[Fn], *_: Any) -> Fn:
        if not f:
            return lambda data: _ZERO
        if len(f) == 1:
            a = f[0]
            return lambda data: unary(_num(a(data), op))

        def arith(data: Any) -> Decimal:
            result = _num(f[0](data), op)
            try:
                for g in f[1:]:
                    result = fold(result, _num(g(data), op))
            except ZeroDivisionError:
                raise EvaluationError(f"division by zero in '{op}'") from None
            except DecimalException:
                raise EvaluationError(f"'{op}' result is out of range") from None
            return result

        return arith

    return build


def _divide(context_op: Callable[[Decimal, Decimal], Decimal]) -> Callable[[Decimal, Decimal], Decimal]:
    def op(a: Decimal, b: Decimal) -> Decimal:
        if b.is_zero():
            raise ZeroDivisionError
        return context_op(a, b)

    return op


def _in(needle: Any, haystack: Any) -> bool:
    if isinstance(haystack, str):
        _charge(len(haystack))
        return haystack != "" and _js_str(needle) in haystack
    if isinstance(haystack, (list, tuple)):
        _charge(len(haystack))
        return any(_strict_eq(needle, item) for item in haystack)
    return False


def _cat(f: list[Fn], *_: Any) -> Fn:
    def cat(data: Any) -> str:
        text = "".join(_js_str(g(data)) for g in f)
        if len(text) > MAX_TEXT:
            raise _too_long("text", len(text))
        _charge(len(text))
        return text

    return cat


def _int_arg(value: Any) -> int:
    number = _num(value, "substr")
    return int(max(min(number, Decimal(10**9)), Decimal(-(10**9))))


def _b_substr(f: list[Fn], *_: Any) -> Fn:
    def substr(data: Any) -> str:
        text = _js_str(f[0](data))
        start = _int_arg(f[1](data))
        text = text[max(len(text) + start, 0) :] if start < 0 else text[start:]
        if len(f) < 3:
            return text
        length = _int_arg(f[2](data))
        return text[:length] if length >= 0 else text[: max(len(text) + length, 0)]

    return substr


def _b_merge(f: list[Fn], *_: Any) -> Fn:
    def merge(data: Any) -> list:
        out: list = []
        for g in f:
            value = g(data)
            out.extend(value) if isinstance(value, (list, tuple)) else out.append(value)
            if len(out) > MAX_ITEMS:
                raise _too_long("a list", len(out))
        _charge(len(out))
        return out

    return merge


def _iterating(kind: str) -> Callable[..., Fn]:
    def build(f: list[Fn], raw: list, *_: Any) -> Fn:
        items_fn, logic = f[0], f[1]
        initial = f[2] if len(f) > 2 else (lambda data: None)
        cost = 1 + _size(raw[1])  # per element: the logic's values, each evaluated at most once

        def iterate(data: Any) -> Any:
            items = items_fn(data)
            if not isinstance(items, (list, tuple)):
                items = None
            elif kind in ("map", "filter") and len(items) > MAX_ITEMS:
                raise _too_long("a list", len(items))
            if kind == "map":
                out = []
                for item in items or ():
                    _charge(cost)
                    out.append(logic(item))
                return out
            if kind == "reduce":
                acc = initial(data)
                for item in items or ():
                    _charge(cost)
                    acc = logic({"current": item, "accumulator": acc})
                return acc
            if kind == "all":
                for item in items or ():
                    _charge(cost)
                    if not truthy(logic(item)):
                        return False
                return bool(items)
            kept = []
            for item in items or ():
                _charge(cost)
                if truthy(logic(item)):
                    kept.append(item)
            return kept if kind == "filter" else (bool(kept) if kind == "some" else not kept)

        return iterate

    return build


_MANY = 10**9
_OPS: dict[str, tuple[int, int, Callable[..., Fn]]] = {
    "var": (0, 2, _b_var),
    "missing": (0, _MANY, _b_missing),
    "missing_some": (2, 2, _b_missing_some),
    "if": (0, _MANY, _b_if),
    "?:": (0, _MANY, _b_if),
    "==": (2, 2, _binary(_loose_eq)),
    "!=": (2, 2, _binary(lambda a, b: not _loose_eq(a, b))),
    "===": (2, 2, _binary(_strict_eq)),
    "!==": (2, 2, _binary(lambda a, b: not _strict_eq(a, b))),
    "!": (1, 1, lambda f, *_: (lambda a: lambda data: not truthy(a(data)))(f[0])),
    "!!": (1, 1, lambda f, *_: (lambda a: lambda data: truthy(a(data)))(f[0])),
    "or": (1, _MANY, _b_logic(True)),
    "and": (1, _MANY, _b_logic(False)),
    ">": (2, 2, _relation(lambda c: c > 0)),
    ">=": (2, 2, _relation(lambda c: c >= 0)),
    "<": (2, 3, _relation(lambda c: c < 0)),
    "<=": (2, 3, _relation(lambda c: c <= 0)),
    "max": (1, _MANY, lambda f, *_: lambda data: max([_num(g(data), "max") for g in f])),
    "min": (1, _MANY, lambda f, *_: lambda data: min([_num(g(data), "min") for g in f])),
    "+": (0, _MANY, _arith("+", _EXACT.add, lambda a: a)),
    "-": (1, 2, _arith("-", _EXACT.subtract, lambda a: a.copy_negate() if a else _ZERO)),
    "*": (1, _MANY, _arith("*", _EXACT.multiply, lambda a: a)),
    "/": (2, 2, _arith("/", _divide(_DIVIDE.divide), lambda a: a)),
    "%": (2, 2, _arith("%", _divide(_EXACT.remainder), lambda a: a)),
    "in": (2, 2, _binary(_in)),
    "cat": (0, _MANY, _cat),
    "substr": (2, 3, _b_substr),
    "merge": (0, _MANY, _b_merge),
    **{
        kind: (2, 3 if kind == "reduce" else 2, _iterating(kind))
        for kind in ("map", "filter", "reduce", "all", "none", "some")
    },
}
_SCOPED = {"map", "filter", "reduce", "all", "none", "some"}  # their argument 1 runs on each element


# --- compiling ----------------------------------------------------------------------------------------------------


def _at(where: str) -> str:
    if not where:
        return " at the top"
    return f" at {where}" if len(where) <= 80 else f" at ...{where[-77:]}"


def _node(value: Any, where: str, scoped: bool, seen: set[str]) -> Fn:
    if isinstance(value, dict) and len(value) == 1:
        ((op, raw),) = value.items()
        if op not in _OPS:
            raise JsonLogicError(f"unknown operator {_show(op)}{_at(where)}")
        low, high, build = _OPS[op]
        args = raw if isinstance(raw, list) else [raw]
        if not low <= len(args) <= high:
            wanted = f"{low}" if low == high else (f"at least {low}" if high == _MANY else f"{low} to {high}")
            raise JsonLogicError(
                f"'{op}' takes {wanted} argument{'' if high in (1, _MANY) and low == 1 else 's'}, "
                f"got {len(args)}{_at(where)}"
            )
        here = f"{where}/{op}"
        fns = [
            _node(arg, f"{here}/{i}" if isinstance(raw, list) else here, scoped or (i == 1 and op in _SCOPED), seen)
            for i, arg in enumerate(args)
        ]
        return build(fns, args, scoped, seen)
    if isinstance(value, list):
        items = [_node(item, f"{where}/{i}", scoped, seen) for i, item in enumerate(value)]
        return lambda data: [g(data) for g in items]
    return lambda data: value  # literal: number, string, bool, null, or an object that is not an operation


def _size(value: Any) -> int:
    """The number of JSON values in a (measured) expression."""
    nodes, stack = 0, [value]
    while stack:
        item = stack.pop()
        nodes += 1
        if isinstance(item, (dict, list)):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return nodes


def _bad_text(text: str) -> bool:
    return "\x00" in text or has_lone_surrogate(text)


def _measure(value: Any) -> None:
    nodes, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise JsonLogicError(f"expression too large: more than {MAX_NODES} values")
        if isinstance(item, str) and _bad_text(item):
            raise JsonLogicError(
                "a string may not contain NUL (\\u0000) or a lone UTF-16 surrogate (\\ud800 to \\udfff)"
            )
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise JsonLogicError(f"expression too deep: more than {MAX_DEPTH} levels")
            if isinstance(item, dict) and any(_bad_text(key) for key in item):
                raise JsonLogicError(
                    "a key may not contain NUL (\\u0000) or a lone UTF-16 surrogate (\\ud800 to \\udfff)"
                )
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _compile_text(text: str) -> Compiled:
    if len(text) > MAX_SOURCE_CHARS:
        raise JsonLogicError(f"expression too large: more than {MAX_SOURCE_CHARS} characters")
    try:
        value = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise JsonLogicError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"[:190]) from None
    except RecursionError:
        raise JsonLogicError(f"expression too deep: more than {MAX_DEPTH} levels") from None
    except ArithmeticError:
        raise JsonLogicError("invalid JSON: a number is out of range") from None
    except ValueError as exc:
        raise JsonLogicError(f"invalid JSON: {str(exc)[:120]}") from None
    _measure(value)
    seen: set[str] = set()
    fn = _node(value, "", False, seen)
    source = simplejson.dumps(value, use_decimal=True, separators=(",", ":"), ensure_ascii=False)
    opaque = _ANY in seen
    seen.discard(_ANY)
    return Compiled(source=source, variables=frozenset(seen), fn=fn, opaque=opaque)


_CACHED_CHARS = 10_000  # bounds the cache's memory; meters' expressions are far shorter
_cached = lru_cache(maxsize=4096)(_compile_text)


def compile_logic(source: str | object) -> Compiled:
    """Compile jsonLogic given as JSON text (str or bytes; cached by text) or as an already-parsed value."""
    if isinstance(source, Compiled):
        return source
    if isinstance(source, (bytes, bytearray)):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonLogicError("invalid JSON: not UTF-8 text") from None
    if not isinstance(source, str):
        try:
            source = simplejson.dumps(
                source, use_decimal=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
        except RecursionError:
            raise JsonLogicError(f"expression too deep: more than {MAX_DEPTH} levels") from None
        except (TypeError, ValueError) as exc:
            raise JsonLogicError(f"not a JSON value: {str(exc)[:120]}") from None
    return _cached(source) if len(source) <= _CACHED_CHARS else _compile_text(source)
