"""A wallet's entries are paged after its DRAFT invoices' holds: the page token inside the holds says how many were
shown. A token that is neither that nor a stored entry's id is a clear 400, never a 500."""

from __future__ import annotations

import pytest

from meterline.core.errors import BadRequest
from meterline.wallet.service import HOLDS_SHOWN, _holds_shown


def test_the_holds_shown_so_far() -> None:
    assert _holds_shown(None) == 0
    assert _holds_shown(f"{HOLDS_SHOWN}3") == 3
    assert _holds_shown(f"{HOLDS_SHOWN}999999") == 999999
    assert _holds_shown("wallet_entry.01HX") is None  # past the holds: a stored entry's id


@pytest.mark.parametrize("count", ["", "abc", "-1", "1.5", "1234567"])
def test_a_forged_holds_token_is_refused(count: str) -> None:
    with pytest.raises(BadRequest, match="^nextToken is not valid: pass the nextToken of a previous page unchanged$"):
        _holds_shown(f"{HOLDS_SHOWN}{count}")
