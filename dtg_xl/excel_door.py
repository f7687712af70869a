"""``dtg_xl.excel_door`` is imported by every shipped ``dtg.py`` beside a workbook; the door lives in
``dtg_xl.doors.excel_door``."""
from dtg_xl.doors.excel_door import run_from_control_sheet, validate_from_control_sheet  # noqa: F401
from dtg_xl.doors.lean_xlwings import import_xlwings  # noqa: F401 - new dtg.py files import it from here
