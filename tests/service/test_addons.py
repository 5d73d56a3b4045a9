"""Add-on rules (docs/api.md "Add-ons") at the service level, on both engines."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from meterline.catalog.addon_schemas import CreateAddOnRequest, UpdateAddOnRequest, addon_out
from meterline.catalog.addon_service import AddOnService
from meterline.catalog.models import AddOn
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.pagination import PageRequest
from meterline.tenancy.context import Context
from tests.conftest import new_org, org_in


def create(service: AddOnService, name: str, type_: str = "FIXED_FEE", **kwargs: object) -> AddOn:
    return service.create(CreateAddOnRequest(name=name, type=type_, **kwargs))  # type: ignore[arg-type]


def test_create_sets_server_fields_and_display_name(ctx: Context) -> None:
    service = AddOnService(ctx)
    fee = create(service, "Platform fee")
    seats = create(service, "Seats", "LICENSE", billable_name="Seats (monthly)")
    assert fee.id.startswith("addon.") and fee.pk == fee.id and fee.org_id == ctx.org_id
    assert (fee.status, fee.created_at, fee.updated_at) == ("ACTIVE", ctx.now, ctx.now)
    assert seats.id > fee.id  # time-ordered: lists are in creation order
    assert addon_out(fee).display_name == "Platform fee"
    assert addon_out(seats).display_name == "Seats (monthly)"
    assert service.get(fee.id) is fee


def test_request_validation() -> None:
    assert CreateAddOnRequest(name="  Fee  ", type="CREDIT_GRANT").name == "Fee"
    assert CreateAddOnRequest(name=" " + "x" * 254, type="LICENSE").name == "x" * 254
    # lengths count the text as sent (the published maxLength), before trimming
    for body, field in (
        ({"name": "x" * 256, "type": "LICENSE"}, "name"),
        ({"name": "\n" + "x" * 255, "type": "LICENSE"}, "name"),
        ({"name": "  ", "type": "LICENSE"}, "name"),
        ({"name": "", "type": "LICENSE"}, "name"),
        ({"type": "LICENSE"}, "name"),
        ({"name": "X", "type": "SEAT"}, "type"),
        ({"name": "X", "type": "LICENSE", "billableName": "y" * 256}, "billableName"),
        ({"name": "X", "type": "LICENSE", "colour": "red"}, "colour"),
    ):
        with pytest.raises(ValidationError, match=f"^1 validation error for CreateAddOnRequest\n{field}\n"):
            CreateAddOnRequest.model_validate(body)
    assert CreateAddOnRequest.model_validate({"name": "x" * 255, "type": "NAMED_LICENSE"}).type == "NAMED_LICENSE"
    with pytest.raises(ValidationError, match=r"type\n  Extra inputs are not permitted"):
        UpdateAddOnRequest.model_validate({"type": "LICENSE"})  # the type never changes


def test_active_names_are_unique_and_archiving_frees_them(ctx: Context) -> None:
    service = AddOnService(ctx)
    credits = create(service, "Credits", "CREDIT_GRANT")
    with pytest.raises(Conflict, match="Credits"):
        create(service, "Credits", "LICENSE")
    create(service, "credits")  # names compare exactly
    other = create(service, "Other")
    with pytest.raises(Conflict, match="Credits"):
        service.update(other.id, UpdateAddOnRequest(name="Credits"))
    assert service.update(credits.id, UpdateAddOnRequest(name="Credits")).name == "Credits"  # its own name is free
    service.archive(credits.id)
    again = create(service, "Credits", "FIXED_FEE")
    assert again.id != credits.id and again.status == "ACTIVE"


def test_names_are_per_organization(session: Session, ctx: Context) -> None:
    create(AddOnService(ctx), "Seats", "LICENSE")
    other = Context(session=session, org=org_in(session), now=utc_now())
    assert create(AddOnService(other), "Seats", "LICENSE").status == "ACTIVE"


def test_update_changes_only_what_is_given(ctx: Context) -> None:
    service = AddOnService(ctx)
    addon = create(service, "Seats", "LICENSE", billable_name="Seats billed")
    later = Context(session=ctx.session, org=ctx.org, now=ctx.now + timedelta(minutes=5))
    updated = AddOnService(later).update(addon.id, UpdateAddOnRequest(name="Users"))
    assert (updated.name, updated.billable_name, updated.type) == ("Users", "Seats billed", "LICENSE")
    assert (updated.created_at, updated.updated_at) == (ctx.now, later.now)
    updated = service.update(addon.id, UpdateAddOnRequest(billable_name="Users billed"))
    assert (updated.name, addon_out(updated).display_name) == ("Users", "Users billed")
    assert service.update(addon.id, UpdateAddOnRequest()).name == "Users"


def test_archive_keeps_the_add_on_readable_and_frozen(ctx: Context) -> None:
    service = AddOnService(ctx)
    addon = create(service, "Fee")
    service.archive(addon.id)
    service.archive(addon.id)  # archiving twice is not an error
    assert service.get(addon.id).status == "ARCHIVED"
    with pytest.raises(BadRequest, match="archived"):
        service.update(addon.id, UpdateAddOnRequest(billable_name="Fee billed"))
    assert service.get(addon.id).billable_name is None


def test_unknown_and_foreign_ids_are_not_found(session: Session, ctx: Context) -> None:
    addon = create(AddOnService(ctx), "Fee")
    other = AddOnService(Context(session=session, org=org_in(session), now=utc_now()))
    for call in (
        lambda: other.get(addon.id),
        lambda: other.archive(addon.id),
        lambda: other.update(addon.id, UpdateAddOnRequest(name="Mine")),
        lambda: other.get("addon.nope"),
    ):
        with pytest.raises(NotFound, match="not found"):
            call()
    assert other.page(PageRequest(), None).items == []
    assert AddOnService(ctx).get(addon.id).name == "Fee"


def test_pages_in_creation_order_with_a_status_filter(ctx: Context) -> None:
    service = AddOnService(ctx)
    addons = [create(service, f"A{i}") for i in range(5)]
    service.archive(addons[1].id)
    service.archive(addons[3].id)
    seen, after = [], None
    while True:
        page = service.page(PageRequest(size=2, after=after), None)
        seen += [a.id for a in page.items]
        if page.next_token is None:
            break
        after = page.items[-1].id
    assert seen == [a.id for a in addons]  # every status without a filter
    assert [a.id for a in service.page(PageRequest(), "ACTIVE").items] == [addons[i].id for i in (0, 2, 4)]
    assert [a.id for a in service.page(PageRequest(), "ARCHIVED").items] == [addons[i].id for i in (1, 3)]
    last = service.page(PageRequest(size=3), "ACTIVE")
    assert len(last.items) == 3 and last.next_token is None  # a full last page has no token


def test_concurrent_creates_of_one_name_leave_one_active(session_factory: sessionmaker[Session]) -> None:
    org = new_org(session_factory)
    with unit_of_work(session_factory) as s:
        renamed = create(AddOnService(Context(session=s, org=s.merge(org), now=utc_now())), "Before").id
    results: list[str] = []
    barrier = threading.Barrier(6)

    def claim(i: int) -> None:
        barrier.wait()
        try:
            with unit_of_work(session_factory) as s:
                service = AddOnService(Context(session=s, org=s.merge(org), now=utc_now()))
                if i == 0:
                    service.update(renamed, UpdateAddOnRequest(name="Contested"))
                else:
                    create(service, "Contested")
            results.append("ok")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 5 + ["ok"]
    with unit_of_work(session_factory, write=False) as s:
        count = s.scalar(
            select(func.count()).where(AddOn.org_id == org.id, AddOn.name == "Contested", AddOn.status == "ACTIVE")
        )
    assert count == 1
