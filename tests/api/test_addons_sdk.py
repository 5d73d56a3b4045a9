"""AddOnsApi through the official SDK against a live server, on both engines."""

from __future__ import annotations

import pytest
import togai_client as tc
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant


def test_create_get_list_update_archive(sdk: Sdk) -> None:
    response = sdk.add_ons.create_add_on_with_http_info(tc.CreateAddOnRequest(name="Platform fee", type="FIXED_FEE"))
    assert response.status_code == 200
    fee = response.data
    assert fee.id.startswith("addon.") and fee.status == "ACTIVE" and fee.display_name == "Platform fee"
    seats = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Seats", type="LICENSE", billable_name="Seats (monthly)"))
    assert (seats.billable_name, seats.display_name, seats.type) == ("Seats (monthly)", "Seats (monthly)", "LICENSE")
    assert sdk.add_ons.get_add_on(fee.id).name == "Platform fee"

    first = sdk.add_ons.get_add_ons(page_size=1)
    assert [a.id for a in first.data] == [fee.id] and first.next_token
    second = sdk.add_ons.get_add_ons(page_size=1, next_token=first.next_token)
    assert [a.id for a in second.data] == [seats.id] and second.next_token is None

    renamed = sdk.add_ons.update_add_on(fee.id, tc.UpdateAddOnRequest(name="Base fee", billable_name="Base platform fee"))
    assert (renamed.name, renamed.display_name) == ("Base fee", "Base platform fee")

    assert sdk.add_ons.delete_add_on(fee.id).success is True
    assert sdk.add_ons.get_add_on(fee.id).status == "ARCHIVED"
    assert [a.id for a in sdk.add_ons.get_add_ons(status="ACTIVE").data] == [seats.id]
    assert [a.id for a in sdk.add_ons.get_add_ons(status="ARCHIVED").data] == [fee.id]
    assert len(sdk.add_ons.get_add_ons().data) == 2
    with pytest.raises(BadRequestException) as frozen:
        sdk.add_ons.update_add_on(fee.id, tc.UpdateAddOnRequest(name="x"))
    assert "archived" in message_of(frozen.value)
    # an archived add-on frees its name
    assert sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Base fee", type="FIXED_FEE")).status == "ACTIVE"


def test_failures(tenant: Tenant, sdk: Sdk, other_sdk: Sdk) -> None:
    mine = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Credits", type="CREDIT_GRANT"))
    with pytest.raises(ApiException) as duplicate:
        sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Credits", type="FIXED_FEE"))
    assert duplicate.value.status == 409 and "Credits" in message_of(duplicate.value)
    with pytest.raises(NotFoundException):
        sdk.add_ons.get_add_on("addon.nope")
    for call in (lambda: other_sdk.add_ons.get_add_on(mine.id), lambda: other_sdk.add_ons.delete_add_on(mine.id),
                 lambda: other_sdk.add_ons.update_add_on(mine.id, tc.UpdateAddOnRequest(name="x"))):
        with pytest.raises(NotFoundException):
            call()
    assert other_sdk.add_ons.get_add_ons().data == []
    with tenant.http() as http:
        for body, words in (({"name": "X", "type": "SEAT"}, "type"), ({"type": "LICENSE"}, "name: this field is required"),
                            ({"name": "x" * 256, "type": "LICENSE"}, "name"), ({"name": "X", "type": "LICENSE", "colour": "red"}, "colour")):
            response = http.post("/addons", json=body)
            assert response.status_code == 400 and words in response.json()["message"], response.text
