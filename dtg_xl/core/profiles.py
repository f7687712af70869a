"""Evaluation profiles (评价方案): grade bands and defaults, kept as TOML data, not code.

A new city's or year's rules are a new ``profiles/NAME.toml`` (or a path to one).
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.core.policy import Policy, PolicyError, from_profile_data
from dtg_xl.core.schema import (EXECUTION_BASES, EXPERT_METHODS, SATISFACTION_BASES, WEIGHTING_FLAT,
                                WEIGHTING_NESTED)

DEFAULT_PROFILE = "mof-2020"


class ProfileError(DtgError):
    pass


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    grades: tuple[tuple[str, float], ...]  # (grade, inclusive lower bound), best first
    weighting: str = WEIGHTING_FLAT
    full_marks: float = 100.0
    execution_base: str = "实际到位"
    budget_score_points: float = 0.0  # = policy.budget_points (kept for the code that reads it)
    # 结果应用: (grade, what follows, next year's budget change in % of this year's or None)
    result_use: tuple[tuple[str, str, float | None], ...] = ()
    policy: Policy = Policy()  # 计分规则 (dtg_xl.core.policy); a workbook's 参数 rows may override it
    satisfaction_basis: str = SATISFACTION_BASES[0]  # 问卷 counting rule (core/survey.py)
    expert_method: str = EXPERT_METHODS[0]  # 专家评分 panel rule (core/experts.py)

    def grade(self, total: float) -> str:
        for name, lower in self.grades:
            if total >= lower:
                return name
        return self.grades[-1][0]


def _profile_dir():
    return resources.files("dtg_xl.core") / "profiles"


def available_profiles() -> list[str]:
    return sorted(p.name[:-5] for p in _profile_dir().iterdir() if p.name.endswith(".toml"))


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
MAX_PROFILE_BYTES = 1 << 20


def load_profile(name_or_path: str | None = None) -> Profile:
    """A packaged profile by name (``qingdao-2020``) or a TOML file path (must end in ``.toml``).

    A name is looked up only inside the profiles folder (no separators, no ``..``); anything else
    is a path, and a path must name an existing ``.toml`` file.  The file is validated like
    workbook input: every problem is a ``ProfileError`` in Chinese naming the file and line."""
    key = (name_or_path or DEFAULT_PROFILE).strip()
    if _NAME.fullmatch(key) and not key.lower().endswith(".toml"):
        item = _profile_dir() / f"{key}.toml"
        if not item.is_file():
            raise ProfileError(f"未知的评价方案“{key}”，可用：{'、'.join(available_profiles())}")
        return _load(item.read_bytes(), f"{key}.toml", key)
    path = Path(key)
    if path.suffix.lower() != ".toml":
        raise ProfileError(f"未知的评价方案“{key}”：评价方案应为方案名（可用：{'、'.join(available_profiles())}）"
                           "或以 .toml 结尾的方案文件路径")
    if not path.is_file():
        raise ProfileError(f"找不到评价方案文件“{key}”")
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise ProfileError(f"评价方案文件“{path.name}”过大（超过1MB），不是评价方案")
        data = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"无法读取评价方案文件“{path.name}”（{exc.strerror or type(exc).__name__}）") from None
    return _load(data, path.name, path.stem)


@lru_cache(maxsize=32)  # the same bytes give the same frozen Profile: a portfolio worker parses each profile once
def _load(data: bytes, file: str, key: str) -> Profile:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ProfileError(f"评价方案文件“{file}”第{line}行：不是 UTF-8 文本（可能是二进制文件或其他编码）") from None
    if "\x00" in text:
        raise ProfileError(f"评价方案文件“{file}”第{text[:text.index(chr(0))].count(chr(10)) + 1}行：含有空字符，"
                           "不是文本文件")
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _AT.search(str(exc))
        where = f"第{m.group(1)}行第{m.group(2)}列" if m else "末尾"
        raise ProfileError(f"评价方案文件“{file}”{where}：TOML 格式错误（请检查引号、等号、方括号和重复的键）") from None
    return _parse(parsed, key, file, text)


def _line_of(text: str, key: str, nth: int = 0) -> int:
    """Line of the nth ``key = …`` in the file (1-based; 0 when not found)."""
    hits = [m.start() for m in re.finditer(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.M)]
    return text[: hits[nth]].count("\n") + 1 if nth < len(hits) else 0


def _parse(data: dict, key: str, file: str = "", text: str = "") -> Profile:
    file = file or f"{key}.toml"
    problems: list[str] = []

    def bad(field: str, message: str, nth: int = 0):
        line = _line_of(text, field, nth)
        problems.append(f"{'第' + str(line) + '行' if line else ''}{field}{message}")

    def real(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    def shown(value) -> str:
        return f"“{value}”" if isinstance(value, str) else f"{value!r}".replace("True", "true").replace("False", "false")

    for name in ("name", "title", "weighting", "execution_base", "satisfaction_basis", "expert_method"):
        if name in data and not isinstance(data[name], str):
            bad(name, f" 应为文字（用引号括起），实际为{shown(data[name])}")
    for name in ("full_marks", "budget_score_points"):
        if name in data and not real(data[name]):
            bad(name, f" 应为有限数字，实际为{shown(data[name])}")
    full_marks = data.get("full_marks", 100)
    if real(full_marks) and full_marks <= 0:
        bad("full_marks", " 应大于0")
    budget = data.get("budget_score_points", 0)
    if real(budget) and real(full_marks) and not 0 <= budget < full_marks:
        bad("budget_score_points", f" 应在0到总分{full_marks:g}之间")
    weighting = data.get("weighting", WEIGHTING_FLAT)
    if isinstance(weighting, str) and weighting not in (WEIGHTING_FLAT, WEIGHTING_NESTED):
        bad("weighting", f" 应为“{WEIGHTING_FLAT}”或“{WEIGHTING_NESTED}”，实际为“{weighting}”")
    base = data.get("execution_base", "实际到位")
    if isinstance(base, str) and base not in EXECUTION_BASES:
        bad("execution_base", f" 应为：{'、'.join(EXECUTION_BASES)}，实际为“{base}”")
    satisfaction = data.get("satisfaction_basis", SATISFACTION_BASES[0])
    if isinstance(satisfaction, str) and satisfaction not in SATISFACTION_BASES:
        bad("satisfaction_basis", f" 应为：{'、'.join(SATISFACTION_BASES)}，实际为“{satisfaction}”")
    experts = data.get("expert_method", EXPERT_METHODS[0])
    if isinstance(experts, str) and experts not in EXPERT_METHODS:
        bad("expert_method", f" 应为：{'、'.join(EXPERT_METHODS)}，实际为“{experts}”")
    grades = data.get("grades")
    parsed: list[tuple[str, float]] = []
    if not isinstance(grades, list) or not grades:
        problems.append("缺少等级（[[grades]]，每个等级有 name 和 min）")
    else:
        for i, g in enumerate(grades):
            if not isinstance(g, dict):
                bad("grades", " 应为等级表（[[grades]]）")
                continue
            name, low = g.get("name"), g.get("min")
            if not isinstance(name, str) or not name.strip():
                bad("name", f" 第{i + 1}个等级缺少名称（name = \"优\"）" if name is None
                    else f" 第{i + 1}个等级的名称应为文字，实际为{shown(name)}", i + ("name" in data))
            if not real(low):
                bad("min", f" 第{i + 1}个等级的下限应为有限数字，实际为{shown(low)}" if low is not None
                    else f" 第{i + 1}个等级缺少下限（min = 90）", i)
            elif real(full_marks) and not 0 <= low <= full_marks:
                bad("min", f" 第{i + 1}个等级的下限{low:g}应在0到总分{full_marks:g}之间", i)
            if isinstance(name, str) and name.strip() and real(low):
                parsed.append((name.strip(), float(low)))
        names = [n for n, _ in parsed]
        for n in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"等级“{n}”重复")
        lows = [low for _, low in parsed]
        for low in sorted({low for low in lows if lows.count(low) > 1}):
            problems.append(f"有两个等级的下限都是{low:g}")
    result_use = []
    for i, u in enumerate(data.get("result_use", ())):
        if not isinstance(u, dict) or not isinstance(u.get("grade"), str) or not isinstance(u.get("action"), str):
            bad("result_use", f" 第{i + 1}项应有 grade（等次）和 action（文字）")
            continue
        change = u.get("budget_change")
        if change is not None and not (real(change) and -100 <= change <= 100):
            bad("budget_change", f" 第{i + 1}项预算调整比例应为 -100 到 100（%）之间的数字，实际为{shown(change)}")
            continue
        if parsed and u["grade"] not in {n for n, _ in parsed}:
            bad("grade", f" 结果应用表第{i + 1}项的等次“{u['grade']}”未定义")
            continue
        result_use.append((u["grade"], u["action"], None if change is None else float(change)))
    policy = Policy(budget_points=float(budget) if real(budget) else 0.0)
    try:
        policy = from_profile_data(data, policy.budget_points)  # [scoring] 计分规则
    except PolicyError as exc:
        problems.append(f"[scoring] 计分规则不对：{exc}")
    if real(full_marks) and not 0 <= policy.budget_points < full_marks:
        problems.append(f"[scoring] 预算执行分值应在0到总分{full_marks:g}之间")
    if problems:
        raise ProfileError(f"评价方案文件“{file}”有{len(problems)}个问题：" + "；".join(problems))
    return with_policy(Profile(
        name=str(data.get("name", key)), title=str(data.get("title", key)),
        grades=tuple(sorted(parsed, key=lambda g: g[1], reverse=True)),
        weighting=weighting, full_marks=float(full_marks), execution_base=base,
        budget_score_points=float(budget), result_use=tuple(result_use),
        satisfaction_basis=satisfaction, expert_method=experts), policy)


def with_policy(profile: Profile, policy: Policy) -> Profile:
    """The profile under another policy; its budget_score_points follows 预算执行分值."""
    return replace(profile, policy=policy, budget_score_points=policy.budget_points)
