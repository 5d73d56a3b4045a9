"""Pricing rules through the official SDK against a live server, on both engines: docs/pricing.md, "Pricing rules",
its worked example invoiced to the cent; rules listed per version; refusals naming the field; an account's own rules
(pricingRulesOverride) and a failing rule reported on the invoice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException

from tests.api.billing_setup import acme_invoices, month_start
from tests.api.conftest import Sdk, message_of
from tests.api.test_ingestion_sdk import ev
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant

UTC = timezone.utc
D = Decimal


def rule(
    order: int, name: str, computation: str, kind: str, target: str | None = None, **extra: Any
) -> tc.CreatePricingRule:
    description = extra.pop("description", None)
    return tc.CreatePricingRule(
        name=name,
        order=order,
        computation=computation,
        action=tc.PricingRuleAction(type=kind, target=target, description=description),
        **extra,
    )


# docs/pricing.md, "Pricing rules": the worked example's four rules
RULES = [
    rule(1, "Usage cap", "1000", "UPDATE", "usage.api_calls", condition='{">": [{"var": "usage.api_calls"}, 1000]}'),
    rule(
        2,
        "Volume discount",
        '{"*": [{"var": "revenue.api_calls"}, 0.9]}',
        "UPDATE",
        "revenue.api_calls",
        condition='{">=": [{"var": "revenue.api_calls"}, 50]}',
    ),
    rule(
        3,
        "Enterprise seats",
        '{"*": [{"var": "account.metadata.seats"}, 2.5]}',
        "ADD",
        condition='{"==": [{"var": "account.metadata.tier"}, "enterprise"]}',
        description="Enterprise seats (2.50 each)",
    ),
    rule(
        4,
        "Support discount",
        '{"*": [{"var": "revenue.support"}, 0.8]}',
        "UPDATE",
        "revenue.support",
        invoice_timing="IN_ADVANCE",
    ),
]


def details(sdk: Sdk, meter_id: str, suffix: str = "") -> tc.CreatePricePlanDetails:
    fees = {}
    for name in ("Platform", "Support"):
        fees[name] = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name=name + suffix, type="FIXED_FEE")).id
    return tc.CreatePricePlanDetails(
        pricing_cycle_config=tc.PricingCycleConfig(
            interval="MONTHLY",
            start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
            grace_period=0,
        ),
        supported_currencies=["USD"],
        usage_rate_cards=[
            tc.UsageRateCard(
                name="api_calls",
                display_name="API calls",
                usage_meter_id=meter_id,
                rate_plan=tc.RatePlan(
                    pricing_model="TIERED", slabs=[tc.Slab(order=1, start_after=0, price_type="PER_UNIT")]
                ),
                rate_values=[tc.RateValue(currency="USD", slab_rates=[tc.SlabRate(order=1, rate=0.1)])],
            )
        ],
        fixed_fee_rate_cards=[
            tc.FixedFeeRateCard(
                id=fees["Platform"],
                name="platform",
                invoice_timing="IN_ARREARS",
                enable_proration=False,
                rate_values=[tc.CurrencyRateValue(currency="USD", rate=100)],
            ),
            tc.FixedFeeRateCard(
                id=fees["Support"],
                name="support",
                invoice_timing="IN_ADVANCE",
                enable_proration=False,
                rate_values=[tc.CurrencyRateValue(currency="USD", rate=50)],
            ),
        ],
    )


def this_month(sdk: Sdk, plan_id: str, calls: str, **schedule: Any) -> tuple[tc.Invoice, tc.Invoice]:
    """acme on the plan from the 1st of this month, with `calls` calls now: (its in-advance, its in-arrears) invoice."""
    now = datetime.now(UTC)
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, month_start(now), OPEN, **schedule))
    at = max(now - timedelta(minutes=1), datetime.combine(month_start(now), datetime.min.time(), UTC))
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("r1", calls, at=at)]))
    invoices = {i.invoice_type: i for i in acme_invoices(sdk)}
    return (
        sdk.invoices.get_invoice(invoices["STANDARD_ADVANCED"].id),
        sdk.invoices.get_invoice(invoices["STANDARD"].id),
    )


def lines(tenant: Tenant, invoice_id: str, line_type: str) -> list[tuple[str, str, Any]]:
    """The children of the invoice's first line of `line_type` (the SDK cannot parse line trees: raw HTTP)."""
    with tenant.http() as http:
        root = http.get(f"/invoices/{invoice_id}").json()["revenueInfo"]

    def find(line: dict[str, Any]) -> dict[str, Any] | None:
        if line["type"] == line_type:
            return line
        return next((f for c in line["lineItems"] if (f := find(c)) is not None), None)

    found = find(root)
    assert found is not None
    return [(c["type"], c.get("description"), c["value"]) for c in found["lineItems"]]


