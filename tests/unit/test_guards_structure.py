"""The cross-domain guards are structure (docs/architecture.md, "The use-case layer"): each check is a required
argument with no default, and only the use-case layer (and the domain that defines a check) supplies it. A new
entry point that composes domains itself, or a default that makes a guard optional again, fails here."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meterline.accounts.service import AccountService
from meterline.credits.service import CreditService
from meterline.customers.service import CustomerService
from meterline.entitlements.service import EntitledIngestion
from meterline.events.corrections import CorrectionService
from meterline.events.service import IngestionService
from meterline.invoicing import billing
from meterline.jobs.service import JobService
from meterline.schedules import migration
from meterline.schedules.service import ScheduleService
from meterline.usecases.events import preview_correction
from meterline.usecases.jobs import request_correction
from meterline.wallet.service import WalletService

SRC = Path(__file__).resolve().parents[2] / "src" / "meterline"

GUARDED: list[tuple[Callable[..., Any], str]] = [
    (AccountService.delete, "has_history"),
    (AccountService.remove, "has_history"),
    (CustomerService.delete, "has_history"),
    (ScheduleService.edit, "invoiced_until"),
    (migration.migrate_account, "invoiced_until"),
    (CorrectionService.__init__, "invoiced_until"),
    (CorrectionService.__init__, "feature_credits"),
    (IngestionService.__init__, "invoiced_until"),
    (EntitledIngestion.__init__, "invoiced_until"),
    # the stored event a correction must still apply to: the console's page and a confirmed job pass theirs
    (CorrectionService.correct, "expected_reference"),
    (preview_correction, "expected_reference"),
    (request_correction, "expected_reference"),
    (CreditService.__init__, "holds"),
    (WalletService.__init__, "holds"),
    (JobService.__init__, "runners"),
    # the invoice groups' step of every bill run (usecases/bill_runs.py supplies it)
    (billing.run, "groups"),
    (billing.Worker.__init__, "groups"),
    (billing.Worker.__init__, "housekeeping"),
]

# The checks, and the only packages that may hand them to a service.
CHECKS = {
    "invoiced_until",
    "invoiced_until_of",
    "credit_holds",
    "wallet_holds",
    "has_billing_history",
    "RUNNERS",
    "give_back_feature_credits",
    "consolidate",
}
ALLOWED = {"usecases", "invoicing", "payments", "entitlements"}


@pytest.mark.parametrize(("function", "name"), GUARDED, ids=[f"{f.__qualname__}:{n}" for f, n in GUARDED])
def test_every_guard_is_a_required_argument(function: Callable[..., Any], name: str) -> None:
    parameter = inspect.signature(function).parameters[name]
    assert parameter.default is inspect.Parameter.empty, f"{function.__qualname__}({name}=...) must have no default"


def test_only_the_use_case_layer_supplies_the_checks() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        package = path.relative_to(SRC).parts[0]
        if package in ALLOWED or package == "migrations":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                offenders += [f"{path.relative_to(SRC)} imports {a.name}" for a in node.names if a.name in CHECKS]
    assert not offenders, "compose domains in usecases/, not here:\n" + "\n".join(offenders)
