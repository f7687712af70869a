"""dtg_xl.doors.lean_xlwings: the button's ``import xlwings`` without pandas/matplotlib/Pillow, and
xlwings' own code paths that use them still working once the user's code imports them.

Each check runs in a fresh interpreter (the point is what a fresh click process imports)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from helpers import ROOT

needs_remote = pytest.mark.skipif(not os.environ.get("XLWINGS_LICENSE_KEY"),
                                  reason="xlwings' remote Book needs XLWINGS_LICENSE_KEY (e.g. noncommercial)")


def fresh(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


REMOTE = """
        def remote(values):
            return xw.Book(json={"client": "Office.js", "version": xw.__version__, "names": [],
                                 "sheets": [{"name": "S", "values": values, "pictures": [], "tables": []}],
                                 "book": {"name": "x.xlsx", "active_sheet_index": 0, "selection": "A1"}})
"""


def test_shipped_dtg_py_imports_xlwings_without_the_optional_modules():
    out = fresh("""
        import json, sys
        sys.path.insert(0, "workbook")
        import dtg
        print(json.dumps({"loaded": [m for m in ("pandas", "matplotlib", "PIL") if m in sys.modules],
                          "xlwings": dtg.xw is sys.modules["xlwings"], "blocked_left": [m for m in sys.modules if sys.modules[m] is None
                                                                                       and m in ("pandas", "matplotlib", "PIL")]}))
    """)
    assert out == {"loaded": [], "xlwings": True, "blocked_left": []}


def test_plain_import_does_load_them():
    """The control: without the lean import, xlwings pulls them in (else the test above proves nothing)."""
    out = fresh("""
        import json, sys, xlwings
        print(json.dumps([m for m in ("pandas", "matplotlib", "PIL") if m in sys.modules]))
    """)
    assert out == ["pandas", "matplotlib", "PIL"]


def test_stand_ins_answer_like_the_real_modules():
    out = fresh("""
        import json, sys
        from dtg_xl.doors.lean_xlwings import import_xlwings
        xw = import_xlwings()
        import xlwings.main as main, xlwings.utils as utils, xlwings.conversion as conv
        before = {"main.pd": bool(main.pd), "utils.mpl": bool(utils.mpl), "main.PIL": bool(main.PIL),
                  "loaded": [m for m in ("pandas", "matplotlib", "PIL") if m in sys.modules]}
        import pandas as pd
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure
        fig = Figure()
        path, temp = utils.process_image(fig, format="png", export_options=None)  # xlwings' pictures.add path
        import os
        after = {"main.pd": bool(main.pd), "conv.pd": conv.pd.DataFrame is pd.DataFrame,
                 "utils.mpl": bool(utils.mpl), "png": os.path.getsize(path) > 0 and temp}
        print(json.dumps({"before": before, "after": after}))
    """)
    assert out["before"] == {"main.pd": False, "utils.mpl": False, "main.PIL": True, "loaded": []}
    assert out["after"] == {"main.pd": True, "conv.pd": True, "utils.mpl": True, "png": True}


@needs_remote
def test_pandas_converters_are_registered_once_pandas_is_imported():
    out = fresh("""
        import json
        from dtg_xl.doors.lean_xlwings import import_xlwings
        xw = import_xlwings()
    """ + REMOTE + """
        book = remote([["a", "b"], [1, 2], [3, 4]])
        plain = book.sheets[0]["A1:B3"].value
        import pandas as pd
        df = book.sheets[0]["A1:B3"].options(pd.DataFrame, index=False).value
        print(json.dumps({"plain": plain, "df": df.to_dict("list")}))
    """)
    assert out == {"plain": [["a", "b"], [1, 2], [3, 4]], "df": {"a": [1, 3], "b": [2, 4]}}


def test_import_xlwings_returns_an_already_imported_xlwings_untouched():
    out = fresh("""
        import json, xlwings, xlwings.main as main
        from dtg_xl.doors.lean_xlwings import Later, import_xlwings
        print(json.dumps({"same": import_xlwings() is xlwings, "real_pd": not isinstance(main.pd, Later)}))
    """)
    assert out == {"same": True, "real_pd": True}