def test_the_worked_example_is_invoiced_to_the_cent(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(name="Rules", price_plan_details=details(sdk, catalog["sum"]), pricing_rules=RULES)
    )
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    sdk.accounts.update_account("acme", tc.UpdateAccountRequest(metadata={"tier": "enterprise", "seats": "12"}))

    advanced, standard = this_month(sdk, plan.id, "1500")

    # in advance: Support 50.00 x 0.8 = 40.00
    assert advanced.total_amount == 40
    assert lines(tenant, advanced.id, "TOTAL_ADVANCED_FEES") == [
        ("ADVANCED_FIXED_FEE", "Support", 50),
        ("PRICING_RULE_REVENUE_UPDATE_AMOUNT", "Support: Support discount", -10),
    ]
    # in arrears: 1,500 calls capped at 1,000 (150.00 -> 100.00), 10% off (90.00), 100.00 platform, 12 seats x 2.50,
    # the in-advance 40.00: SUB_TOTAL 260.00, less the 40.00 invoiced in advance: 220.00
    assert standard.total_amount == 220
    assert lines(tenant, standard.id, "SUB_TOTAL_AMOUNT") == [
        ("USAGE_RATE_CARD_AMOUNT", "API calls", 150),
        ("PRICING_RULE_USAGE_UPDATE_AMOUNT", "API calls: Usage cap", -50),
        ("PRICING_RULE_REVENUE_UPDATE_AMOUNT", "API calls: Volume discount", -10),
        ("FIXED_FEE_RATE_CARD_AMOUNT", "Platform", 100),
        ("TOTAL_PRICING_RULE_ADDITION_AMOUNT", "Added by pricing rules", 30),
        ("TOTAL_ADVANCED_FEES", "Fees billed in advance", 40),
    ]
    logs = sdk.invoices.list_pricing_rule_logs(standard.id).data
    assert [(g.order, g.type, g.rule.name, g.changes.old_revenue, g.changes.new_revenue) for g in logs] == [
        (1, "CONDITION_TRUE", "Usage cap", 150, 100),
        (2, "CONDITION_TRUE", "Volume discount", 100, 90),
        (3, "CONDITION_TRUE", "Enterprise seats", 0, 30),
    ]
    assert (logs[0].changes.old_usage, logs[0].changes.new_usage) == (1500, 1000)
    # finalized (the advance first: it is due first), the lines and the log stay as they were
    sdk.invoices.update_invoice(advanced.id, tc.UpdateInvoiceRequest(status="DUE"))
    final = sdk.invoices.update_invoice(standard.id, tc.UpdateInvoiceRequest(status="DUE"))
    assert (final.status, final.total_amount) == ("DUE", 220)
    assert lines(tenant, standard.id, "TOTAL_PRICING_RULE_ADDITION_AMOUNT") == [
        ("PRICING_RULE_ADDITION_AMOUNT", "Enterprise seats (2.50 each)", 30)
    ]
    assert [g.type for g in sdk.invoices.list_pricing_rule_logs(standard.id).data] == ["CONDITION_TRUE"] * 3

    # the rules as stored: per version, by invoice timing
    read = sdk.price_plans.get_price_plan(plan.id)
    version = read.pricing_schedule[0]
    assert [(r.order, r.name, r.version, r.invoice_timing) for r in version.pricing_rules] == [
        (1, "Usage cap", 1, "IN_ARREARS"),
        (2, "Volume discount", 1, "IN_ARREARS"),
        (3, "Enterprise seats", 1, "IN_ARREARS"),
        (4, "Support discount", 1, "IN_ADVANCE"),
    ]
    api = tc.PricingRulesApi(sdk.client)
    assert [r.name for r in api.list_pricing_rules_by_schedule_id(plan.id, version.id).data] == [
        "Usage cap",
        "Volume discount",
        "Enterprise seats",
        "Support discount",
    ]
    in_advance = api.list_pricing_rules_by_schedule_id(plan.id, version.id, invoice_timing="IN_ADVANCE").data
    assert [(r.name, r.action.target) for r in in_advance] == [("Support discount", "revenue.support")]
    assert [p.pricing_rules is not None for p in sdk.price_plans.get_price_plans().data] == [True]


