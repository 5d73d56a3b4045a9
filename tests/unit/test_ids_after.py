"""`new_id_after`: an id that sorts after a given one, even one another process made later in its clock."""

from __future__ import annotations

import time

from meterline.core.ids import new_id, new_id_after


def test_an_id_after_one_made_ahead_of_this_clock_still_sorts_after_it() -> None:
    ahead = new_id("lic", now_ms=int(time.time() * 1000) + 60_000)  # another process, or the same millisecond
    made = new_id_after("lic", ahead)
    assert made > ahead and made.startswith("lic.") and len(made) == len(ahead)
    assert new_id_after("lic", made) > made


def test_without_a_floor_or_behind_one_it_is_a_new_id() -> None:
    behind = new_id("lic", now_ms=1)
    assert new_id_after("lic", behind) > behind
    assert new_id_after("lic", None) > behind
    assert new_id_after("lic", "lic.zzzzzzzzzzzzzzzzzzzzzzzzzy") == "lic.zzzzzzzzzzzzzzzzzzzzzzzzzz"
