"""No plan-detail dictionary is read by key outside the parsing module (issue 17, docs/architecture.md, "Plan
details"): a camelCase key of the plan details' models (`rateValues`, `usageRateCards`, ...) looked up with `["..."]`,
`.get(...)` or `.pop(...)` in catalog/, invoicing/ or console/ is an error, except where the JSON is made or checked
before it can be parsed (the modules below, each with its reason) and the few keys that name something else there."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from meterline.catalog import plan_schemas

SRC = Path(__file__).resolve().parents[1] / "src" / "meterline"
# where plan-detail JSON is made or checked before it parses (docs/architecture.md, "Plan details")
EXEMPT = {
    "catalog/plan_model.py": "the parsing module",
    "catalog/plan_rules.py": "makes the JSON valid and complete before it is stored",
    "catalog/rate_cards.py": "the open slabConfig / rateConfig maps, into the rating engine's numbers",
    "catalog/plan_v2.py": "a v2 draft's cards, settled one by one while the draft does not parse yet",
    "console/plan_forms.py": "makes a card's JSON from its form (a request body, as any client's)",
}
# (file, key): a lookup of that key there reads something other than plan details
OTHER = {
    ("invoicing/service.py", "creditAmount"): "an invoice line's metadata",
    ("invoicing/endpoints.py", "pricingRules"): "an invoice's rules log (the root line's metadata)",
}


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def plan_keys() -> set[str]:
    """Every camelCase key of the plan details' models, nested ones included."""
    keys: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [plan_schemas.CreatePricePlanDetails]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            keys.add(field.alias or name)
            todo.extend(_models(field.annotation))
    return {k for k in keys if re.search("[A-Z]", k)}


def test_the_key_list_is_the_plan_details() -> None:
    keys = plan_keys()
    assert {"usageRateCards", "rateValues", "pricingRules", "minimumCommitment", "slabRates"} <= keys


def test_no_plan_detail_dictionary_is_read_by_key_outside_the_parsing_module() -> None:
    alternatives = "|".join(sorted(plan_keys()))
    indexed = rf'\[\s*"({alternatives})"\s*\](?!\s*(?:,[^=]*)?=[^=])'  # not an assignment's target
    read = re.compile(rf'{indexed}|\.(?:get|pop|setdefault)\(\s*"({alternatives})"')
    found = []
    for folder in ("catalog", "invoicing", "console"):
        for path in sorted((SRC / folder).rglob("*.py")):
            where = path.relative_to(SRC).as_posix()
            if where in EXEMPT:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if line.lstrip().startswith(("del ", "#")):
                    continue
                for match in read.finditer(line):
                    key = match.group(1) or match.group(2)
                    if (where, key) not in OTHER:
                        found.append(f"{where}:{number}: {line.strip()}")
    assert found == []
