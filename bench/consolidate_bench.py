"""Benchmark: `dtg-xl consolidate` of n returned unit workbooks vs pandas.read_excel(engine="openpyxl")
reading the same files, in the same run.

    python bench/consolidate_bench.py [N_FILES] [--repeats R] [--workdir DIR]

``run(n_files, workdir)`` (imported by bench/run.py) generates a master with n units and its n
unit forms (``dtg_xl.units.unitforms``, cached under workdir), then times each side in its own child
process, so each side's peak RSS (its own ru_maxrss, workers included) is its own:

* consolidate: the library call behind the CLI — open the master, read every form with
  python-calamine through FileBook (pre-flight included), check it, merge, write the output;
  worker processes as the CLI chooses them (2 on this machine), and also 1 for reference;
* pandas: ``pd.read_excel(path, sheet_name=[单位填报, 表单信息], header=None, engine="openpyxl")``
  per file — reading only, no checks and no merge, so the comparison flatters pandas.

The timed region excludes interpreter start and imports.  The returned dict puts the two
medians first (bench/run.py reads the first numeric key naming each side).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHEETS = ("单位填报", "表单信息")  # what consolidate reads from each form
TARGET_SECONDS = 10.0  # for 1,000 workbooks on the 2-core machine


def make_inputs(n_files: int, workdir: Path) -> tuple[Path, list[Path]]:
    """A master with n units (the 2020 example's indicators; units and figures generated) and
    its n unit forms, as sent back unchanged.  Cached under workdir by n."""
    import copy

    from dtg_xl.delivery.template import load_example, write_template
    from dtg_xl.units.unitforms import write_unit_forms

    folder = Path(workdir) / f"consolidate-{n_files}"
    master = folder / "master.xlsx"
    forms_dir = folder / "forms"
    forms = sorted(forms_dir.glob("*.xlsx")) if forms_dir.is_dir() else []
    if master.exists() and len(forms) == n_files:
        return master, forms
    folder.mkdir(parents=True, exist_ok=True)
    data = copy.deepcopy(load_example("dtg-2020"))
    kinds = ("海关", "海事", "边检")
    data["units"] = [{"单位名称": f"查验单位{i:04d}", "单位类别": kinds[i % 3], "年初预算": 100 + i % 50,
                      "追加预算": 10 + i % 7, "实际到位": 110 + i % 50 + i % 7, "实际支出": 100 + i % 50,
                      "监管船舶艘次": 50 + i % 300, "出入境人员（万人次）": round(0.5 + i % 20 * 0.25, 2),
                      "货运量（万吨）": 10 * (i % 40), "报关单量（万票）": i % 13, "上年评价得分": 80 + i % 20}
                     for i in range(n_files)]
    write_template(master, data=data)
    forms = write_unit_forms(master, forms_dir, force=True)
    return master, forms


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished workers (independent of machine load)."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, workers) / 1024  # Linux: KiB


def measure(side: str, workdir: Path, n_files: int, jobs: int = 0) -> dict:
    """One timed run of one side, in this process (called in a child by ``_child``)."""
    master, forms = make_inputs(n_files, workdir)
    if side == "consolidate":
        from dtg_xl.units.consolidate import auto_jobs, consolidate

        jobs = jobs or auto_jobs(len(forms))
        out = Path(workdir) / f"merged-{n_files}.xlsx"
        cpu, start = _cpu_seconds(), time.perf_counter()
        report = consolidate(master, forms, out, jobs=jobs, progress=False)
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        assert report.ok and len(report.accepted) == n_files, report.problems[:3]
        return {"seconds": seconds, "cpu_s": cpu, "jobs": jobs, "accepted": len(report.accepted),
                "cells_written": report.cells_written, "peak_rss_mb": _peak_rss_mb()}
    import pandas as pd

    cpu, start = _cpu_seconds(), time.perf_counter()
    cells = 0
    for path in forms:
        frames = pd.read_excel(path, sheet_name=list(SHEETS), header=None, engine="openpyxl")
        cells += sum(f.size for f in frames.values())
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    return {"seconds": seconds, "cpu_s": cpu, "cells": cells, "peak_rss_mb": _peak_rss_mb()}


def _child(side: str, workdir: Path, n_files: int, jobs: int = 0) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", side, str(n_files),
                           "--workdir", str(workdir), "--jobs", str(jobs)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"{side} run failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(n_files: int, workdir: Path, repeats: int = 1) -> dict:
    """Generate n unit workbooks and time consolidation vs pandas+openpyxl reading them.

    Returns medians (seconds) first, then peak RSS, runs and context."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    make_ok = make_inputs(n_files, workdir)  # once, outside every timed run
    ours, serial, alt = [], [], []
    for _ in range(repeats):  # interleaved, so both sides see the same machine state
        ours.append(_child("consolidate", workdir, n_files))
        serial.append(_child("consolidate", workdir, n_files, jobs=1))
        alt.append(_child("pandas", workdir, n_files))
    med = lambda runs: statistics.median(r["seconds"] for r in runs)  # noqa: E731
    med_cpu = lambda runs: statistics.median(r["cpu_s"] for r in runs)  # noqa: E731
    consolidate_s, pandas_s = med(ours), med(alt)
    return {
        "consolidate_s": consolidate_s,
        "pandas_openpyxl_s": pandas_s,
        "speedup": pandas_s / consolidate_s,
        "consolidate_1_worker_s": med(serial),
        "consolidate_cpu_s": med_cpu(ours),
        "consolidate_1_worker_cpu_s": med_cpu(serial),
        "pandas_openpyxl_cpu_s": med_cpu(alt),
        "consolidate_peak_rss_mb": max(r["peak_rss_mb"] for r in ours),
        "consolidate_1_worker_peak_rss_mb": max(r["peak_rss_mb"] for r in serial),
        "pandas_openpyxl_peak_rss_mb": max(r["peak_rss_mb"] for r in alt),
        "n_files": n_files,
        "repeats": repeats,
        "jobs": ours[0]["jobs"],
        "cells_written": ours[0]["cells_written"],
        "consolidate_runs_s": [r["seconds"] for r in ours],
        "consolidate_1_worker_runs_s": [r["seconds"] for r in serial],
        "pandas_openpyxl_runs_s": [r["seconds"] for r in alt],
        "target_s": TARGET_SECONDS * n_files / 1000,
        "met": consolidate_s <= TARGET_SECONDS * n_files / 1000,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "master": str(make_ok[0]),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_files", nargs="?", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=str(HERE / "work"))
    parser.add_argument("--measure", choices=("consolidate", "pandas"))  # internal: one child run
    parser.add_argument("--jobs", type=int, default=0)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.workdir), args.n_files, args.jobs)))
        return 0
    result = run(args.n_files, Path(args.workdir), repeats=args.repeats)
    print(f"{args.n_files} unit workbooks, {result['repeats']} runs each, {result['cpus']} CPUs")
    print(f"  dtg-xl consolidate ({result['jobs']} worker processes): median {result['consolidate_s']:.2f} s, "
          f"peak RSS {result['consolidate_peak_rss_mb']:.0f} MB  (target ≤ {result['target_s']:g} s: "
          f"{'met' if result['met'] else 'NOT met'})")
    print(f"  dtg-xl consolidate (1 worker):  median {result['consolidate_1_worker_s']:.2f} s, "
          f"peak RSS {result['consolidate_1_worker_peak_rss_mb']:.0f} MB")
    print(f"  pandas.read_excel(openpyxl), read only: median {result['pandas_openpyxl_s']:.2f} s, "
          f"peak RSS {result['pandas_openpyxl_peak_rss_mb']:.0f} MB")
    print(f"  speed-up: {result['speedup']:.1f}×;  CPU seconds (load-independent): consolidate "
          f"{result['consolidate_cpu_s']:.2f} (2 workers) / {result['consolidate_1_worker_cpu_s']:.2f} (1), "
          f"pandas {result['pandas_openpyxl_cpu_s']:.2f}")
    load = os.getloadavg()
    print(f"  load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
