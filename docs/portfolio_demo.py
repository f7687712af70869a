"""The demo portfolio of docs/portfolio.md: four small projects (TOML examples for `dtg-xl new`),
a copy of one (a duplicate), a project with a problem and a file that is not a workbook; and the
picture of the output workbook rendered by LibreOffice.

    python docs/portfolio_demo.py     # regenerates docs/img/portfolio-*.png
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (file, 项目名称, 评价方案, unit, budget, spent, actual values of the four indicators)
PROJECTS = [
    ("农村公路养护.xlsx", "农村公路养护补助", "市公路事业发展中心", 800, 760, (100, 95, 1100, 85)),
    ("老旧小区改造.xlsx", "老旧小区改造补助", "市住房和城乡建设局", 2400, 2100, (90, 85, 900, 80)),
    ("职业技能培训.xlsx", "职业技能提升培训补贴", "市人力资源和社会保障局", 600, 420, (70, 60, 600, 65)),
    ("智慧停车.xlsx", "智慧停车平台建设", "市城市管理局", 1500, 450, (50, 30, 300, 40)),
]
INDICATORS = [("决策", "项目立项", "立项依据充分性", 20, 100), ("过程", "资金管理", "预算执行率", 20, 100),
              ("产出", "产出数量", "完成工作量", 30, 1200), ("效益", "满意度", "服务对象满意度", 30, 90)]


def toml(name: str, unit: str, budget: float, spent: float, actuals, year: int = 2021) -> str:
    lines = ["[params]", f'"项目名称" = "{name}"', f'"评价年度" = {year}', '"评价方案" = "mof-2020"', ""]
    for (l1, l2, l3, points, target), actual in zip(INDICATORS, actuals):
        lines += ["[[indicators]]", f'"一级指标" = "{l1}"', f'"二级指标" = "{l2}"', f'"三级指标" = "{l3}"',
                  f'"分值" = {points}', '"评分方法" = "正向"', f'"目标值" = {target}', f'"实际值" = {actual}', ""]
    lines += ["[[units]]", f'"单位名称" = "{unit}"', f'"年初预算" = {budget}', '"追加预算" = 0',
              f'"实际到位" = {budget}', f'"实际支出" = {spent}', ""]
    return "\n".join(lines)


# a bureau's own 评价方案: mof-2020's grades, with its own cut percentages in 结果应用 (an example)
BUREAU_RULES = """name = "本市-2021"
title = "本市项目支出绩效评价（示例：结果应用比例由本市办法规定）"
weighting = "逐级累加"
full_marks = 100
execution_base = "实际到位"

[[grades]]
name = "优"
min = 90
[[grades]]
name = "良"
min = 80
[[grades]]
name = "中"
min = 60
[[grades]]
name = "差"
min = 0

[[result_use]]
grade = "优"
action = "予以表扬，下年度预算优先保障"
[[result_use]]
grade = "良"
action = "继续支持，下年度预算据实安排"
[[result_use]]
grade = "中"
action = "限期整改，核减下年度预算"
budget_change = -10
[[result_use]]
grade = "差"
action = "通报批评并限期整改，核减下年度预算"
budget_change = -30
"""


def files() -> dict[str, str]:
    out = {f"{Path(f).stem}.toml": toml(n, u, b, s, a) for f, n, u, b, s, a in PROJECTS}
    out["本市-2021.toml"] = BUREAU_RULES
    out["网页导出.xlsx"] = "<html><body><table><tr><td>绩效自评表</td></tr></table></body></html>"
    return out


def setup(broken: bool = True) -> list[str]:
    steps = [f"dtg-xl new {f} --example {Path(f).stem}.toml" for f, *_ in PROJECTS]
    steps.append("cp 农村公路养护.xlsx 农村公路养护（重发）.xlsx")  # the same project sent twice
    if broken:
        steps.append("dtg-xl new 空白模板.xlsx")  # a project whose 指标体系 was never filled
    else:
        steps.append("rm 网页导出.xlsx")
    return steps


def resumed() -> tuple[list[str], dict[str, str]]:
    """A clean folder evaluated once, then one project re-submitted with corrected figures."""
    f, n, u, b, s, a = PROJECTS[3]
    extra = {"智慧停车-更正.toml": toml(n, u, b, 1200, (90, 80, 1000, 75))}
    steps = setup(broken=False) + [COMMAND, f"dtg-xl new {f} --example 智慧停车-更正.toml --force"]
    return steps, files() | extra


COMMAND = "dtg-xl portfolio . -o 汇总.xlsx --profile 本市-2021.toml"


def render(out_dir: Path = HERE / "img") -> list[Path]:
    """Build the demo folder, run the portfolio verb, render the workbook with LibreOffice."""
    with tempfile.TemporaryDirectory(prefix="dtg-portfolio-") as tmp:
        work = Path(tmp)
        for name, text in files().items():
            (work / name).write_text(text, encoding="utf-8")
        for step in setup():
            words = step.split()
            cmd = [sys.executable, "-m", "dtg_xl", *words[1:]] if words[0] == "dtg-xl" else words
            subprocess.run(cmd, cwd=work, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "dtg_xl", *COMMAND.split()[1:]], cwd=work, capture_output=True)
        profile = work / "lo-profile"
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                        "--outdir", str(work), str(work / "汇总.xlsx")], check=True, capture_output=True, timeout=180)
        subprocess.run(["pdftoppm", "-png", "-r", "100", str(work / "汇总.pdf"), str(work / "page")], check=True)
        pages = sorted(work.glob("page-*.png"))
        out_dir.mkdir(exist_ok=True)
        made = []
        for i, page in enumerate(pages[:4], start=1):
            dst = out_dir / f"portfolio-{i}.png"
            _trim(page, dst)
            made.append(dst)
        return made


def _trim(src: Path, dst: Path, margin: int = 12) -> None:
    """The page without its empty paper around the content."""
    from PIL import Image, ImageChops

    page = Image.open(src).convert("RGB")
    box = ImageChops.difference(page, Image.new("RGB", page.size, "white")).getbbox()
    if box:
        page = page.crop((max(0, box[0] - margin), max(0, box[1] - margin),
                          min(page.width, box[2] + margin), min(page.height, box[3] + margin)))
    page.save(dst, optimize=True)


if __name__ == "__main__":
    for path in render():
        print(path)
