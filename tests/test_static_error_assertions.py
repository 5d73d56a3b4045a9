"""Every expected error is asserted as WHICH error, not only as its type or status (issue 22).

A `pytest.raises(X)` alone passes for any X, whatever went wrong: a refusal for another reason, a typo in the
request, a 400 from the wrong check. So each `pytest.raises(` in tests/ either
- has `match=` (the message, or the part of it that says which error), or
- binds the exception (`with pytest.raises(X) as raised:`) and reads it afterwards for more than its status
  (`raised.value.data.message`, `.field`, `.errors`, a helper returning `raised.value` to callers that read it...).
  `raised.value.status == 409` alone still does not say which conflict.
The only exceptions are listed in TYPE_ONLY, each with why the type alone is the point; keep it tiny.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# "path relative to tests/::function" -> why the exception's type alone is what the test asserts. None today: every
# exception the suite expects carries a message. Add an entry only for an exception class raised without a message.
TYPE_ONLY: dict[str, str] = {}


def _is_raises(node: ast.Call) -> bool:
    return (
        isinstance(node.func, ast.Attribute)
        and node.func.attr == "raises"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "pytest"
    )


def _status_only(use: ast.Name, parents: dict[ast.AST, ast.AST]) -> bool:
    """`name.value.status` (or `name.value.status_code`): the status alone."""
    value = parents.get(use)
    status = parents.get(value) if isinstance(value, ast.Attribute) and value.attr == "value" else None
    return isinstance(status, ast.Attribute) and status.attr in ("status", "status_code")


def unasserted(source: str) -> list[tuple[int, str]]:
    """(line, function) of each `pytest.raises(` that asserts only the type (or the status) of what it catches."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call) or not _is_raises(call) or any(k.arg == "match" for k in call.keywords):
            continue
        function = parents.get(call)
        while function is not None and not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            function = parents.get(function)
        item = parents.get(call)
        bound = item.optional_vars if isinstance(item, ast.withitem) else None
        name = bound.id if isinstance(bound, ast.Name) else None
        if name is not None and function is not None:
            uses = [
                n
                for n in ast.walk(function)
                if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) and n.lineno > call.lineno
            ]
            if any(not _status_only(use, parents) for use in uses):
                continue
        found.append((call.lineno, function.name if function is not None else "<module>"))
    return sorted(found)


def test_every_expected_error_is_asserted_by_what_it_says() -> None:
    offenders = []
    used = set()
    for path in sorted(TESTS.rglob("*.py")):
        relative = path.relative_to(TESTS).as_posix()
        for line, function in unasserted(path.read_text(encoding="utf-8")):
            key = f"{relative}::{function}"
            if key in TYPE_ONLY:
                used.add(key)
            else:
                offenders.append(f"tests/{relative}:{line} in {function}")
    assert offenders == [], "pytest.raises without match= (or a read of the message afterwards):\n" + "\n".join(
        offenders
    )
    assert used == set(TYPE_ONLY), f"entries of TYPE_ONLY no longer needed: {sorted(set(TYPE_ONLY) - used)}"


def test_the_check_tells_a_bare_type_from_an_asserted_message() -> None:
    source = """
def test_bare():
    with pytest.raises(BadRequest):
        call()

def test_status_only():
    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status == 409

def test_function_form():
    pytest.raises(ValueError, call)

def test_match():
    with pytest.raises(BadRequest, match="amount must be positive"):
        call()

def test_message_read():
    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status == 409 and raised.value.data.message == "Alias 'a' already exists"

def test_field_read():
    with pytest.raises(InvalidUser) as wrong:
        call()
    assert wrong.value.field == "current_password"
"""
    assert unasserted(source) == [(3, "test_bare"), (7, "test_status_only"), (12, "test_function_form")]


# -- raw HTTP: `r.status_code == 4xx` -------------------------------------------------------------------------------
# A test in tests/api that asserts a response's 4xx status reads what it says too (its "message", or the part that
# names the field), in the same assert or the 3 statements after it: a refusal for another reason passes a status
# check. Not counted: an inline GET answering 404 (`http.get(path).status_code == 404`: "nothing is there", the
# lookup that confirms nothing was stored or that a deleted thing is gone), and STATUS_ONLY below.
API = TESTS / "api"

