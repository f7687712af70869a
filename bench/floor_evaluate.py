"""Floor prototype for `dtg-xl evaluate` (issue 16): the least a run can do and still read the
inputs and write the same cells — open the zip, read the three input sheets with
python-calamine, patch the written sheet parts with lxml, copy every other member.  No checks,
no scoring (the cells to write are taken from BLOCKS, recorded from a real evaluate), no
pre-flight.  Timed from process start to exit by bench/run.py, like `dtg-xl evaluate`; prints one
JSON line with the seconds of its three steps (read, patch, zip).

    python bench/floor_evaluate.py IN.xlsx OUT.xlsx BLOCKS.json
"""
import json
import sys
import time
import zipfile

from lxml import etree
from python_calamine import CalamineWorkbook

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def col_letter(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def main(src: str, dst: str, blocks_path: str) -> None:
    start = time.perf_counter()
    wb = CalamineWorkbook.from_path(src)
    for name in ("参数", "指标体系", "单位填报"):
        wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    wb.close()
    read = time.perf_counter()
    with open(blocks_path, encoding="utf-8") as fh:
        blocks = json.load(fh)
    zin = zipfile.ZipFile(src)
    book = etree.fromstring(zin.read("xl/workbook.xml"))
    rels = {r.get("Id"): r.get("Target") for r in etree.fromstring(zin.read("xl/_rels/workbook.xml.rels"))
            .iter(f"{{{PKG}}}Relationship")}
    parts = {s.get("name"): "xl/" + rels[s.get(f"{{{REL}}}id")].lstrip("/").removeprefix("xl/")
             for s in book.iter(f"{{{NS}}}sheet")}
    new = {}
    for sheet, cells in blocks.items():
        root = etree.fromstring(zin.read(parts[sheet]))
        data = root.find(f"{{{NS}}}sheetData")
        rows = {int(r.get("r")): r for r in data.iter(f"{{{NS}}}row")}
        for r, c, value in cells:
            row = rows.get(r)
            if row is None:
                row = rows[r] = etree.SubElement(data, f"{{{NS}}}row", r=str(r))
            ref = f"{col_letter(c)}{r}"
            cell = next((x for x in row if x.get("r") == ref), None)
            if cell is None:
                cell = etree.SubElement(row, f"{{{NS}}}c", r=ref)
            for child in list(cell):
                cell.remove(child)
            cell.attrib.pop("t", None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                etree.SubElement(cell, f"{{{NS}}}v").text = repr(value)
            elif value not in (None, ""):
                cell.set("t", "inlineStr")
                etree.SubElement(etree.SubElement(cell, f"{{{NS}}}is"), f"{{{NS}}}t").text = str(value)
        new[parts[sheet]] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    patched = time.perf_counter()
    with zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, new.get(info.filename) or zin.read(info.filename), compress_type=info.compress_type)
    done = time.perf_counter()
    print(json.dumps({"read_s": read - start, "patch_s": patched - read, "zip_s": done - patched}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
