"""Benchmarks: every dtg_xl figure beside the obvious alternative, measured in the same run.

    python bench/run.py               # medians of 5 runs (3 for the 1,000-workbook reads, 11 for the example)
    python bench/run.py --quick       # smoke run: 1 run, small inputs, results in the work folder

Every case runs in its own child process, one side after the other, so the two figures of a
row share the machine's state and each side's peak RSS (ru_maxrss from wait4) is its own.
"evaluate" is timed from process start to exit; the other cases time the operation inside the
child (inputs prepared before the clock starts).  Results go to results.json in the work folder
(a temp folder unless --workdir) with the CPU count, load average and library versions.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent

# start_runs: the example's evaluate, a fraction of a second whose runs here spread by half
FULL = {"rows": 1_000_000, "loop_sample": 20_000, "files": 1_000, "runs": 5, "read_runs": 3, "start_runs": 11,
        "indicator_rows": (10_000, 99_999), "projects": 1_000, "pandas_sample": 200, "big_runs": 1}
# 99,999 indicator rows + the header row = the pre-flight's 100,000-row limit
QUICK = {"rows": 20_000, "loop_sample": 1_000, "files": 10, "runs": 1, "read_runs": 1, "start_runs": 1,
         "indicator_rows": (500, 2_000), "projects": 10, "pandas_sample": 5, "big_runs": 1}
HEAVY = ("pandas", "openpyxl", "xlsxwriter", "matplotlib", "xlwings", "PIL", "docx")
OPENPYXL_LOAD_SAVE = "import sys, openpyxl; openpyxl.load_workbook(sys.argv[1]).save(sys.argv[2])"
LIBRARIES = ("numpy", "pandas", "openpyxl", "python-calamine", "lxml", "XlsxWriter", "dtg_xl")


def spawn(cmd: list[str], workdir: Path) -> dict:
    """Run cmd to exit; wall seconds, peak RSS (MB) of that child alone, its JSON line if any.

    Linux starts a child's ru_maxrss at the parent's RSS at fork, so this process stays small
    (no numpy: inputs are prepared in a child too) to keep that floor below a bare interpreter's.
    """
    with tempfile.TemporaryFile(dir=workdir) as out, tempfile.TemporaryFile(dir=workdir) as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=workdir)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-2000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "json": json.loads(lines[-1]) if lines else {},
            "stderr": stderr}


def case_cmd(case: str, side: str, workdir: Path, n: int, sample: int | None = None) -> list[str]:
    cmd = [sys.executable, str(HERE / "cases.py"), case, side, str(workdir), str(n)]
    return cmd + ([str(sample)] if sample else [])


def dtg_xl_command() -> list[str]:
    """The installed console script next to this interpreter (not a pyenv shim, which adds ~0.1 s)."""
    script = Path(sys.executable).with_name("dtg-xl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dtg_xl"]


def plan(cfg: dict, workdir: Path, example: Path) -> list[dict]:
    rows, files = cfg["rows"], cfg["files"]
    cases = [
        {"name": "evaluate 2020 example, process start to exit", "timing": "wall", "runs": cfg["start_runs"],
         "ours": ("dtg-xl evaluate", dtg_xl_command() + ["evaluate", str(example), "-o", "out-dtg.xlsx"]),
         "alt": ("openpyxl load + save", [sys.executable, "-c", OPENPYXL_LOAD_SAVE, str(example), "out-openpyxl.xlsx"]),
         "floor": ("calamine + lxml prototype", [sys.executable, str(HERE / "floor_evaluate.py"), str(example),
                                                 "out-floor.xlsx", str(workdir / "evaluate-blocks.json")]),
         "target": {"max_seconds": 0.12, "max_floor_ratio": 2.0}},
        {"name": f"score {rows:,} indicator rows", "timing": "inner", "runs": cfg["runs"],
         "ours": ("engine.score_table", case_cmd("score", "engine", workdir, rows)),
         "alt": (f"score_one loop ({cfg['loop_sample']:,} rows, scaled)",
                 case_cmd("score", "loop", workdir, rows, cfg["loop_sample"])),
         "target": {"max_seconds": 1.0, "min_speedup": 50}},
        {"name": "write-back of results (2020 example)", "timing": "inner", "runs": cfg["runs"],
         "ours": ("FileBook.write + save (zip patch)", case_cmd("writeback", "patch", workdir, 1)),
         "alt": ("openpyxl load, set, save", case_cmd("writeback", "openpyxl", workdir, 1)),
         "target": {"min_speedup": 3}},
    ]
    if (HERE / "consolidate_bench.py").exists():  # the issue-6 benchmark: both sides in its own children
        cases.append({"name": f"consolidate {files:,} unit workbooks", "timing": "pair", "runs": cfg["read_runs"],
                      "both": case_cmd("consolidate", "both", workdir, files, cfg["read_runs"]),
                      "target": {"max_seconds": 10.0 * files / 1000, "min_speedup": 10}})
        read_alt = "same"  # FileBook and calamine rows: against the pandas figure of the same files above
    else:
        read_alt = ("pandas.read_excel(openpyxl)", case_cmd("read", "pandas", workdir, files))
    cases += [
        {"name": f"read {files:,} unit workbooks, 1 process", "timing": "inner", "runs": cfg["read_runs"],
         "ours": ("FileBook (pre-flight + calamine)", case_cmd("read", "calamine", workdir, files)),
         "alt": read_alt, "target": {} if read_alt == "same" else {"max_seconds": 10.0 * files / 1000,
                                                                   "min_speedup": 10}},
        {"name": f"read {files:,} unit workbooks, no pre-flight", "timing": "inner", "runs": cfg["read_runs"],
         "ours": ("python-calamine alone", case_cmd("read", "calamine-only", workdir, files)),
         "alt": "same" if read_alt == "same" else None, "target": {}},
    ]
    return cases + issue16_cases(cfg, workdir)


def issue16_cases(cfg: dict, workdir: Path) -> list[dict]:
    """Portfolio, indicator rows at two sizes, and the pre-flight before/after (issue 16)."""
    n = cfg["projects"]
    cases = []
    folder = workdir / f"projects-{n}"
    cases.append({"name": f"portfolio of {n:,} project workbooks, process start to exit", "timing": "wall",
                  "runs": cfg["big_runs"], "prepare": case_cmd("portfolio", "prepare", workdir, n),
                  "ours": ("dtg-xl portfolio --jobs 2 --fresh", dtg_xl_command() + [
                      "portfolio", str(folder), "-o", str(workdir / "portfolio-out.xlsx"), "--jobs", "2", "--fresh"]),
                  "alt": (f"pandas.read_excel(openpyxl) of the 3 input sheets ({cfg['pandas_sample']} files, scaled)",
                          case_cmd("portfolio", "pandas", workdir, n, cfg["pandas_sample"])),
                  "floor": ("python-calamine reading the same sheets, 2 processes",
                            case_cmd("portfolio", "floor", workdir, n)),
                  "target": {"max_seconds": 15.0 * n / 1000, "max_rss_mb": 300, "min_speedup": 5}})
    small, large = cfg["indicator_rows"]
    for size in (small, large):
        path, blocks = workdir / f"rows-{size}.xlsx", str(workdir / f"rows-{size}-blocks.json")
        cases.append({"name": f"evaluate {size:,} indicator rows, process start to exit", "timing": "wall",
                      "runs": cfg["big_runs"], "prepare": case_cmd("rows", "prepare", workdir, size),
                      "ours": ("dtg-xl evaluate", dtg_xl_command() + ["evaluate", str(path), "-o", f"out-rows-{size}.xlsx"]),
                      "floor": ("calamine + lxml prototype", [sys.executable, str(HERE / "floor_evaluate.py"),
                                                              str(path), f"out-floor-rows-{size}.xlsx", blocks]),
                      "steps": [sys.executable, str(HERE / "floor_steps.py"), str(path), blocks],
                      "target": {"max_seconds": 6.0, "max_rss_mb": 400} if size == large else {},
                      "per_row_vs": f"evaluate {small:,} indicator rows, process start to exit" if size == large else None})
    cases.append({"name": f"pre-flight of {cfg['files']:,} unit forms, in process", "timing": "inner", "runs": cfg["runs"],
                  "ours": ("pre-flight now (single pass)", case_cmd("preflight", "after", workdir, cfg["files"])),
                  "alt": ("pre-flight before issue 16 (bench/preflight_before.py)",
                          case_cmd("preflight", "before", workdir, cfg["files"])),
                  "target": {}})
    return cases


def side_seconds(res: dict, timing: str) -> float:
    """One side's figure from its child: the time inside it, or its wall time from start to exit.

    A wall-timed side that read only a sample of the files (its JSON line says ``sample_files`` of
    ``files``, with ``seconds`` its reading time already scaled to all of them) is scaled too: its
    start-up and exit once, plus the reading of every file.  Its bare wall time would compare a
    fifth of the work with all of ours."""
    if timing != "wall":
        return res["json"]["seconds"]
    detail = res["json"]
    sample, files = detail.get("sample_files"), detail.get("files")
    if sample and files and sample < files:
        sample_reading = detail["seconds"] * sample / files
        return res["wall"] - sample_reading + detail["seconds"]
    return res["wall"]


def measure(case: dict, workdir: Path, log, previous: list[dict]) -> list[dict]:
    """Rows for one case: medians, runs, peak RSS, speed-up, target met."""
    if case["timing"] == "pair":
        return _pair_rows(case, spawn(case["both"], workdir)["json"], log)
    if case.get("prepare"):  # inputs made (and cached) before any side is timed
        spawn(case["prepare"], workdir)
    sides = {"ours": [], "alt": [], "floor": []}
    for i in range(case["runs"]):
        for side in sides:
            if not isinstance(case.get(side), tuple):
                continue
            res = spawn(case[side][1], workdir)
            seconds = side_seconds(res, case["timing"])
            sides[side].append({"seconds": seconds, "rss_mb": res["rss_mb"], "wall": res["wall"],
                                "detail": res["json"]})
        log(f"  run {i + 1}/{case['runs']}: " + "  ".join(
            f"{side} {runs[-1]['seconds']:.3f} s" for side, runs in sides.items() if runs))
    out = {"name": case["name"], "timing": case["timing"], "target": case["target"]}
    for side, runs in sides.items():
        if runs:
            out[side] = {"label": case[side][0], "median_s": statistics.median(r["seconds"] for r in runs),
                         "runs_s": [r["seconds"] for r in runs], "peak_rss_mb": max(r["rss_mb"] for r in runs),
                         "detail": runs[-1]["detail"]}
    if case.get("alt") == "same":  # the pandas side measured on the same files by the consolidate case
        ref = next((r for r in previous if r["timing"] == "pair" and "alt" in r), None)
        if ref:
            out["alt"] = {**ref["alt"], "label": ref["alt"]["label"] + " (row above)"}
    if case.get("steps"):  # the steps every evaluate of this workbook takes, timed alone (bench/floor_steps.py)
        out["steps"] = spawn(case["steps"], workdir)["json"]
    if case.get("per_row_vs"):  # time per row here against time per row at the smaller size
        ref = next((r for r in previous if r["name"] == case["per_row_vs"]), None)
        if ref:
            rows_here, rows_ref = (int(re.search(r"([\d,]+) indicator", x).group(1).replace(",", ""))
                                   for x in (case["name"], ref["name"]))
            out["per_row_ratio"] = (out["ours"]["median_s"] / rows_here) / (ref["ours"]["median_s"] / rows_ref)
            out["target"] = {**out["target"], "max_per_row_ratio": 1.3}
    return [_finish(out)]


def _pair_rows(case: dict, res: dict, log) -> list[dict]:
    """bench/consolidate_bench.run's dict as rows: consolidate (auto workers), 1 worker."""
    log(f"  consolidate {res['consolidate_runs_s']}  1 worker {res['consolidate_1_worker_runs_s']}  "
        f"pandas {res['pandas_openpyxl_runs_s']}")
    alt = {"label": "pandas.read_excel(openpyxl), read only", "median_s": res["pandas_openpyxl_s"],
           "runs_s": res["pandas_openpyxl_runs_s"], "peak_rss_mb": res["pandas_openpyxl_peak_rss_mb"]}
    rows = []
    for key, label, target in (("consolidate", f"dtg_xl.units.consolidate, {res['jobs']} worker{'s' if res['jobs'] > 1 else ''}", case["target"]),
                               ("consolidate_1_worker", "dtg_xl.units.consolidate, 1 worker", {})):
        rows.append(_finish({
            "name": case["name"] + ("" if target else ", 1 worker"), "timing": "pair", "target": target,
            "ours": {"label": label, "median_s": res[f"{key}_s"], "runs_s": res[f"{key}_runs_s"],
                     "peak_rss_mb": res[f"{key}_peak_rss_mb"]},
            "alt": alt, "detail": {k: v for k, v in res.items() if not k.endswith("runs_s")}}))
    return rows


