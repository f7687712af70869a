"""``python -m dtg_xl`` is the ``dtg-xl`` command."""
from dtg_xl.doors.cli import run

run()
