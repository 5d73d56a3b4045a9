"""Settings come from flags or `METERLINE_*` environment variables (flags win)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The one default database of every command and of scripts/run.sh: a path relative to the current directory
# (scripts/run.sh runs from the repository's root, so its database is data/meterline.db there).
DEFAULT_DATABASE_URL = "sqlite:///data/meterline.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERLINE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    # Lifetime of the JWT that POST /api/authenticate returns.
    jwt_ttl_seconds: int = 24 * 3600
    log_level: str = "info"
    # Requests per second per API key (api/quotas.py); 0 (the default) turns a quota off. Self-hosted, quotas are
    # the operator's choice: Togai's hosted limits (50 for ingestion, 10 for the rest) made a first backfill script
    # meet 429s (issue 15). Set them to protect a server shared by several clients.
    rate_limit_ingest: float = 0
    rate_limit_api: float = 0
    # Invoice numbers: a Python format string over {number}, the organization's gapless sequence.
    invoice_number_format: str = "INV-{number:06d}"
    # The billing worker inside `meterline serve`: seconds between runs; 0 turns it off (run `meterline worker`).
    worker_interval: float = 10
    # Several workers share a bill run part by part (invoicing/leases.py): a part's lease lasts this many seconds and
    # is renewed after every chunk of accounts synced; a dead worker's parts are taken over once it expires.
    billing_lease_seconds: float = Field(default=120, ge=5, le=3600)
    # Console sign-in throttle (tenancy/sessions.py): failed sign-ins per email and per client address within the
    # window before further tries are refused with 429; 0 turns a limit off.
    login_failures_per_email: int = 5
    login_failures_per_address: int = 20
    login_failure_window_seconds: int = 900
    # Request bodies (web/limits.py): larger ones get 413 before they are read. The default for every route (the
    # console's forms too), and the limit of POST /api/ingestBatch: a batch holds up to 1,000 events, and the largest
    # event the ingestion limits allow (events/wire.py: 10 attributes with values of up to 1,100 digits, 50
    # dimensions of 50 + 200 characters, ids of 512) is about 26 KB of ASCII JSON, so 32 MiB takes any batch of
    # ASCII events at the limits (text sent as \uXXXX escapes takes up to 6 bytes a character: split such batches).
    # Webhooks (docs/webhooks.md): the delivery worker inside `meterline serve` (and `meterline worker`) looks for due
    # deliveries every `webhook_interval` seconds (0: not in `serve`); each attempt waits at most `webhook_timeout`
    # seconds; a failed delivery is retried after each of `webhook_retry_schedule`'s delays in seconds (each +-10%
    # jitter; the default spans about three days), then FAILED; an endpoint failing without a success for
    # `webhook_disable_after` seconds is disabled; a rotated secret keeps signing for `webhook_secret_overlap` seconds.
    webhook_interval: float = Field(default=1, ge=0)
    webhook_timeout: float = Field(default=10, gt=0)
    webhook_retry_schedule: str = "5,60,300,1800,7200,18000,36000,43200,43200,43200,43200"
    webhook_disable_after: float = Field(default=5 * 24 * 3600, gt=0)
    webhook_secret_overlap: float = Field(default=24 * 3600, ge=0)
    # Messages older than this many days, none of whose deliveries still waits, are deleted with their deliveries and
    # attempts by the billing worker's hourly housekeeping (usecases/housekeeping.py); replays reach no further back.
    webhook_retention_days: int = Field(default=30, ge=1, le=3650)
    # Generated files (report exports) older than this many days are deleted, bytes and row, by the same hourly
    # housekeeping; finalized invoices' PDFs are kept (docs/operations.md, "File storage").
    file_retention_days: int = Field(default=30, ge=1, le=3650)
    # Alerts (docs/alerts.md): the evaluator inside `meterline serve` (and `meterline worker`) looks for due alerts
    # every `alert_interval` seconds (0: not in `serve`); each alert is evaluated at its own interval (minutes).
    alert_interval: float = Field(default=30, ge=0)
    # GET /metrics (Prometheus text, no tenant data): open when empty (keep it on the internal network); when set,
    # a scrape must send `Authorization: Bearer <metrics_token>` (Prometheus' `authorization.credentials`), else 401.
    metrics_token: str = ""
    # Reports (docs/reports.md): the report runner inside `meterline serve` (and `meterline worker`) looks for reports
    # to run every `report_interval` seconds (0: not in `serve`).
    report_interval: float = Field(default=1, ge=0)
    # Usage in ClickHouse (docs/clickhouse.md): the shipper inside `meterline serve` (and `meterline worker`) moves
    # usage from the outbox every `usage_ship_interval` seconds (0: not in `serve`).
    usage_ship_interval: float = Field(default=1, ge=0)
    # ... and compacts what was shipped every `usage_compact_interval` seconds (0: not in this process).
    usage_compact_interval: float = Field(default=60, ge=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_ingest_batch_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # Generated files (report exports; docs/reports.md, "Storage"): the local filesystem by default, in `files_dir`
    # (empty: a `files` directory beside the SQLite database file, or `data/files` for another database); an
    # S3-compatible object store instead when `s3_bucket` is set (credentials from the `s3_*` settings, else boto3's
    # usual AWS_* variables and files). Download links are signed and expire: the local store's with
    # `secret_key` (HMAC-SHA256; empty: a random instance secret kept in the database), S3's are presigned.
    files_dir: str = ""
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    secret_key: str = ""
    # The address clients reach this server at (for the local store's download links); empty: the request's own.
    public_url: str = ""


def load_settings(**overrides: Any) -> Settings:
    """Environment first, then every override that is not None (CLI flags)."""
    values = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**values)