def _finish(out: dict) -> dict:
    if "alt" in out:
        out["speedup"] = out["alt"]["median_s"] / out["ours"]["median_s"]
    if "floor" in out:
        out["floor_ratio"] = out["ours"]["median_s"] / out["floor"]["median_s"]
    checks = target_checks(out)
    out["met"] = all(ok for _, ok in checks) if checks else None
    return out


def target_checks(r: dict) -> list[tuple[str, bool]]:
    """Each target of a result row, as it is printed, with whether this run met it."""
    t, inf = r["target"], float("inf")
    checks = []
    if "max_seconds" in t:
        checks.append((f"<= {t['max_seconds']:g} s", r["ours"]["median_s"] <= t["max_seconds"]))
    if "min_speedup" in t:
        checks.append((f">= {t['min_speedup']:g}x", r.get("speedup", 0) >= t["min_speedup"]))
    if "max_floor_ratio" in t:
        checks.append((f"<= {t['max_floor_ratio']:g}x floor", r.get("floor_ratio", inf) <= t["max_floor_ratio"]))
    if "max_rss_mb" in t:
        checks.append((f"RSS <= {t['max_rss_mb']:g} MB", r["ours"]["peak_rss_mb"] <= t["max_rss_mb"]))
    if "max_per_row_ratio" in t:
        checks.append((f"per row <= {t['max_per_row_ratio']:g}x smaller (now {r.get('per_row_ratio', inf):.2f}x)",
                       r.get("per_row_ratio", inf) <= t["max_per_row_ratio"]))
    return checks


