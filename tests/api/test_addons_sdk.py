"""AddOnsApi through the official SDK against a live server, on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import togai_client as tc
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant


def test_create_get_list_update_archive(sdk: Sdk) -> None:
    before = datetime.now(timezone.utc)
    response = sdk.add_ons.create_add_on_with_http_info(tc.CreateAddOnRequest(name="Platform fee", type="FIXED_FEE"))
    assert response.status_code == 200
    fee = response.data
    assert fee.id.startswith("addon.") and fee.status == "ACTIVE" and fee.display_name == "Platform fee"
    assert (fee.name, fee.type, fee.billable_name) == ("Platform fee", "FIXED_FEE", None)
    assert fee.created_at.tzinfo is not None and before - timedelta(seconds=5) <= fee.created_at <= before + timedelta(
        minutes=1
    )
    seats = sdk.add_ons.create_add_on(
        tc.CreateAddOnRequest(name="Seats", type="LICENSE", billable_name="Seats (monthly)")
    )
    assert (seats.billable_name, seats.display_name, seats.type) == ("Seats (monthly)", "Seats (monthly)", "LICENSE")
    fetched = sdk.add_ons.get_add_on_with_http_info(fee.id)
    assert fetched.status_code == 200 and fetched.data == fee

    first = sdk.add_ons.get_add_ons_with_http_info(page_size=1)
    assert first.status_code == 200
    assert [a.id for a in first.data.data] == [fee.id] and first.data.next_token
    assert first.data.context.page_size == 1
    second = sdk.add_ons.get_add_ons(page_size=1, next_token=first.data.next_token)
    assert [a.id for a in second.data] == [seats.id] and second.next_token is None

    updated = sdk.add_ons.update_add_on_with_http_info(
        fee.id, tc.UpdateAddOnRequest(name="Base fee", billable_name="Base platform fee")
    )
    renamed = updated.data
    assert updated.status_code == 200
    assert (renamed.id, renamed.name, renamed.display_name, renamed.type) == (
        fee.id,
        "Base fee",
        "Base platform fee",
        "FIXED_FEE",
    )
    assert renamed.created_at == fee.created_at
    only_billable = sdk.add_ons.update_add_on(seats.id, tc.UpdateAddOnRequest(billable_name="Users"))
    assert (only_billable.name, only_billable.display_name) == ("Seats", "Users")

    deleted = sdk.add_ons.delete_add_on_with_http_info(fee.id)
    assert deleted.status_code == 200 and deleted.data.success is True
    assert sdk.add_ons.get_add_on(fee.id).status == "ARCHIVED"
    assert sdk.add_ons.delete_add_on(fee.id).success is True  # archiving twice is not an error
    assert [a.id for a in sdk.add_ons.get_add_ons(status="ACTIVE").data] == [seats.id]
    assert [a.id for a in sdk.add_ons.get_add_ons(status="ARCHIVED").data] == [fee.id]
    assert [a.id for a in sdk.add_ons.get_add_ons().data] == [fee.id, seats.id]  # every status without a filter
    with pytest.raises(BadRequestException) as frozen:
        sdk.add_ons.update_add_on(fee.id, tc.UpdateAddOnRequest(name="x"))
    assert message_of(frozen.value) == f"Add-on {fee.id} is archived; an archived add-on cannot change"
    # an archived add-on frees its name
    assert sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Base fee", type="FIXED_FEE")).status == "ACTIVE"


def test_failures(tenant: Tenant, sdk: Sdk, other_sdk: Sdk) -> None:
    mine = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Credits", type="CREDIT_GRANT"))
    with pytest.raises(ApiException) as duplicate:
        sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Credits", type="FIXED_FEE"))
    assert duplicate.value.status == 409
    assert message_of(duplicate.value) == f"An active add-on is already named 'Credits' ({mine.id})"
    other = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Other", type="FIXED_FEE"))
    with pytest.raises(ApiException) as renamed:
        sdk.add_ons.update_add_on(other.id, tc.UpdateAddOnRequest(name="Credits"))
    assert renamed.value.status == 409 and "Credits" in message_of(renamed.value)
    for call in (
        lambda: sdk.add_ons.get_add_on("addon.nope"),
        lambda: sdk.add_ons.delete_add_on("addon.nope"),
        lambda: sdk.add_ons.update_add_on("addon.nope", tc.UpdateAddOnRequest(name="x")),
    ):
        with pytest.raises(NotFoundException) as unknown:
            call()
        assert unknown.value.status == 404 and message_of(unknown.value) == "Add-on addon.nope not found"
    for call in (
        lambda: other_sdk.add_ons.get_add_on(mine.id),
        lambda: other_sdk.add_ons.delete_add_on(mine.id),
        lambda: other_sdk.add_ons.update_add_on(mine.id, tc.UpdateAddOnRequest(name="x")),
    ):
        with pytest.raises(NotFoundException) as foreign:
            call()
        assert message_of(foreign.value) == f"Add-on {mine.id} not found"
    assert other_sdk.add_ons.get_add_ons().data == []
    assert sdk.add_ons.get_add_on(mine.id).status == "ACTIVE"  # the other organization changed nothing
    with tenant.http() as http:
        for body, message in (
            (
                {"name": "X", "type": "SEAT"},
                "type: Input should be 'LICENSE', 'FIXED_FEE', 'CREDIT_GRANT' or 'NAMED_LICENSE'",
            ),
            ({"type": "LICENSE"}, "name: this field is required"),
            ({"name": "x" * 256, "type": "LICENSE"}, "name: String should have at most 255 characters"),
            (
                {"name": "X", "type": "LICENSE", "billableName": "y" * 256},
                "billableName: String should have at most 255 characters",
            ),
            ({"name": "\n" + "x" * 255, "type": "LICENSE"}, "name: String should have at most 255 characters"),
            ({"name": "  ", "type": "LICENSE"}, "name: must not be blank"),
            ({"name": "", "type": "LICENSE"}, "name: String should have at least 1 character"),
            ({"name": "X", "type": "LICENSE", "colour": "red"}, "colour: unknown field, it cannot be set here"),
        ):
            response = http.post("/addons", json=body)
            assert (response.status_code, response.json()) == (400, {"message": message}), response.text
        response = http.patch(f"/addons/{mine.id}", json={"type": "LICENSE"})  # the type never changes
        assert (response.status_code, response.json()) == (
            400,
            {"message": "type: unknown field, it cannot be set here"},
        )
        response = http.get("/addons", params={"status": "active"})
        assert (response.status_code, response.json()) == (
            400,
            {"message": "status: Input should be 'ACTIVE' or 'ARCHIVED'"},
        )
    assert [a.id for a in sdk.add_ons.get_add_ons().data] == [mine.id, other.id]  # nothing refused was written