# "file::function" -> why the status alone is the point there.
STATUS_ONLY: dict[str, str] = {
    "test_portal_sdk.py::test_over_https_the_cookie_works_inside_a_frame": (
        "the portal's pages answer HTML: a wrong cookie's 401 and the cookie's removal are what the test asserts"
    ),
    "test_portal_sdk.py::test_the_access_log_never_holds_a_portal_token": (
        "a wrong portal token's HTML 401, on the way to what the access log holds"
    ),
}


def _four_hundreds(compare: ast.Compare) -> bool:
    values = []
    for c in compare.comparators:
        values += [c] if isinstance(c, ast.Constant) else list(getattr(c, "elts", []))
    return any(isinstance(v, ast.Constant) and type(v.value) is int and 400 <= v.value < 500 for v in values)


def _reads_body(node: ast.AST, name: str) -> bool:
    return any(
        isinstance(n, ast.Attribute)
        and n.attr in ("json", "text", "content")
        and isinstance(n.value, ast.Name)
        and n.value.id == name
        for n in ast.walk(node)
    )


def _inline_get_404(subject: ast.AST, compare: ast.Compare) -> bool:
    is_get = isinstance(subject, ast.Call) and isinstance(subject.func, ast.Attribute) and subject.func.attr == "get"
    only_404 = [ast.unparse(c) for c in compare.comparators] == ["404"]
    return is_get and only_404


def status_only(source: str) -> list[tuple[int, str]]:
    """(line, function) of each assert of a 4xx status that reads nothing of the response."""
    tree = ast.parse(source)
    found = []
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        for block in ast.walk(function):
            for field in ("body", "orelse", "finalbody"):
                body = getattr(block, field, None)
                if not isinstance(body, list):
                    continue
                for i, statement in enumerate(body):
                    if not isinstance(statement, ast.Assert):
                        continue
                    for compare in ast.walk(statement.test):
                        if not (
                            isinstance(compare, ast.Compare)
                            and isinstance(compare.left, ast.Attribute)
                            and compare.left.attr == "status_code"
                            and _four_hundreds(compare)
                        ):
                            continue
                        subject = compare.left.value
                        if isinstance(subject, ast.Name):
                            after = [statement.test, *body[i + 1 : i + 4]]
                            if any(_reads_body(s, subject.id) for s in after):
                                continue
                        elif _inline_get_404(subject, compare):
                            continue
                        found.append((statement.lineno, function.name))
    return sorted(set(found))


def test_every_refusal_over_raw_http_says_which() -> None:
    offenders, used = [], set()
    for path in sorted(API.rglob("test_*.py")):
        for line, function in status_only(path.read_text(encoding="utf-8")):
            key = f"{path.relative_to(API).as_posix()}::{function}"
            if key in STATUS_ONLY:
                used.add(key)
            else:
                offenders.append(f"tests/api/{path.relative_to(API).as_posix()}:{line} in {function}")
    assert offenders == [], "a 4xx status asserted without what the answer says:\n" + "\n".join(offenders)
    assert used == set(STATUS_ONLY), f"entries of STATUS_ONLY no longer needed: {sorted(set(STATUS_ONLY) - used)}"


def test_the_raw_http_check_tells_a_bare_status_from_a_read_message() -> None:
    source = """
def test_cases(http):
    r = http.post("/payments", json={})
    assert r.status_code == 400, r.text
    assert http.post("/credits", json={}).status_code == 404
    assert http.get("/customers/gone").status_code == 404
    assert http.get("/customers", params={"pageSize": "x"}).status_code == 400
    r = http.post("/ingest", json={})
    assert r.status_code == 409
    assert r.json()["message"] == "Event 'e' was already ingested"
    r = http.post("/ingest", json={})
    assert (r.status_code, r.json()["message"]) == (400, "events: required")
    assert http.get("/customers").status_code == 200
"""
    assert status_only(source) == [(4, "test_cases"), (5, "test_cases"), (7, "test_cases")]
