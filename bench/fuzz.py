"""A long schemathesis run over every operation of a live server: no 5xx, every answer as the document says.

    .venv/bin/python bench/fuzz.py [--engine sqlite|postgresql|both] [--examples 300] [--seed N]

Each run prints its seed (drawn at random unless --seed is given); the same seed sends the same requests again.

The test suite runs the same checks with 25 examples per operation (tests/api/test_fuzz.py); this one runs many
more and prints what it sent and found. Nothing here is a test: it reports.
"""

from __future__ import annotations

import argparse
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))


def run(engine: str, examples: int, seed: int) -> None:
    from conftest import start_server, stop_server
    from ingest import drop_database, fresh_database, seed_catalog
    from tests.api.test_fuzz import CHECKS

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(engine, Path(tmp), "fuzz")
        try:
            token = seed_catalog(url)
            process, base = start_server(url, Path(tmp) / "server.log")
            try:
                started = time.perf_counter()
                result = subprocess.run(
                    [str(Path(sys.executable).with_name("schemathesis")), "run", f"{base}/api/openapi.json",
                     "--url", f"{base}/api", "-H", f"Authorization: Bearer {token}", "--checks", CHECKS,
                     "--max-examples", str(examples), "--seed", str(seed), "--no-color"],
                    capture_output=True, text=True, cwd=tmp, stdin=subprocess.DEVNULL,
                )
                elapsed = time.perf_counter() - started
            finally:
                stop_server(process)
            log = (Path(tmp) / "server.log").read_text()
            tracebacks = log.count("Traceback")
            summary = [line for line in result.stdout.splitlines() if re.search(r"generated|passed|failed|error", line, re.I)]
            print(f"{engine}: {elapsed:.0f} s, schemathesis exit {result.returncode}, server tracebacks {tracebacks}, "
                  f"seed {seed} (replay: --seed {seed} --examples {examples} --engine {engine})")
            for line in summary[-8:]:
                print("   ", line.strip())
            if result.returncode != 0:
                print(result.stdout[-4000:])
        finally:
            drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: drawn at random, printed)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    print(f"fuzz seed {seed}")
    for engine in (["sqlite", "postgresql"] if args.engine == "both" else [args.engine]):
        run(engine, args.examples, seed)


if __name__ == "__main__":
    main()