def test_bad_rules_are_refused_naming_the_field(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    bad = [RULES[0], rule(2, "Broken", '{"*": [1,', "ADD")]
    with pytest.raises(BadRequestException) as refused:
        sdk.price_plans.create_price_plan(
            tc.CreatePricePlanRequest(name="Bad", price_plan_details=details(sdk, catalog["sum"]), pricing_rules=bad)
        )
    assert message_of(refused.value).startswith("pricingRules[1].computation: not valid jsonLogic: invalid JSON")
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Good", price_plan_details=details(sdk, catalog["sum"], " 2"), pricing_rules=RULES[:2]
        )
    )
    with pytest.raises(
        BadRequestException, match=r"pricingRules\[0\]\.action\.target: the plan has no rate card 'calls'"
    ):
        sdk.price_plans.update_price_plan(
            plan.id, tc.UpdatePricePlanRequest(pricing_rules=[rule(1, "x", "1", "UPDATE", "revenue.calls")])
        )
    with tenant.http() as http:
        many = [{"name": f"r{n}", "order": n, "computation": "1", "action": {"type": "ADD"}} for n in range(1, 22)]
        response = http.patch(f"/price_plans/{plan.id}", json={"pricingRules": many})
        assert response.status_code == 400 and "pricingRules" in response.json()["message"]
    # a DRAFT plan's rules are replaced whole by an update; [] leaves none
    sdk.price_plans.update_price_plan(plan.id, tc.UpdatePricePlanRequest(pricing_rules=[RULES[2]]))
    assert [r.name for r in sdk.price_plans.get_price_plan(plan.id).pricing_schedule[0].pricing_rules] == [
        "Enterprise seats"
    ]
    sdk.price_plans.update_price_plan(plan.id, tc.UpdatePricePlanRequest(pricing_rules=[]))
    assert sdk.price_plans.get_price_plan(plan.id).pricing_schedule[0].pricing_rules is None
    # an ACTIVE plan's new rules make a new version; the one before keeps its own
    sdk.price_plans.update_price_plan(plan.id, tc.UpdatePricePlanRequest(pricing_rules=[RULES[1]]))
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    sdk.price_plans.update_price_plan(plan.id, tc.UpdatePricePlanRequest(pricing_rules=RULES[:2]))
    versions = sdk.price_plans.get_price_plan(plan.id).pricing_schedule
    assert [(v.version, [r.name for r in v.pricing_rules]) for v in versions] == [
        (1, ["Volume discount"]),
        (2, ["Usage cap", "Volume discount"]),
    ]
    assert [r.version for r in versions[1].pricing_rules] == [2, 2]


