"""``dtg_xl.udfs`` is the module named in every shipped workbook's xlwings.conf (``UDF Modules``); the functions
live in ``dtg_xl.doors.udfs``. xlwings collects the decorated functions from this module's namespace."""
from dtg_xl.doors.udfs import DTG_SCORE, DTG_SCORE_TABLE, DTG_TOTAL, DTG_GRADE, DTG_EXEC_RATE, DTG_COMPRESSION, DTG_MARGIN  # noqa: F401
