"""Self-hosted defaults (issue 15): one default database for every command and scripts/run.sh, and no quotas unless
the operator sets them (a first backfill script met Togai's hosted 10 requests/s)."""

from __future__ import annotations

import os

import pytest

from meterline.api.quotas import Quotas
from meterline.core.errors import TooManyRequests
from meterline.core.settings import DEFAULT_DATABASE_URL, Settings


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("METERLINE_"):
            monkeypatch.delenv(name)


def test_the_defaults(no_environment: None) -> None:
    settings = Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///data/meterline.db"
    assert (settings.rate_limit_api, settings.rate_limit_ingest) == (0, 0)


def test_quotas_are_off_by_default_and_one_setting_turns_each_on(
    no_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings()
    quotas = Quotas(settings.rate_limit_ingest, settings.rate_limit_api, clock=lambda: 0.0)
    for _ in range(1000):  # a backfill's burst, within one instant: never refused
        quotas.take("key", "/customers")
        quotas.take("key", "/ingestBatch")

    monkeypatch.setenv("METERLINE_RATE_LIMIT_API", "10")
    settings = Settings()
    assert (settings.rate_limit_api, settings.rate_limit_ingest) == (10, 0)
    quotas = Quotas(settings.rate_limit_ingest, settings.rate_limit_api, clock=lambda: 0.0)
    for _ in range(10):
        quotas.take("key", "/customers")
    with pytest.raises(
        TooManyRequests, match="Over the quota of 10 requests per second for this API key; retry in 1 s"
    ):
        quotas.take("key", "/customers")
    quotas.take("key", "/ingestBatch")  # ingestion keeps its own setting: still off
