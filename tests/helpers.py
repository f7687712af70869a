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


def vba_modules(path: Path) -> dict[str, str]:
    """A macro workbook's or add-in's VBA, module name -> code, read with olevba (test_workbook, test_addin)."""
    from oletools.olevba import VBA_Parser

    parser = VBA_Parser(str(path))
    try:
        return {name: code for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()


def sheet_values(path: Path) -> dict[str, list[list]]:
    """Every sheet's values read with python-calamine, sheet name -> rows from A1."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    try:
        return {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in wb.sheet_names}
    finally:
        wb.close()


def package_texts(path: Path, *parts: str) -> list[str]:
    """The text of these zip parts of a workbook package (e.g. "[Content_Types].xml"), in that order."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        return [z.read(part).decode() for part in parts]
