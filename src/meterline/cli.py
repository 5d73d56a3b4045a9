"""The `meterline` command. Settings come from flags or METERLINE_* environment variables (flags win)."""

from __future__ import annotations

import os
import secrets
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from meterline.core.clock import as_utc, utc_now
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
from meterline.core.errors import MeterlineError
from meterline.core.observability import configure_logging
from meterline.core.settings import load_settings
from meterline.migrations import upgrade
from meterline.tenancy.service import TenancyService

if TYPE_CHECKING:
    from rich.progress import TaskID
    from sqlalchemy.orm import Session, sessionmaker

app = typer.Typer(
    help="Meterline: open-source usage-based billing with a Togai-compatible API.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
)
org_app = typer.Typer(help="Organizations: the tenants; every object belongs to one.", no_args_is_help=True)
user_app = typer.Typer(help="Console users.", no_args_is_help=True)
key_app = typer.Typer(help="API keys: bearer tokens for the API.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="api-key")

err = Console(stderr=True, soft_wrap=True)  # long lines (tokens, URLs) stay whole

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="METERLINE_DATABASE_URL",
        help="sqlite:///PATH or postgresql+psycopg://USER@HOST/DB [default: sqlite:///meterline.db]",
        show_default=False,
    ),
]
OrgId = Annotated[
    str | None, typer.Option("--org-id", help="Organization id (default: the first one, created if none)")
]


def _session_factory(database_url: str | None) -> sessionmaker[Session]:
    settings = load_settings(database_url=database_url)
    upgrade(settings.database_url)
    return make_session_factory(create_db_engine(settings.database_url))


def _fail(exc: MeterlineError) -> None:
    err.print(f"[red]error:[/red] {exc.message}")
    raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(envvar="METERLINE_HOST", help="Interface to bind [default: 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(envvar="METERLINE_PORT", help="Port [default: 8000]")] = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[int, typer.Option(help="Processes to serve with (PostgreSQL for more than 1)")] = 1,
) -> None:
    """Migrate the database, then serve the API (/api) and the console (/)."""
    import uvicorn

    settings = load_settings(host=host, port=port, database_url=database_url)
    upgrade(settings.database_url)
    err.print(f"Meterline on http://{settings.host}:{settings.port} (API docs: /api/docs)")
    if workers > 1:
        # Worker processes build the app from the environment (meterline.web.main).
        os.environ["METERLINE_DATABASE_URL"] = settings.database_url
        uvicorn.run(
            "meterline.web.main:app",
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level=settings.log_level,
        )
        return
    from meterline.web.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


def _as_of(text: str | None) -> datetime:
    if text is None:
        return utc_now()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        err.print(f"[red]error:[/red] --as-of {text!r} is not an ISO-8601 instant, e.g. 2024-04-06T00:00:00Z")
        raise typer.Exit(code=2) from None
    return as_utc(parsed)


