"""A 问卷星-style "按选项文本" export, generated: what a user downloads from 问卷星 (下载答卷数据 → 按选项文本).

Leading columns as 问卷星 writes them (序号, 提交答卷时间, 所用时间, 来源, 来源详情, 来自IP), then one column per
question headed "N、题目", answers as option text; a skipped question is "(跳过)".  Two non-satisfaction questions
(企业类型, 意见建议) are included as real questionnaires have them.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import xlsxwriter

META = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
QUESTIONS = ["1、您对口岸通关效率的满意程度", "2、您对查验服务态度的满意程度", "3、您对通关收费规范的满意程度"]
OTHER = ["4、您所在企业的类型", "5、您对口岸工作的意见和建议"]
LEVELS = ["非常满意", "满意", "基本满意", "不太满意", "不满意"]


def answers(n: int = 240, seed: int = 13, all_skipped: tuple[int, ...] = (17, 99, 203),
            invalid_every: int = 37) -> list[list]:
    """Rows (header first).  Rows listed in ``all_skipped`` skip every question (invalid questionnaires); every
    ``invalid_every``-th answer of question 2 is 不了解 (not a satisfaction answer)."""
    rng = random.Random(seed)
    start = datetime(2021, 3, 1, 9, 0, 0)
    rows = [META + QUESTIONS + OTHER]
    for i in range(1, n + 1):
        meta = [i, (start + timedelta(minutes=7 * i)).strftime("%Y/%m/%d %H:%M:%S"), f"{rng.randint(40, 400)}秒",
                rng.choice(["微信", "手机提交", "链接"]), "直接访问", f"10.{i % 250}.{rng.randint(0, 255)}.7(山东-青岛)"]
        if i - 1 in all_skipped:
            rows.append(meta + ["(跳过)"] * len(QUESTIONS) + ["(跳过)", "(跳过)"])
            continue
        line = []
        for q in range(len(QUESTIONS)):
            pick = rng.choices(LEVELS, weights=[55, 30, 9, 4, 2])[0]
            if rng.random() < 0.03:
                pick = "(跳过)"
            if q == 1 and i % invalid_every == 0:
                pick = "不了解"
            line.append(pick)
        rows.append(meta + line + [rng.choice(["生产企业", "外贸企业", "货代企业"]), rng.choice(["无", "", "希望进一步压缩通关时间"])])
    return rows


def write_export(path, rows: list[list]) -> None:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v not in ("", None):
                ws.write(r, c, v)
    wb.close()
