"""Fixtures of the browser tests: one headless Chromium per session (Debian's, driven by Playwright), a console
user of the test's organization, and a fresh browser page on the live server."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.tenancy.service import TenancyService
from tests.conftest import Tenant
from tests.console.browsing import CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def person(session_factory: sessionmaker[Session], tenant: Tenant) -> tuple[str, str]:
    """A console user of the tenant's organization: (email, password)."""
    email, password = f"ops-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    with unit_of_work(session_factory) as s:
        service = TenancyService(s)
        service.create_user(
            org=service.organization(tenant.org.id), email=email, password=password, now=utc_now(), name="Ops"
        )
    return email, password


@pytest.fixture
def page(browser: Browser, tenant: Tenant) -> Iterator[Page]:
    context = browser.new_context(base_url=tenant.base_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest) -> str:
    """'desktop' (1280 px) or 'phone' (390 px): a test that takes `any_page` runs at both widths."""
    return str(request.param)


@pytest.fixture
def any_page(browser: Browser, tenant: Tenant, screen: str) -> Iterator[Page]:
    """A fresh page at the width `screen` names; name screenshots with `shot(page, f"...-{screen}", engine)`."""
    context = browser.new_context(base_url=tenant.base_url, viewport=SCREENS[screen])  # type: ignore[arg-type]
    page = context.new_page()
    yield page
    context.close()
