"""Classic (Windows) xlwings off Windows, for the scripts that tests run in a subprocess.

xlwings.udfs imports pythoncom/pywintypes/win32com at module level, but its UDF loader, VBA
generator and decorators are pure Python.  ``classic_udfs()`` registers empty placeholders for
those COM modules (nothing calls COM) and switches xw.func/arg/ret/script to xlwings' classic
decorators, exactly what ``import xlwings`` does on Windows; it returns xlwings.udfs.  Only for a
child process: the placeholders must never leak into other tests.
"""
import sys
import types


def classic_udfs():
    for name in ("pythoncom", "pywintypes", "win32com", "win32com.client"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["pythoncom"].CoInitialize = lambda: None
    sys.modules["win32com.client"].Dispatch = None
    sys.modules["win32com"].client = sys.modules["win32com.client"]

    import xlwings
    import xlwings.udfs as classic

    xlwings.func, xlwings.arg, xlwings.ret, xlwings.script = classic.xlfunc, classic.xlarg, classic.xlret, classic.xlsub
    return classic
