"""bandit (static security analysis) over the package: clean, or each finding justified in place with `# nosec`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def test_bandit_finds_nothing() -> None:
    bandit = Path(sys.executable).with_name("bandit")
    result = subprocess.run(
        [str(bandit), "-r", str(SRC), "-f", "json", "-q"], capture_output=True, text=True, timeout=300
    )
    report = json.loads(result.stdout)
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert findings == [], "\n".join(findings)
    assert report["metrics"]["_totals"]["loc"] > 5000  # it really read the code


def test_digits_are_checked_as_ascii_before_int() -> None:
    """`str.isdigit` takes "¹" and "٣", which `int` refuses: a check by it alone let such text reach `int()` as a 500.
    Every `.isdigit()` in the code sits beside `.isascii()` on its line (or is `core.text.ascii_digits`)."""
    src = Path(__file__).resolve().parents[1] / "src" / "meterline"
    bare = [
        f"{path.relative_to(src)}:{number}: {line.strip()}"
        for path in sorted(src.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ".isdigit()" in line and ".isascii()" not in line and "[{part}]" not in line  # api/errors: a path's text
    ]
    assert bare == [], "use core.text.ascii_digits (or .isascii() first):\n" + "\n".join(bare)