def evaluate_stages(example: Path, workdir: Path, runs: int) -> dict:
    """Medians (ms) of evaluate's stages (bench/evaluate_stages.py); interpreter start = wall - sum."""
    samples = []
    for _ in range(runs):
        res = spawn([sys.executable, str(HERE / "evaluate_stages.py"), str(example), "out-stages.xlsx"], workdir)
        samples.append({**res["json"], "interpreter_start": res["wall"] * 1000 - res["json"]["in_process_total"]})
    keys = ("interpreter_start", "imports", "open", "preflight", "evaluate", "save")
    return {k: statistics.median(s[k] for s in samples) for k in keys}


def import_check(example: Path, workdir: Path) -> dict:
    """Which modules `dtg-xl evaluate` imports (python -X importtime), and the slowest ones."""
    res = spawn([sys.executable, "-X", "importtime", "-m", "dtg_xl", "evaluate", str(example),
                 "-o", "out-imports.xlsx"], workdir)
    cumulative = {}
    for line in res["stderr"].splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            cumulative[m.group(3)] = int(m.group(1)) / 1000
    top_level = {k: v for k, v in cumulative.items() if "." not in k}
    return {"heavy_imported": sorted({m.split(".")[0] for m in cumulative} & set(HEAVY)),
            "modules": len(cumulative),
            "slowest_top_level_ms": dict(sorted(top_level.items(), key=lambda kv: -kv[1])[:8])}


