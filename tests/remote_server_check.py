"""Run dtg_xl.doors.lite inside xlwings' own Server/Lite runtime (``xlwings.server``).

Needs ``XLWINGS_ON_SERVER=true`` before xlwings is imported (that switches ``xw.func`` /
``xw.script`` to the server decorators), so tests/test_remote_book.py runs this file in a
subprocess:  python remote_server_check.py payload.json out.json  → JSON in out.json with the custom
function/script metadata xlwings registers, the results of custom-function calls, and the
actions the 计算评分 / 校验 scripts return for the workbook in payload.json.
"""
from __future__ import annotations

import asyncio
import json
import sys

import xlwings as xw
from xlwings import server

from dtg_xl.doors import lite


def call_function(name: str, *args):
    data = {"func_name": name, "args": [[[a]] if not isinstance(a, list) else a for a in args],
            "version": xw.__version__, "client": "Office.js", "runtime": "1.4",
            "culture_info_name": "zh-CN", "date_format": "yyyy/m/d"}
    return asyncio.run(server.custom_functions_call(data, lite))


def run_script(name: str, payload: dict):
    book = xw.Book(json=payload)
    returned = asyncio.run(server.custom_scripts_call(lite, name, typehint_to_value={xw.Book: book}))
    return returned.json()["actions"]


def main(path: str, out_path: str) -> None:
    payload = json.loads(open(path, encoding="utf-8").read())
    table = payload.pop("_table", None)
    out = {
        "decorators_from": xw.func.__module__,
        "functions": server.custom_functions_meta(lite)["functions"],
        "scripts": server.custom_scripts_meta(lite),
        "calls": {
            "score_deduction": call_function("DTG_SCORE", "扣分", 3, None, None, 0.75),
            "score_bad": call_function("DTG_SCORE", "正向", 5, 100, "九十"),
            "grade": call_function("DTG_GRADE", 96.65, "qingdao-2020"),
            "compression": call_function("DTG_COMPRESSION", 42.97, 9.07),
        },
        "evaluate": run_script("evaluate", json.loads(json.dumps(payload))),
        "validate": run_script("validate", json.loads(json.dumps(payload))),
    }
    if table is not None:
        out["calls"]["table"] = call_function("DTG_SCORE_TABLE", table["indicators"], table["baselines"])
    with open(out_path, "w", encoding="utf-8") as f:  # stdout carries the scripts' own output
        json.dump(out, f, ensure_ascii=False, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
