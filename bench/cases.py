"""One benchmark case, one side, in its own process (so its peak RSS is its own).

    python bench/cases.py CASE SIDE WORKDIR N [SAMPLE]

CASE/SIDE: score engine|loop, writeback patch|openpyxl, read calamine|pandas, consolidate both.
Prints one JSON line: {"seconds": s, ...}; seconds times the operation only (inputs are
prepared before the clock starts; interpreter start and imports are not in it).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402  (bench/data.py, next to this file)


def score_engine(workdir: Path, n: int, sample: int) -> dict:
    from dtg_xl.core.engine import score_table

    table = data.checked_table(data.indicator_columns(n))
    start = time.perf_counter()
    scores = score_table(table)
    return {"seconds": time.perf_counter() - start, "rows": n, "checksum": float(scores.sum())}


def score_loop(workdir: Path, n: int, sample: int) -> dict:
    """score_one per row (check + score + ROUND, what one =DTG_SCORE cell does) on `sample` rows,
    scaled to n; the same rows through score_table must give the same scores."""
    import numpy as np

    from dtg_xl.core.engine import score_table
    from dtg_xl.core.excel_round import excel_round
    from dtg_xl.core.rules import prepare, score_one, score_prepared

    cols = data.indicator_columns(n)
    idx = np.arange(min(sample, n))
    rows = data.raw_rows(cols, idx)
    start = time.perf_counter()
    looped = [score_one(*row) for row in rows]
    seconds = time.perf_counter() - start
    prepared = [prepare(*row) for row in rows]  # the loop again without the input checks
    start = time.perf_counter()
    unchecked = [excel_round(float(score_prepared(p)), 2) for p in prepared]
    seconds_unchecked = time.perf_counter() - start
    engine = score_table(data.checked_table({k: v[idx] for k, v in cols.items()}))
    agree = looped == unchecked == engine.tolist()
    scale = n / len(idx)
    return {"seconds": seconds * scale, "sample_rows": len(idx), "rows": n, "scaled_by": scale,
            "per_row_us": seconds / len(idx) * 1e6, "seconds_without_checks": seconds_unchecked * scale,
            "agrees_with_engine": agree}


def _blocks(src: Path) -> list:
    """What `dtg-xl evaluate` writes back for the 2020 example, as (sheet, row, col, rows2d)."""
    from dtg_xl.xlsx.books import FileBook
    from dtg_xl.results.pipeline import evaluate_book

    class Recorder(FileBook):
        blocks: list = []

        def write(self, sheet, row, col, values):
            self.blocks.append((sheet, row, col, values))
            super().write(sheet, row, col, values)

    book = Recorder(src)
    evaluate_book(book)
    book.close()
    return book.blocks


def writeback_patch(workdir: Path, n: int, sample: int) -> dict:
    from dtg_xl.xlsx.books import FileBook

    src = data.example_workbook(workdir)
    blocks = _blocks(src)
    book = FileBook(src)  # opened (and pre-flight checked) before the clock: that is reading
    start = time.perf_counter()
    for block in blocks:
        book.write(*block)
    book.save(workdir / "writeback-patch.xlsx")
    book.close()
    return {"seconds": time.perf_counter() - start, "cells": sum(len(r) for b in blocks for r in b[3])}


def writeback_openpyxl(workdir: Path, n: int, sample: int) -> dict:
    import openpyxl

    src = data.example_workbook(workdir)
    blocks = _blocks(src)
    start = time.perf_counter()
    wb = openpyxl.load_workbook(src)
    for sheet, row, col, values in blocks:
        ws = wb[sheet]
        for i, line in enumerate(values):
            for j, value in enumerate(line):
                ws.cell(row + i, col + j).value = value
    wb.save(workdir / "writeback-openpyxl.xlsx")
    return {"seconds": time.perf_counter() - start, "cells": sum(len(r) for b in blocks for r in b[3])}


READ_SHEETS = ("单位填报", "表单信息")  # what consolidate.read_form reads from a unit form


def unit_paths(workdir: Path, n: int) -> list[Path]:
    """The n unit forms of bench/consolidate_bench.py (a master with n units) when it is there,
    so every reading row reads the same files; else 9 real forms copied round-robin."""
    try:
        import consolidate_bench
    except ImportError:
        return data.unit_workbooks(n, workdir)
    return consolidate_bench.make_inputs(n, workdir)[1]


def read_calamine(workdir: Path, n: int, sample: int) -> dict:
    from dtg_xl.xlsx.books import FileBook

    paths = unit_paths(workdir, n)
    start = time.perf_counter()
    cells = 0
    for path in paths:
        book = FileBook(path)
        cells += sum(len(row) for name in READ_SHEETS for row in book.sheet_values(name))
        book.close()
    return {"seconds": time.perf_counter() - start, "files": n, "cells": cells}


def read_calamine_only(workdir: Path, n: int, sample: int) -> dict:
    """python-calamine without FileBook's pre-flight check: what the check itself costs."""
    from python_calamine import CalamineWorkbook

    paths = unit_paths(workdir, n)
    start = time.perf_counter()
    cells = 0
    for path in paths:
        wb = CalamineWorkbook.from_path(str(path))
        cells += sum(len(row) for name in READ_SHEETS
                     for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False))
        wb.close()
    return {"seconds": time.perf_counter() - start, "files": n, "cells": cells}


