"""``python -m dtg_xl.doors.addin_udfs PATH\\dtg_xl.xlam``: import the DTG_* cell functions into the
installed add-in (安装.cmd's last step; Windows with Excel only).

This is what the add-in's own ``ImportPythonUDFsToAddin`` macro does (``xlwings.import_udfs
(UDF Modules, ThisWorkbook)``), run from Python on the add-in opened in a hidden Excel: xlwings'
generator writes the VBA module ``xlwings_udfs`` and registers each function's Chinese help with
``Application.MacroOptions``.  MacroOptions refuses hidden workbooks, and an add-in is hidden, so
the add-in is switched to a normal workbook (``IsAddin = False``) for the import and back before
saving.  Excel refuses the VBA import unless "Trust access to the VBA project object model" is
on; then this prints what to do and exits 1 (the ribbon button works without the functions).
Not run on Linux: tests/test_bundle.py checks only the generated VBA (xlwings' own generator,
for an .xlam) and that 安装.cmd calls this module.
"""
from __future__ import annotations

import sys
from pathlib import Path

from dtg_xl.doors.workbook_build import UDF_MODULES

VBA_ACCESS = -2146827284  # "Programmatic access to Visual Basic Project is not trusted" (excepinfo scode)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_file():
        print(f"错误：找不到加载项文件：{argv[0] if argv else '（未指定）'}", file=sys.stderr)
        return 2
    if not sys.platform.startswith("win"):
        print("错误：只能在装有 Excel 的 Windows 上导入单元格函数", file=sys.stderr)
        return 2
    import pywintypes
    import xlwings as xw
    from xlwings.udfs import import_udfs

    app = xw.App(visible=False, add_book=False)
    try:
        book = app.books.open(str(Path(argv[0]).resolve()))
        book.api.IsAddin = False
        try:
            import_udfs(UDF_MODULES, book.api)
        finally:
            book.api.IsAddin = True
        book.api.Save()
        print("      已导入单元格函数：DTG_SCORE、DTG_SCORE_TABLE、DTG_TOTAL、DTG_GRADE、DTG_MARGIN、DTG_EXEC_RATE、DTG_COMPRESSION")
        return 0
    except pywintypes.com_error as exc:
        text = str(exc)
        if str(VBA_ACCESS) in text or "trusted" in text.lower() or "信任" in text:
            print("      Excel 未允许程序访问 VBA 工程：请在 文件→选项→信任中心→信任中心设置→宏设置 中勾选"
                  "“信任对 VBA 工程对象模型的访问”，然后重新运行“安装.cmd”。", file=sys.stderr)
        else:
            print(f"      导入单元格函数时 Excel 报错：{text}", file=sys.stderr)
        return 1
    finally:
        app.quit()


if __name__ == "__main__":
    sys.exit(main())