def machine() -> dict:
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    return {"cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions}


def table(results: list[dict]) -> str:
    head = ("benchmark", "dtg_xl", "median", "alternative", "median", "speed-up", "floor", "median",
            "x floor", "target", "met", "RSS dtg_xl", "RSS alt")
    lines = []
    for r in results:
        checks = target_checks(r)  # with more than one target, each says whether it was met
        target = ", ".join(label + (f" {'yes' if ok else 'NO'}" if len(checks) > 1 else "") for label, ok in checks)
        alt, floor = r.get("alt"), r.get("floor")
        lines.append((r["name"], r["ours"]["label"], f"{r['ours']['median_s']:.3f} s",
                      alt["label"] if alt else "-", f"{alt['median_s']:.3f} s" if alt else "-",
                      f"{r['speedup']:.1f}x" if alt else "-",
                      floor["label"] if floor else "-", f"{floor['median_s']:.3f} s" if floor else "-",
                      f"{r['floor_ratio']:.1f}x" if floor else "-", target or "-",
                      {True: "yes", False: "NO", None: "-"}[r["met"]],
                      _mb(r["ours"]["peak_rss_mb"]), _mb(alt.get("peak_rss_mb")) if alt else "-"))
    widths = [max(_width(x) for x in col) for col in zip(head, *lines)]
    fmt = lambda row: "| " + " | ".join(x + " " * (w - _width(x)) for x, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(x) for x in lines])


