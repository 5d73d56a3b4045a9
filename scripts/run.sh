#!/usr/bin/env bash
# Run Meterline on this machine: virtual environment, install, migrate, first organization/user/key, serve.
# Usage: bash scripts/run.sh   (SQLite in ./data/meterline.db, every meterline command's default; http://127.0.0.1:8000)
# Environment: METERLINE_DATABASE_URL, METERLINE_HOST, METERLINE_PORT override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
  touch .venv/.installed
fi

# The database: METERLINE_DATABASE_URL, else the default of every command (core/settings.py), data/meterline.db here;
# init and serve create it (and data/) on the first start.
.venv/bin/meterline init
exec .venv/bin/meterline serve
