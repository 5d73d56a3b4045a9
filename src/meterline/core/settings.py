"""Settings come from flags or `METERLINE_*` environment variables (flags win)."""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///meterline.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERLINE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    # Lifetime of the JWT that POST /api/authenticate returns.
    jwt_ttl_seconds: int = 24 * 3600
    log_level: str = "info"
    # Requests per second per API key (api/quotas.py); 0 turns a quota off.
    rate_limit_ingest: float = 50
    rate_limit_api: float = 10
    # Invoice numbers: a Python format string over {number}, the organization's gapless sequence.
    invoice_number_format: str = "INV-{number:06d}"
    # The billing worker inside `meterline serve`: seconds between runs; 0 turns it off (run `meterline worker`).
    worker_interval: float = 10


def load_settings(**overrides: Any) -> Settings:
    """Environment first, then every override that is not None (CLI flags)."""
    values = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**values)
