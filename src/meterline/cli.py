"""The `meterline` command. Settings come from flags or METERLINE_* environment variables (flags win)."""

from __future__ import annotations

import os
import secrets
import sqlite3
import sys
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from meterline.core.clock import as_utc, utc_now
from meterline.core.db import create_db_engine, make_session_factory, normalize_database_url, unit_of_work
from meterline.core.errors import MeterlineError
from meterline.core.observability import configure_logging
from meterline.core.settings import DEFAULT_DATABASE_URL, Settings, load_settings
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
out = Console(soft_wrap=True, highlight=False)


# Defaults as `--help` shows them: settings.py is the one place they are written.
DEFAULTS = Settings.model_construct()


DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="METERLINE_DATABASE_URL",
        help="sqlite:///PATH (relative to the current directory; sqlite:////PATH for an absolute one) or "
        "postgresql+psycopg://USER@HOST/DB. scripts/run.sh uses the default, from the repository's root",
    ),
]
OrgId = Annotated[
    str | None, typer.Option("--org-id", help="Organization id; default: the first one (created as Default if none)")
]


def _where(database_url: str) -> str:
    """Where the database URL came from, for messages."""
    if os.environ.get("METERLINE_DATABASE_URL") == database_url:
        return "from METERLINE_DATABASE_URL"
    return "the default" if database_url == DEFAULT_DATABASE_URL else "from --database-url"


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another engine or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _has_schema(url: str, path: Path | None) -> bool:
    """Whether Meterline's migrations ran on the database, read without writing to it (a SQLite file is opened
    read-only: the engine's connection would switch it to WAL, writing a header into an empty file)."""
    if path is not None:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            return connection.execute(query).fetchone() is not None
    from sqlalchemy import inspect

    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return inspect(connection).has_table("alembic_version")
    finally:
        engine.dispose()


def _create_postgresql_database(url: str, shown: str) -> None:
    """`serve`, `migrate` and `init` create a PostgreSQL database that does not exist yet, as they create a SQLite
    file: through the server's `postgres` database, when the role may (CREATEDB); else the error says what to do."""
    from sqlalchemy import create_engine, text

    target = make_url(url)
    name = target.database
    if not name:
        return
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
                return
            conn.execute(text('CREATE DATABASE "' + name.replace('"', '""') + '"'))
        err.print(f"new PostgreSQL database: {escape(shown)}", highlight=False)
    except DBAPIError as exc:  # the server unreachable, or no right to create: say so, change nothing
        err.print("[red]error:[/red] " + escape(f"cannot create {shown}: {getattr(exc, 'orig', exc)}"), highlight=False)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()


def _database(database_url: str, *, create: bool = False) -> str:
    """The database a command works on, checked before anything touches it.

    Commands that set Meterline up (`serve`, `migrate`, `init`: create=True) may create a new SQLite file (and its
    directory), and say so. Every other command works only on a database Meterline has already set up: opening a
    missing SQLite file would silently create an empty one (issue 15: `meterline api-key create` run from another
    directory made `./meterline.db`, a new organization and a key the running server refused), so they refuse, name
    the database they looked at and say how to point at the right one."""
    settings = load_settings(database_url=database_url)
    url = normalize_database_url(settings.database_url)
    shown = make_url(url).render_as_string(hide_password=True)
    path = _sqlite_file(url)
    if path is not None and not path.exists():
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            err.print(f"new SQLite database: {escape(str(path.resolve()))}", highlight=False)
            return url
        relative = "" if path.is_absolute() else f"; a relative path starts at the current directory, {Path.cwd()}"
        err.print(
            "[red]error:[/red] "
            + escape(
                f"no Meterline database at {path.resolve()} ({shown}, {_where(database_url)}{relative}).\n"
                "Name the server's database with --database-url or METERLINE_DATABASE_URL, e.g. "
                "sqlite:////path/to/meterline/data/meterline.db (four slashes: an absolute path). scripts/run.sh "
                f"keeps it in data/meterline.db of the repository: the default ({DEFAULT_DATABASE_URL}) when a "
                "command runs from the repository's root.\n"
                f"To create a new database there instead: meterline migrate --database-url {shown}"
            ),
            highlight=False,
        )
        raise typer.Exit(code=1)
    if create:
        if make_url(url).get_backend_name() == "postgresql":
            _create_postgresql_database(url, shown)
        return url
    try:
        set_up = _has_schema(url, path)
    except (OperationalError, sqlite3.Error) as exc:
        reason = f"cannot open the database {shown} ({_where(database_url)}): {getattr(exc, 'orig', exc)}"
        err.print("[red]error:[/red] " + escape(reason), highlight=False)
        raise typer.Exit(code=1) from None
    if not set_up:
        err.print(
            "[red]error:[/red] "
            + escape(
                f"the database {shown} ({_where(database_url)}) has no Meterline schema. Point at the "
                "server's database with --database-url (or METERLINE_DATABASE_URL), or set this one up first: "
                f"meterline migrate --database-url {shown}"
            ),
            highlight=False,
        )
        raise typer.Exit(code=1)
    return url


