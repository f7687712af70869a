"""The email draft (.eml): parsed back with Python's email package."""
from __future__ import annotations

import io
import zipfile
from email import message_from_bytes, policy

import openpyxl
import pytest
from docx import Document
from helpers import edit_cells, engine_result, run_cli

from dtg_xl.delivery import cnfmt
from dtg_xl.results.layout import losses
from dtg_xl.delivery.mail import MailError, build_draft, write_draft

SUBJECT = "2020年度口岸大通关补助资金绩效评价结果（96.65分，优）"


@pytest.fixture
def evaluated(example_copy, capsys):
    code, _, _ = run_cli(["evaluate", example_copy, "--in-place"], capsys)
    assert code == 0
    return example_copy


def parse(path):
    return message_from_bytes(path.read_bytes(), policy=policy.default)


def test_draft_with_the_workbook_itself(evaluated, tmp_path):
    out = tmp_path / "草稿.eml"
    write_draft(evaluated, out, to="张三 <zhangsan@example.cn>; li@example.cn", sender="评价组 <pj@example.cn>",
                original=True)
    msg = parse(out)
    assert msg["X-Unsent"] == "1"
    assert msg["Subject"] == SUBJECT
    assert [a.addr_spec for a in msg["To"].addresses] == ["zhangsan@example.cn", "li@example.cn"]
    assert msg["To"].addresses[0].display_name == "张三"
    assert msg["From"].addresses[0].addr_spec == "pj@example.cn"
    parts = list(msg.iter_attachments())
    assert [p.get_filename() for p in parts] == [evaluated.name]
    assert parts[0].get_content() == evaluated.read_bytes()  # byte-equal to the workbook it came from
    assert parts[0].get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_body_carries_the_engines_numbers(evaluated, tmp_path):
    out = tmp_path / "d.eml"
    write_draft(evaluated, out, original=True)
    result = engine_result(evaluated)
    body = parse(out).get_body(("plain",)).get_content()
    assert "经综合评价，该项目综合得分96.65分，等次：优。" in body
    for c in result.categories:
        assert f"{c.name}：{cnfmt.score(c.score)}分（满分{cnfmt.score(c.points)}分）" in body
    lost = losses(result)
    assert len(lost) == 4
    for i, x in enumerate(lost, start=1):
        assert f"{i}. {x['l1']}—{x['l3']}（{cnfmt.score(x['points'])}分）扣{cnfmt.score(x['lost'])}分：{x['reason']}" in body
    assert "预算执行率100.00%" in body and "调整后预算6548.5万元" in body
    assert f"附件：{evaluated.name}" in body


def test_chinese_is_properly_encoded(evaluated, tmp_path):
    out = tmp_path / "d.eml"
    write_draft(evaluated, out, to="张三 <zs@example.cn>", original=True, report=True)
    raw = out.read_bytes()
    raw.decode("ascii")  # every header and body line is 7-bit: RFC 2047 words, base64 bodies
    assert b"\r\n" in raw
    assert b"filename*=utf-8''" in raw or b"filename*0*=utf-8''" in raw  # RFC 2231
    msg = parse(out)
    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names == [evaluated.name, "2020年度口岸大通关补助资金绩效评价报告.docx"]
    assert msg.get_body(("plain",))["Content-Type"].params["charset"] == "utf-8"


def test_report_attachment_is_the_report(evaluated, tmp_path):
    out = tmp_path / "d.eml"
    draft = write_draft(evaluated, out, original=True, report=True)
    part = list(parse(out).iter_attachments())[1]
    data = part.get_content()
    assert data == draft.attachments[part.get_filename()]
    doc = Document(io.BytesIO(data))
    assert "经综合评价，该项目综合得分96.65分，等次：优。" in [p.text for p in doc.paragraphs]


def param_cell(path, label: str) -> str:
    ws = openpyxl.load_workbook(path)["参数"]
    row = next(c.row for c in ws["A"] if c.value == label)
    return f"B{row}"


