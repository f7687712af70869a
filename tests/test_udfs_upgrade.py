"""After upgrading dtg_xl, the running UDF server uses the new engine (issue 15, item 4).

xlwings' UDF server reloads only the UDF module file (``dtg_xl/udfs.py``) when its time changes.
Here a copy of dtg_xl is loaded through xlwings' own ``get_udf_module``; the "upgrade" changes
the engine's code (``dtg_xl/core/rules.py``: ``score_one`` of the new version returns 0.5 more),
and the next ``=DTG_SCORE("正向", 5, 100, 95)`` must see it.  The
control upgrade also replaces udfs.py with a plain re-export (what it was before this fix): the
old engine stays, so the test can fail."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


from helpers import ROOT

CHECK = ROOT / "tests" / "udf_upgrade_check.py"
PLAIN_REEXPORT = ("from dtg_xl.doors.udfs import DTG_SCORE, DTG_SCORE_TABLE, DTG_TOTAL, DTG_GRADE, "
                  "DTG_EXEC_RATE, DTG_COMPRESSION, DTG_MARGIN  # noqa: F401\n")


def run(tmp_path: Path, replace_udfs: bool) -> dict:
    site = tmp_path / "site"
    shutil.copytree(ROOT / "dtg_xl", site / "dtg_xl", ignore=shutil.ignore_patterns("__pycache__"))
    upgrade = tmp_path / "upgrade.py"
    rules = site / "dtg_xl" / "core" / "rules.py"
    lines = [
        "from pathlib import Path",
        f"p = Path({str(rules)!r})",
        "p.write_text(p.read_text(encoding='utf-8') + '\\n_old = score_one\\n"
        "def score_one(*args, **kwargs):\\n    return _old(*args, **kwargs) + 0.5\\n', encoding='utf-8')",
    ]
    if replace_udfs:
        lines.append(f"Path({str(site / 'dtg_xl' / 'udfs.py')!r}).write_text({PLAIN_REEXPORT!r}, encoding='utf-8')")
    upgrade.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-B", str(CHECK), str(site), str(upgrade)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_udf_server_uses_the_upgraded_engine(tmp_path):
    assert run(tmp_path, replace_udfs=False) == {"before": 4.75, "after": 5.25}


def test_control_plain_reexport_keeps_the_old_engine(tmp_path):
    assert run(tmp_path, replace_udfs=True) == {"before": 4.75, "after": 4.75}
