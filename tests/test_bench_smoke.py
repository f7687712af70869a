"""bench/run.py --quick runs end to end and writes its results (figures are not asserted: speed
lives in bench/, never in tests)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_bench_runs_and_writes_results(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick",
                           "--workdir", str(tmp_path / "work"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| benchmark" in proc.stdout and "written:" in proc.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["quick"] is True
    assert report["machine"]["cpu_count"] >= 1
    assert report["machine"]["versions"]["numpy"] and report["machine"]["versions"]["openpyxl"]
    names = [c["name"] for c in report["cases"]]
    for part in ("evaluate", "score", "write-back", "read"):
        assert any(part in n for n in names), names
    for case in report["cases"]:
        assert case["ours"]["median_s"] > 0 and case["ours"]["peak_rss_mb"] > 0
        if "alt" in case:
            assert case["alt"]["median_s"] > 0 and case["speedup"] > 0
    score = next(c for c in report["cases"] if c["name"].startswith("score"))
    # the per-row loop and the vectorised engine gave the same scores for the sampled rows
    assert score["alt"]["detail"]["agrees_with_engine"] is True
    writeback = next(c for c in report["cases"] if c["name"].startswith("write-back"))
    assert writeback["ours"]["detail"]["cells"] == writeback["alt"]["detail"]["cells"] > 0
    assert (tmp_path / "work" / "writeback-patch.xlsx").is_file()
    stages = report["evaluate_stages_ms"]
    assert all(stages[k] > 0 for k in ("imports", "open", "preflight", "evaluate", "save"))
