"""argparse in Chinese: usage, help headings and every parse error a user can meet.

argparse builds its English through ``gettext`` at call time; rather than replacing that
module-global for the whole process (pytest and other hosts use argparse too), this parser
class translates its own output: ``format_usage``/``format_help`` (headings) and ``error``
(the finished message, matched against argparse's fixed English patterns).  Values appear as
the user typed them (no Python quotes).
"""
from __future__ import annotations

import argparse
import re
import sys

_HEADINGS = [("usage: ", "用法："), ("positional arguments:", "位置参数："), ("options:", "选项："),
             ("optional arguments:", "选项：")]


def _unquote(text: str) -> str:
    """'x' or "x" (a Python repr) → x."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _choices(text: str) -> str:
    return "、".join(_unquote(c) for c in re.split(r",\s*", text) if c.strip())


_ERRORS = [
    (re.compile(r"^the following arguments are required: (.*)$"), lambda m: f"缺少必需的参数：{m[1].replace(', ', '、')}"),
    (re.compile(r"^argument (.+?): invalid choice: (.*) \(choose from (.*)\)$", re.S),
     lambda m: f"{_arg(m[1])}：无效的选择“{_unquote(m[2])}”，可选：{_choices(m[3])}"),
    (re.compile(r"^argument (.+?): invalid (\w+) value: (.*)$", re.S),
     lambda m: f"{_arg(m[1])}：“{_unquote(m[3])}”不是有效的{_TYPES.get(m[2], m[2])}"),
    (re.compile(r"^argument (.+?): expected one argument$"), lambda m: f"{_arg(m[1])}：需要一个值"),
    (re.compile(r"^argument (.+?): expected at least one argument$"), lambda m: f"{_arg(m[1])}：至少需要一个值"),
    (re.compile(r"^argument (.+?): expected at most one argument$"), lambda m: f"{_arg(m[1])}：最多一个值"),
    (re.compile(r"^argument (.+?): ignored explicit argument (.*)$"),
     lambda m: f"{_arg(m[1])}：不接受值“{_unquote(m[2])}”"),
    (re.compile(r"^argument (.+?): not allowed with argument (.*)$"),
     lambda m: f"{_arg(m[1])}：不能与 {m[2]} 同时使用"),
    (re.compile(r"^unrecognized arguments: (.*)$", re.S), lambda m: f"无法识别的参数：{m[1]}"),
    (re.compile(r"^ambiguous option: (.*?) could match (.*)$"),
     lambda m: f"选项 {m[1]} 不明确，可能是：{m[2].replace(', ', '、')}"),
    (re.compile(r"^one of the arguments (.*) is required$"), lambda m: f"必须给出以下参数之一：{m[1]}"),
    (re.compile(r"^argument (.+?): (.*)$", re.S), lambda m: f"{_arg(m[1])}：{m[2]}"),
]
METAVARS = {"path": "文件", "input": "工作簿", "output": "输出", "profile": "评价方案", "example": "示例",
            "to": "收件人", "cc": "抄送", "sender": "发件人", "master": "主表", "forms": "填报表",
            "jobs": "进程数", "last": "上年工作簿", "this": "本年工作簿"}
_TYPES = {"int": "整数", "float": "数字"}


def _arg(name: str) -> str:
    return "命令" if name in ("命令", "command") else f"参数 {name}"


def translate_error(message: str) -> str:
    for pattern, fmt in _ERRORS:
        m = pattern.match(message)
        if m:
            return fmt(m)
    return message


class ChineseParser(argparse.ArgumentParser):
    """An ArgumentParser whose every user-visible word is Chinese (subparsers inherit it)."""

    def __init__(self, *args, add_help: bool = True, **kwargs):
        kwargs.setdefault("formatter_class", argparse.HelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示此帮助并退出")

    def add_argument(self, *args, **kwargs):
        """Chinese placeholders in usage lines (``-o 输出文件`` rather than ``-o OUTPUT``)."""
        takes_value = kwargs.get("action") in (None, "store", "append")
        if takes_value and "metavar" not in kwargs:
            dest = kwargs.get("dest") or (args[0] if not args[0].startswith("-")
                                          else next((a for a in args if a.startswith("--")), args[0]).lstrip("-"))
            kwargs["metavar"] = METAVARS.get(dest.replace("-", "_"), "值")
        return super().add_argument(*args, **kwargs)

    def format_usage(self) -> str:
        return _translate_headings(super().format_usage())

    def format_help(self) -> str:
        return _translate_headings(super().format_help())

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"错误：{translate_error(message)}\n")


def _translate_headings(text: str) -> str:
    for en, zh in _HEADINGS:
        text = text.replace(en, zh)
    return text
