"""Every command shown in README.md and docs/ is a cog block (docs/cogdoc.py) regenerated from a real run;
this test fails when any page differs from what the program prints today.  Fix: the command in the docstring."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pages() -> list[str]:
    return ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))


def test_every_documented_command_matches_its_real_output():
    proc = subprocess.run([sys.executable, "-m", "cogapp", "--check", "--diff", "-I", "docs", *pages()],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, (
        "a page's command output differs from a real run; regenerate with\n"
        "  python -m cogapp -r -I docs README.md $(find docs -name '*.md')\n" + proc.stdout + proc.stderr)
