"""Charts of an evaluation result as PNG bytes (matplotlib, Agg, a CJK font found on the system).

- ``category_chart``: each 一级指标's score against its full points;
- ``budget_chart``: per-unit adjusted budget vs actual spending, with the execution rate;
- ``radar_chart``: score rate (得分率) of each 一级指标.

``result_charts(result)`` gives all three as ``{title: png_bytes}``; the report embeds them and
``dtg-xl evaluate --charts`` puts them on the 汇总 sheet (``delivery.images``); the Excel door can
put the same bytes on the sheet with ``sheet.pictures.add(path)``.
"""
from __future__ import annotations

import io
import math

from dtg_xl.errors import DtgError
from dtg_xl.delivery import cnfmt

# Noto CJK (Debian fonts-noto-cjk) first, then fonts a Windows/macOS machine has
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "Source Han Sans SC",
                "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "SimSun",
                "PingFang SC", "Heiti SC", "Hiragino Sans GB", "AR PL UMing CN")
DPI = 110
TITLES = ("一级指标得分", "各单位预算执行", "一级指标得分率")


class ChartError(DtgError):
    """No CJK font, or nothing to draw; the message is for the user."""


_FONT = None
# file-name stems of CJK fonts, for a second look at the disk when matplotlib's cached font list
# predates the font's installation (matplotlib reads ~/.cache/matplotlib/fontlist-*.json once)
CJK_FILE_HINTS = ("notosanscjk", "notoserifcjk", "sourcehansans", "sourcehanserif", "wqy", "msyh", "simhei",
                  "simsun", "pingfang", "hiragino", "uming", "ukai", "droidsansfallback", "stheiti", "deng")


def _known_cjk(font_manager) -> str | None:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FAMILIES if name in installed), None)
    return found or next((f.name for f in font_manager.fontManager.ttflist if "CJK" in f.name), None)


