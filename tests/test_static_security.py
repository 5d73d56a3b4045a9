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
