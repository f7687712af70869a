"""bench/consolidate_bench.run keeps the signature bench/run.py imports and returns real figures
(a smoke run on 3 files; no timing is asserted)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_smoke(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import consolidate_bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    result = consolidate_bench.run(3, tmp_path)
    numeric = [k for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    assert numeric[:2] == ["consolidate_s", "pandas_openpyxl_s"]  # bench/run.py reads these first
    assert result["n_files"] == 3 and result["cells_written"] == 27
    assert result["consolidate_s"] > 0 and result["pandas_openpyxl_s"] > 0 and result["consolidate_peak_rss_mb"] > 0
    assert len(list((tmp_path / "consolidate-3" / "forms").glob("*.xlsx"))) == 3