def summary(report: dict) -> str:
    """The table and the lines under it, as printed at the end of a run (docs/performance.md
    renders the committed bench/results.json through this same function)."""
    imports, stages = report["evaluate_imports"], report["evaluate_stages_ms"]
    load = report["load_average"]
    lines = [table(report["cases"]), "",
             f"{report['when']}; {report['machine']['cpu_count']} CPUs; load average "
             f"{load['before'][0]:.2f} before, {load['after'][0]:.2f} after; "
             f"`dtg-xl evaluate` imports {', '.join(imports['heavy_imported']) or 'none'} of {', '.join(HEAVY)}"]
    if stages:
        lines.append("evaluate stages (median ms): " + ", ".join(f"{k} {v:.0f}" for k, v in stages.items())
                     + "  (open includes the pre-flight)")
    if report.get("bytecode"):
        lines.append(f"bytecode: {report['bytecode']}")
    if report.get("click"):  # issue 15's click benchmark, when the run included it
        from click_bench import table as click_table

        lines += ["", click_table(report["click"])]
    for case in report.get("failed", []):
        lines.append(f"FAILED: {case['name']}: {case['error'].splitlines()[-1]}")
    for case in report["cases"]:
        if case.get("steps"):
            s = case["steps"]
            lines.append(f"{case['name'].removesuffix(', process start to exit')}: the steps every evaluate "
                         f"of it takes, timed alone: {s['total_s']:.2f} s "
                         f"(python-calamine {s['calamine_s']:.2f}, expat over every part {s['expat_s']:.2f}, "
                         f"inflate {s['inflate_s']:.2f}, deflate of the written sheets {s['deflate_s']:.2f}; "
                         f"bench/floor_steps.py), dtg-xl {case['ours']['median_s']:.2f} s")
        if case["name"].startswith("pre-flight"):
            now, before = case["ours"]["detail"], case["alt"]["detail"]
            lines.append(f"pre-flight per unit form: {now['per_form_ms']:.2f} ms now, {before['per_form_ms']:.2f} ms "
                         f"before; on the 2020 example: {now['example_ms']:.1f} ms now, {before['example_ms']:.1f} ms before")
    return "\n".join(lines)


def _mb(value) -> str:
    return "-" if value is None else f"{value:.0f} MB"


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def compile_bytecode() -> str:
    """Byte-compile dtg_xl (and workbook/dtg.py) as a wheel install does at install time.  A source
    checkout installed editable has no .pyc, and where PYTHONDONTWRITEBYTECODE is set (it is on the
    project's machines) every run compiled every module again: about 0.12 s of each process."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "dtg_xl"),
                    str(HERE.parent / "workbook" / "dtg.py")], check=True, stdout=subprocess.DEVNULL)
    return "compiled before the run (python -m compileall), as pip does when it installs a wheel"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run on small inputs (smoke test)")
    parser.add_argument("--runs", type=int, help="runs per case (median taken); the example's evaluate "
                                                 "runs 11 times whatever this says, unless --quick")
    parser.add_argument("--workdir", type=Path, help="where inputs are generated and cached")
    parser.add_argument("--out", type=Path, help="results JSON (default: results.json, or results-quick.json "
                                                 "with --quick, in the work folder; the docs' figures are a "
                                                 "run written with --out bench/results.json)")
    parser.add_argument("--only", help="run only cases whose name contains this text")
    args = parser.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.runs:
        cfg["runs"] = cfg["read_runs"] = args.runs
    workdir = args.workdir or Path(tempfile.gettempdir()) / "dtg_xl-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    out_path = args.out or workdir / ("results-quick.json" if args.quick else "results.json")
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731

    compiled = compile_bytecode()
    started = time.time()
    load_before = os.getloadavg()
    log(f"preparing the example and {cfg['files']:,} unit workbooks in {workdir} …")
    example = Path(spawn(case_cmd("prepare", "inputs", workdir, cfg["files"]), workdir)["json"]["example"])
    results, failed = [], []
    for case in plan(cfg, workdir, example):
        if args.only and args.only not in case["name"]:
            continue
        log(case["name"])
        try:
            results += measure(case, workdir, log, results)
        except RuntimeError as exc:  # one failing case is reported, the others still run
            log(f"  FAILED: {exc}")
            failed.append({"name": case["name"], "error": str(exc)[-2000:]})
    imports = import_check(example, workdir)
    stages = evaluate_stages(example, workdir, cfg["runs"]) if not args.only or "evaluate" in args.only else {}
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "quick": args.quick, "config": cfg, "machine": machine(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "bytecode": compiled, "seconds_total": time.time() - started, "evaluate_imports": imports, "evaluate_stages_ms": stages, "cases": results,
        "failed": failed,
    }
    if not args.only or "click" in args.only:  # bench/click_bench.py: the Excel button's Python side (issue 15)
        from click_bench import measure as measure_click, table as click_table

        report["click"] = measure_click(cfg["runs"], log)
        log(click_table(report["click"]))
    from dtg_xl.xlsx.atomic import atomic_write_bytes

    atomic_write_bytes(out_path, (json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n").encode())
    print(summary(report))
    print(f"written: {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
