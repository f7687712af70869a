"""What classic xlwings' "Import Functions" (ImportPythonUDFs) would generate for dtg_xl.doors.udfs.

xlwings.udfs is the Windows implementation; it imports pythoncom/pywintypes/win32com at module
level, but its VBA generator (generate_vba_wrapper) and decorators (xlfunc/xlarg/xlret) are
pure Python.  Off Windows those COM modules do not exist, so this script registers empty
placeholders for them (nothing here calls COM), switches xw.func/arg/ret to xlwings' classic
decorators — exactly what ``import xlwings`` does on Windows — imports dtg_xl.doors.udfs and writes
the generated VBA module and each function's MacroOptions metadata as JSON to argv[1]
(argv[2]: the workbook name, default dtg.xlsm; dtg_xl.xlam for the add-in).
Run in a subprocess (tests/test_udfs.py) so the placeholders never leak into other tests.
"""
import io
import json
import sys
import types

for _name in ("pythoncom", "pywintypes", "win32com", "win32com.client"):
    sys.modules.setdefault(_name, types.ModuleType(_name))
sys.modules["pythoncom"].CoInitialize = lambda: None
sys.modules["win32com.client"].Dispatch = None
sys.modules["win32com"].client = sys.modules["win32com.client"]

import xlwings  # noqa: E402
import xlwings.udfs as classic  # noqa: E402

xlwings.func, xlwings.arg, xlwings.ret, xlwings.script = classic.xlfunc, classic.xlarg, classic.xlret, classic.xlsub

import dtg_xl.doors.udfs as module  # noqa: E402


class _Workbook:
    Name = sys.argv[2] if len(sys.argv) > 2 else "dtg.xlsm"  # generate_vba_wrapper only asks: add-in (.xlam)?


vba = io.StringIO()
classic.generate_vba_wrapper("dtg_xl.udfs", module, vba, _Workbook())
meta = {}
for name in dir(module):
    xlfunc = getattr(getattr(module, name), "__xlfunc__", None)
    if xlfunc:  # what import_udfs hands to Application.MacroOptions
        meta[name] = {"category": xlfunc["category"], "description": xlfunc["ret"]["doc"],
                      "args": [[a["name"], a["doc"], "optional" in a] for a in xlfunc["args"]]}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump({"vba": vba.getvalue(), "functions": meta}, f, ensure_ascii=False)
