"""Plain test helpers (import as `from helpers import ...`)."""
from __future__ import annotations

import json
from pathlib import Path

from dtg_xl.doors.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]


def edit_cells(path: Path, edits: dict[str, dict[str, object]]) -> None:
    """Change input cells with openpyxl (test-side only; the product never saves with openpyxl)."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for sheet, cells in edits.items():
        for ref, value in cells.items():
            wb[sheet][ref] = value
    wb.save(path)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli_main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(args: list[str], capsys) -> tuple[int, dict]:
    code, out, _ = run_cli([*args, "--json"], capsys)
    return code, json.loads(out)


def engine_result(path: Path):
    """The engine's Result for a workbook file, read through the product's own FileBook."""
    from dtg_xl.xlsx.books import FileBook
    from dtg_xl.core.engine import evaluate
    from dtg_xl.core.model import read_model

    book = FileBook(path)
    try:
        return evaluate(read_model(book))
    finally:
        book.close()