def read_pandas(workdir: Path, n: int, sample: int) -> dict:
    import pandas as pd

    paths = unit_paths(workdir, n)
    start = time.perf_counter()
    cells = 0
    for path in paths:
        frames = pd.read_excel(path, sheet_name=list(READ_SHEETS), header=None, engine="openpyxl")
        cells += sum(f.size for f in frames.values())
    return {"seconds": time.perf_counter() - start, "files": n, "cells": cells}


def consolidate_both(workdir: Path, n: int, sample: int) -> dict:
    """The issue-6 benchmark (bench/consolidate_bench.py): `sample` interleaved runs of
    consolidate and of pandas+openpyxl over the same n forms, each in its own child process."""
    import consolidate_bench

    return consolidate_bench.run(n, workdir, repeats=sample)


def write_blocks(src: Path, blocks: Path) -> Path:
    """The cells `dtg-xl evaluate` writes into src, as JSON for bench/floor_evaluate.py (made anew each
    run: the floor writes what today's evaluate writes)."""
    cells: dict[str, list] = {}
    for sheet, row, col, values in _blocks(src):
        for i, line in enumerate(values):
            for j, value in enumerate(line):
                cells.setdefault(sheet, []).append([row + i, col + j, value])
    blocks.write_text(json.dumps(cells, ensure_ascii=False, default=str), encoding="utf-8")
    return blocks


def prepare_inputs(workdir: Path, n: int, sample: int) -> dict:
    example = data.example_workbook(workdir)
    blocks = write_blocks(example, workdir / "evaluate-blocks.json")
    return {"example": str(example), "blocks": str(blocks), "files": len(unit_paths(workdir, n))}


# ---------------------------------------------------------------- issue 16 cases
PORTFOLIO_SHEETS = ("参数", "指标体系", "单位填报")  # what the pipeline reads from a project


def portfolio_pandas(workdir: Path, n: int, sample: int) -> dict:
    """pandas.read_excel(openpyxl) of the sheets the pipeline reads, `sample` of the n project
    workbooks (one process), scaled to n: reading only, no checks, no scores."""
    import pandas as pd

    paths = data.project_workbooks(n, workdir)[:sample]
    start = time.perf_counter()
    cells = 0
    for path in paths:
        frames = pd.read_excel(path, sheet_name=list(PORTFOLIO_SHEETS), header=None, engine="openpyxl")
        cells += sum(f.size for f in frames.values())
    seconds = time.perf_counter() - start
    return {"seconds": seconds * n / len(paths), "sample_files": len(paths), "files": n, "cells": cells}


def _calamine_read(path: str) -> int:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(path)
    cells = sum(len(row) for name in PORTFOLIO_SHEETS
                for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False))
    wb.close()
    return cells


def portfolio_floor(workdir: Path, n: int, sample: int) -> dict:
    """Floor: python-calamine reading the same sheets of the n files in 2 worker processes, nothing else."""
    from concurrent.futures import ProcessPoolExecutor

    paths = [str(p) for p in data.project_workbooks(n, workdir)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        cells = sum(pool.map(_calamine_read, paths, chunksize=16))
    return {"seconds": time.perf_counter() - start, "files": n, "cells": cells}


def preflight_cost(workdir: Path, n: int, sample: int, module: str = "dtg_xl.xlsx.preflight") -> dict:
    """The pre-flight alone over the n unit forms and the example, in process.  The forms are
    checked one after another as a consolidation worker checks them (parts repeated across forms
    of one master are checked once where the pre-flight remembers them); the example is checked
    20 times, each a first check (the memo emptied before it), as one `dtg-xl evaluate` does."""
    import importlib

    mod = importlib.import_module(module)
    check, forget = mod.check, getattr(mod, "forget_seen_parts", lambda: None)
    paths = unit_paths(workdir, n)
    example = data.example_workbook(workdir)
    check(paths[0])
    start = time.perf_counter()
    for path in paths:
        check(path)
    forms = time.perf_counter() - start
    example_s = 0.0
    for _ in range(20):
        forget()
        start = time.perf_counter()
        check(example)
        example_s += time.perf_counter() - start
    return {"seconds": forms, "per_form_ms": forms / n * 1000, "example_ms": example_s / 20 * 1000, "files": n}


def preflight_before(workdir: Path, n: int, sample: int) -> dict:
    return preflight_cost(workdir, n, sample, "preflight_before")


def rows_workbook(workdir: Path, n: int, sample: int) -> dict:
    path = data.rows_workbook(n, workdir)
    return {"path": str(path), "blocks": str(write_blocks(path, workdir / f"rows-{n}-blocks.json"))}


CASES = {
    ("prepare", "inputs"): prepare_inputs,
    ("score", "engine"): score_engine, ("score", "loop"): score_loop,
    ("writeback", "patch"): writeback_patch, ("writeback", "openpyxl"): writeback_openpyxl,
    ("read", "calamine"): read_calamine, ("read", "pandas"): read_pandas,
    ("read", "calamine-only"): read_calamine_only,
    ("consolidate", "both"): consolidate_both,
    ("portfolio", "pandas"): portfolio_pandas, ("portfolio", "floor"): portfolio_floor,
    ("portfolio", "prepare"): lambda w, n, s: {"folder": str(data.project_workbooks(n, w)[0].parent)},
    ("preflight", "after"): preflight_cost, ("preflight", "before"): preflight_before,
    ("rows", "prepare"): rows_workbook,
}


def main(argv: list[str]) -> int:
    case, side, workdir, n = argv[0], argv[1], Path(argv[2]), int(argv[3])
    sample = int(argv[4]) if len(argv) > 4 else n
    result = CASES[case, side](workdir, n, sample)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
