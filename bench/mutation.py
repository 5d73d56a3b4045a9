"""Mutation testing of the billing core: one small bug at a time, and which of them the targeted tests catch.

    .venv/bin/python bench/mutation.py                       # every module below, both engines
    .venv/bin/python bench/mutation.py --module rating --module money --sample 40 --seed 7
    .venv/bin/python bench/mutation.py --list --module coverage   # the mutants, without running anything

For each module of TARGETS the driver lists the mutants its operators make (below), then applies them one at a
time to a temporary copy of the tree (src/, tests/, pyproject.toml; the work tree is never edited) and runs the
module's targeted tests there with `-x`, a timeout and no bytecode cache. A mutant is *killed* when the tests fail
(or time out: counted apart), *survived* when they pass. Survivors print with their place and change; those judged
equivalent (no behaviour changes) are in EQUIVALENT with the reason, and reported apart. Kill rate = killed /
(mutants - equivalent). The tests run first unmutated in the copy: they must pass, else nothing is measured.

Operators (the mutants a person would write by mistake):
- compare: a comparison flipped (`<` -> `>=`, `==` -> `!=`, `in` -> `not in`, `is` -> `is not`)
- boundary: `<` <-> `<=`, `>` <-> `>=`
- arith: `+` <-> `-`, `*` <-> `/`, `//` -> `/`
- bool: each operand of `and` / `or` dropped (`a and b` -> `a`, -> `b`); `not x` -> `x`
- condition: an `if` / `while` / conditional expression's test replaced by True and by False (a dropped check)
- filter: each argument of `.where(...)` / `.filter(...)` dropped (a dropped organization or status filter)
- constant: an int `n` -> `n + 1`, `0` <-> `1`, `True` <-> `False`; min <-> max
- statement: a call statement, an augmented assignment or a `raise` removed (`pass`)

Not a test and not in CI (slow: each mutant runs its tests anew); docs/testing.md has the figures.
"""

from __future__ import annotations

import argparse
import ast
import compileall
import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = "src/meterline"

UNIT_RATING = ["tests/unit/test_rating.py", "tests/unit/test_cycles.py", "tests/unit/test_license_quantities.py"]
MONEY_TESTS = [
    "tests/unit/test_wallet_pages.py",
    "tests/service/test_payments.py",
    "tests/service/test_credits_wallet.py",
    "tests/service/test_credit_ledger_properties.py",
    "tests/service/test_money_concurrency.py",
]


@dataclass(frozen=True)
class Target:
    name: str
    files: tuple[str, ...]  # under src/meterline
    tests: tuple[str, ...]
    functions: frozenset[str] = frozenset()  # only these functions' bodies (empty: the whole module)
    per_file: tuple[tuple[str, tuple[str, ...]], ...] = ()  # a file whose own tests are enough: (file, tests)

    def tests_of(self, file: str) -> tuple[str, ...]:
        return dict(self.per_file).get(file, self.tests)


TARGETS = [
    Target(
        "rating",
        (
            "rating/amounts.py",
            "rating/checks.py",
            "rating/cycles.py",
            "rating/engine.py",
            "rating/licenses.py",
            "rating/price_types.py",
            "rating/slabs.py",
        ),
        tuple(UNIT_RATING),
        per_file=(
            ("rating/cycles.py", ("tests/unit/test_cycles.py",)),
            ("rating/licenses.py", ("tests/unit/test_license_quantities.py",)),
            ("rating/amounts.py", ("tests/unit/test_rating.py",)),
            ("rating/checks.py", ("tests/unit/test_rating.py",)),
            ("rating/engine.py", ("tests/unit/test_rating.py",)),
            ("rating/price_types.py", ("tests/unit/test_rating.py",)),
            ("rating/slabs.py", ("tests/unit/test_rating.py",)),
        ),
    ),
    Target("money", ("core/money.py",), ("tests/unit/test_core.py", "tests/unit/test_numbers.py")),
    Target(
        "builder",
        ("invoicing/builder.py",),
        (
            "tests/unit/test_invoice_builder.py",
            "tests/unit/test_pricing_rules.py",  # the invoices the rules change, and their log on the invoice
            "tests/unit/test_credit_application.py",
            "tests/service/test_invoicing.py",
            "tests/service/test_credits_wallet.py",
        ),
    ),
    Target(
        "credit_application",
        ("invoicing/credit_application.py",),
        ("tests/unit/test_credit_application.py", "tests/service/test_credits_wallet.py"),
    ),
    Target(
        "payments",
        ("payments/service.py",),
        (*MONEY_TESTS, "tests/service/test_webhooks.py::test_wallet_payment_credit_and_overdue_events_are_delivered"),
    ),
    Target("credits", ("credits/service.py",), tuple(MONEY_TESTS)),
    Target("wallet", ("wallet/service.py",), (*MONEY_TESTS, "tests/service/test_webhooks.py")),
    Target("coverage", ("schedules/coverage.py",), ("tests/unit/test_coverage.py", "tests/service/test_ingestion.py")),
    Target(
        "claims",
        ("events/store.py",),
        ("tests/service/test_event_corrections.py", "tests/service/test_ingestion.py", "tests/service/test_storage.py"),
        frozenset({"claim_ids", "release_id", "forget_ids_before"}),
    ),
]

