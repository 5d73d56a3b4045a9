"""PostgreSQL connections are tested before use only after they rested (core/db.py, `PING_AFTER_REST`): a connection
the server ended while it rested in the pool is replaced unseen; one the server ended while in steady use fails its
statement once (503 for a request), and is never handed out again."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from meterline.core.db import PING_AFTER_REST, create_db_engine
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"meterline_connections_{secrets.token_hex(4)}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _end_backend(pid: int) -> None:
    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def _pid(engine: object) -> int:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_ended_while_it_rested_is_replaced_unseen(pg_url: str) -> None:
    engine = create_db_engine(pg_url)
    try:
        first = _pid(engine)
        assert _pid(engine) == first  # in steady use: the same connection, handed out as it is
        _end_backend(first)
        time.sleep(PING_AFTER_REST + 0.2)  # it rests in the pool
        assert _pid(engine) != first  # tested, found ended, replaced
    finally:
        engine.dispose()


def test_a_connection_ended_in_steady_use_fails_once_then_is_replaced(pg_url: str) -> None:
    engine = create_db_engine(pg_url)
    try:
        first = _pid(engine)
        _end_backend(first)
        with pytest.raises(OperationalError) as failed, engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert failed.value.connection_invalidated
        assert _pid(engine) != first
    finally:
        engine.dispose()
