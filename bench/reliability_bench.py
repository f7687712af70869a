"""Reliability figures: how long each refusal takes, and evaluate / verify / export times.

    python bench/reliability_bench.py            # medians of 5 runs; prints a table and JSON

Hostile files are the ones tests/test_preflight.py builds.  Each refusal is timed in a fresh
child process through the real CLI (interpreter start included, as a user would see it) and
in-process (the pre-flight check alone, each a first check: its memo of parts seen emptied).
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

RUNS = 5


def wall(cmd: list[str]) -> tuple[float, int]:
    times, rc = [], 0
    for _ in range(RUNS):
        t = time.perf_counter()
        rc = subprocess.run(cmd, capture_output=True).returncode
        times.append(time.perf_counter() - t)
    return statistics.median(times), rc


def inproc(fn) -> float:
    from dtg_xl.xlsx.preflight import forget_seen_parts

    times = []
    for _ in range(RUNS):
        forget_seen_parts()  # each run a first check, as one dtg-xl process makes it
        t = time.perf_counter()
        try:
            fn()
        except Exception:  # noqa: BLE001 - refusals are the point here
            pass
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    import test_preflight as T

    from dtg_xl.xlsx import preflight
    from dtg_xl.delivery.template import write_template

    work = Path(tempfile.mkdtemp(prefix="dtg-rel-bench-"))
    example = write_template(work / "example.xlsx", example="dtg-2020")
    cli = [sys.executable, "-m", "dtg_xl"]
    rows = []
    for name, (build, _) in T.CASES.items():
        (work / name).mkdir()
        try:
            path = build(example, work / name / f"{name}.xlsx")
        except ImportError:
            continue
        seconds, rc = wall(cli + ["evaluate", str(path)])
        rows.append({"case": name, "bytes": path.stat().st_size, "cli_s": round(seconds, 3), "exit": rc,
                     "preflight_s": round(inproc(lambda p=path: preflight.check(p)), 4)})
    done = work / "done.xlsx"
    figures = {}
    for label, args in (("evaluate example", ["evaluate", str(example), "-o", str(done)]),
                        ("verify evaluated", ["verify", str(done)]),
                        ("export evaluated", ["export", str(done), "-o", str(work / "mail.xlsx")])):
        seconds, rc = wall(cli + args)
        figures[label] = {"cli_s": round(seconds, 3), "exit": rc}
    figures["preflight example (in-process)"] = {"s": round(inproc(lambda: preflight.check(example)), 4)}
    width = max(len(r["case"]) for r in rows)
    print(f"{'case':<{width}}  bytes     exit  CLI wall s  pre-flight s")
    for r in rows:
        print(f"{r['case']:<{width}}  {r['bytes']:<8}  {r['exit']:<4}  {r['cli_s']:<10}  {r['preflight_s']}")
    for label, f in figures.items():
        print(f"{label}: {f}")
    print(json.dumps({"hostile": rows, "figures": figures}, ensure_ascii=False))


if __name__ == "__main__":
    main()
