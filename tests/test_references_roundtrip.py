"""Round trip with references: consolidate → evaluate → verify → export → LibreOffice shows the same 满意度 and
预算执行率 the engine computed (tier: the LibreOffice step skips without soffice)."""
from __future__ import annotations

import pytest

import corpus_reliability as C
from dtg_xl.core.schema import BUDGET_FIGURE_CELLS
from dtg_xl.delivery.export import export_email_safe
from dtg_xl.delivery.template import load_example, write_template
from dtg_xl.results import layout
from dtg_xl.units.consolidate import consolidate
from dtg_xl.units.unitforms import write_unit_forms

from helpers import edit_cells, run_cli, run_json
from survey_export import answers, write_export


@pytest.mark.libreoffice
@pytest.mark.skipif(C.SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_consolidate_evaluate_verify_export_libreoffice(tmp_path, capsys):
    data = load_example("dtg-2020")
    next(r for r in data["indicators"] if r["三级指标"] == "进出口企业满意度")["实际值"] = "问卷:合计"
    master = write_template(tmp_path / "master.xlsx", data=data)
    export = tmp_path / "问卷星.xlsx"
    write_export(export, answers(210))
    assert run_cli(["survey-import", export, master], capsys)[0] == 0

    forms = write_unit_forms(master, tmp_path / "forms")
    edit_cells(forms[0], {"单位填报": {"G2": 2200}})  # 青岛海关 reports 200 万元 less 实际支出
    merged = tmp_path / "merged.xlsx"
    assert consolidate(master, forms, merged).ok

    code, out = run_json(["evaluate", merged, "--in-place"], capsys)
    assert code == 0, out["errors"]
    rate = out["budget"]["execution_rate"]
    assert rate == 96.95  # 6348.5 / 6548.5
    ind = {i["l3"]: i for i in out["indicators"]}
    assert ind["预算执行率"]["actual"] == rate and ind["预算执行率"]["score"] == 3.88
    satisfaction = out["survey"]["overall"]
    assert ind["进出口企业满意度"]["actual"] == satisfaction

    code, v = run_json(["verify", merged], capsys)
    assert code == 0 and v["ok"], v

    mail = export_email_safe(merged, tmp_path / "mail.xlsx")
    shown = C.lo_sheets_csv(mail, tmp_path / "csv", C.lo_profile(tmp_path))
    summary = shown["汇总"]
    cell = BUDGET_FIGURE_CELLS["execution_rate"]
    assert C.csv_number(summary[int(cell[1:]) - 1][ord(cell[0]) - 65]) == pytest.approx(rate / 100)
    overall_row = layout.SURVEY.first_row + len(out["survey"]["questions"])  # the 合计 line
    assert summary[overall_row - 1][0].startswith("合计（问卷210份")
    assert float(summary[overall_row - 1][10]) == satisfaction
    sources = {r[1]: r for r in summary[layout.SOURCES.first_row - 1:layout.SOURCES.last_row] if r and r[1]}
    assert float(sources["指标体系!J9"][3]) == rate and float(sources["指标体系!J25"][3]) == satisfaction
    indicators = shown["指标体系"]
    score_col = indicators[0].index("得分")
    assert float(indicators[8][score_col]) == 3.88  # row 9: 预算执行率
    assert summary[layout.FACT_ROW["综合得分"] - 1][1] == f"{out['total']:g}"
