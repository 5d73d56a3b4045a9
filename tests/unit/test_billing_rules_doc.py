"""docs/billing-rules.md is the one home of the billing rules: every rule the code cites is there, every test it
names exists, and nothing in the repository cites a file outside it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "billing-rules.md"
CITED = re.compile(r"\bD(\d{1,2})\b")
NAMED_TEST = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
# Places outside the repository that text used to point at; the repository must stand on its own.
OUTSIDE = re.compile(r"billing-decisions|togai-billing-rules|togai-api\.md|\.\./shared/")


def _rules_on_the_page() -> set[int]:
    return {int(n) for n in re.findall(r"^## D(\d{1,2}) ", RULES.read_text(encoding="utf-8"), re.M)}


def _source_files() -> list[Path]:
    return sorted((ROOT / "src" / "meterline").rglob("*.py"))


def test_the_page_has_the_fourteen_rules_in_order() -> None:
    numbers = [int(n) for n in re.findall(r"^## D(\d{1,2}) ", RULES.read_text(encoding="utf-8"), re.M)]
    assert numbers == list(range(1, 15))


def test_every_rule_cited_in_the_code_is_on_the_page() -> None:
    on_page = _rules_on_the_page()
    missing = sorted(
        f"{path.relative_to(ROOT)}:{line_no}: D{n}"
        for path in _source_files()
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for n in map(int, CITED.findall(line))
        if n not in on_page
    )
    assert missing == []


def test_the_code_cites_rules() -> None:
    """The citation check above would pass vacuously if the pattern stopped matching: the code does cite rules."""
    cited = {int(n) for path in _source_files() for n in CITED.findall(path.read_text(encoding="utf-8"))}
    assert len(cited) >= 10


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_named_on_the_page_exists() -> None:
    named = NAMED_TEST.findall(RULES.read_text(encoding="utf-8"))
    assert len(named) >= 14  # every rule names at least one test
    missing = [
        f"{file}::{name}"
        for file, name in named
        if not (ROOT / file).is_file() or name not in _defined_tests(ROOT / file)
    ]
    assert missing == []


@pytest.mark.parametrize("number", range(1, 15))
def test_every_rule_names_a_test(number: int) -> None:
    text = RULES.read_text(encoding="utf-8")
    section = re.search(rf"^## D{number} .*?(?=^## D|\Z)", text, re.M | re.S)
    assert section is not None
    assert NAMED_TEST.search(section.group(0)) is not None


def test_nothing_cites_a_file_outside_the_repository() -> None:
    paths = [
        *_source_files(),
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "README.md",
        *sorted((ROOT / "tests").rglob("*.py")),
    ]
    this_file = Path(__file__).resolve()
    found = sorted(
        f"{path.relative_to(ROOT)}:{line_no}"
        for path in paths
        if path.resolve() != this_file
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    )
    assert found == []
