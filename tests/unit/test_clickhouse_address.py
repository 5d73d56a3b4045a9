"""A ClickHouse URL, checked before anything connects (`meterline usage-store --clickhouse URL`), and a driver's
error said on one line."""

from __future__ import annotations

import re

import pytest

from meterline.events.clickhouse import UNAVAILABLE, Address, ClickHouseError, ClickHouseUsage, reason_of


def test_a_url_gives_the_native_protocols_defaults() -> None:
    address = Address.parse("clickhouse://ch.internal")
    assert (address.host, address.port, address.database, address.user) == ("ch.internal", 9000, "meterline", "default")
    assert Address.parse("clickhouse://u:p%40ss@h:9440/usage").password == "p@ss"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h:8123/x", "not a ClickHouse URL: 'http://h:8123/x'"),
        ("clickhouse://h:8123/x", "8123 is ClickHouse's HTTP port: Meterline talks ClickHouse's native protocol"),
        ("clickhouse://h:8443", "8443 is ClickHouse's HTTP port"),
        ("clickhouse://h:port/x", "the port of 'clickhouse://h:port/x' is not a number from 1 to 65535"),
        ("clickhouse://h:99999/x", "the port of 'clickhouse://h:99999/x' is not a number"),
        ("clickhouse://h/a-b", "a ClickHouse database name is letters, digits and '_': 'a-b'"),
        ("clickhouse://h:9440/x?secure=true", "a ClickHouse URL takes no options (?secure=true): Meterline talks"),
        ("clickhouse://h/x#frag", "a ClickHouse URL takes no options (#frag)"),
    ],
)
def test_a_wrong_url_is_refused_with_what_to_fix(url: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        Address.parse(url)


def test_a_drivers_error_is_one_line_without_the_servers_stack_trace() -> None:
    raw = "Code: 192.\nDB::Exception: Unknown user x. Stack trace:\n\n0. clickhouse-server(StackTrace()+0x16)"
    assert reason_of(Exception(raw)) == "Code: 192. DB::Exception: Unknown user x."
    assert reason_of(TimeoutError()) == "TimeoutError"
    assert reason_of(Exception("x" * 1000)) == "x" * 399 + "…"


def test_clients_are_told_nothing_of_clickhouse_unless_it_is_meant_for_them() -> None:
    error = ClickHouseError("ClickHouse at clickhouse://admin@10.0.0.5:9000/meterline: Code: 210. Connection refused")
    assert str(error).startswith("ClickHouse at clickhouse://admin@10.0.0.5")  # the log's and the CLI's
    assert error.message == UNAVAILABLE and error.headers == {"Retry-After": "5"}  # the API's and the console's
    assert ClickHouseError("slow", public="slow").message == "slow"


def test_a_timeout_says_which_port_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """An HTTP port on another number than 8123/8443 answers the native protocol nothing: the driver's socket
    timeout (code 209) says which port Meterline wants."""

    class Silent:
        def execute(self, *_args: object, **_kwargs: object) -> None:
            raise Exception("Code: 209. (127.0.0.1:59579)")  # noqa: TRY002 - as the driver's SocketTimeoutError reads

    store = ClickHouseUsage("clickhouse://127.0.0.1:59579/x")
    monkeypatch.setattr(store, "_client", Silent)
    with pytest.raises(ClickHouseError) as raised:
        store.execute("SELECT 1")
    assert str(raised.value) == (
        "ClickHouse at clickhouse://default@127.0.0.1:59579/x: Code: 209. (127.0.0.1:59579) (no answer: is this "
        "ClickHouse's native port, 9000 by default, and not its HTTP port?)"
    )