@app.command("bill-run")
def bill_run(
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO-8601 instant to bill up to [default: now]")] = None,
    org_id: Annotated[str | None, typer.Option("--org-id", help="Only this organization [default: all]")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create the invoices of every cycle started by --as-of and finalize those due by then (numbered, DUE).
    Idempotent: running it again, or after a crash, gives the same invoices and numbers.

    A failing organization, account or invoice does not stop the run: it is recorded (retried by the worker with
    backoff; this command retries it at once), listed on stderr, and the command exits with 1. Stdout gets one JSON
    object: asOf, syncedAccounts, finalized, failures."""
    import json

    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from meterline.invoicing import billing

    instant = _as_of(as_of)
    billing.batch_process_gc()
    configure_logging(load_settings(database_url=database_url).log_level)  # failures: one JSON line each
    factory = _session_factory(database_url)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        result = billing.run(factory, instant, now=utc_now(), org_id=org_id, progress=progress, retry_now=True)
    err.print(
        f"as of {instant.isoformat()}: {result.synced_accounts} accounts synced, "
        f"{result.finalized} invoices finalized, {len(result.failures)} failed"
    )
    for f in result.failures:
        what = f"invoice {f.invoice_pk}" if f.invoice_pk else f"{f.stage.lower()} of {f.subject}"
        err.print(
            "[red]failed:[/red] "
            + escape(
                f"organization {f.org_id}, {what} (attempt {f.attempts}, next attempt by the worker at "
                f"{f.next_attempt_at.isoformat()}): {f.message}"
            ),
            highlight=False,
        )
    typer.echo(
        json.dumps(
            {
                "asOf": instant.isoformat().replace("+00:00", "Z"),
                "syncedAccounts": result.synced_accounts,
                "finalized": result.finalized,
                "failures": [
                    {
                        "organizationId": f.org_id,
                        "stage": f.stage,
                        "subject": f.subject,
                        "invoiceId": f.invoice_pk,
                        "attempts": f.attempts,
                        "nextAttemptAt": f.next_attempt_at.isoformat().replace("+00:00", "Z"),
                        "message": f.message,
                    }
                    for f in result.failures
                ],
            }
        )
    )
    if result.failures:
        raise typer.Exit(code=1)


@app.command()
def worker(
    interval: Annotated[
        float | None, typer.Option(envvar="METERLINE_WORKER_INTERVAL", help="Seconds between runs [default: 10]")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the billing worker alone: bill runs with the wall clock every --interval seconds, until stopped.
    Several workers may run against one PostgreSQL database (they split the invoices)."""
    from meterline.invoicing.billing import Worker, batch_process_gc

    batch_process_gc()
    settings = load_settings(worker_interval=interval, database_url=database_url)
    configure_logging(settings.log_level)
    factory = _session_factory(settings.database_url)
    err.print(f"billing worker: a run every {settings.worker_interval or 10:g} s (Ctrl+C stops it)")
    runner = Worker(factory, settings.worker_interval or 10)
    try:
        runner.loop()
    except KeyboardInterrupt:
        runner.stop()


@app.command()
def migrate(database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema. Safe to run any number of times."""
    settings = load_settings(database_url=database_url)
    upgrade(settings.database_url)
    err.print("database is up to date")


@app.command()
def init(
    database_url: DatabaseUrl = None,
    admin_email: Annotated[str, typer.Option(help="Email of the first admin user")] = "admin@meterline.local",
    port: Annotated[int | None, typer.Option(envvar="METERLINE_PORT", help="Port shown in the instructions")] = None,
) -> None:
    """On an empty database: create the first organization, an admin user and an API key, and print them."""
    settings = load_settings(database_url=database_url, port=port)
    factory = _session_factory(settings.database_url)
    with unit_of_work(factory) as session:
        service = TenancyService(session)
        if service.organizations():
            err.print("Meterline is already set up. New API key: [bold]meterline api-key create[/bold]")
            return
        now = utc_now()
        org = service.create_organization(name="Default", now=now)
        password = secrets.token_urlsafe(12)
        service.create_user(org=org, email=admin_email, password=password, now=now, name="Admin")
        created = service.create_api_key(org=org, now=now, name="first key")
    base = f"http://127.0.0.1:{settings.port}"
    # Plain lines (no box), so that each can be copied as it is.
    err.print("[bold green]Meterline is set up.[/bold green]")
    err.print(f"  organization   {org.id} (base currency {org.base_currency}, timezone {org.timezone})")
    err.print(f"  console user   {admin_email}   password: {password}")
    err.print(f"  API key        {created.token}   (shown once; more with: meterline api-key create)")
    err.print("\nTry it:")
    err.print(f"  export TOKEN={created.token}")
    err.print(f'  curl -H "Authorization: Bearer $TOKEN" {base}/api/customers')
    err.print(f'  SDK: togai_client.Configuration(host="{base}/api", access_token=TOKEN)')
    err.print(f"  API docs: {base}/api/docs\n")


@app.command()
def demo(
    database_url: DatabaseUrl = None,
    seed: Annotated[int, typer.Option(help="Seed of the random data: the same seed gives the same company")] = 7,
    scale: Annotated[
        float, typer.Option(min=0.01, max=10, help="Multiplies the number of events (1: about 25,000)")
    ] = 1.0,
) -> None:
    """Create a NEW organization filled with a realistic company (customers, USD and EUR accounts, three plans,
    three months of events, invoices, credits), print its console user and API key, and its id on stdout.
    Never touches other organizations: run it twice, get two demo organizations."""
    from meterline import demo as demo_data

    settings = load_settings(database_url=database_url)
    factory = _session_factory(settings.database_url)
    try:
        made = demo_data.build_with_progress(factory, err, seed=seed, scale=scale)
    except MeterlineError as exc:
        _fail(exc)
    demo_data.print_summary(made, err, f"http://127.0.0.1:{settings.port}")
    typer.echo(made.org_id)


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Option(help="Organization name")],
    base_currency: Annotated[str, typer.Option(help="ISO 4217 code of the default invoice currency")] = "USD",
    timezone: Annotated[str, typer.Option(help="IANA time zone where billing days start")] = "UTC",
    net_term_days: Annotated[int, typer.Option(help="Days from invoice date to due date, 0 to 3650")] = 0,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an organization and print its id."""
    factory = _session_factory(database_url)
    try:
        with unit_of_work(factory) as session:
            org = TenancyService(session).create_organization(
                name=name, base_currency=base_currency, timezone=timezone, net_term_days=net_term_days, now=utc_now()
            )
    except MeterlineError as exc:
        _fail(exc)
    typer.echo(org.id)


@org_app.command("list")
def org_list(database_url: DatabaseUrl = None) -> None:
    """List organizations: id, name, base currency, timezone."""
    factory = _session_factory(database_url)
    with unit_of_work(factory, write=False) as session:
        for org in TenancyService(session).organizations():
            typer.echo(f"{org.id}\t{org.name}\t{org.base_currency}\t{org.timezone}")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Login email")],
    password: Annotated[
        str | None, typer.Option(envvar="METERLINE_USER_PASSWORD", help="At least 8 characters (asked if not given)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    role: Annotated[str, typer.Option(help="ADMIN or MEMBER")] = "ADMIN",
    org_id: OrgId = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a console user and print its id."""
    if password is None:
        if not sys.stdin.isatty():
            err.print("[red]error:[/red] give --password (or METERLINE_USER_PASSWORD) when not at a terminal")
            raise typer.Exit(code=2)
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    factory = _session_factory(database_url)
    try:
        with unit_of_work(factory) as session:
            service = TenancyService(session)
            org = service.resolve_organization(org_id, utc_now())
            user = service.create_user(
                org=org, email=email, password=password, name=name, role=role.upper(), now=utc_now()
            )
    except MeterlineError as exc:
        _fail(exc)
    typer.echo(user.id)


@user_app.command("set-password")
def user_set_password(
    email: Annotated[str, typer.Option(help="The user's login email")],
    password: Annotated[
        str | None, typer.Option(envvar="METERLINE_USER_PASSWORD", help="At least 8 characters (asked if not given)")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a console user's password (e.g. one who forgot theirs); every console session of theirs ends."""
    if password is None:
        if not sys.stdin.isatty():
            err.print("[red]error:[/red] give --password (or METERLINE_USER_PASSWORD) when not at a terminal")
            raise typer.Exit(code=2)
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    factory = _session_factory(database_url)
    try:
        with unit_of_work(factory) as session:
            service = TenancyService(session)
            user = service.set_password(service.user_by_email(email), password, utc_now())
    except MeterlineError as exc:
        _fail(exc)
    err.print(f"The password of {user.email} is set; their console sessions are ended.")


@key_app.command("create")
def api_key_create(
    name: Annotated[str, typer.Option(help="A label to recognise the key by")] = "cli",
    org_id: OrgId = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print its token, and nothing else, on stdout. The token is shown only once."""
    factory = _session_factory(database_url)
    try:
        with unit_of_work(factory) as session:
            service = TenancyService(session)
            org = service.resolve_organization(org_id, utc_now())
            created = service.create_api_key(org=org, name=name, now=utc_now())
    except MeterlineError as exc:
        _fail(exc)
    typer.echo(created.token)


@key_app.command("list")
def api_key_list(org_id: OrgId = None, database_url: DatabaseUrl = None) -> None:
    """List API keys (id, name, created, revoked); tokens are never shown again."""
    factory = _session_factory(database_url)
    with unit_of_work(factory) as session:
        service = TenancyService(session)
        for key in service.api_keys(service.resolve_organization(org_id, utc_now())):
            revoked = key.revoked_at.isoformat() if key.revoked_at else "-"
            typer.echo(f"{key.id}\t{key.name}\t{key.created_at.isoformat()}\trevoked: {revoked}")


@key_app.command("revoke")
def api_key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `meterline api-key list`)")],
    org_id: OrgId = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API key: requests with it, and JWTs made from it, get 401 from now on."""
    factory = _session_factory(database_url)
    try:
        with unit_of_work(factory) as session:
            service = TenancyService(session)
            service.revoke_api_key(org=service.resolve_organization(org_id, utc_now()), key_id=key_id, now=utc_now())
    except MeterlineError as exc:
        _fail(exc)
    err.print(f"revoked {key_id}")


if __name__ == "__main__":
    app()