def test_an_account_s_own_rules_and_a_failing_rule_reported(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(name="Rules", price_plan_details=details(sdk, catalog["sum"]), pricing_rules=RULES)
    )
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    own = [
        rule(1, "Half price", '{"/": [{"var": "revenue.api_calls"}, 2]}', "UPDATE", "revenue.api_calls"),
        rule(2, "Broken", '{"*": [{"var": "account.metadata.nope"}, 2]}', "ADD"),
    ]
    with pytest.raises(BadRequestException, match=r"pricingRulesOverride\[0\]\.action\.target: .*'nothing'"):
        sdk.accounts.update_pricing_schedule(
            "acme",
            associate(
                plan.id,
                month_start(datetime.now(UTC)),
                OPEN,
                pricing_rules_override=[rule(1, "x", "1", "UPDATE", "revenue.nothing")],
            ),
        )
    advanced, standard = this_month(sdk, plan.id, "333", pricing_rules_override=own)

    # the account's rules replace the plan's: 333 calls = 33.30, halved = 16.65; 100.00 platform; the broken rule
    # adds nothing; the in-advance Support fee is not discounted (the plan's IN_ADVANCE rule is replaced too)
    assert advanced.total_amount == 50
    assert D(str(standard.total_amount)) == D("116.65")
    logs = sdk.invoices.list_pricing_rule_logs(standard.id).data
    assert [(g.type, g.rule.name) for g in logs] == [("CONDITION_TRUE", "Half price"), ("COMPUTATION_ERROR", "Broken")]
    assert logs[1].changes.error_message == "computation: '*' needs numbers, got None"
    with tenant.http() as http:
        root = http.get(f"/invoices/{standard.id}").json()["revenueInfo"]
    assert root["metadata"]["pricingRuleErrors"] == [
        "pricing rule 'Broken' (order 2): computation: '*' needs numbers, got None"
    ]
    schedule = sdk.accounts.get_pricing_schedules("acme").data[0]
    assert schedule.is_overriden and [r.name for r in schedule.pricing_rules] == ["Half price", "Broken"]


def test_the_revenue_calculator_applies_the_rules(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(name="Rules", price_plan_details=details(sdk, catalog["sum"]), pricing_rules=RULES)
    )
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    sdk.accounts.update_account("acme", tc.UpdateAccountRequest(metadata={"tier": "enterprise", "seats": "12"}))
    sdk.accounts.update_pricing_schedule("acme", associate(plan.id, month_start(datetime.now(UTC)), OPEN))
    request = tc.CalculateRevenueRequest(
        currency_config=tc.CurrencyConfig(mode="ACCOUNT_INVOICE", account_id="acme"),
        price_plan_details_config=tc.PricePlanDetailsConfig(mode="ACCOUNT", account_id="acme"),
        usage_config=tc.UsageConfig(mode="CUSTOM", usage_map={catalog["sum"]: 1500}),
        license_entries_config=tc.LicenseEntriesConfig(mode="CUSTOM", custom=[]),
    )
    assert len(sdk.calculator.calculate_revenue(request).revenue_info) == 3  # the SDK reads the answer
    for path in ("/revenue_calculator", "/v2/revenue_calculator"):
        with tenant.http() as http:
            raw = http.post(path, json=sdk.client.sanitize_for_serialization(request)).json()
        # each card as the rules left it (its slabs as rated), and what the rules changed of it
        assert [(i["usages"], i["revenue"], i.get("pricingRuleAdjustment")) for i in raw["revenueInfo"]] == [
            ({catalog["sum"]: 1000}, 90, -60),
            ({}, 100, 0),
            ({}, 40, -10),
        ]
        assert [s["revenue"] for s in raw["revenueInfo"][0]["slabRevenueSummaries"]] == [150]
        assert [(e["name"], e["type"], e["changes"].get("newRevenue")) for e in raw["pricingRules"]] == [
            ("Usage cap", "CONDITION_TRUE", 100),
            ("Volume discount", "CONDITION_TRUE", 90),
            ("Enterprise seats", "CONDITION_TRUE", 30),
            ("Support discount", "CONDITION_TRUE", 40),
        ]
    # inline details (CUSTOM) may carry their rules in `pricingRules`; no account: `account.*` reads nothing
    with tenant.http() as http:
        inline = http.get(f"/price_plans/{plan.id}").json()["pricingSchedule"][0]
        body = sdk.client.sanitize_for_serialization(request)
        details_json = {k: v for k, v in inline["pricePlanDetails"].items() if k not in ("activeCurrencies", "type")}
        body["pricePlanDetailsConfig"] = {
            "mode": "CUSTOM",
            "pricePlanDetails": {**details_json, "pricingRules": sdk.client.sanitize_for_serialization(RULES)},
        }
        body["currencyConfig"] = {"mode": "CUSTOM", "currency": "USD"}
        raw = http.post("/revenue_calculator", json=body).json()
    assert [i["revenue"] for i in raw["revenueInfo"]] == [90, 100, 40]
    assert [e["type"] for e in raw["pricingRules"]] == [
        "CONDITION_TRUE",
        "CONDITION_TRUE",
        "CONDITION_FALSE",
        "CONDITION_TRUE",
    ]