def _session_factory(database_url: str, *, create: bool = False) -> sessionmaker[Session]:
    url = _database(database_url, create=create)
    upgrade(url)
    return make_session_factory(create_db_engine(url))


def _fail(exc: MeterlineError) -> None:
    err.print(f"[red]error:[/red] {exc.message}")
    raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="METERLINE_HOST", help="Interface to bind")] = DEFAULTS.host,
    port: Annotated[int, typer.Option(envvar="METERLINE_PORT", help="Port")] = DEFAULTS.port,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    workers: Annotated[int, typer.Option(help="Processes to serve with (PostgreSQL for more than 1)")] = 1,
) -> None:
    """Migrate the database (creating it when it does not exist), then serve the API (/api) and the console (/)."""
    import uvicorn

    settings = load_settings(host=host, port=port, database_url=_database(database_url, create=True))
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


def _instant(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


@app.command("bill-run")
def bill_run(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="ISO-8601 instant to bill up to, e.g. 2024-04-06T00:00:00Z; default: now"),
    ] = None,
    org_id: Annotated[
        str | None, typer.Option("--org-id", help="Only this organization; default: every organization")
    ] = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout (for scripts) instead of the summary")
    ] = False,
) -> None:
    """Bill up to --as-of, as the billing worker does with the wall clock: create the invoices of every cycle
    started by then, and finalize those whose cycle and grace period ended by then (numbered; DUE, or PAID when
    there is nothing to pay). An --as-of in the future finalizes cycles early, as the worker would on that day.
    Idempotent: running it again, or after a crash, gives the same invoices and numbers.

    Prints a summary, each composite invoice of an invoice group made on a line of its own (with --json, one JSON
    object: asOf, syncedAccounts, finalized, composites, failures); a progress bar on stderr while it runs at a
    terminal. A failing organization, account or invoice does not stop the run: it is recorded (retried by the
    worker with backoff; this command retries it at once), listed on stderr, and the command exits with 1."""
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from meterline.core.money import display, round_money
    from meterline.invoicing import billing
    from meterline.usecases import bill_runs

    instant = _as_of(as_of)
    billing.batch_process_gc()
    configure_logging(load_settings(database_url=database_url).log_level)  # failures: one JSON line each
    factory = _session_factory(database_url)
    now = utc_now()
    if instant > now:
        err.print(
            escape(
                f"note: --as-of {_instant(instant)} is after now ({_instant(now)}): cycles ending by then are "
                "finalized now, before their end"
            ),
            highlight=False,
        )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # One bar, for the organization and phase under way; shown at a terminal only, and gone once the run is over.
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task: TaskID = bar.add_task("starting", total=None)

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(task, description=phase, completed=done, total=total)

        result = bill_runs.run(factory, instant, now=now, org_id=org_id, progress=progress, retry_now=True)
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
    failed = len(result.failures)
    scope = f"organization {org_id}" if org_id else "every organization"
    summary = [
        f"Bill run as of {instant:%Y-%m-%d %H:%M:%S} UTC, {scope}",
        f"  {_plural(result.synced_accounts, 'account', 'accounts')} synced (drafts of every cycle started by then)",
        f"  {_plural(result.finalized, 'invoice', 'invoices')} finalized (numbered; DUE, or PAID when nothing to pay)",
        f"  {_plural(result.composites, 'composite invoice', 'composite invoices')} made (invoice groups)",
        *(
            f"    {c.sequence_id}: invoice group {c.group_id}, {display(c.total, c.currency)} ({c.invoice_id})"
            for c in result.made_composites
        ),
        f"  {_plural(failed, 'failure', 'failures')}"
        + (" (listed above; fix the data, then run this again, or let the worker retry)" if failed else ""),
    ]
    (err if as_json else out).print(escape("\n".join(summary)), highlight=False)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "asOf": _instant(instant),
                    "syncedAccounts": result.synced_accounts,
                    "finalized": result.finalized,
                    "composites": [
                        {
                            "organizationId": c.org_id,
                            "invoiceId": c.invoice_id,
                            "sequenceId": c.sequence_id,
                            "invoiceGroupId": c.group_id,
                            "totalAmount": str(round_money(c.total, c.currency)),  # exact already: at its scale
                            "currency": c.currency,
                        }
                        for c in result.made_composites
                    ],
                    "failures": [
                        {
                            "organizationId": f.org_id,
                            "stage": f.stage,
                            "subject": f.subject,
                            "invoiceId": f.invoice_pk,
                            "attempts": f.attempts,
                            "nextAttemptAt": _instant(f.next_attempt_at),
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
        float, typer.Option(envvar="METERLINE_WORKER_INTERVAL", help="Seconds between runs")
    ] = DEFAULTS.worker_interval,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Run the billing worker alone: bill runs with the wall clock every --interval seconds, until stopped; and the
    webhook delivery worker, the alert evaluator and the report runner beside it. Several workers may run against one
    PostgreSQL database (they split the invoices, the deliveries, the alerts and the reports)."""
    from meterline.events.compaction import UsageCompactor
    from meterline.events.shipper import UsageShipper
    from meterline.files import storage
    from meterline.invoicing.billing import batch_process_gc
    from meterline.usecases import alerts, bill_runs
    from meterline.usecases.reports import ReportRunner
    from meterline.webhooks.delivery import Deliverer

    batch_process_gc()
    settings = load_settings(worker_interval=interval, database_url=database_url)
    configure_logging(settings.log_level)
    factory = _session_factory(database_url)
    err.print(f"billing worker: a run every {settings.worker_interval or 10:g} s (Ctrl+C stops it)")
    runner = bill_runs.worker(factory, settings, settings.worker_interval or 10)
    deliverer = Deliverer(factory, settings)
    deliverer.start()
    evaluator = alerts.worker(factory, settings.alert_interval or 30)
    evaluator.start()
    storage.configure(settings)
    reporter = ReportRunner(factory, settings.report_interval or 1)
    reporter.start()
    shipper = UsageShipper(factory, settings.usage_ship_interval or 1)
    shipper.start()
    compactor = UsageCompactor(factory, settings.usage_compact_interval) if settings.usage_compact_interval else None
    if compactor is not None:
        compactor.start()
    try:
        runner.loop()
    except KeyboardInterrupt:
        if compactor is not None:
            compactor.stop()
        shipper.stop()
        runner.stop()
        deliverer.stop()
        evaluator.stop()
        reporter.stop()


@app.command()
def migrate(database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
    """Create or upgrade the database schema (creating the database when it does not exist). Safe to repeat."""
    upgrade(_database(database_url, create=True))
    err.print("database is up to date")


@app.command("usage-store")
def usage_store(
    clickhouse: Annotated[
        str | None,
        typer.Option(
            help="Keep usage and events in this ClickHouse from now on, moving what is stored so far there: "
            "clickhouse://user:password@host:9000/database (the native protocol's port, 9000 by default, not the "
            "HTTP port 8123; the database is `meterline` when left out, and must hold no usage or events yet); "
            "if not given (nor --database), show where usage and events are kept"
        ),
    ] = None,
    database: Annotated[
        bool,
        typer.Option(
            "--database", help="Keep usage and events in the database itself again, moving them back from ClickHouse"
        ),
    ] = False,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Show where usage and events are kept; with --clickhouse, move them to ClickHouse; with --database, move them
    back. App processes left running wait for the move and then follow it: requests that wait longer than 30 s (10 s
    on SQLite) are answered 503 with Retry-After (docs/scaling.md)."""
    from meterline.core.clock import utc_now
    from meterline.events.clickhouse import Address, ClickHouseError
    from meterline.events.moves import move_to_clickhouse, move_to_database, reach
    from meterline.events.usage_store import clickhouse_of

    factory = _session_factory(database_url)
    if clickhouse is not None and database:
        err.print("[red]error:[/red] give --clickhouse URL or --database, not both")
        raise typer.Exit(code=2)
    if clickhouse is None and not database:
        with unit_of_work(factory, write=False) as session:
            store = clickhouse_of(session)
        out.print(
            f"usage and events are kept in {store.address.without_password() if store else 'the database itself'}"
        )
        return
    try:
        if clickhouse is not None:
            reach(clickhouse)  # before the transaction: on SQLite it begins as the writer
        with unit_of_work(factory) as session:
            if clickhouse is not None:
                moved = move_to_clickhouse(session, clickhouse, utc_now(), err.print)
                where = Address.parse(clickhouse).without_password()
            else:
                moved = move_to_database(session, utc_now(), err.print)
                where = "the database itself"
    except (ValueError, ClickHouseError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    except OperationalError as exc:
        err.print(f"[red]error:[/red] the database is busy or unavailable, nothing was moved: {exc.orig}; run again")
        raise typer.Exit(code=1) from None
    err.print(f"usage and events are kept in {where} ({moved.usage:,} rows of usage and {moved.events:,} events moved)")


@app.command()
def init(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    admin_email: Annotated[str, typer.Option(help="Email of the first admin user")] = "admin@meterline.local",
    port: Annotated[int, typer.Option(envvar="METERLINE_PORT", help="Port shown in the instructions")] = DEFAULTS.port,
) -> None:
    """On an empty database (created when it does not exist): create the first organization, an admin user and an
    API key, and print them."""
    settings = load_settings(database_url=database_url, port=port)
    factory = _session_factory(database_url, create=True)
    named = _where(database_url) == "from --database-url"  # (the default and the environment hold for the hint too)
    shown = make_url(normalize_database_url(database_url)).render_as_string(hide_password=True)
    more_keys = "meterline api-key create" + (f" --database-url {shown}" if named else "")
    with unit_of_work(factory) as session:
        service = TenancyService(session)
        if service.organizations():
            err.print(f"Meterline is already set up. New API key: [bold]{escape(more_keys)}[/bold]")
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
    err.print(f"  API key        {created.token}   (shown once; more with: {escape(more_keys)})")
    err.print("\nTry it (the README's first hour, as one script: examples/quickstart.py):")
    err.print(f"  export METERLINE_TOKEN={created.token}")
    err.print(f'  curl -H "Authorization: Bearer $METERLINE_TOKEN" {base}/api/customers')
    err.print(f'  SDK: togai_client.Configuration(host="{base}/api", access_token=os.environ["METERLINE_TOKEN"])')
    err.print(f"  API docs: {base}/api/docs\n")


@app.command()
def demo(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    seed: Annotated[int, typer.Option(help="Seed of the random data: the same seed gives the same company")] = 7,
    scale: Annotated[
        float, typer.Option(min=0.01, max=10, help="Multiplies the number of events (1: about 25,000)")
    ] = 1.0,
) -> None:
    """Create a NEW organization filled with a realistic company (customers, USD and EUR accounts, three plans,
    three months of events, invoices, credits), print its console user and API key, and its id on stdout.
    Never touches other organizations: run it twice, get two demo organizations. The database must exist (made by
    scripts/run.sh, `meterline init` or `meterline migrate`)."""
    from meterline import demo as demo_data

    settings = load_settings(database_url=database_url)
    factory = _session_factory(database_url)
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
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
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
def org_list(database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
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
    name: Annotated[str | None, typer.Option(help="Display name; default: the email's part before @")] = None,
    role: Annotated[str, typer.Option(help="ADMIN or MEMBER")] = "ADMIN",
    org_id: OrgId = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
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
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
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
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
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
def api_key_list(org_id: OrgId = None, database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
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
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Revoke an API key: requests with it, and JWTs made from it, get 401 (within a second in every server)."""
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
