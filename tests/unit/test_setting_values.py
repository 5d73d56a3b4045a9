"""Setting values (settings/service.check_value): a NUMERIC value is a decimal number in ASCII digits and a JSON
value is JSON without NaN or Infinity, and every number in either follows the one number rule (core/numbers.py).
Before, NUMERIC "1e400", JSON "1e999999" and JSON {"a": NaN} were stored."""

from __future__ import annotations

import pytest

from meterline.core.errors import BadRequest
from meterline.settings.service import check_value

REFUSED = [
    ("NUMERIC", "1e400", "below 10^15"),
    ("NUMERIC", "NaN", "decimal number"),
    ("NUMERIC", "Infinity", "decimal number"),
    ("NUMERIC", "\u0661\u0662", "decimal number"),
    ("NUMERIC", "0.0000000000001", "12 digits"),
    ("JSON", '{"a": NaN}', "valid JSON"),
    ("JSON", "[Infinity]", "valid JSON"),
    ("JSON", "1e999999", "below 10^15"),
    ("JSON_LOGIC", '{"*": [{"var": "x"}, 1e20]}', "below 10^15"),
]
ACCEPTED = [("NUMERIC", "12.5"), ("NUMERIC", "-3"), ("NUMERIC", "1e3"), ("JSON", '{"a": [1, 2.5, true, null, "x"]}')]


@pytest.mark.parametrize(("data_type", "value", "says"), REFUSED)
def test_refused_values_say_why(data_type: str, value: str, says: str) -> None:
    with pytest.raises(BadRequest) as refused:
        check_value(data_type, value, label="limit")
    assert says in refused.value.message and "limit" in refused.value.message


@pytest.mark.parametrize(("data_type", "value"), ACCEPTED)
def test_values_within_the_rule_are_kept(data_type: str, value: str) -> None:
    check_value(data_type, value, label="limit")
