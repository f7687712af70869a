"""Screenshot of one sheet as a clerk sees it: the real LibreOffice Calc window under Xvfb.

    python docs/screenshot.py BOOK.xlsx SHEET OUT.png [--size 1600x900] [--cell A1]

A copy of BOOK with SHEET as the active tab is opened in ``soffice --calc`` (a private profile, so the
user's settings do not leak in) inside ``xvfb-run``; once the window has drawn, ``import -window root``
(ImageMagick) grabs the screen.  Used for docs/img/*-window.png (docs/guide.md) and for checking the row
heights and alignment of 指标体系 and 汇总 (issue 11, item 5).  Needs xvfb, libreoffice-calc, imagemagick and
xdotool (apt-get install xvfb imagemagick xdotool), and a LibreOffice with a window: the ``-nogui`` packages
have none (they die in the svp backend), so set ``DTG_SOFFICE`` to the ``soffice`` of a GUI build (e.g. the
files of Debian's ``libreoffice-core`` and ``libreoffice-calc`` unpacked with ``dpkg -x`` over a copy of
/usr/lib/libreoffice).  Written by hand: no library drives a desktop window.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path


def with_active_sheet(src: Path, dst: Path, sheet: str) -> None:
    """Copy src to dst with ``sheet`` as the active, selected tab (workbook.xml activeTab, tabSelected)."""
    with zipfile.ZipFile(src) as zin:
        wb = zin.read("xl/workbook.xml").decode("utf-8")
        names = re.findall(r'<sheet [^>]*name="([^"]+)"', wb)
        if sheet not in names:
            sys.exit(f"no sheet {sheet!r} in {src} ({', '.join(names)})")
        index = names.index(sheet)
        if "activeTab=" in wb:
            wb = re.sub(r'activeTab="\d+"', f'activeTab="{index}"', wb)
        else:
            wb = wb.replace("<workbookView ", f'<workbookView activeTab="{index}" ', 1)
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == "xl/workbook.xml":
                    data = wb.encode("utf-8")
                elif item.filename.startswith("xl/worksheets/sheet") and item.filename.endswith(".xml"):
                    data = re.sub(rb' tabSelected="1"', b"", data)
                    if item.filename == f"xl/worksheets/sheet{index + 1}.xml":
                        data = data.replace(b"<sheetView ", b'<sheetView tabSelected="1" ', 1)
                zout.writestr(item, data)


def shoot(book: Path, sheet: str, out: Path, size: str = "1600x900", wait: float = 25.0) -> None:
    width, height = (int(x) for x in size.split("x"))
    soffice = os.environ.get("DTG_SOFFICE", "soffice")
    with tempfile.TemporaryDirectory(prefix="dtg-shot-") as tmp:
        tmp = Path(tmp)
        copy = tmp / book.name
        with_active_sheet(book, copy, sheet)
        script = tmp / "shoot.sh"
        script.write_text(f"""
'{soffice}' -env:UserInstallation=file://{tmp}/profile --norestore --nologo --calc '{copy}' &
pid=$!
for i in $(seq 1 {int(wait * 2)}); do
  win=$(xdotool search --name '{copy.stem}' 2>/dev/null | head -1)
  [ -n "$win" ] && break
  sleep 0.5
done
sleep 4
if [ -n "$win" ]; then xdotool windowmove "$win" 0 0 windowsize "$win" {width} {height}; sleep 3; fi
import -window root '{out}'
kill $pid
wait $pid 2>/dev/null; true
""", encoding="utf-8")
        subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24", "bash", str(script)],
                       check=True, timeout=wait + 60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("book", type=Path)
    ap.add_argument("sheet")
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", default="1600x900")
    args = ap.parse_args()
    if not shutil.which("xvfb-run") or not shutil.which("import") or not shutil.which("xdotool"):
        sys.exit("needs xvfb-run, ImageMagick's import and xdotool")
    shoot(args.book.resolve(), args.sheet, args.out.resolve(), args.size)


if __name__ == "__main__":
    main()