# docs/pricing.md, "Pricing rules", the settings example: a contract discount and a support fee read from settings
SETTING_RULES = [
    rule(
        1,
        "Contract discount",
        '{"*": [{"var": "revenue.api_calls"}, {"-": [1, {"var": "account.settings.billing.discount"}]}]}',
        "UPDATE",
        "revenue.api_calls",
    ),
    rule(
        2,
        "Support plan",
        '{"var": "account.settings.billing.support_fee"}',
        "ADD",
        condition='{"==": [{"var": "account.settings.billing.tier"}, "gold"]}',
    ),
]


def test_rules_read_the_account_s_settings_nearest_first(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    def setting(key: str, value: str, data_type: str, entity_type: str, entity_id: str) -> None:
        sdk.settings.insert_setting(
            tc.Setting(
                id=key,
                value=value,
                entity_type=entity_type,
                entity_id=entity_id,
                namespace="billing",
                name=key,
                data_type=data_type,
            )
        )

    setting("discount", "0.05", "NUMERIC", "ORGANIZATION", tenant.org.id)
    setting("discount", "0.15", "NUMERIC", "CUSTOMER", "acme")  # the customer's is nearer than the organization's
    setting("tier", "gold", "STRING", "ORGANIZATION", tenant.org.id)
    setting("support_fee", "25.50", "NUMERIC", "ACCOUNT", "acme")
    setting("support_fee", "99", "NUMERIC", "CUSTOMER", "acme")  # the account's is nearer still
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Settings", price_plan_details=details(sdk, catalog["sum"]), pricing_rules=SETTING_RULES
        )
    )
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))

    advanced, standard = this_month(sdk, plan.id, "1234")

    # 1,234 calls = 123.40, less the customer's 15% = 104.89 (-18.51); platform 100.00; the account's support fee
    # 25.50 (the organization's tier is gold); Support 50.00 in advance: SUB_TOTAL 280.39, total 230.39
    assert advanced.total_amount == 50
    assert D(str(standard.total_amount)) == D("230.39")
    assert [(t, d, D(str(v))) for t, d, v in lines(tenant, standard.id, "SUB_TOTAL_AMOUNT")] == [
        ("USAGE_RATE_CARD_AMOUNT", "API calls", D("123.4")),
        ("PRICING_RULE_REVENUE_UPDATE_AMOUNT", "API calls: Contract discount", D("-18.51")),
        ("FIXED_FEE_RATE_CARD_AMOUNT", "Platform", 100),
        ("TOTAL_PRICING_RULE_ADDITION_AMOUNT", "Added by pricing rules", D("25.5")),
        ("TOTAL_ADVANCED_FEES", "Fees billed in advance", 50),
    ]
    # the revenue calculator reads them alike
    request = tc.CalculateRevenueRequest(
        currency_config=tc.CurrencyConfig(mode="ACCOUNT_INVOICE", account_id="acme"),
        price_plan_details_config=tc.PricePlanDetailsConfig(mode="ACCOUNT", account_id="acme"),
        usage_config=tc.UsageConfig(mode="CUSTOM", usage_map={catalog["sum"]: 1234}),
        license_entries_config=tc.LicenseEntriesConfig(mode="CUSTOM", custom=[]),
    )
    with tenant.http() as http:
        raw = http.post("/revenue_calculator", json=sdk.client.sanitize_for_serialization(request)).json()
    assert [(D(str(i["revenue"])), D(str(i.get("pricingRuleAdjustment")))) for i in raw["revenueInfo"]] == [
        (D("104.89"), D("-18.51")),
        (100, 0),
        (50, 0),
    ]
