"""jsonLogic for usage meters (D5): every operator, coercions, exactness, errors, and a property test against a
straightforward recursive reference evaluator."""

from __future__ import annotations

import json
import re
from decimal import Decimal, localcontext
from itertools import pairwise
from typing import Any

import pytest
import simplejson
from hypothesis import given, settings, strategies as st

from meterline.metering.jsonlogic import (
    Compiled,
    EvaluationError,
    JsonLogicError,
    compile_logic,
    to_units,
    truthy,
)

D = Decimal
ATTRS = {"calls": D("120"), "x": D("0.3"), "zero": D("0"), "s": "12.5", "none": None, "list": [D(1), D(2), D(3)]}
DIMS = {"region": "us", "empty": "", "zero": "0"}
DATA = {"attribute": ATTRS, "attributes": ATTRS, "dimension": DIMS, "dimensions": DIMS}


def same(a: Any, b: Any) -> bool:
    """Equality that tells True from 1 and lists from tuples; Decimals compare by value."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def run(logic: Any, data: Any = DATA) -> Any:
    return compile_logic(logic if isinstance(logic, str) else json.dumps(logic))(data)


# (jsonLogic text, expected result on DATA)
OPERATORS = [
    ("d5-count", "1", D(1)),
    ("d5-computation", '{"*":[{"var":"attribute.calls"},1]}', D(120)),
    ("d5-matcher", '{"==":[{"var":"dimension.region"},"us"]}', True),
    ("literal-string", '"us"', "us"),
    ("literal-bool", "true", True),
    ("literal-null", "null", None),
    ("literal-object", '{"a":1,"b":2}', {"a": D(1), "b": D(2)}),
    ("literal-list-evaluated", '[1,{"var":"dimension.region"}]', [D(1), "us"]),
    ("var-default", '{"var":["attribute.nope",0]}', D(0)),
    ("var-default-unused", '{"var":["attribute.calls",0]}', D(120)),
    ("var-missing-null", '{"var":"attribute.nope"}', None),
    ("var-null-value-stays-null", '{"var":["attribute.none",7]}', None),
    ("var-through-scalar", '{"var":"dimension.region.x"}', None),
    ("var-list-index", '{"var":"attribute.list.1"}', D(2)),
    ("var-list-out-of-range", '{"var":["attribute.list.9","d"]}', "d"),
    ("var-list-non-canonical-index", '{"var":"attribute.list.01"}', None),
    ("var-whole-data", '{"var":""}', DATA),
    ("var-no-args", '{"var":[]}', DATA),
    ("var-dynamic-path", '{"var":{"cat":["dimension.","region"]}}', "us"),
    ("var-number-path", '{"var":1}', None),
    (
        "missing-list",
        '{"missing":["attribute.calls","attribute.nope","dimension.empty"]}',
        ["attribute.nope", "dimension.empty"],
    ),
    ("missing-args", '{"missing":"attribute.nope"}', ["attribute.nope"]),
    ("missing-merge-idiom", '{"missing":{"merge":["attribute.calls",["dimension.nope"]]}}', ["dimension.nope"]),
    ("missing-zero-present", '{"missing":["attribute.zero"]}', []),
    ("missing-some-enough", '{"missing_some":[1,["attribute.calls","attribute.nope"]]}', []),
    ("missing-some-short", '{"missing_some":[2,["attribute.calls","attribute.nope"]]}', ["attribute.nope"]),
    ("if-then", '{"if":[true,"yes","no"]}', "yes"),
    ("if-else", '{"if":[0,"yes","no"]}', "no"),
    ("if-elif", '{"if":[false,"a",{"var":"attribute.calls"},"b","c"]}', "b"),
    ("if-elif-else", '{"if":[false,"a","","b","c"]}', "c"),
    ("if-no-else", '{"if":[false,"a"]}', None),
    ("if-single", '{"if":["only"]}', "only"),
    ("if-empty", '{"if":[]}', None),
    ("ternary", '{"?:":[{"<":[1,2]},"lt","ge"]}', "lt"),
    ("eq-number-string", '{"==":[1,"1"]}', True),
    ("strict-eq-number-string", '{"===":[1,"1"]}', False),
    ("strict-eq-scale", '{"===":[1.0,1]}', True),
    ("ne", '{"!=":[1,2]}', True),
    ("strict-ne", '{"!==":[1,"1"]}', True),
    ("not", '{"!":[0]}', True),
    ("not-unwrapped", '{"!":true}', False),
    ("not-empty-list", '{"!":[[]]}', True),
    ("double-not", '{"!!":["0"]}', True),
    ("double-not-empty", '{"!!":[""]}', False),
    ("or-first-truthy", '{"or":[0,"",{"var":"dimension.region"},"x"]}', "us"),
    ("or-last-falsy", '{"or":[0,""]}', ""),
    ("and-first-falsy", '{"and":[1,0,"x"]}', D(0)),
    ("and-last", '{"and":[1,"x"]}', "x"),
    ("gt", '{">":[{"var":"attribute.calls"},100]}', True),
    ("ge", '{">=":[1,1]}', True),
    ("lt", '{"<":[1,2]}', True),
    ("le", '{"<=":[2,1]}', False),
    ("lt-between", '{"<":[1,{"var":"attribute.x"},3]}', False),
    ("lt-between-true", '{"<":[0,{"var":"attribute.x"},3]}', True),
    ("le-between", '{"<=":[1,1,3]}', True),
    ("lt-string-number", '{"<":["10",9]}', False),
    ("lt-strings-lexicographic", '{"<":["10","9"]}', True),
    ("lt-null-is-zero", '{"<":[null,1]}', True),
    ("lt-nan-false", '{"<":["abc",1]}', False),
    ("ge-nan-false", '{">=":["abc",1]}', False),
    ("max", '{"max":[1,"3",2.5]}', D(3)),
    ("min", '{"min":[1,-3,2.5]}', D(-3)),
    ("plus-nary", '{"+":[1,2,3.5]}', D("6.5")),
    ("plus-unary-string", '{"+":"3.14"}', D("3.14")),
    ("plus-empty", '{"+":[]}', D(0)),
    ("plus-numeric-string-data", '{"+":[{"var":"attribute.s"},1]}', D("13.5")),
    ("minus", '{"-":[5,7.5]}', D("-2.5")),
    ("minus-unary", '{"-":[2]}', D(-2)),
    ("minus-unary-zero", '{"-":0}', D(0)),
    ("times", '{"*":[2,3,"0.5"]}', D(3)),
    ("times-single", '{"*":["4"]}', D(4)),
    ("divide-exact", '{"/":[1,4]}', D("0.25")),
    ("divide-integer", '{"/":[6,2]}', D(3)),
    ("modulo", '{"%":[7,3]}', D(1)),
    ("modulo-negative-like-js", '{"%":[-7,3]}', D(-1)),
    ("modulo-decimal", '{"%":[7.5,2]}', D("1.5")),
    ("in-substring", '{"in":["Spring","Springfield"]}', True),
    ("in-substring-number", '{"in":[1,"a1"]}', True),
    ("in-empty-string", '{"in":["","" ]}', False),
    ("in-list", '{"in":[{"var":"dimension.region"},["eu","us"]]}', True),
    ("in-list-strict", '{"in":["1",[1,2]]}', False),
    ("in-list-number", '{"in":[2.0,{"var":"attribute.list"}]}', True),
    ("in-other", '{"in":["a",5]}', False),
    ("cat", '{"cat":["I love"," pie ",1.50,null,true,[1,2]]}', "I love pie 1.5nulltrue1,2"),
    ("cat-empty", '{"cat":[]}', ""),
    ("cat-big-exponent", '{"cat":[1e21,1e20,0.000001,1e-7]}', "1e+211000000000000000000000.0000011e-7"),
    ("substr-start", '{"substr":["jsonlogic",4]}', "logic"),
    ("substr-negative-start", '{"substr":["jsonlogic",-5]}', "logic"),
    ("substr-length", '{"substr":["jsonlogic",1,3]}', "son"),
    ("substr-negative-length", '{"substr":["jsonlogic",4,-2]}', "log"),
    ("substr-negative-length-too-long", '{"substr":["jsonlogic",4,-9]}', ""),
    ("merge", '{"merge":[[1,2],[3],4,[[5]]]}', [D(1), D(2), D(3), D(4), [D(5)]]),
    ("merge-empty", '{"merge":[]}', []),
    ("map", '{"map":[{"var":"attribute.list"},{"*":[{"var":""},2]}]}', [D(2), D(4), D(6)]),
    ("map-not-list", '{"map":[{"var":"attribute.calls"},{"var":""}]}', []),
    ("filter", '{"filter":[{"var":"attribute.list"},{"%":[{"var":""},2]}]}', [D(1), D(3)]),
    ("reduce", '{"reduce":[{"var":"attribute.list"},{"+":[{"var":"current"},{"var":"accumulator"}]},0]}', D(6)),
    ("reduce-no-initial-not-list", '{"reduce":[{"var":"attribute.nope"},{"var":"current"}]}', None),
    ("all", '{"all":[{"var":"attribute.list"},{">":[{"var":""},0]}]}', True),
    ("all-false", '{"all":[[1,0],{"var":""}]}', False),
    ("all-empty", '{"all":[[],{"var":""}]}', False),
    ("none", '{"none":[{"var":"attribute.list"},{">":[{"var":""},5]}]}', True),
    ("some", '{"some":[{"var":"attribute.list"},{">":[{"var":""},2]}]}', True),
    ("some-false", '{"some":[[],{"var":""}]}', False),
    (
        "nested",
        '{"if":[{"and":[{"==":[{"var":"dimension.region"},"us"]},{">":[{"var":"attribute.calls"},100]}]},'
        '{"*":[{"var":"attribute.calls"},"0.5"]},0]}',
        D(60),
    ),
]


@pytest.mark.parametrize(("logic", "expected"), [c[1:] for c in OPERATORS], ids=[c[0] for c in OPERATORS])
def test_operators(logic: str, expected: Any) -> None:
    result = compile_logic(logic)(DATA)
    assert same(result, expected) or (isinstance(expected, dict) and result == expected), result


EXACT = [
    ("point-one-plus-point-two", '{"+":[0.1,0.2]}', {}, "0.3"),
    ("attribute-times-string", '{"*":[{"var":"attribute.x"},"0.1"]}', {"attribute": {"x": D("0.3")}}, "0.03"),
    ("many-digits", '{"+":[12345678901234567890.123456789,0.000000001]}', {}, "12345678901234567890.123456790"),
    (
        "big-product",
        '{"*":[99999999999999999999999999999999,99999999999999999999999999999999]}',
        {},
        str(99999999999999999999999999999999**2),
    ),
    ("one-third-50-digits", '{"/":[1,3]}', {}, "0." + "3" * 50),
    ("scale-kept", '{"-":[1.50,0.25]}', {}, "1.25"),
    ("int-data", '{"+":[{"var":"attribute.n"},1]}', {"attribute": {"n": 2}}, "3"),
]


@pytest.mark.parametrize(("logic", "data", "expected"), [c[1:] for c in EXACT], ids=[c[0] for c in EXACT])
def test_exact_decimal_arithmetic(logic: str, data: dict, expected: str) -> None:
    result = compile_logic(logic)(data)
    assert type(result) is Decimal and result == D(expected)


TRUTHY = [
    ("false", False, False),
    ("null", None, False),
    ("zero", D(0), False),
    ("zero-scaled", D("0.00"), False),
    ("int-zero", 0, False),
    ("empty-string", "", False),
    ("empty-list", [], False),
    ("nan", D("NaN"), False),
    ("true", True, True),
    ("one", D(1), True),
    ("negative", D("-0.1"), True),
    ("string-zero", "0", True),
    ("string", "a", True),
    ("list", [0], True),
    ("empty-object", {}, True),
]


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in TRUTHY], ids=[c[0] for c in TRUTHY])
def test_truthy(value: Any, expected: bool) -> None:
    assert truthy(value) is expected
    assert run({"!!": [{"var": "v"}]}, {"v": value}) is expected


LOOSE = [
    ("number-numeric-string", 1, "1", True),
    ("number-scaled-string", D("1.50"), "1.5", True),
    ("string-number", " 2 ", 2, True),
    ("number-non-numeric", 1, "abc", False),
    ("empty-string-zero", 0, "", True),
    ("zero-string-zero", D(0), "0", True),
    ("true-one", True, 1, True),
    ("true-string-one", True, "1", True),
    ("false-zero", False, 0, True),
    ("false-empty", False, "", True),
    ("false-string-zero", False, "0", True),
    ("true-two", True, 2, False),
    ("null-null", None, None, True),
    ("null-zero", None, 0, False),
    ("null-false", None, False, False),
    ("null-empty", None, "", False),
    ("list-string", [1, 2], "1,2", True),
    ("list-number", [1], 1, True),
    ("empty-list-false", [], False, True),
    ("strings-exact", "1.0", "1", False),
    ("strings-case", "US", "us", False),
    ("object-string", {"a": 1}, "[object Object]", True),
    ("lists-by-identity", [1], [1], False),
    ("exponent-string", D(1000), "1e3", True),
    ("underscore-not-numeric", D(10), "1_0", False),
]


@pytest.mark.parametrize(("a", "b", "expected"), [c[1:] for c in LOOSE], ids=[c[0] for c in LOOSE])
def test_loose_equality(a: Any, b: Any, expected: bool) -> None:
    data = {"a": a, "b": b}
    assert run({"==": [{"var": "a"}, {"var": "b"}]}, data) is expected
    assert run({"==": [{"var": "b"}, {"var": "a"}]}, data) is expected
    assert run({"!=": [{"var": "a"}, {"var": "b"}]}, data) is (not expected)


def test_strict_equality_and_identity() -> None:
    data = {"l": [1]}
    assert run({"===": [{"var": "l"}, {"var": "l"}]}, data) is True
    assert run({"===": [True, 1]}) is False
    assert run({"===": [None, None]}) is True
    assert run({"===": ["a", "a"]}) is True


COMPILE_ERRORS = [
    ("bad-json", '{"+":[1,2]', "invalid JSON at line 1"),
    ("empty-text", "", "invalid JSON"),
    ("nan-constant", '{"+":[NaN,1]}', "invalid JSON"),
    ("huge-exponent", "1e999999999999999999999", "invalid JSON: a number is out of range"),
    ("bad-utf8-bytes", b'"\xff"', "not UTF-8"),
    ("unknown-op", '{"foo":[1]}', "unknown operator 'foo' at the top"),
    ("unknown-op-nested", '{"and":[true,{"log":[1]}]}', "unknown operator 'log' at /and/1"),
    ("divide-arity", '{"/":[1,2,3]}', "'/' takes 2 arguments, got 3"),
    ("not-arity", '{"!":[1,2]}', "'!' takes 1 argument, got 2"),
    ("and-arity", '{"and":[]}', "'and' takes at least 1 argument, got 0"),
    ("minus-arity", '{"-":[]}', "'-' takes 1 to 2 arguments, got 0"),
    ("var-arity", '{"var":["a",1,2]}', "'var' takes 0 to 2 arguments"),
    ("between-arity", '{">":[1,2,3]}', "'>' takes 2 arguments"),
    ("map-arity", '{"map":[[1]]}', "'map' takes 2 arguments"),
    ("too-deep", '{"!":' * 65 + "true" + "}" * 65, "too deep"),
    ("too-deep-for-json", "[" * 5000 + "]" * 5000, "too deep"),
    ("too-many-nodes", '{"+":[' + ",".join(["1"] * 2000) + "]}", "too large"),
    ("too-long", '"' + "x" * 100_001 + '"', "too large"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in COMPILE_ERRORS], ids=[c[0] for c in COMPILE_ERRORS])
def test_compile_errors(text: str | bytes, message: str) -> None:
    with pytest.raises(JsonLogicError) as caught:
        compile_logic(text)
    assert message in str(caught.value)
    assert len(str(caught.value)) < 200
    assert isinstance(caught.value, ValueError)


def test_guards_limits_are_inclusive() -> None:
    assert compile_logic('{"!":' * 64 + "true" + "}" * 64)({}) is True  # 64 nested objects, even negations
    assert compile_logic('{"!":[' * 32 + "true" + "]}" * 32)({}) is True  # 32 objects + 32 lists
    assert compile_logic("[" * 64 + "]" * 64).source == "[" * 64 + "]" * 64
    with pytest.raises(JsonLogicError, match="too deep"):
        compile_logic("[" * 65 + "]" * 65)
    assert compile_logic('{"+":[' + ",".join(["1"] * 1998) + "]}")({}) == D(1998)  # 2,000 values


def test_long_operator_name_keeps_message_short() -> None:
    with pytest.raises(JsonLogicError) as caught:
        compile_logic({"x" * 500: 1})
    assert len(str(caught.value)) < 200


EVAL_ERRORS = [
    ("divide-by-zero", '{"/":[1,0]}', {}, "division by zero"),
    ("divide-by-zero-data", '{"/":[1,{"var":"z"}]}', {"z": D("0.00")}, "division by zero"),
    ("modulo-by-zero", '{"%":[1,0]}', {}, "division by zero"),
    ("plus-abc", '{"+":["abc",1]}', {}, "'+' needs numbers, got 'abc'"),
    ("times-missing", '{"*":[{"var":"attribute.nope"},2]}', {}, "'*' needs numbers, got None"),
    ("minus-bool", '{"-":[true,1]}', {}, "'-' needs numbers"),
    ("unary-minus-list", '{"-":[[1]]}', {}, "'-' needs numbers"),
    ("max-empty-string", '{"max":["",1]}', {}, "'max' needs numbers"),
    ("float-in-data", '{"+":[{"var":"f"},1]}', {"f": 0.1}, "not exact"),
    ("float-compared", '{"==":[{"var":"f"},1]}', {"f": 0.1}, "not exact"),
    ("nan-in-data", '{"+":[{"var":"n"},1]}', {"n": D("NaN")}, "needs numbers"),
    ("infinity-string", '{"+":["Infinity",1]}', {}, "needs numbers"),
    ("overflow", '{"*":[1e999000,1e999000]}', {}, "out of range"),
    ("modulo-quotient-too-long", '{"%":[1e200,3]}', {}, "out of range"),
    ("substr-start", '{"substr":["abc","x"]}', {}, "'substr' needs numbers"),
    ("missing-some-not-list", '{"missing_some":[1,"a"]}', {}, "list of names"),
]


@pytest.mark.parametrize(("text", "data", "message"), [c[1:] for c in EVAL_ERRORS], ids=[c[0] for c in EVAL_ERRORS])
def test_evaluation_errors(text: str, data: dict, message: str) -> None:
    compiled = compile_logic(text)  # compiles fine: the failure belongs to this event
    with pytest.raises(EvaluationError, match=re.escape(message)):
        compiled(data)


VARIABLES = [
    ("literal", "1", set()),
    ("d5-computation", '{"*":[{"var":"attribute.calls"},1]}', {"attribute.calls"}),
    ("default-form", '{"+":[{"var":["attribute.a",0]},{"var":"attribute.b"}]}', {"attribute.a", "attribute.b"}),
    ("whole-data-not-listed", '{"var":""}', set()),
    ("missing", '{"missing":["attribute.a","dimension.b"]}', {"attribute.a", "dimension.b"}),
    ("missing-some", '{"missing_some":[1,["attribute.a","attribute.b"]]}', {"attribute.a", "attribute.b"}),
    ("iterator-scope", '{"map":[{"var":"attribute.list"},{"var":"inner"}]}', {"attribute.list"}),
    (
        "reduce-initial",
        '{"reduce":[{"var":"attribute.l"},{"var":"current"},{"var":"attribute.i"}]}',
        {"attribute.l", "attribute.i"},
    ),
    ("dynamic-path", '{"var":{"cat":["attribute.",{"var":"dimension.k"}]}}', {"dimension.k"}),
    (
        "nested",
        '{"if":[{"==":[{"var":"dimension.region"},"us"]},{"var":"attribute.calls"},0]}',
        {"dimension.region", "attribute.calls"},
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in VARIABLES], ids=[c[0] for c in VARIABLES])
def test_variables(text: str, expected: set[str]) -> None:
    assert compile_logic(text).variables == frozenset(expected)


UNITS = [
    ("decimal", D("1.5"), D("1.5")),
    ("int", 3, D(3)),
    ("string", "12.5", D("12.5")),
    ("string-blanks", " 7 ", D(7)),
    ("negative", D("-2"), D(-2)),
    ("exponent-string", "1e2", D(100)),
]


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in UNITS], ids=[c[0] for c in UNITS])
def test_to_units(value: Any, expected: Decimal) -> None:
    result = to_units(value)
    assert type(result) is Decimal and result == expected


@pytest.mark.parametrize(
    "value",
    [True, False, None, "", "abc", "NaN", "Infinity", "1_000", 0.5, D("NaN"), D("Infinity"), [1], {"a": 1}],
    ids=[
        "true",
        "false",
        "null",
        "empty",
        "abc",
        "nan-text",
        "inf-text",
        "underscore",
        "float",
        "nan",
        "inf",
        "list",
        "object",
    ],
)
def test_to_units_refuses(value: Any) -> None:
    with pytest.raises(
        EvaluationError,
        match=r"^(the computation gave .+, not a number|float 0\.5 is not exact; numbers must be Decimal)$",
    ):
        to_units(value)


def test_compiled_shape_and_cache() -> None:
    text = '{ "*" : [ {"var":"attribute.calls"}, 1.50 ] }'
    compiled = compile_logic(text)
    assert compiled is compile_logic(text)
    assert compiled.source == '{"*":[{"var":"attribute.calls"},1.50]}'
    assert compile_logic(compiled) is compiled
    assert compile_logic(json.loads(text, parse_float=D)) == compiled  # parsed value: same normalized source
    with pytest.raises(AttributeError, match="cannot assign to field 'source'"):
        compiled.source = "1"  # type: ignore[misc]
    assert isinstance(compiled, Compiled) and compiled(DATA) == D(180)


def test_parsed_values_and_literals() -> None:
    assert same(compile_logic(1)({}), D(1))
    assert same(compile_logic({"+": [1, 2]})({}), D(3))
    assert compile_logic({"+": [0.1, 0.2]})({}) == D("0.3")  # a float in a parsed expression reads as its repr
    assert compile_logic("true")({}) is True
    assert compile_logic(b'{"+":[1,2]}')({}) == D(3)  # bytes are JSON text too
    with pytest.raises(JsonLogicError, match="not a JSON value: Object of type object is not JSON serializable"):
        compile_logic({"+": [object()]})
    with pytest.raises(JsonLogicError, match="not a JSON value: Out of range float values"):
        compile_logic(float("nan"))


def test_data_aliases_and_other_mappings() -> None:
    from types import MappingProxyType

    data = MappingProxyType({"attributes": MappingProxyType({"calls": D(2)}), "dims": ("a", "b")})
    assert run({"*": [{"var": "attributes.calls"}, 3]}, data) == D(6)
    assert run({"var": "dims.1"}, data) == "b"


# --- property: compiled evaluation matches a direct recursive evaluator ------------------------------------------


class RefError(Exception):
    pass


def ref_num(v: Any) -> Decimal:
    if isinstance(v, bool) or v is None:
        raise RefError
    return D(v)


def ref_cmp(a: Any, b: Any) -> int:
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    x, y = D(a), D(b)
    return (x > y) - (x < y)


def ref(e: Any, data: dict) -> Any:
    """The obvious interpreter for the generated subset (numbers, numeric strings, arithmetic, comparisons, if)."""
    if isinstance(e, (Decimal, str, bool)):
        return e
    ((op, args),) = e.items()
    if op == "var":
        return data["attribute"][args.split(".")[1]]
    if op == "if":
        return ref(args[1], data) if truthy(ref(args[0], data)) else ref(args[2], data)
    if op in ("and", "or"):  # lazy: stops at the deciding value
        for a in args:
            v = ref(a, data)
            if truthy(v) is (op == "or"):
                return v
        return v
    if op == "!":
        return not truthy(ref(args[0], data))
    vals = [ref(a, data) for a in args]
    if op in ("==", "!="):
        a, b = vals
        if isinstance(a, str) and isinstance(b, str):
            eq = a == b
        elif isinstance(a, bool) or isinstance(b, bool):
            eq = D(int(a) if isinstance(a, bool) else a) == D(int(b) if isinstance(b, bool) else b)
        else:
            eq = D(a) == D(b)
        return eq if op == "==" else not eq
    if op in ("<", "<=", ">", ">="):
        if any(isinstance(v, bool) for v in vals):
            vals = [D(int(v)) if isinstance(v, bool) else v for v in vals]
        checks = [ref_cmp(x, y) for x, y in pairwise(vals)]
        test = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0}[op]
        return all(test(c) for c in checks)
    nums = [ref_num(v) for v in vals]
    with localcontext() as ctx:
        ctx.prec = 100
        if op == "+":
            return sum(nums[1:], nums[0])
        if op == "*":
            result = nums[0]
            for n in nums[1:]:
                result *= n
            return result
        if op == "-":
            return -nums[0] if len(nums) == 1 else nums[0] - nums[1]
        if op == "/":
            if nums[1] == 0:
                raise RefError
            ctx.prec = 50
            return nums[0] / nums[1]
    raise AssertionError(op)


decimals = st.builds(lambda i, k: D(i).scaleb(-k), st.integers(-(10**9), 10**9), st.integers(0, 4))
leaves = st.one_of(
    decimals,
    decimals.map(str),  # numeric strings take part in arithmetic and compare as strings with each other
    st.sampled_from(["a", "b", "c"]).map(lambda n: {"var": f"attribute.{n}"}),
)


def extend(children: st.SearchStrategy) -> st.SearchStrategy:
    pair = st.lists(children, min_size=2, max_size=2)
    return st.one_of(
        st.builds(lambda op, xs: {op: xs}, st.sampled_from(["+", "*"]), st.lists(children, min_size=2, max_size=3)),
        st.builds(lambda op, xs: {op: xs}, st.sampled_from(["-", "/", "==", "!=", "<", "<=", ">", ">="]), pair),
        st.builds(lambda x: {"-": [x]}, children),
        st.builds(lambda xs: {"<": xs}, st.lists(children, min_size=3, max_size=3)),
        st.builds(lambda xs: {"if": xs}, st.lists(children, min_size=3, max_size=3)),
        st.builds(lambda op, xs: {op: xs}, st.sampled_from(["and", "or"]), pair),
        st.builds(lambda x: {"!": [x]}, children),
    )


expressions = st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=1000, deadline=None)
@given(expressions, st.fixed_dictionaries({"a": decimals, "b": decimals, "c": decimals}))
def test_compiled_matches_reference(expr: Any, attrs: dict) -> None:
    data = {"attribute": attrs}
    compiled = compile_logic(simplejson.dumps(expr, use_decimal=True))  # a str is always JSON text
    if not isinstance(expr, str):
        assert compile_logic(expr) == compiled  # the parsed-value path gives the same normalized source
    try:
        expected = ref(expr, data)
    except (RefError, ArithmeticError):  # arithmetic on a bool, or division by zero
        with pytest.raises(EvaluationError, match=r"needs numbers, got (True|False)|division by zero in '/'"):
            compiled(data)
        return
    got = compiled(data)
    assert same(got, expected), (compiled.source, got, expected)


# -- bounded evaluation: steps, text and lists built, literals ---------------------------------------------------------
def nested_reduce(depth: int, width: int = 50) -> dict:
    """`depth` reduces, each over a literal list of `width` ones, nested in each other's logic: width**depth steps."""
    logic: Any = {"var": "current"}
    for _ in range(depth):
        logic = {"reduce": [[1] * width, {"+": [{"var": "accumulator"}, logic]}, 0]}
    return logic


