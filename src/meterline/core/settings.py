"""Settings come from flags or `METERLINE_*` environment variables (flags win)."""

from __future__ import annotations

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


def load_settings(**overrides: object) -> Settings:
    """Environment first, then every override that is not None (CLI flags)."""
    values = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**values)