# Mutants that change no behaviour, by (file, change as printed): why each is equivalent.
_CACHE = "a cache of what the line below computes again: computing it once more gives the same answer"
EQUIVALENT: dict[tuple[str, str], str] = {
    ("schedules/coverage.py", "state: if schedule.pk not in self._configs: -> if True:"): _CACHE,
    ("schedules/coverage.py", "state: if cycle is None or not cycle.start <= at < cycle.end: -> if True:"): _CACHE,
    ("schedules/coverage.py", "state: cycle.start <= at < cycle.end -> cycle.start < at < cycle.end"): (
        "an event at the remembered cycle's start finds that same cycle again"
    ),
    ("core/money.py", "divide: 40 -> 41"): (
        "one more digit of the same quotient: every caller rounds it once, and 40 extra digits already decide that"
    ),
    ("invoicing/credit_application.py", "covers: billable is not None and billable in scope -> billable in scope"): (
        "a credit's scope is its applicableEntityIds, ids (strings) checked when it is granted: None is never in it"
    ),
    ("invoicing/credit_application.py", "walk: if following: -> if True:"): (
        "with no update following a card, its value plus the exact sum of nothing (0) is the same amount; a card "
        "line's value is a rounded amount (never a positive exponent) and a line of 0 or less is no target anyway"
    ),
    ("rating/cycles.py", "local_day: at < local_start_of_day(day, tz) -> at <= local_start_of_day(day, tz)"): (
        "an instant at a day's very start steps back one day, and the next loop (at >= the next day's start) steps "
        "forward to the same day"
    ),
    ("core/money.py", "round_money: Decimal(1) -> Decimal(0)"): (
        "quantize reads only its argument's exponent: 1E-2 and 0E-2 round to the same places"
    ),
    ("credits/service.py", "expire: self.ctx.session.refresh(credit) -> (removed)"): (
        "the lock just before reads the rows again (lock_rows: populate_existing), so the refresh reads what the "
        "lock read; a void committed in between is seen either way (tests/service/test_credits_wallet.py::"
        "test_a_credit_voided_while_expiry_runs_is_ended_once)"
    ),
    (
        "credits/service.py",
        "give_back: credit is None or credit.status in (EXPIRED, VOIDED) -> credit.status in (EXPIRED, VOIDED)",
    ): (
        "a credit transaction's credit_pk is a foreign key whose credit's deletion deletes the transaction too, and "
        "a debit's credit is not deleted after the debit is read either (PostgreSQL reads each statement afresh): "
        "credits go only with their account (organizations are never deleted), an account is deleted only without "
        "billing history, and a debit is written when an invoice of the credit's own account is finalized, so that "
        "account has a finalized invoice and is archived instead (has_finalized locks its invoices first)"
    ),
    ("credits/service.py", "balance: available + zero -> available - zero"): (
        "x + 0.00 and x - 0.00 are the same Decimal for every x but -0, and a sum of what remains is never -0"
    ),
    ("credits/service.py", "grant: len(grants) > 1 -> len(grants) >= 1"): (
        "with one grant its index is 0: both branches name it creditRequests[0]"
    ),
    ("events/store.py", "claim_ids: if not event_ids: -> if False:"): (
        "an empty list claims nothing either way: the INSERT ... SELECT over an empty JSON array inserts no row"
    ),
    (
        "events/store.py",
        "forget_ids_before: cast('CursorResult[Any]', result).rowcount or 0 -> "
        "cast('CursorResult[Any]', result).rowcount",
    ): "a DELETE's rowcount is an int on both drivers, never None: `n or 0` is `n` (`or 0` is for the type checker)",
    ("payments/service.py", "create: r.type == 'INVOICE' and r.togai_id is not None -> r.type == 'INVOICE'"): (
        "a record without togaiId is refused below; a None id among those locked matches no invoice"
    ),
    ("payments/service.py", "create: Decimal(0) -> Decimal(1)"): (
        "the fallback of `owed` is never read: an open (DUE, PARTIALLY_PAID, UN_COLLECTIBLE) invoice has a total above "
        "0. Its total is set once, at finalization, which makes it PAID when what was paid covers it (a total of 0 "
        "or less is always covered), and PAID is final; no status change, payment or void reopens an invoice or "
        "changes a total"
    ),
    ("payments/service.py", "create: invoice.total_amount or Decimal(0) -> invoice.total_amount"): (
        "`x or Decimal(0)` is `x` for every total but None (a total of 0 gives Decimal(0) either way), and an open "
        "invoice's total is never None: it is None only while DRAFT, and an invoice leaves DRAFT only by "
        "finalizing, which sets the total first (a status change finalizes a DRAFT before setting DUE or PAID; "
        "a sync writes only DRAFT rows)"
    ),
    ("rating/licenses.py", "largest: start < t < end -> start <= t < end"): (
        "the quantity set at `start` is the one in force at `start`, already counted by in_force(steps, start)"
    ),
}


