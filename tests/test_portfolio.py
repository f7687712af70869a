"""dtg-xl portfolio on generated portfolios: good projects over every grade, a broken one, a
non-workbook, a duplicate, a subfolder; then a resumed run, a changed file, parallel = serial,
and workers that die with the parent.  The output workbook is read back (openpyxl, and its
package parts for the tables and charts)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from helpers import ROOT, run_cli, run_json

sys.path.insert(0, str(ROOT / "bench"))
import data  # noqa: E402  (bench/data.py: the generated projects, shared with the benchmark)

from dtg_xl.delivery.template import write_template  # noqa: E402
from dtg_xl.results import portfolio as P  # noqa: E402


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("src") / "dtg-2020.xlsx"
    write_template(path, example="dtg-2020")
    return path


@pytest.fixture()
def folder(tmp_path, example) -> Path:
    d = tmp_path / "项目"
    (d / "二科").mkdir(parents=True)
    data.project_variant(example, d / "a-口岸.xlsx", "口岸大通关补助资金", 1.0)
    data.project_variant(example, d / "b-港口.xlsx", "港口建设补助", 0.85)
    data.project_variant(example, d / "二科" / "c-物流.xlsx", "物流园区扶持资金", 0.2)
    shutil.copyfile(d / "a-口岸.xlsx", d / "二科" / "a-副本.xlsx")  # the same project sent twice
    write_template(d / "d-空白.xlsx")  # no indicators: input problems
    (d / "e-网页.xlsx").write_text("<html>not a workbook</html>", encoding="utf-8")
    (d / "~$a-口岸.xlsx").write_bytes(b"lock")  # Excel's lock file: not an input
    return d


def test_cli_evaluates_every_file_and_reports_each_problem_on_its_line(folder, tmp_path, capsys):
    out = tmp_path / "汇总.xlsx"
    code, stdout, stderr = run_cli(["portfolio", folder, "-o", out], capsys)
    assert code == 2  # some files could not be evaluated
    lines = stderr.strip().splitlines()
    assert len([x for x in lines if x.startswith("未能评价：")]) == 2
    assert any("d-空白.xlsx" in x and "指标体系中没有指标" in x for x in lines)
    assert any("e-网页.xlsx" in x and "不是 Excel 工作簿" in x for x in lines)
    assert [x for x in lines if x.startswith("重复：")] == [
        next(x for x in lines if "a-副本.xlsx" in x and "a-口岸.xlsx" in x)]
    assert "已评价3个项目" in stdout and f"汇总已写入：{out}" in stdout
    assert "Traceback" not in stderr and out.exists()


def test_json_ranks_projects_with_grades_and_result_use(folder, tmp_path, capsys):
    code, res = run_json(["portfolio", folder, "-o", tmp_path / "汇总.xlsx"], capsys)
    assert code == 2
    names = [p["name"] for p in res["projects"]]
    assert names == ["口岸大通关补助资金", "港口建设补助", "物流园区扶持资金"]
    top = res["projects"][0]
    assert (top["rank"], top["total"], top["grade"], top["profile"]) == (1, 96.65, "优", "qingdao-2020")
    assert [c["name"] for c in top["categories"]] == ["决策", "过程", "产出", "效益"]
    assert top["budget"] == 6548.5 and top["year"] == "2020" and top["unit"].startswith("青岛海关等")
    assert top["file_fingerprint"].startswith("sha256:") and top["data_fingerprint"].startswith("sha256:")
    worst = res["projects"][-1]
    assert worst["grade"] == "差" and worst["total"] < 60
    assert worst["application"]["action"].startswith("通报批评并限期整改")
    assert sum(res["grades"].values()) == 3 and res["grades"]["差"] == 1
    assert {Path(f["file"]).name for f in res["failures"]} == {"d-空白.xlsx", "e-网页.xlsx"}
    assert [Path(d["file"]).name for d in res["duplicates"]] == ["a-副本.xlsx"]
    # the same engine as `dtg-xl evaluate` of each file
    for p in res["projects"]:
        code, one = run_json(["evaluate", p["file"], "-o", tmp_path / "one.xlsx"], capsys)
        assert (one["total"], one["grade"]) == (p["total"], p["grade"])


def test_adjustments_count_is_the_evaluator_adjustments_not_the_losses(tmp_path, capsys):
    """评价调整数 counts the rows whose 评定得分 replaced the rule's result (evaluate's adjustments, 汇总's block
    评价调整); 失分指标数 stays the rows scored below their points. Here they differ: 2 adjustments, 6 losses."""
    import openpyxl

    from dtg_xl.delivery.template import load_example

    d = tmp_path / "项目"
    d.mkdir()
    write_template(d / "原样.xlsx", example="dtg-2020")
    spec = load_example("dtg-2020")
    for row in spec["indicators"]:
        if row["三级指标"] in ("监管出入境船舶艘次", "海运口岸外贸吞吐量"):  # full marks before: one point less
            row["评定得分"], row["调整原因"] = row["分值"] - 1, "评价组复核：统计口径含非本项目部分"
    spec["params"]["项目名称"] = "调整过的项目"
    write_template(d / "调整.xlsx", data=spec)
    code, one = run_json(["evaluate", d / "调整.xlsx", "-o", tmp_path / "one.xlsx"], capsys)
    assert code == 0 and len(one["adjustments"]) == 2 and len(one["losses"]) == 6
    code, plain = run_json(["evaluate", d / "原样.xlsx", "-o", tmp_path / "plain.xlsx"], capsys)
    assert code == 0 and plain["adjustments"] == [] and len(plain["losses"]) == 4
    out = tmp_path / "汇总.xlsx"
    code, res = run_json(["portfolio", d, "-o", out], capsys)
    assert code == 0
    by_name = {p["name"]: p for p in res["projects"]}
    assert (by_name["调整过的项目"]["adjustments"], by_name["调整过的项目"]["losses"]) == (2, 6)
    plain_name = next(n for n in by_name if n != "调整过的项目")
    assert (by_name[plain_name]["adjustments"], by_name[plain_name]["losses"]) == (0, 4)
    ws = openpyxl.load_workbook(out)["项目一览"]
    header = [c.value for c in ws[1]]
    rows = {r[header.index("项目名称")]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["调整过的项目"][header.index("评价调整数")] == 2
    assert rows["调整过的项目"][header.index("失分指标数")] == 6
    assert rows[plain_name][header.index("评价调整数")] == 0


def test_output_workbook_sheets_table_charts(folder, tmp_path, capsys):
    import openpyxl

    out = tmp_path / "汇总.xlsx"
    run_json(["portfolio", folder, "-o", out], capsys)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["项目一览", "统计", "结果应用", "未能评价"]
    ws = wb["项目一览"]
    header = [c.value for c in ws[1]]
    for h in ("排名", "项目名称", "评价年度", "单位", "评价方案", "综合得分", "等次", "决策得分", "效益得分",
              "调整后预算（万元）", "预算执行率（%）", "评价调整数", "失分指标数", "提示数", "源文件", "文件指纹", "数据指纹"):
        assert h in header, h
    assert list(ws.tables) == ["项目一览"] and ws.tables["项目一览"].ref == f"A1:{ws.cell(1, len(header)).column_letter}4"
    assert ws.tables["项目一览"].autoFilter is not None  # sortable and filterable
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert [r[header.index("综合得分")] for r in rows] == sorted((r[header.index("综合得分")] for r in rows), reverse=True)
    assert isinstance(rows[0][header.index("综合得分")], float)  # numbers, not text
    use = wb["结果应用"]
    assert use.cell(2, 5).value == "优" and use.cell(2, 6).value.startswith("予以表扬")
    failed = [[c.value for c in r] for r in wb["未能评价"].iter_rows(min_row=2)]
    assert {(Path(r[0]).name, r[1]) for r in failed} == {("d-空白.xlsx", "输入问题"), ("e-网页.xlsx", "无法读取"),
                                                         ("a-副本.xlsx", "重复")}
    stats = wb["统计"]
    assert [stats.cell(r, 1).value for r in range(3, 7)] == ["优", "良", "中", "差"]
    assert sum(stats.cell(r, 2).value for r in range(3, 7)) == 3
    with zipfile.ZipFile(out) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 2
        assert all(b"<c:barChart>" in z.read(n) for n in charts)


def test_resumed_run_skips_unchanged_files_and_redoes_changed_ones(folder, tmp_path, capsys, example):
    out = tmp_path / "汇总.xlsx"
    _, first = run_json(["portfolio", folder, "-o", out], capsys)
    assert first["evaluated"] == 6 and first["reused"] == 0
    _, again = run_json(["portfolio", folder, "-o", out], capsys)
    assert again["reused"] == 5 and again["evaluated"] == 1  # the unreadable file is tried again
    strip = lambda r: {k: r[k] for k in ("projects", "failures", "duplicates", "grades")}  # noqa: E731
    assert strip(again) == strip(first)
    data.project_variant(example, folder / "b-港口.xlsx", "港口建设补助", 0.6)  # changed
    _, third = run_json(["portfolio", folder, "-o", out], capsys)
    assert third["evaluated"] == 2 and third["reused"] == 4
    b = next(p for p in third["projects"] if p["name"] == "港口建设补助")
    assert b["total"] < next(p for p in first["projects"] if p["name"] == "港口建设补助")["total"]
    _, fresh = run_json(["portfolio", folder, "-o", out, "--fresh"], capsys)
    assert fresh["evaluated"] == 6 and strip(fresh) == strip(third)


def test_parallel_equals_serial_and_jobs_are_bounded(folder, tmp_path, capsys):
    _, serial = run_json(["portfolio", folder, "-o", tmp_path / "1.xlsx", "--jobs", "1"], capsys)
    _, parallel = run_json(["portfolio", folder, "-o", tmp_path / "2.xlsx", "--jobs", "100000"], capsys)
    assert serial["jobs"] == 1 and 1 <= parallel["jobs"] <= P.usable_cores()
    for key in ("projects", "failures", "duplicates"):
        assert serial[key] == parallel[key]


def test_output_may_not_be_an_input(folder, capsys):
    code, _, err = run_cli(["portfolio", folder / "a-口岸.xlsx", "-o", folder / "a-口岸.xlsx"], capsys)
    assert code == 2 and "是输入文件之一" in err


def test_workers_die_with_the_parent(tmp_path, example):
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux")
    d = tmp_path / "many"
    d.mkdir()
    first = data.project_variant(example, d / "p000.xlsx", "p0", 0.9)
    for i in range(1, 120):
        data.project_variant(first, d / f"p{i:03d}.xlsx", f"p{i}", 0.9) if i < 3 else \
            shutil.copyfile(d / f"p{i % 3:03d}.xlsx", d / f"p{i:03d}.xlsx")
    proc = subprocess.Popen([sys.executable, "-m", "dtg_xl", "portfolio", str(d), "-o", str(tmp_path / "o.xlsx"),
                             "--jobs", "2", "--fresh"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    deadline = time.time() + 60
    while time.time() < deadline and not workers:
        workers = _children(proc.pid)
        time.sleep(0.02)
    assert workers, "no worker started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_result_use_table_of_a_custom_profile_gives_budget_changes(folder, tmp_path, capsys):
    """A bureau's own 评价方案 (a .toml copy of mof-2020 with cut percentages) drives 结果应用;
    editing it makes the cache stale."""
    from dtg_xl.core.profiles import _profile_dir

    text = (_profile_dir() / "mof-2020.toml").read_text(encoding="utf-8")
    text = text.replace('name = "mof-2020"', 'name = "本市-2021"')
    text = text.replace('action = "责令限期整改，整改结果作为下年度预算安排依据"',
                        'action = "限期整改，核减下年度预算"\nbudget_change = -10')
    text = text.replace('action = "通报批评并限期整改；整改不到位的调减预算直至取消该项支出"',
                        'action = "通报批评，核减下年度预算"\nbudget_change = -30')
    rules = tmp_path / "本市-2021.toml"
    rules.write_text(text, encoding="utf-8")
    out = tmp_path / "汇总.xlsx"
    _, res = run_json(["portfolio", folder, "-o", out, "--profile", rules], capsys)
    worst = res["projects"][-1]
    assert worst["profile"] == "本市-2021" and worst["grade"] == "差"
    assert worst["application"] == {"action": "通报批评，核减下年度预算", "budget_change": -30.0,
                                    "amount": round(worst["budget"] * -0.3, 2)}
    import openpyxl
    use = openpyxl.load_workbook(out)["结果应用"]
    last = [c.value for c in use[len(res["projects"]) + 1]]
    assert last[4:9] == ["差", "通报批评，核减下年度预算", -30, worst["budget"], worst["application"]["amount"]]
    _, again = run_json(["portfolio", folder, "-o", out, "--profile", rules], capsys)
    assert again["reused"] == 5
    rules.write_text(text.replace("budget_change = -30", "budget_change = -50"), encoding="utf-8")
    _, edited = run_json(["portfolio", folder, "-o", out, "--profile", rules], capsys)
    assert edited["reused"] == 0 and edited["projects"][-1]["application"]["budget_change"] == -50


def test_read_only_evaluation_scores_as_the_writing_one_and_writes_nothing(folder):
    """The portfolio evaluates with ``write=False``: the same Result (scores, errors, warnings) as
    the evaluation that writes, on a good project and on one with input problems, and no cell
    queued for writing (the result blocks and 模拟 are skipped, not computed and dropped)."""
    from dtg_xl.results.pipeline import evaluate_book
    from dtg_xl.xlsx.books import FileBook

    for name in ("a-口岸.xlsx", "d-空白.xlsx"):
        writing, reading = FileBook(folder / name), FileBook(folder / name)
        full, read_only = evaluate_book(writing), evaluate_book(reading, write=False)
        assert full.ok == (name == "a-口岸.xlsx")  # one scored, one refused with its problems
        assert writing.writes and not reading.writes
        assert (read_only.total, read_only.grade) == (full.total, full.grade)
        assert [str(p) for p in read_only.errors] == [str(p) for p in full.errors]
        assert [str(p) for p in read_only.warnings] == [str(p) for p in full.warnings]
        if full.ok:
            assert list(read_only.scores) == list(full.scores)
        writing.close(), reading.close()
