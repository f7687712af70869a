"""Run by tests/test_udfs_upgrade.py in a subprocess: xlwings' classic get_udf_module (the UDF
server's loader, COM modules stubbed by classic_xlwings.py) over a copy of dtg_xl in argv[1],
calling DTG_SCORE before and after the copy is "upgraded" (argv[2]: a Python file that edits the
copy).  Prints the two results as JSON."""
import json
import os
import runpy
import sys

from classic_xlwings import classic_udfs

sys.path.insert(0, sys.argv[1])
classic = classic_udfs()


def grade():
    module = classic.get_udf_module("dtg_xl.udfs", None)
    assert module.__file__.startswith(sys.argv[1]), module.__file__
    return module.DTG_SCORE("正向", 5, 100, 95)


before = grade()
runpy.run_path(sys.argv[2])  # the "upgrade": pip writes new files
udfs = os.path.join(sys.argv[1], "dtg_xl", "udfs.py")
stat = os.stat(udfs)
os.utime(udfs, (stat.st_atime, stat.st_mtime + 10))  # a new file time, as a reinstall gives
after = grade()
print(json.dumps({"before": before, "after": after}, ensure_ascii=False))
