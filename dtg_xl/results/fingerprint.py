"""Fingerprint of what a result was computed from.

The fingerprint is a SHA-256 over the checked inputs (the whole ``Model``: parameters,
indicators, units, baselines, the effective profile with its grade bands) and the engine
version, shown as the 汇总 fact “数据指纹” (``layout.FACTS``).  A fact cell, rather than a
custom document property or a defined name, because both doors write it the same way (the
file patch and xlwings' ``range.value`` write the same result blocks), it needs no extra
package part, it survives Excel/WPS/LibreOffice saving the file, it is visible to a reader and
an export keeps it as a value.

It detects inconsistency, not forgery: anyone with the tool can recompute it, so ``verify``
(``results/verify.py``) does not trust it alone.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from datetime import date, datetime

from dtg_xl import __version__

PREFIX = "sha256:"
DIGITS = 24  # hex digits shown (96 bits: ample to tell two input sets apart)
ENGINE = f"dtg_xl {__version__}"
_SKIP_FIELDS = {"errors", "warnings", "result_use"}  # derived, not inputs; result_use (结果应用) follows the score
# facts that are expected to differ between a run and its re-computation
VOLATILE_FACTS = ("计算时间", "引擎版本", "数据指纹")


def _plain(x):
    """A JSON-able, door-independent form (calamine gives 2020, xlwings 2020.0)."""
    t = type(x)  # exact built-in types first: the same forms as below, without the ABC checks
    if t is float:
        return None if x != x else int(x) if x.is_integer() and abs(x) < 2 ** 53 else repr(x)
    if t is str or t is int or t is bool:
        return x
    if t is list or t is tuple:
        return _items(x)
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, bool) or type(x).__name__ == "bool_":
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        f = float(x)
        if math.isnan(f):
            return None
        return int(f) if f.is_integer() and abs(f) < 2 ** 53 else repr(f)
    if isinstance(x, (datetime, date)):
        return x.isoformat()
    if hasattr(x, "tolist"):  # numpy arrays and scalars
        return _plain(x.tolist())
    if isinstance(x, dict):
        return [[str(k), _plain(v)] for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))]
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted((_plain(v) for v in x), key=repr)
    if dataclasses.is_dataclass(x):
        return [[f.name, _plain(getattr(x, f.name))] for f in dataclasses.fields(x)
                if f.name not in _SKIP_FIELDS and f.compare]  # compare=False: a cache (公式's compiled function)
    if hasattr(x, "__dict__"):
        return _plain({k: v for k, v in vars(x).items() if not k.startswith("_") and k not in _SKIP_FIELDS})
    return str(x)


def _items(xs) -> list:
    """``_plain`` of each item; text and numbers, most of a large table's cells, without a call each."""
    out = []
    append = out.append
    for v in xs:
        t = type(v)
        if t is str:
            append(v)
        elif t is float:  # _plain's rule for a float, inlined
            append(None if v != v else int(v) if v.is_integer() and abs(v) < 2 ** 53 else repr(v))
        else:
            append(_plain(v))
    return out


def fingerprint(model, engine: str = ENGINE) -> str | None:
    """``sha256:…`` of the model's inputs, its profile and the engine version (None: no model)."""
    if model is None or isinstance(model, list):
        return None
    payload = json.dumps([engine, _without_unused_policy(_plain(model), model)], ensure_ascii=False,
                         separators=(",", ":"))
    return PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:DIGITS]


# inputs added by issue 12 (scoring policy, evaluator adjustment): left out while unused, so a
# workbook that uses none of them keeps the fingerprint it had before they existed (and a file
# evaluated by an earlier build still verifies)
_POLICY_PARAMS = ("score_digits", "rounding", "over", "over_warning", "qualitative", "budget_points",
                  "satisfaction_basis", "expert_method")  # the last two: issue 13 (问卷, 专家评分)
# issue 13: a referenced value enters the indicator table as the number it resolved to, and its sources (units,
# 基准对比) are fingerprinted already; only the 问卷 and 专家评分 sheets are new inputs (kept when present)
_SOURCE_INPUTS = ("survey", "experts")
_PROFILE_DEFAULTS = {"satisfaction_basis": "非常满意+满意", "expert_method": "平均"}
_NEW_COLUMNS = ("formula_score", "adjust_reason")


def _without_unused_policy(plain: list, model) -> list:
    from dtg_xl.core.policy import Policy

    unused_params = {k for k in _POLICY_PARAMS if model.params.get(k) is None}
    t = model.indicators
    unused_columns = set()
    if "adjusted" in t and all(v != v for v in t["adjusted"].tolist()):
        unused_columns.add("adjusted")
    if "adjust_reason" in t and not any(t["adjust_reason"].tolist()):
        unused_columns.add("adjust_reason")
    default_policy = model.profile.policy == Policy(budget_points=model.profile.budget_score_points)
    out = []
    for name, value in plain:
        if name in ("params", "param_cells"):
            value = [kv for kv in value if kv[0] not in unused_params]
        elif name == "indicator_columns":
            value = [kv for kv in value if kv[0] not in _NEW_COLUMNS or kv[0] not in unused_columns | {"formula_score"}]
        elif name == "indicators":
            value = [kv for kv in value if kv[0] not in unused_columns]
        elif name == "resolved":
            continue
        elif name == "sources":
            value = [kv for kv in (value or []) if kv[0] in _SOURCE_INPUTS and kv[1] is not None]
            if not value:
                continue
        if name == "profile":
            value = [kv for kv in value if not (default_policy and kv[0] == "policy")
                     and not (kv[0] in _PROFILE_DEFAULTS and kv[1] == _PROFILE_DEFAULTS[kv[0]])]
        out.append([name, value])
    return out
