"""Price plan migrations as PRICE_PLAN jobs, and JobsApi, through the official SDK (schedules/migration.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.api.test_price_plans_sdk import tiered
from tests.api.test_schedules_sdk import OPEN, associate, plan

UTC = timezone.utc


def migration(source: str, target: str | None, mode: str, **kwargs: object) -> tc.CreatePricePlanMigrationRequest:
    return tc.CreatePricePlanMigrationRequest(
        source_id=source, source_version=1, target_id=target, migration_mode=mode, **kwargs
    )


def schedules(sdk: Sdk, account: str = "acme") -> list[tuple[str, datetime, datetime]]:
    return [(s.price_plan_name, s.start_date, s.end_date) for s in sdk.accounts.get_pricing_schedules(account).data]


def cycle_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


@pytest.fixture
def plans(sdk: Sdk, catalog: dict[str, str]) -> tuple[str, str]:
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="beta", name="Beta Co", primary_email="b@beta.test", address=tc.Address())
    )
    old, new = plan(sdk, catalog["sum"], "Old"), plan(sdk, catalog["sum"], "New")
    sdk.accounts.update_pricing_schedule("acme", associate(old, date(2024, 1, 1), OPEN))
    sdk.accounts.update_pricing_schedule("beta", associate(old, datetime.now(UTC).date() + timedelta(days=40), OPEN))
    return old, new


def test_immediate_migration_moves_every_account(sdk: Sdk, plans: tuple[str, str]) -> None:
    old, new = plans
    before = datetime.now(UTC)
    response = sdk.price_plans.price_plan_migration_with_http_info(migration(old, new, "IMMEDIATE"))
    assert response.status_code == 201 and response.data.success is True
    [listed] = sdk.jobs.get_jobs().data
    job = sdk.jobs.get_job_status(listed.id)
    assert (job.type, job.status, job.total_job_entries, job.completed_job_entries) == ("PRICE_PLAN", "COMPLETED", 2, 2)
    assert job.metadata["migrationMode"] == "IMMEDIATE" and job.metadata["targetId"] == new
    assert {e.entity_id for e in sdk.jobs.get_job_entries(listed.id).data} == {"acme", "beta"}
    (first, start, cut), (second, moved_at, end) = schedules(sdk)
    assert (first, second, start, end) == (
        "Old",
        "New",
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, tzinfo=UTC),
    )
    assert cut == moved_at and before <= cut <= datetime.now(UTC)
    [(name, _, _)] = schedules(sdk, "beta")  # a schedule that had not started moves whole
    assert name == "New"


@pytest.mark.parametrize("mode", ["NEXT_CYCLE", "START_OF_CURRENT_CYCLE"])
def test_cycle_aligned_modes(sdk: Sdk, plans: tuple[str, str], mode: str) -> None:
    old, new = plans
    sdk.price_plans.price_plan_migration(migration(old, new, mode))
    start, end = cycle_bounds(datetime.now(UTC))
    switch = end if mode == "NEXT_CYCLE" else start
    assert schedules(sdk) == [
        ("Old", datetime(2024, 1, 1, tzinfo=UTC), switch),
        ("New", switch, datetime(9999, 12, 31, tzinfo=UTC)),
    ]


def test_confirmation_reject_and_failures(sdk: Sdk, plans: tuple[str, str], catalog: dict[str, str]) -> None:
    old, new = plans
    sdk.price_plans.price_plan_migration(migration(old, new, "IMMEDIATE", require_confirmation=True))
    [waiting] = sdk.jobs.get_jobs().data
    assert waiting.status == "WAITING_FOR_CONFIRMATION" and [s[0] for s in schedules(sdk)] == ["Old"]
    rejected = sdk.jobs.reject_job(waiting.id)
    assert rejected.status == "CANCELLED" and [s[0] for s in schedules(sdk)] == ["Old"]
    with pytest.raises(BadRequestException) as late:
        sdk.jobs.confirm_job(waiting.id)
    assert "WAITING_FOR_CONFIRMATION" in message_of(late.value)

    sdk.price_plans.price_plan_migration(migration(old, new, "IMMEDIATE", require_confirmation=True))
    pending = next(j for j in sdk.jobs.get_jobs().data if j.status == "WAITING_FOR_CONFIRMATION")
    assert sdk.jobs.confirm_job(pending.id).status == "COMPLETED"
    assert [s[0] for s in schedules(sdk)] == ["Old", "New"]

    euro = plan(sdk, catalog["sum"], "Euro", currencies=("EUR",))
    sdk.price_plans.price_plan_migration(migration(new, euro, "IMMEDIATE"))
    failed = next(j for j in sdk.jobs.get_jobs().data if j.status == "FAILED")
    entries = sdk.jobs.get_job_entries(failed.id).data
    assert {e.status for e in entries} == {"FAILED"} and "not active in USD" in entries[0].metadata["reason"]
    assert [s[0] for s in schedules(sdk)] == ["Old", "New"]  # nothing moved
    for request, words in (
        (migration("pp.nope", new, "IMMEDIATE"), "not found"),
        (migration(old, old, "IMMEDIATE"), "target is the source"),
    ):
        with pytest.raises((BadRequestException, NotFoundException)) as refused:
            sdk.price_plans.price_plan_migration(request)
        assert words in message_of(refused.value)
    with pytest.raises(NotFoundException, match="Job job.nope not found"):
        sdk.jobs.get_job_status("job.nope")


def test_updating_an_active_plan_can_move_its_accounts(
    sdk: Sdk, plans: tuple[str, str], catalog: dict[str, str]
) -> None:
    old, _ = plans
    cheaper = tiered(catalog["sum"], "USD")
    cheaper.rate_values[0].slab_rates[0].rate = 0.9
    sdk.price_plans.update_price_plan(
        old,
        tc.UpdatePricePlanRequest(
            migration_mode="IMMEDIATE", price_plan_details=tc.CreatePricePlanDetailsOverride(usage_rate_cards=[cheaper])
        ),
    )
    versions = [s.version for s in sdk.accounts.get_pricing_schedules("acme").data]
    assert versions == [1, 2]
    assert [s.version for s in sdk.accounts.get_pricing_schedules("beta").data] == [2]


def test_overrides_follow_unless_ignored(sdk: Sdk, catalog: dict[str, str]) -> None:
    old, new = plan(sdk, catalog["sum"], "Old"), plan(sdk, catalog["sum"], "New")
    special = tiered(catalog["sum"], "USD")
    special.rate_values[0].slab_rates[0].rate = 0.7
    sdk.accounts.update_pricing_schedule(
        "acme",
        associate(
            old,
            datetime.now(UTC).date() + timedelta(days=40),
            OPEN,
            price_plan_details_override=tc.CreatePricePlanDetailsOverride(usage_rate_cards=[special]),
        ),
    )
    sdk.price_plans.price_plan_migration(migration(old, new, "IMMEDIATE"))
    [moved] = sdk.accounts.get_pricing_schedules("acme").data
    assert moved.is_overriden and moved.price_plan_details.usage_rate_cards[0].rate_values[0].slab_rates[0].rate == 0.7
    sdk.price_plans.price_plan_migration(
        tc.CreatePricePlanMigrationRequest(
            source_id=new, source_version=1, target_id=old, migration_mode="IMMEDIATE_IGNORE_OVERRIDE"
        )
    )
    [back] = sdk.accounts.get_pricing_schedules("acme").data
    assert back.price_plan_name == "Old" and back.is_overriden is False


def test_other_organizations_jobs_are_not_found(sdk: Sdk, other_sdk: Sdk, plans: tuple[str, str]) -> None:
    old, new = plans
    sdk.price_plans.price_plan_migration(migration(old, new, "IMMEDIATE", require_confirmation=True))
    [job] = sdk.jobs.get_jobs().data
    assert other_sdk.jobs.get_jobs().data == []
    for call in (
        lambda: other_sdk.jobs.get_job_status(job.id),
        lambda: other_sdk.jobs.confirm_job(job.id),
        lambda: other_sdk.jobs.get_job_entries(job.id),
    ):
        with pytest.raises(NotFoundException, match=r"Job job\.\w+ not found"):
            call()
