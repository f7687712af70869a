"""The Excel button's Python side: process start → status written on 控制台, beside `import xlwings`
and beside the click's floor.

    python bench/click_bench.py [--runs 5] [--out click.json]

A click runs ``python -c "import dtg; dtg.main()"`` (xlwings' RunPython).  Each sample is a fresh
child process (bench/click_child.py, which imports nothing else) that imports workbook/dtg.py
exactly so, with ``xw.Book.caller()`` returning xlwings' remote Book built from workbook/dtg.xlsm's
sheets (Excel's COM round trips are not part of the figure), and reports the moment ``main()``
has written the status (CLOCK_MONOTONIC, comparable across processes); the parent took the start
time just before spawning it.  Rows:

* click            — workbook/dtg.py as shipped (``import_xlwings()``: no pandas/matplotlib/PIL)
* click, plain xlwings — the same click after a plain ``import xlwings`` (what dtg.py did before)
* floor            — interpreter + numpy + xlwings as the click imports it + the remote Book + one
  status cell: what any click of this design pays before dtg_xl reads or scores anything
* import xlwings   — ``python -c "import xlwings"`` alone, to exit

Target (issue 15): click <= 0.25 s.  Also run by bench/run.py (key "click" in results.json).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKBOOK = ROOT / "workbook" / "dtg.xlsm"
TARGET_S = 0.25
OPTIONAL = ("pandas", "matplotlib", "PIL")


def _env() -> dict:
    return {**os.environ, "XLWINGS_LICENSE_KEY": os.environ.get("XLWINGS_LICENSE_KEY", "noncommercial")}


def _click(payload_path: Path, mode: str) -> dict:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(HERE / "click_child.py"), str(payload_path), mode],
                          capture_output=True, text=True, env=_env(), cwd=ROOT)
    end = time.monotonic()
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"to_status_s": data["done"] - start, "to_exit_s": end - start, "actions": data["actions"],
            "optional_imported": data["optional_imported"]}


def _import_xlwings() -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "import xlwings"], check=True, env=_env())
    return time.monotonic() - start


def measure(runs: int = 5, log=lambda text: None) -> dict:
    """Medians over runs (interleaved, so the rows share the machine's state)."""
    from data import remote_payload  # bench/data.py, here only: the child (the click measured) must not import it

    with tempfile.TemporaryDirectory(prefix="dtg-click-") as tmp:
        path = Path(tmp) / "payload.json"
        path.write_text(json.dumps(remote_payload(WORKBOOK), ensure_ascii=False), encoding="utf-8")
        lean, plain, floor, bare = [], [], [], []
        for i in range(runs):
            log(f"click {i + 1}/{runs}")
            lean.append(_click(path, "lean"))
            plain.append(_click(path, "plain"))
            floor.append(_click(path, "floor"))
            bare.append(_import_xlwings())
    med = lambda xs: statistics.median(xs)  # noqa: E731
    click_s = med([r["to_status_s"] for r in lean])
    return {
        "runs": runs, "load_average": os.getloadavg(), "target_s": TARGET_S,
        "click_s": click_s, "click_to_exit_s": med([r["to_exit_s"] for r in lean]),
        "click_plain_xlwings_s": med([r["to_status_s"] for r in plain]),
        "floor_s": med([r["to_status_s"] for r in floor]),
        "import_xlwings_s": med(bare),
        "met": click_s <= TARGET_S,
        "optional_imported": {"click": lean[0]["optional_imported"], "click_plain_xlwings": plain[0]["optional_imported"]},
        "actions": lean[0]["actions"],
    }


def table(r: dict) -> str:
    rows = [("click (dtg.py as shipped), start → status", r["click_s"]),
            ("click after a plain `import xlwings`", r["click_plain_xlwings_s"]),
            ("floor: python + numpy + xlwings (lean) + remote Book + one cell", r.get("floor_s")),
            ("`python -c \"import xlwings\"` (to exit)", r["import_xlwings_s"])]
    lines = [f"| {name} | {s:.3f} s |" for name, s in rows if s is not None]
    return "\n".join(["| Python side of a click (remote Book) | median |", "|---|---|", *lines,
                      f"\ntarget <= {r['target_s']} s: {'met' if r['met'] else 'NOT met'}"
                      + (f" (the floor alone: {r['floor_s']:.3f} s; click = {r['click_s'] / r['floor_s']:.2f}x floor)"
                         if r.get("floor_s") else "") + "; load average "
                      f"{r['load_average'][0]:.2f}; optional modules imported by the click: "
                      f"{', '.join(r['optional_imported']['click']) or 'none'} "
                      f"(plain: {', '.join(r['optional_imported']['click_plain_xlwings'])})"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the figures as JSON")
    args = parser.parse_args(argv)
    result = measure(args.runs, log=lambda text: print(text, file=sys.stderr, flush=True))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