def _add_cjk_files(font_manager) -> list[str]:
    """Add CJK font files found on disk to matplotlib's list (in memory); returns their paths."""
    added = []
    for path in font_manager.findSystemFonts():
        stem = path.replace("\\", "/").rsplit("/", 1)[-1].lower().replace("-", "").replace("_", "")
        if any(h in stem for h in CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
                added.append(path)
            except (OSError, RuntimeError, ValueError):
                continue
    return added


def cjk_font() -> str:
    """Family name of an installed CJK font known to matplotlib, or ChartError.

    First matplotlib's font list; if none is there (a list cached before the font was
    installed), the font files on disk are looked at again and added."""
    global _FONT
    if _FONT is None:
        from matplotlib import font_manager

        found = _known_cjk(font_manager)
        if found is None:
            _add_cjk_files(font_manager)
            found = _known_cjk(font_manager)
        if found is None:
            raise ChartError("未找到中文字体，无法生成图表。已查找的字体：" + "、".join(CJK_FAMILIES)
                             + "（及系统字体目录中文件名含 NotoSansCJK、wqy、msyh、simhei、simsun 等的字体文件）。"
                             "请安装 Noto CJK 字体（Debian/Ubuntu：apt-get install fonts-noto-cjk），"
                             "Windows 请确认已安装“微软雅黑”或“黑体”")
        _FONT = found
    return _FONT


def _plain_text(fn):
    """Draw with mathtext off: a unit name such as ``$A$公司`` is text, not a formula to parse."""
    import functools

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return fn(*args, **kwargs)
    return inner


def _figure(width: float, height: float, polar: bool = False):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    font = cjk_font()
    fig = Figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_subplot(projection="polar" if polar else None)
    return fig, ax, {"family": font}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # fixed metadata: the same result gives the same bytes
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


@_plain_text
def category_chart(result) -> bytes:
    """Bar chart: 一级指标 score next to full points, value labels on the bars."""
    cats = result.categories
    if not cats:
        raise ChartError("没有一级指标得分，无法作图")
    fig, ax, font = _figure(6.4, 3.6)
    names = [c.name for c in cats]
    xs = range(len(cats))
    full = ax.bar([x - 0.2 for x in xs], [c.points for c in cats], width=0.4, color="#BDD7EE", label="分值")
    got = ax.bar([x + 0.2 for x in xs], [c.score for c in cats], width=0.4, color="#2F5597", label="得分")
    for bars in (full, got):
        for bar in bars:
            ax.annotate(cnfmt.score(bar.get_height()), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8, fontfamily=font["family"],
                        xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(list(xs), names, fontdict=font)
    ax.set_ylabel("分", fontdict=font)
    ax.set_ylim(0, max(c.points for c in cats) * 1.18)
    ax.set_title(f"一级指标得分（综合得分{cnfmt.score(result.total)}分，{result.grade}）", fontdict=font)
    ax.legend(prop=font, loc="upper left", frameon=False, ncols=2)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _png(fig)


@_plain_text
def budget_chart(result) -> bytes:
    """Horizontal bars per unit: adjusted budget and actual spending (万元), execution rate at the end."""
    units = result.units
    if not units:
        raise ChartError("没有单位预算数据，无法作图")
    fig, ax, font = _figure(6.4, 0.9 + 0.42 * len(units))
    names = [u["name"] for u in units][::-1]
    adjusted = [0 if cnfmt.is_blank(u["adjusted"]) else u["adjusted"] for u in units][::-1]
    spent = [0 if cnfmt.is_blank(u["spent"]) else u["spent"] for u in units][::-1]
    rates = [u["execution_rate"] for u in units][::-1]
    ys = range(len(units))
    ax.barh([y + 0.2 for y in ys], adjusted, height=0.4, color="#BDD7EE", label="调整后预算")
    ax.barh([y - 0.2 for y in ys], spent, height=0.4, color="#2F5597", label="实际支出")
    top = max(adjusted + spent) or 1
    for y, value, rate in zip(ys, adjusted, rates):
        ax.annotate(f"{cnfmt.amount(value, '')}  执行率{cnfmt.percent(rate)}", (value, y), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=7, fontfamily=font["family"])
    ax.set_yticks(list(ys), names, fontdict={**font, "fontsize": 8})
    ax.set_xlim(0, top * 1.45)
    ax.set_xlabel("万元", fontdict=font)
    ax.set_title("各单位预算执行情况", fontdict=font)
    ax.legend(prop=font, loc="lower right", frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _png(fig)


@_plain_text
def radar_chart(result) -> bytes:
    """Radar of 一级指标 score rates (得分 ÷ 分值, %)."""
    cats = result.categories
    if len(cats) < 3:
        raise ChartError("一级指标少于3个，不适合作雷达图")
    fig, ax, font = _figure(4.4, 4.0, polar=True)
    rates = [c.raw_score / c.raw_points * 100 if c.raw_points else 0.0 for c in cats]
    angles = [2 * math.pi * i / len(cats) for i in range(len(cats))]
    ax.plot(angles + angles[:1], rates + rates[:1], color="#2F5597", linewidth=1.5)
    ax.fill(angles + angles[:1], rates + rates[:1], color="#2F5597", alpha=0.2)
    ax.set_xticks(angles, [f"{c.name}\n{cnfmt.percent(r)}" for c, r in zip(cats, rates)], fontdict=font)
    ax.set_theta_offset(math.pi / 2)  # first 一级 at the top, then clockwise
    ax.set_theta_direction(-1)
    ax.tick_params(axis="x", pad=8)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100], ["20", "40", "60", "80", "100%"], fontsize=7)
    ax.set_title("一级指标得分率", fontdict=font, pad=14)
    fig.tight_layout()
    return _png(fig)


def result_charts(result) -> dict[str, bytes]:
    """All charts for a scored result, by title (the ones the data allows)."""
    if not result.ok:
        raise ChartError("评价结果有错误，无法作图")
    charts = {TITLES[0]: category_chart(result)}
    if result.units:
        charts[TITLES[1]] = budget_chart(result)
    if len(result.categories) >= 3:
        charts[TITLES[2]] = radar_chart(result)
    return charts


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


PICTURE_PREFIX = "dtg_xl 图表："  # same names as the headless write-back (xlsx_images)
ROW_POINTS = 15.0  # a default Excel row


def add_to_xlwings_sheet(sheet, result, row: int = 2, col: int = 15) -> list[str]:
    """The Excel door's charts: each PNG goes on a live ``xlwings`` sheet with
    ``sheet.pictures.add(path, name=..., update=True, anchor=...)``, stacked down from
    (row, col); ``update=True`` replaces the picture of an earlier run with the same name.
    Returns the picture names.  (Headless, ``images.add_images`` does the same in the file.)"""
    import tempfile
    from pathlib import Path

    names = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (title, png) in enumerate(result_charts(result).items(), start=1):
            path = Path(tmp) / f"dtg_xl_chart{i}.png"
            path.write_bytes(png)
            name = PICTURE_PREFIX + title
            sheet.pictures.add(str(path), name=name, update=True, anchor=sheet.range((row, col)))
            names.append(name)
            height_points = png_size(png)[1] / DPI * 72
            row += math.ceil(height_points / ROW_POINTS) + 1
    return names