def test_nested_iterators_fail_with_too_much_work() -> None:
    assert run(nested_reduce(2)) == 2500  # 50 * 50 ones (2,550 elements): well within the budget
    text = json.dumps(nested_reduce(6), separators=(",", ":"))
    assert len(text) < 1000  # short, yet 50**6 elements: hours of work without the budget
    with pytest.raises(EvaluationError, match="too much work: the rule took more than 100,000 steps"):
        compile_logic(text)(DATA)


def test_the_budget_is_per_evaluation() -> None:
    rule = compile_logic(json.dumps({"map": [{"var": "items"}, {"var": ""}]}))
    items = [D(i) for i in range(10_000)]
    for _ in range(3):  # 30,000 steps each time: each evaluation starts with the whole budget
        assert len(rule({"items": items})) == 10_000


@pytest.mark.parametrize(
    ("logic", "words"),
    [
        # doubling 40 times: 2**40 characters, or items
        (
            {"reduce": [[1] * 40, {"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}, "x"]},
            "text of more than 10,000 characters",
        ),
        (
            {"reduce": [[1] * 40, {"merge": [{"var": "accumulator"}, {"var": "accumulator"}]}, [1]]},
            "a list of more than 10,000 items",
        ),
        # a list nested in itself (shared, so small in memory): its string form is what would grow
        (
            {"cat": [{"reduce": [[1] * 40, [{"var": "accumulator"}, {"var": "accumulator"}], [1]]}]},
            "text of more than 10,000 characters",
        ),
        (
            {"in": ["z", {"reduce": [[1] * 40, [{"var": "accumulator"}, {"var": "accumulator"}], [1]]}]},
            None,  # `in` on a list compares its items (two): cheap, and false
        ),
        (
            {"==": ["z", {"reduce": [[1] * 40, [{"var": "accumulator"}, {"var": "accumulator"}], [[]]]}]},
            "too much work",  # a list compared to text: its string form, all commas
        ),
        (
            {"+": [{"reduce": [[1] * 40, [{"var": "accumulator"}, {"var": "accumulator"}], [1]]}]},
            r"'\+' needs numbers, got \[\[\[\[...\], \[...\]\], \[\[...\], \[...\]\]\]",  # shown, bounded
        ),
    ],
)
def test_built_text_and_lists_are_bounded(logic: Any, words: str | None) -> None:
    if words is None:
        assert run(logic) is False
        return
    with pytest.raises(EvaluationError, match=words):
        run(logic)


def test_a_long_numeric_looking_text_is_read_in_linear_time() -> None:
    assert run({"+": [{"var": "s"}]}, {"s": "1" * 9_000 + ".5"}) == D("1" * 9_000 + ".5")
    with pytest.raises(EvaluationError, match="needs numbers"):
        run({"+": [{"var": "s"}]}, {"s": "1" * 9_000 + "x"})


@pytest.mark.parametrize(
    "text",
    [
        '{"cat": ["a\\ud800"]}',  # a lone surrogate, escaped in the JSON
        '{"cat": ["a\\udfff"]}',
        '{"cat": ["a\\u0000b"]}',  # NUL
        '{"in": ["x", {"a\\u0000": 1}]}',  # in a key of a literal object
    ],
)
def test_nul_and_lone_surrogates_are_refused_in_literals(text: str) -> None:
    with pytest.raises(JsonLogicError, match="NUL .* or a lone UTF-16 surrogate"):
        compile_logic(text)


def test_a_surrogate_pair_is_one_character_and_fine() -> None:
    assert run('{"cat": ["a\\ud83d\\ude00"]}') == "a\U0001f600"
