"""``dtg_xl.udfs`` is the module named in every shipped workbook's xlwings.conf (``UDF Modules``); the functions
live in ``dtg_xl.doors.udfs``. xlwings collects the decorated functions from this module's namespace.

Upgrades: classic xlwings' UDF server keeps its Python process while Excel runs and re-imports
only this file, with ``importlib.reload``, when its modification time changes (``xlwings.udfs.
get_udf_module``); pip writes the file anew on every (re)install, so an upgrade changes that time.
A reload runs this code again in the same module namespace, so ``_LOADED`` is already set: then
every other ``dtg_xl`` module is dropped from ``sys.modules`` (and the package re-read) before
the import below, and the functions come from the new engine.  tests/test_udfs_upgrade.py runs
xlwings' own ``get_udf_module`` across a simulated upgrade.
"""
import importlib as _importlib
import sys as _sys

if "_LOADED" in globals():  # importlib.reload by the UDF server: the installed dtg_xl changed
    for _name in [n for n in _sys.modules if n.startswith("dtg_xl.") and n != __name__]:
        del _sys.modules[_name]
    _importlib.reload(_sys.modules["dtg_xl"])
_LOADED = True

from dtg_xl.doors.udfs import DTG_SCORE, DTG_SCORE_TABLE, DTG_TOTAL, DTG_GRADE, DTG_EXEC_RATE, DTG_COMPRESSION, DTG_MARGIN  # noqa: E402,F401
