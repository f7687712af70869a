"""What classic xlwings' "Import Functions" (ImportPythonUDFs) would generate for dtg_xl.doors.udfs.

xlwings.udfs is the Windows implementation; its VBA generator (generate_vba_wrapper) and
decorators are pure Python.  This script sets up classic xlwings off Windows (COM modules as
placeholders, tests/classic_xlwings.py), imports dtg_xl.doors.udfs and writes
the generated VBA module and each function's MacroOptions metadata as JSON to argv[1]
(argv[2]: the workbook name, default dtg.xlsm; dtg_xl.xlam for the add-in).
Run in a subprocess (tests/test_udfs.py) so the placeholders never leak into other tests.
"""
import io
import json
import sys

from classic_xlwings import classic_udfs

classic = classic_udfs()

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