# -- the mutants ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    file: str  # under src/meterline
    index: int  # the n-th mutation point of the file, in walk order
    variant: int
    line: int
    function: str
    operator: str
    change: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, f"{self.function}: {self.change}")


FLIP = {
    ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip
BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div}


def _src(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 90 else text[:87] + "..."


def variants(node: ast.AST) -> list[tuple[str, ast.AST | None]]:
    """The mutations of one node: (operator, replacement node). None as replacement: the statement is removed."""
    out: list[tuple[str, ast.AST | None]] = []
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        op = type(node.ops[0])
        if op in FLIP:
            out.append(("compare", ast.Compare(node.left, [FLIP[op]()], node.comparators)))
        if op in BOUNDARY:
            out.append(("boundary", ast.Compare(node.left, [BOUNDARY[op]()], node.comparators)))
    elif isinstance(node, ast.Compare):  # a chain: each link on its boundary
        for n, op in enumerate(node.ops):
            if type(op) in BOUNDARY:
                ops = list(node.ops)
                ops[n] = BOUNDARY[type(op)]()
                out.append(("boundary", ast.Compare(node.left, ops, node.comparators)))
    elif isinstance(node, ast.BinOp) and type(node.op) in ARITH:
        out.append(("arith", ast.BinOp(node.left, ARITH[type(node.op)](), node.right)))
    elif isinstance(node, ast.BoolOp):
        for n in range(len(node.values)):
            kept = [v for i, v in enumerate(node.values) if i != n]
            out.append(("bool", kept[0] if len(kept) == 1 else ast.BoolOp(node.op, kept)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        out.append(("bool", node.operand))
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        out.append(("constant", ast.Constant(not node.value)))
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        out.append(("constant", ast.Constant(1 if node.value == 0 else 0 if node.value == 1 else node.value + 1)))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
        other = "max" if node.func.id == "min" else "min"
        out.append(("constant", ast.Call(ast.Name(other, ast.Load()), node.args, node.keywords)))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("where", "filter"):
        for n in range(len(node.args)):
            kept = [a for i, a in enumerate(node.args) if i != n]
            out.append(("filter", ast.Call(node.func, kept, node.keywords) if kept else node.func.value))
    elif isinstance(node, ast.If | ast.While | ast.IfExp):
        for value in (True, False):
            changed = copy.copy(node)
            changed.test = ast.Constant(value)
            out.append(("condition", changed))
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call | ast.Await):
        out.append(("statement", None))
    elif isinstance(node, ast.AugAssign | ast.Raise):
        out.append(("statement", None))
    return out


def _skipped(node: ast.AST) -> bool:
    """Docstrings, annotations and `if TYPE_CHECKING:` are not behaviour."""
    if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
        return True
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _points(tree: ast.Module, functions: frozenset[str]) -> Iterator[tuple[ast.AST, str]]:
    """Every node that may be mutated, with its enclosing function, in one fixed order."""

    def walk(node: ast.AST, function: str) -> Iterator[tuple[ast.AST, str]]:
        if _skipped(node):
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
            children: list[ast.AST] = [*node.args.defaults, *node.args.kw_defaults, *node.body]  # not annotations
        elif isinstance(node, ast.ClassDef):  # its body, not its decorators (frozen=True is not behaviour here)
            children = list(node.body)
        elif isinstance(node, ast.AnnAssign):
            children = [node.value] if node.value is not None else []
        elif isinstance(node, ast.arg):
            children = []
        else:
            children = list(ast.iter_child_nodes(node))
        if not functions or function in functions:
            yield node, function
        for child in children:
            if child is not None:
                yield from walk(child, function)

    yield from walk(tree, "<module>")


def mutants_of(file: str, functions: frozenset[str], base: Path = ROOT) -> list[Mutant]:
    """The mutants of `file` as it is under `base` (a run reads its copy: editing the work tree meanwhile is safe)."""
    tree = ast.parse((base / SRC / file).read_text())
    parents = {id(child): parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    out = []
    for index, (node, function) in enumerate(_points(tree, functions)):
        for variant, (operator, replacement) in enumerate(variants(node)):
            before, after = _src(node), "(removed)" if replacement is None else _src(replacement)
            parent = parents.get(id(node))
            if isinstance(node, ast.Constant) and isinstance(parent, ast.Dict) and replacement is not None:
                key = next((k for k, v in zip(parent.keys, parent.values, strict=True) if v is node), None)
                if key is not None:  # a table's entry: `'JPY': 0 -> 'JPY': 1`, not the whole (cut) table
                    before, after = f"{_src(key)}: {before}", f"{_src(key)}: {after}"
            elif (
                isinstance(node, ast.Constant)
                and isinstance(parent, ast.expr | ast.keyword)
                and replacement is not None
            ):
                before, after = _src(parent), _in_place_of(parent, node, replacement)  # `Decimal(0)`, not `0`
            line = getattr(node, "lineno", 0)
            change = f"{before.splitlines()[0]} -> {after.splitlines()[0] if after else after}"
            out.append(Mutant(file, index, variant, line, function, operator, change))
    return out


def _in_place_of(parent: ast.AST, node: ast.AST, replacement: ast.AST) -> str:
    """`parent` as source with `replacement` in place of its child `node` (the tree is left as it was): a constant's
    change printed with its expression, so that two `0 -> 1` of one function are told apart (and EQUIVALENT's keys
    name one mutant)."""
    for field, value in ast.iter_fields(parent):
        if value is node:
            setattr(parent, field, replacement)
            try:
                return _src(parent)
            finally:
                setattr(parent, field, node)
        if isinstance(value, list) and any(v is node for v in value):
            at = next(n for n, v in enumerate(value) if v is node)
            value[at] = replacement
            try:
                return _src(parent)
            finally:
                value[at] = node
    return _src(replacement)


def mutated_source(mutant: Mutant, functions: frozenset[str], original: str) -> str:
    tree = ast.parse(original)
    nodes = list(_points(tree, functions))
    target, _ = nodes[mutant.index]
    _operator, replacement = variants(target)[mutant.variant]

    class Swap(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST | None:
            if node is target:
                return ast.Pass() if replacement is None else replacement
            return super().visit(node)

    mutated = Swap().visit(tree)
    _fill_empty_bodies(mutated)
    return ast.unparse(ast.fix_missing_locations(mutated))


def _fill_empty_bodies(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if field == "body" and isinstance(body, list) and not body:
                body.append(ast.Pass())


# -- running ----------------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    mutant: Mutant
    result: str  # killed, timeout, survived, equivalent
    seconds: float


def copy_tree(into: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache")
    for part in ("src", "tests"):
        shutil.copytree(ROOT / part, into / part, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", into / "pyproject.toml")
    # Compiled once, here: the runs write no bytecode (a mutant is never cached), so each run would otherwise compile
    # every module it imports anew. A mutated file is newer than its bytecode, so Python compiles it from source.
    for part in ("src", "tests"):
        compileall.compile_dir(into / part, quiet=1)


def pytest_run(tree: Path, tests: tuple[str, ...], engine: str, timeout: float) -> tuple[str, float]:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
    if engine != "both":
        command += ["-k", "not postgresql" if engine == "sqlite" else "not sqlite"]
    env = {
        **os.environ,
        "PYTHONPATH": str(tree / "src"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "METERLINE_HYPOTHESIS_PROFILE": "mutation",  # 25 examples a property (tests/conftest.py)
    }
    started = time.perf_counter()
    try:
        # our own interpreter running pytest on our own copy of the tree
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - started
    seconds = time.perf_counter() - started
    if done.returncode == 0:
        return "passed", seconds
    if done.returncode in (1, 2, 3):  # tests failed (1), or the mutant broke import/collection (2, 3)
        return "failed", seconds
    tail = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
    raise RuntimeError(f"pytest exited {done.returncode}:\n{tail}")


def run_target(target: Target, tree: Path, args: argparse.Namespace) -> list[Outcome]:
    mutants = [m for f in target.files for m in mutants_of(f, target.functions, tree)]
    if args.sample and len(mutants) > args.sample:
        chosen = random.Random(f"{args.seed}:{target.name}").sample(mutants, args.sample)  # noqa: S311 - reproducible
        mutants = sorted(chosen, key=_order)
    timeouts: dict[tuple[str, ...], float] = {}  # per set of tests: its timeout, from its unmutated run
    for tests in dict.fromkeys(target.tests_of(m.file) for m in mutants):
        status, baseline = pytest_run(tree, tests, args.engine, timeout=1800)
        if status != "passed":
            raise SystemExit(f"{target.name}: {' '.join(tests)} do not pass unmutated ({status}); nothing measured")
        timeouts[tests] = max(60.0, baseline * args.timeout_factor)
        print(f"  {' '.join(tests)}: {baseline:.1f} s unmutated", flush=True)
    print(f"\n## {target.name}: {len(mutants)} mutants", flush=True)
    outcomes = []
    for n, mutant in enumerate(mutants, 1):
        if mutant.key in EQUIVALENT:
            outcomes.append(Outcome(mutant, "equivalent", 0.0))
            continue
        tests = target.tests_of(mutant.file)
        path = tree / SRC / mutant.file
        original = path.read_text()
        path.write_text(mutated_source(mutant, target.functions, original))
        try:
            status, seconds = pytest_run(tree, tests, args.engine, timeouts[tests])
        finally:
            path.write_text(original)
        result = {"failed": "killed", "timeout": "timeout", "passed": "survived"}[status]
        outcomes.append(Outcome(mutant, result, seconds))
        if result == "survived" or args.verbose:
            where = f"{mutant.file}:{mutant.line} ({mutant.operator})"
            print(f"  [{n}/{len(mutants)}] {result.upper()} {where} {mutant.function}: {mutant.change}", flush=True)
    return outcomes


def _order(m: Mutant) -> tuple[str, int, int]:
    return (m.file, m.index, m.variant)


def summary(name: str, outcomes: list[Outcome]) -> dict[str, object]:
    count = {r: sum(1 for o in outcomes if o.result == r) for r in ("killed", "timeout", "survived", "equivalent")}
    judged = count["killed"] + count["timeout"] + count["survived"]
    rate = (count["killed"] + count["timeout"]) / judged if judged else 1.0
    return {"module": name, "mutants": len(outcomes), **count, "kill_rate": round(rate, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--module", action="append", choices=[t.name for t in TARGETS], help="repeatable; default all")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sample", type=int, default=0, help="at most this many mutants per module (0: all)")
    parser.add_argument("--seed", default="0", help="the sample's seed (printed; the same seed, the same sample)")
    parser.add_argument("--timeout-factor", type=float, default=4.0, help="timeout = factor x the unmutated run")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    parser.add_argument("--verbose", action="store_true", help="print killed mutants too")
    args = parser.parse_args()
    targets = [t for t in TARGETS if not args.module or t.name in args.module]
    if args.list:
        for target in targets:
            for m in (m for f in target.files for m in mutants_of(f, target.functions)):
                print(f"{target.name}\t{m.file}:{m.line}\t{m.operator}\t{m.function}: {m.change}")
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still removes its copy of the tree
    print(f"mutation run: engine {args.engine}, sample {args.sample or 'all'}, seed {args.seed}", flush=True)
    results, rows = [], []
    with tempfile.TemporaryDirectory(prefix="meterline-mutation-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        for target in targets:
            outcomes = run_target(target, tree, args)
            results.extend(outcomes)
            rows.append(summary(target.name, outcomes))
            r = rows[-1]
            print(
                f"  {target.name}: {r['killed']} killed, {r['timeout']} timed out, {r['survived']} survived, "
                f"{r['equivalent']} equivalent: kill rate {float(r['kill_rate']):.1%}"
            )  # type: ignore[arg-type]
    print(
        "\n| module | mutants | killed | timed out | survived | equivalent | kill rate |\n|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['timeout']} | {r['survived']} | "
            f"{r['equivalent']} | {float(r['kill_rate']):.1%} |"
        )  # type: ignore[arg-type]
    if args.json:
        args.json.write_text(
            json.dumps(
                [{**asdict(o.mutant), "result": o.result, "seconds": round(o.seconds, 2)} for o in results], indent=1
            )
        )


if __name__ == "__main__":
    main()
