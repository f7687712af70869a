"""`dtg-xl evaluate` imports only what it needs: no pandas/openpyxl/xlsxwriter/matplotlib on the
evaluate path (each costs 0.2-0.5 s of start-up; the target is evaluate <= 1 s including
interpreter start).  Checked on a real run in a fresh interpreter, not by timing."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "openpyxl", "xlsxwriter", "matplotlib", "xlwings", "PIL", "docx")

SCRIPT = """
import json, sys
from dtg_xl.doors.cli import main
rc = main(["evaluate", sys.argv[1], "-o", sys.argv[2]])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[3])))
print(json.dumps({"rc": rc, "heavy": heavy}))
"""


def test_evaluate_imports_no_heavy_library(example_path, tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(example_path), str(tmp_path / "out.xlsx"),
                           json.dumps(HEAVY)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0
    assert (tmp_path / "out.xlsx").is_file()
    assert result["heavy"] == [], f"evaluate imported {result['heavy']}; import them lazily where used"
