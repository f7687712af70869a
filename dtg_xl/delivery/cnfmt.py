"""Numbers as Chinese evaluation reports write them.

- amounts in 万元 keep the decimals the data has (4241 → "4241", 2307.5 → "2307.5");
- scores keep at most 2 decimals, trailing zeros dropped (19.40 → "19.4", 25.00 → "25");
- percentages always 2 decimals ("100.00%").

Values reaching here are already Excel-rounded by the engine; formatting never rounds a score
again beyond what the engine did (``excel_round`` is used where a cut is needed).
"""
from __future__ import annotations

import math
import re
from decimal import Decimal

from dtg_xl.core.excel_round import excel_round


def _plain(value: float, digits: int) -> str:
    """Excel-rounded to ``digits`` and written without trailing zeros or exponent."""
    d = Decimal(format(float(excel_round(float(value), digits)), f".{digits}f")).normalize()
    text = format(d, "f")
    return "0" if text in ("-0", "") else text


def is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def amount(value, unit: str = "万元") -> str:
    """An amount with the decimals the data has (up to 6, the engine's precision)."""
    if is_blank(value):
        return "—"
    return f"{_plain(value, 6)}{unit}"


def score(value) -> str:
    """A score: at most 2 decimals, as the engine rounds them."""
    if is_blank(value):
        return "—"
    return _plain(value, 2)


def percent(value) -> str:
    """A percentage given in percent (100.0 → "100.00%"), 2 decimals."""
    if is_blank(value):
        return "—"
    return f"{float(excel_round(float(value), 2)):.2f}%"


def number(value) -> str:
    """A plain indicator value (target/actual) without trailing zeros."""
    if is_blank(value):
        return ""
    return _plain(value, 6)


def grade_bands(grades, full_marks: float) -> str:
    """'90（含）-100分为优、80（含）-90分为良、70（含）-80分为中、70分以下为差' from a profile."""
    parts = []
    upper = full_marks
    for i, (name, lower) in enumerate(grades):
        if i == len(grades) - 1 and lower <= 0:
            parts.append(f"{score(upper)}分以下为{name}")
        else:
            parts.append(f"{score(lower)}（含）-{score(upper)}分为{name}")
        upper = lower
    return "、".join(parts)


CN_DIGITS = "零一二三四五六七八九十"


def cn_ordinal(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二 (section numbers up to 99)."""
    if n <= 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def doc_text(value) -> str:
    """Cell text as a document can hold it: characters XML 1.0 forbids (a BEL typed as
    ``_x0007_`` in Excel, other C0 controls, lone surrogates) are dropped; tab and line breaks
    stay.  Used for every string the report and the mail body take from a workbook."""
    return _NOT_XML.sub("", "" if value is None else str(value))
