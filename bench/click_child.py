"""One click of the Excel button, in this fresh process (bench/click_bench.py starts the clock
just before spawning it).  It imports only what ``python -c "import dtg; dtg.main()"`` (xlwings'
RunPython) would, plus the stand-in for Excel: xlwings' remote Book built from a JSON payload.

    python bench/click_child.py PAYLOAD.json lean|plain|floor

* lean  — workbook/dtg.py as shipped (xlwings imported without pandas/matplotlib/Pillow)
* plain — the same after a plain ``import xlwings`` (what dtg.py did before issue 15)
* floor — the least any click of this design pays: the interpreter, numpy (the engine is numpy),
  xlwings imported as the click imports it, the remote Book, and one status cell written;
  no dtg_xl engine, no reading, no scoring

Prints one JSON line: the moment the status was written (CLOCK_MONOTONIC, comparable across
processes) and the optional modules the click imported.
"""
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPTIONAL = ("pandas", "matplotlib", "PIL")


def main(payload_path: str, mode: str) -> None:
    if mode == "plain":
        import xlwings  # noqa: F401 - the old dtg.py's first line
    if mode == "floor":
        import numpy  # noqa: F401 - what the engine needs before it can score anything

        from dtg_xl.doors.lean_xlwings import import_xlwings

        xw = import_xlwings()
    else:
        sys.path.insert(0, str(ROOT / "workbook"))
        import dtg  # as RunPython does
        import xlwings as xw

    book = xw.Book(json=json.loads(Path(payload_path).read_text(encoding="utf-8")))
    if mode == "floor":
        book.sheets["控制台"]["B2"].value = "完成"
    else:
        xw.Book.caller = staticmethod(lambda: book)
        dtg.main()
    done = time.monotonic()
    print(json.dumps({"done": done, "actions": len(book.json()["actions"]),
                      "optional_imported": [m for m in OPTIONAL if m in sys.modules]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