def test_recipients_from_the_params_sheet(evaluated, tmp_path):
    to, sender = param_cell(evaluated, "收件人"), param_cell(evaluated, "发件人")
    edit_cells(evaluated, {"参数": {to: "a@example.cn；b@example.cn", sender: "pj@example.cn"}})
    draft = build_draft(evaluated, original=True)
    assert [a.addr_spec for a in draft.message["To"].addresses] == ["a@example.cn", "b@example.cn"]
    assert draft.message["From"].addresses[0].addr_spec == "pj@example.cn"
    # an option wins over the cell
    draft = build_draft(evaluated, to="c@example.cn", original=True)
    assert [a.addr_spec for a in draft.message["To"].addresses] == ["c@example.cn"]


def test_bad_address_names_its_cell(evaluated):
    cell = param_cell(evaluated, "收件人")
    edit_cells(evaluated, {"参数": {cell: "不是邮箱"}})
    with pytest.raises(MailError) as exc:
        build_draft(evaluated, original=True)
    assert f"参数!{cell}" in str(exc.value) and "不是邮箱" in str(exc.value)


def test_no_recipient_is_a_note_not_an_error(evaluated):
    draft = build_draft(evaluated, original=True)
    assert draft.message["To"] is None
    assert any("未指定收件人" in n for n in draft.notes)


def test_unevaluated_or_stale_workbook_is_refused(example_path, evaluated, tmp_path):
    out = tmp_path / "d.eml"
    with pytest.raises(MailError) as exc:  # the example as generated: 汇总 still empty
        write_draft(example_path, out, original=True)
    assert "汇总!B7" in str(exc.value) and "96.65" in str(exc.value)
    edit_cells(evaluated, {"指标体系": {"N4": 1.75}})  # more deduction after evaluating
    with pytest.raises(MailError) as exc:
        write_draft(evaluated, out, original=True)
    assert "不是最新的" in str(exc.value) and "95.65" in str(exc.value)
    assert not out.exists()


def test_email_safe_export_is_attached(example_path, tmp_path):
    from dtg_xl.delivery.export import ExportError, export_email_safe

    try:
        export_email_safe(example_path, tmp_path / "probe.xlsx")
    except ExportError as exc:
        pytest.skip(f"email-safe export not available yet: {exc}")
    # the export recomputes, so even a workbook never evaluated mails the right numbers
    out = tmp_path / "d.eml"
    write_draft(example_path, out)
    msg = parse(out)
    part = list(msg.iter_attachments())[0]
    assert part.get_filename() == example_path.name
    data = part.get_content()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert not any("vbaProject" in n for n in names)
    (tmp_path / "att.xlsx").write_bytes(data)
    wb = openpyxl.load_workbook(tmp_path / "att.xlsx")
    assert wb["汇总"]["B7"].value == 96.65
    assert "96.65分" in msg["Subject"]


def test_cli_mail(evaluated, tmp_path, capsys):
    out = tmp_path / "草稿.eml"
    code, stdout, _ = run_cli(["mail", evaluated, "-o", out, "--to", "zs@example.cn", "--original"], capsys)
    assert code == 0
    assert "未发送" in stdout and SUBJECT in stdout
    assert parse(out)["X-Unsent"] == "1"
    code, _, err = run_cli(["mail", evaluated, "-o", out, "--to", "bad"], capsys)
    assert code == 2 and "不是有效的邮箱地址" in err


def test_content_type_headers_stay_plain(evaluated, tmp_path):
    """Long MIME types must not be folded into encoded words (a client would not recognise them)."""
    out = tmp_path / "d.eml"
    write_draft(evaluated, out, original=True, report=True)
    raw = out.read_bytes().decode("ascii")
    assert "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in raw
    assert "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document" in raw
    assert "=?utf-8?q?vnd" not in raw
