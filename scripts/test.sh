#!/usr/bin/env bash
# Run the whole test suite: unit, service (SQLite and PostgreSQL), and the official SDK against live servers; then
# the usage tests a second time with usage kept in ClickHouse.
# Usage: bash scripts/test.sh [pytest args]
# Before pytest it runs ruff (lint and format check) and mypy; any finding fails the run.
# It creates .venv with the test extras, installs or starts PostgreSQL when it is missing or down, and installs
# Debian's Chromium for the console's browser tests, ClickHouse and ZooKeeper when they are missing.
# METERLINE_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test) names a database the
# suite may connect to in order to create and drop its own throwaway databases.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.installed-test ] || [ pyproject.toml -nt .venv/.installed-test ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]'
  touch .venv/.installed-test
fi

export METERLINE_TEST_POSTGRES_URL=${METERLINE_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}

pg_up() { .venv/bin/python - <<'PY'
import os, sys
import psycopg
url = os.environ["METERLINE_TEST_POSTGRES_URL"].replace("postgresql+psycopg://", "postgresql://")
try:
    psycopg.connect(url, connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

if ! pg_up 2>/dev/null; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "installing PostgreSQL" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  echo "starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  for _ in $(seq 1 30); do pg_up 2>/dev/null && break; sleep 1; done
  pg_up
fi

# The console's browser tests drive Debian's Chromium with Playwright (which cannot download its own browser here).
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# Usage in ClickHouse (docs/clickhouse.md) is tested against a real server: Debian's clickhouse-server, which the
# tests start themselves with their own data directory and ports (tests/clickhouse_server.py).
if ! command -v clickhouse-server >/dev/null 2>&1; then
  echo "installing ClickHouse" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null
fi

# The cluster test (tests/service/test_usage_clickhouse_cluster.py) runs ZooKeeper from Debian's package, started by
# the test itself (tests/clickhouse_cluster.py).
if [ ! -f /usr/share/java/zookeeper.jar ]; then
  echo "installing ZooKeeper" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
fi

# Static checks first: lint, formatting and types (configured in pyproject.toml; mypy is strict for the billing core).
echo "ruff check" >&2
.venv/bin/ruff check src tests examples
echo "ruff format --check" >&2
.venv/bin/ruff format --check src tests
echo "mypy" >&2
.venv/bin/mypy

# The whole suite; then, unless test paths were given, a second pass with usage kept in ClickHouse: every service and
# SDK test module that writes or reads usage (ingestion, corrections, invoices, bill runs, entitlements, alerts,
# metrics, reports, credits...), picked by what it mentions, so a new one joins by itself (docs/testing.md).
# Both passes run on every core (pytest-xdist: `-n auto`, tests handed out as workers free up); each worker sets up
# its own databases, live servers and ClickHouse server. `-n 0` in the arguments runs in one process.
PARALLEL=(-n auto --dist worksteal)
.venv/bin/python -m pytest "${PARALLEL[@]}" "$@"
for arg in "$@"; do
  case "$arg" in tests*|./tests*) exit 0 ;; esac
done
echo "second pass: usage kept in ClickHouse" >&2
mapfile -t usage_tests < <(grep -lE 'ingest|usage|invoice|entitle|metric|bill' tests/service/test_*.py tests/api/test_*.py \
  | grep -v '_clickhouse')
METERLINE_TEST_USAGE_STORE=clickhouse exec .venv/bin/python -m pytest "${PARALLEL[@]}" "$@" "${usage_tests[@]}"
