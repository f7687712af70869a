"""The steps every `dtg-xl evaluate` of a workbook takes, timed alone (issue 16's large tables).

    python bench/floor_steps.py IN.xlsx BLOCKS.json

Whatever else changes, an evaluate that keeps today's guarantees reads the input sheets with
python-calamine, lets expat parse every part before any other parser sees it (the pre-flight's
well-formedness check), inflates the parts it reads and deflates each sheet it writes at zlib's
default level (the bytes of the output stay those of today).  This times those four steps on
IN.xlsx, with no Python per row and no per-cell check, and prints one JSON line of seconds: their
sum is what no code change can go below on this machine.  The sheets written are those named in
BLOCKS (bench/cases.write_blocks), found through dtg_xl's own sheet map (not timed).
"""
import json
import sys
import time
import xml.parsers.expat
import zipfile
import zlib

from python_calamine import CalamineWorkbook

from dtg_xl.xlsx.sheetinfo import package_parts

INPUT_SHEETS = ("参数", "指标体系", "单位填报")


def main(src: str, blocks_path: str) -> dict:
    with open(blocks_path, encoding="utf-8") as fh:
        sheets = list(json.load(fh))
    out = {}
    start = time.perf_counter()
    wb = CalamineWorkbook.from_path(src)
    for name in INPUT_SHEETS:
        wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    wb.close()
    out["calamine_s"] = time.perf_counter() - start
    with zipfile.ZipFile(src) as zin:
        start = time.perf_counter()
        parts = {info.filename: zin.read(info.filename) for info in zin.infolist()
                 if info.filename.endswith((".xml", ".rels"))}
        out["inflate_s"] = time.perf_counter() - start
        start = time.perf_counter()
        for data in parts.values():
            xml.parsers.expat.ParserCreate().Parse(data, True)
        out["expat_s"] = time.perf_counter() - start
        sheet_parts, _ = package_parts(zin)
        written = [sheet_parts[name] for name in sheets]
    start = time.perf_counter()
    for part in written:
        deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        deflate.compress(parts[part])
        deflate.flush()
    out["deflate_s"] = time.perf_counter() - start
    out["total_s"] = sum(out.values())
    return out


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:3])))
