"""One change measured: the dtg-xl command of an earlier commit beside today's, interleaved, same inputs.

    python bench/before_after.py REV [--workdir DIR]

Cases: the 2020 example, 10,000 and 99,999 indicator rows, a portfolio of 300 projects and the
consolidation of 1,000 unit forms (CLI, process start to exit).  REV's dtg_xl is checked out (``git worktree``, detached, in the work folder) and byte-compiled like
today's; each case runs both sides one after the other, in fresh processes, and prints the median
wall time and the peak RSS of each, with the machine's load before and after.  Inputs are those
of bench/run.py (made by it; run it once first).  Cases a side cannot run (a file REV refuses)
print that side's exit code.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command(tree: Path, args: list[str]) -> list[str]:
    code = (f"import sys; sys.path.insert(0, {str(tree)!r}); sys.argv = ['dtg-xl'] + sys.argv[1:]; "
            "from dtg_xl.doors.cli import run; run()")
    return [sys.executable, "-c", code, *args]


def timed(cmd: list[str]) -> tuple[float, float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the earlier commit")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dtg_xl-bench")
    args = parser.parse_args(argv)
    before = args.workdir / f"before-{args.rev}"
    if not before.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.rev], check=True)
    for tree in (before, ROOT):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "dtg_xl")], check=True,
                       stdout=subprocess.DEVNULL)
    w = args.workdir
    projects = sorted((w / "projects-1000").glob("*.xlsx"))[:300]
    folder = w / "projects-300"
    folder.mkdir(exist_ok=True)
    for p in projects:
        if not (folder / p.name).exists():
            (folder / p.name).write_bytes(p.read_bytes())
    cases = [("evaluate 2020 example", ["evaluate", str(w / "dtg-2020.xlsx"), "-o", str(w / "ab.xlsx")], 7),
             ("evaluate 10,000 rows", ["evaluate", str(w / "rows-10000.xlsx"), "-o", str(w / "ab.xlsx")], 3),
             ("evaluate 99,999 rows", ["evaluate", str(w / "rows-99999.xlsx"), "-o", str(w / "ab.xlsx")], 1),
             ("portfolio of 300", ["portfolio", str(folder), "-o", str(w / "ab-p.xlsx"), "--jobs", "2", "--fresh"], 2),
             ("consolidate 1,000 forms", ["consolidate", str(w / "consolidate-1000" / "master.xlsx"),
                                         *map(str, sorted((w / "consolidate-1000" / "forms").glob("*.xlsx"))),
                                         "-o", str(w / "ab-c.xlsx")], 3)]
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"| case | {args.rev} | peak | now | peak |\n|---|---|---|---|---|")
    for name, case_args, runs in cases:
        sides = {"before": [], "now": []}
        for _ in range(runs):
            for side, tree in (("before", before), ("now", ROOT)):
                sides[side].append(timed(command(tree, case_args)))
        cells = []
        for side in ("before", "now"):
            runs_ = sides[side]
            codes = {c for _, _, c in runs_}
            cells += [f"{statistics.median(s for s, _, _ in runs_):.3f} s" + ("" if codes == {0} else f" (exit {codes})"),
                      f"{max(m for _, m, _ in runs_):.0f} MB"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
