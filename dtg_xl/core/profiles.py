"""Evaluation profiles (评价方案): grade bands and defaults, kept as TOML data, not code.

A new city's or year's rules are a new ``profiles/NAME.toml`` (or a path to one).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.core.schema import EXECUTION_BASES, WEIGHTING_FLAT, WEIGHTING_NESTED

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
    budget_score_points: float = 0.0
    # 结果应用: (grade, what follows, next year's budget change in % of this year's or None)
    result_use: tuple[tuple[str, str, float | None], ...] = ()

    def grade(self, total: float) -> str:
        for name, lower in self.grades:
            if total >= lower:
                return name
        return self.grades[-1][0]


def _profile_dir():
    return resources.files("dtg_xl.core") / "profiles"


def available_profiles() -> list[str]:
    return sorted(p.name[:-5] for p in _profile_dir().iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str | None = None) -> Profile:
    """A packaged profile by name (``qingdao-2020``) or a TOML file path."""
    key = (name_or_path or DEFAULT_PROFILE).strip()
    path = Path(key)
    if key.endswith(".toml") and path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        item = _profile_dir() / f"{key}.toml"
        if not item.is_file():
            raise ProfileError(f"未知的评价方案“{key}”，可用：{'、'.join(available_profiles())}")
        text = item.read_text(encoding="utf-8")
    return _parse(tomllib.loads(text), key)


def _parse(data: dict, key: str) -> Profile:
    try:
        grades = tuple(sorted(((str(g["name"]), float(g["min"])) for g in data["grades"]),
                              key=lambda g: g[1], reverse=True))
        profile = Profile(
            name=str(data.get("name", key)), title=str(data.get("title", key)), grades=grades,
            weighting=str(data.get("weighting", WEIGHTING_FLAT)),
            full_marks=float(data.get("full_marks", 100)),
            execution_base=str(data.get("execution_base", "实际到位")),
            budget_score_points=float(data.get("budget_score_points", 0)),
            result_use=tuple((str(u["grade"]), str(u["action"]),
                              None if u.get("budget_change") is None else float(u["budget_change"]))
                             for u in data.get("result_use", ())))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"评价方案“{key}”格式不对：{exc}") from None
    if profile.weighting not in (WEIGHTING_FLAT, WEIGHTING_NESTED):
        raise ProfileError(f"评价方案“{key}”的计分方式应为{WEIGHTING_FLAT}或{WEIGHTING_NESTED}")
    if profile.execution_base not in EXECUTION_BASES:
        raise ProfileError(f"评价方案“{key}”的预算执行率口径应为：{'、'.join(EXECUTION_BASES)}")
    if not grades:
        raise ProfileError(f"评价方案“{key}”没有等级")
    unknown = [g for g, _, _ in profile.result_use if g not in {name for name, _ in grades}]
    if unknown:
        raise ProfileError(f"评价方案“{key}”的结果应用表中有未定义的等次：{'、'.join(unknown)}")
    if any(c is not None and not -100 <= c <= 100 for _, _, c in profile.result_use):
        raise ProfileError(f"评价方案“{key}”的结果应用表中预算调整比例应在 -100 到 100（%）之间")
    return profile
