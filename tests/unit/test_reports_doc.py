"""docs/reports.md lists every template and every source with all its columns and their kinds, as the code has them:
the documented set of sources is the set a query can read."""

from __future__ import annotations

from pathlib import Path

from meterline.reports.sources import SOURCES
from meterline.reports.templates import TEMPLATES

DOC = (Path(__file__).parents[2] / "docs" / "reports.md").read_text()


def _row(first_cell: str) -> str:
    [line] = [line for line in DOC.splitlines() if line.startswith(f"| {first_cell} |")]
    return line


def test_every_source_and_column_is_documented() -> None:
    for source in SOURCES.values():
        row = _row(f"`{source.name}`")
        documented = [part.strip() for part in row.split("|")[3].split(",")]
        assert documented == [f"`{name}` ({kind})" for name, (_, kind) in source.columns.items()], source.name


def test_every_template_is_documented_with_its_columns() -> None:
    for template in TEMPLATES.values():
        row = _row(f"`{template.id}`")
        selects = template.build()["selects"]
        columns = ", ".join(f"`{s.get('alias') or s['columnName']}`" for s in selects)
        assert row.endswith(f"| {columns} |") and f"source `{template.source}`" in row, template.id
