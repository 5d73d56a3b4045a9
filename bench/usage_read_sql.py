"""The ClickHouse usage read's SQL alone, variants side by side on one server (issue 19, "reads no worse").

    .venv/bin/python bench/usage_read_sql.py [--accounts 50] [--reads 300] [--merged]

It starts a ClickHouse server (tests/clickhouse_server.py), writes compacted sums as compaction leaves them after a
month at 15-minute buckets (`--accounts` accounts x 3 meters x 2,880 buckets, one generation a day), and reads
one account's month through `ClickHouseUsage.sums` and through its SQL text and variants, interleaved, `--reads`
times each, printing p50 and p99. The generations are written one INSERT each, as compaction writes them, and left
to ClickHouse's background merges; `--merged` merges them into one part first (`OPTIMIZE ... FINAL`):

- `store SQL`: the statement `sums` sends (the compacted sums of each generation's recorded writer, a plain sum;
  then the shipped rows' side);
- `grouped by generation (before)`: the compacted sums grouped by (key, generation) to count a key written twice
  once, as reads did until compaction recorded its writer (events/compaction.py);
- `compacted side only`, `plain sum, no writer filter` (the floor), `SELECT 1` (a round trip);
- `sums()`: the store's method, with its Python (the exact sums of the quantities' texts).

(`FINAL` on the compacted sums, measured here before, is gone with the ReplacingMergeTree they were in.)
Every variant's answer is checked to be the same sums. Nothing here is a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import clickhouse_server  # noqa: E402

from meterline.events.clickhouse import ClickHouseUsage, Compacted, micros  # noqa: E402

UTC = timezone.utc
OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
KEY = "account_pk, meter_id, bucket"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--merged", action="store_true", help="OPTIMIZE ... FINAL first: one part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meterline-bench-ch-") as tmp:
        process, url = clickhouse_server.start(Path(tmp))
        try:
            run(ClickHouseUsage(url + "bench"), args.accounts, args.reads, args.merged)
        finally:
            clickhouse_server.stop(process)


def run(store: ClickHouseUsage, accounts: int, reads: int, merged: bool) -> None:
    store.create_schema()
    rows = [
        ("o1", f"a{a}", f"m{m}", micros(OCTOBER + timedelta(minutes=15 * b)), Decimal(b % 7 + 1), "", 1, 1 + b // 96)
        for a in range(accounts)
        for m in range(3)
        for b in range(2880)
    ]
    columns = "org_id, account_pk, meter_id, bucket, quantity, quantity_text, events, generation"  # writer: ''""
    for generation in sorted({row[-1] for row in rows}):  # one INSERT per generation, as compaction writes them
        store.execute(
            f"INSERT INTO bench.usage_compact ({columns}) VALUES", [row for row in rows if row[-1] == generation]
        )
    if merged:
        store.execute("OPTIMIZE TABLE bench.usage_compact FINAL")
    [(parts,)] = store.execute(
        "SELECT count() FROM system.parts WHERE database = 'bench' AND table = 'usage_compact' AND active"
    )
    read = ("o1", ["a7"], ["m0", "m1", "m2"], OCTOBER, OCTOBER + timedelta(days=31))
    sent: list[tuple[str, Any, Any]] = []
    execute = store.execute

    def capture(sql: str, params: Any = None, *, sets: Any = None) -> list[tuple[Any, ...]]:
        sent.append((sql, params, sets))
        return execute(sql, params, sets=sets)

    store.execute = capture  # type: ignore[method-assign]
    expected = store.sums(*read, compacted=Compacted(10**6, {}))
    store.execute = execute  # type: ignore[method-assign]
    [(sql, params, sets)] = sent
    plain_from = f"SELECT {KEY}, quantity AS q, events AS n, quantity_text AS t FROM bench.usage_compact WHERE "
    assert plain_from in sql, sql
    head, tail = sql.split(plain_from)
    condition, rest = tail.split(") GROUP BY", 1)
    rest = ") GROUP BY" + rest
    grouped_from = (
        f"SELECT {KEY}, generation, any(quantity) AS q, any(events) AS n, any(quantity_text) AS t "
        "FROM bench.usage_compact WHERE "
    )
    grouped = f"{head}{grouped_from}{condition} GROUP BY {KEY}, generation{rest}"
    compacted_side = sql.split(" UNION ALL ")[0].split(" FROM (", 1)[1]
    unfiltered = compacted_side.replace(" AND writer = ''", "")
    assert unfiltered != compacted_side
    variants = {
        "store SQL": sql,
        "grouped by generation (before)": grouped,
        "compacted side only": compacted_side,
        "plain sum, no writer filter": unfiltered,
        "SELECT 1": "SELECT 1",
    }
    answers = [sorted(row[:3] for row in execute(text, params, sets=sets)) for text in list(variants.values())[:4]]
    assert all(answer == answers[0] for answer in answers), answers  # (account, meter, quantity) alike
    assert sum(q for q, _ in expected.values()) > 0
    times: dict[str, list[float]] = {name: [] for name in [*variants, "sums()"]}
    for _ in range(reads):
        for name, text in variants.items():
            started = time.perf_counter()
            execute(text, params, sets=sets)
            times[name].append(time.perf_counter() - started)
        started = time.perf_counter()
        assert store.sums(*read, compacted=Compacted(10**6, {})) == expected
        times["sums()"].append(time.perf_counter() - started)
    print(
        f"one account's month of compacted sums, {accounts} accounts on the server in {parts} parts "
        f"({'merged' if merged else 'as written, merges left to ClickHouse'}), {reads} reads each:"
    )
    for name, spent in times.items():
        spent.sort()
        p99 = spent[min(len(spent) - 1, int(len(spent) * 0.99))]
        print(f"  {name:30} p50 {statistics.median(spent) * 1000:6.2f} ms   p99 {p99 * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
