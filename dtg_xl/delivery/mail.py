"""The email package: an unsent draft (.eml) carrying the evaluated workbook and the result.

``X-Unsent: 1`` makes Outlook open the file as a draft ready to edit and send (Thunderbird and
Apple Mail open it as a message to forward/edit).  Nothing is sent: the program only writes a
file.  The attachment is the email-safe export of the workbook (``export.export_email_safe``,
which recomputes the results into the copy) or, with ``original=True`` or while that export
is unavailable, the workbook itself.  The body's numbers come from the engine, and the
attachment must show those same results (it is what the recipients open), so a workbook
attached as is but not recalculated since its last edit is refused rather than mailed.
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.delivery import cnfmt
from dtg_xl.xlsx.books import FileBook
from dtg_xl.xlsx.atomic import atomic_write_bytes, safe_filename
from dtg_xl.results.layout import FACT_ROW, adjustments, losses
from dtg_xl.xlsx.cells import cell_ref
from dtg_xl.core.model import read_model
from dtg_xl.core.schema import SHEET_PARAMS, SHEET_SUMMARY

MIME = {
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".xlsm": ("application", "vnd.ms-excel.sheet.macroEnabled.12"),
    ".docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
}
EML_POLICY = policy.default.clone(linesep="\r\n")  # .eml files are CRLF, as mail clients write them
_SPLIT = re.compile(r"[;；,，\s]+")


class MailError(DtgError):
    """The draft cannot be made; the message (Chinese) says why and where."""


@dataclass
class Draft:
    message: EmailMessage
    attachments: dict[str, bytes] = field(default_factory=dict)  # filename -> bytes attached
    notes: list[str] = field(default_factory=list)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _one_line(text: str, where: str, what: str) -> None:
    """A header value must be one line: a line break would end the header (mail header injection)."""
    if _CONTROL.search(text):
        raise MailError(f"{where}：{what}含有换行或控制字符，不能用在邮件头中，请删除后重试")


def _addresses(value, where: str) -> list[str]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    _one_line(str(value).strip(), where, "邮箱地址")
    out = []
    for item in _SPLIT.split(str(value).strip()) if "<" not in str(value) else re.split(r"[;；,，]", str(value)):
        item = item.strip()
        if not item:
            continue
        if not re.search(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", item):
            raise MailError(f"{where}：“{item}”不是有效的邮箱地址")
        out.append(item)
    return out


def _stored_total(book):
    """The 综合得分 the workbook holds on 汇总 (what recipients will see)."""
    if SHEET_SUMMARY not in book.sheet_names():
        return None
    rows = book.sheet_values(SHEET_SUMMARY)
    r = FACT_ROW["综合得分"]
    try:
        value = rows[r - 1][1]
    except IndexError:
        return None
    return value if isinstance(value, (int, float)) else None


def subject(result) -> str:
    from dtg_xl.delivery.report import report_title

    year, project = report_title(result)
    return f"{year}{project}绩效评价结果（{cnfmt.score(result.total)}分，{result.grade}）"


def body(result, attachment_names: list[str]) -> str:
    from dtg_xl.delivery.report import conclusion_sentence, report_title

    year, project = report_title(result)
    lines = ["您好：", "", f"{year}{project}绩效评价已完成。{conclusion_sentence(result)}",
             f"评价方案：{result.model.profile.title}。", "", "一级指标得分："]
    for c in result.categories:
        lines.append(f"  {c.name}：{cnfmt.score(c.score)}分（满分{cnfmt.score(c.points)}分）")
    if result.budget_score is not None:
        lines.append(f"  预算执行：{cnfmt.score(result.budget_score)}分"
                     f"（满分{cnfmt.score(result.model.profile.budget_score_points)}分）")
    lost = losses(result)
    lines += ["", "扣分情况：" if lost else "扣分情况：无，各项指标均得满分。"]
    for i, x in enumerate(lost, start=1):
        reason = x["reason"] or "未填写原因"
        lines.append(f"  {i}. {x['l1']}—{x['l3']}（{cnfmt.score(x['points'])}分）扣{cnfmt.score(x['lost'])}分：{reason}")
    adjusted = adjustments(result)
    if adjusted:  # the evaluator's final scores that replaced a rule's result (raised ones too)
        lines += ["", "评价调整（评定得分替代公式得分）："]
        lines += [f"  {i}. {x['l1']}—{x['l3']}：公式得分{cnfmt.score(x['formula_score'])}分，"
                  f"评定得分{cnfmt.score(x['score'])}分，原因：{x['reason']}" for i, x in enumerate(adjusted, start=1)]
    if result.budget:
        b = result.budget
        lines += ["", f"预算执行：年初预算{cnfmt.amount(b.initial)}，追加预算{cnfmt.amount(b.added)}，"
                      f"调整后预算{cnfmt.amount(b.adjusted)}，实际支出{cnfmt.amount(b.spent)}，"
                      f"预算执行率{cnfmt.percent(b.execution_rate)}。"]
    lines += ["", "附件：" + "、".join(attachment_names), "",
              "（本邮件草稿由 dtg_xl 根据评价工作簿生成，发送前请核对收件人和内容。）"]
    return "\n".join(lines) + "\n"


def _check_current(name: str, data: bytes, result, src: Path) -> None:
    """The attached workbook must show the numbers the mail states (a workbook attached as
    is may not have been recalculated since its last edit)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        book = FileBook(path)
        try:
            stored = _stored_total(book)
        finally:
            book.close()
    if stored is None or abs(float(stored) - result.total) > 1e-9:
        where = f"{SHEET_SUMMARY}!{cell_ref(FACT_ROW['综合得分'], 2)}"
        held = "为空" if stored is None else f"为{cnfmt.score(stored)}"
        raise MailError(f"工作簿中的结果不是最新的（{where}{held}，按当前数据计算为{cnfmt.score(result.total)}），"
                        f"请先计算并保存（dtg-xl evaluate {src.name} --in-place，或在Excel中点击计算）")


def _attachment_of(src: Path, original: bool, notes: list[str]) -> tuple[str, bytes]:
    if not original:
        try:
            from dtg_xl.delivery.export import ExportError, export_email_safe
        except ImportError:
            notes.append("邮件安全导出功能不可用，附件为评价工作簿本身")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                dst = Path(tmp) / f"{src.stem}.xlsx"
                try:
                    export_email_safe(src, dst)
                except ExportError as exc:
                    raise MailError(f"无法生成邮件安全版本：{exc}（可加 --original 附上工作簿本身）") from None
                return dst.name, dst.read_bytes()
    return src.name, src.read_bytes()


def build_draft(src: str | Path, to=None, sender=None, cc=None, report: bool = False,
                original: bool = False, require_finished: bool = False) -> Draft:
    """The draft for an evaluated workbook; to/sender/cc override 参数's 收件人/发件人."""
    src = Path(src)
    if not src.is_file():
        raise MailError(f"找不到文件：{src}")
    book = FileBook(src)  # its BookError is a DtgError: the doors report it as it is
    try:
        model = read_model(book)
        if isinstance(model, list):
            raise MailError("工作簿有问题，无法生成邮件：\n" + "\n".join(f"  {p}" for p in model))
        from dtg_xl.core.engine import evaluate

        result = evaluate(model)
        if result.errors:
            raise MailError("工作簿有问题，无法生成邮件：\n" + "\n".join(f"  {p}" for p in result.errors))
    finally:
        book.close()

    def param_where(name):
        r, c = model.param_cells.get(name, (0, 0))
        return f"{SHEET_PARAMS}!{cell_ref(r, c)}" if r else "选项"

    project = str(model.params.get("project") or "")
    _one_line(project, param_where("project"), "项目名称")
    recipients = _addresses(to, "--to") if to else _addresses(model.params.get("mail_to"), param_where("mail_to"))
    copies = _addresses(cc, "--cc") if cc else []
    senders = _addresses(sender, "--from") if sender else _addresses(model.params.get("mail_from"),
                                                                    param_where("mail_from"))
    notes: list[str] = []
    attachments: dict[str, bytes] = {}
    name, data = _attachment_of(src, original, notes)
    _check_current(name, data, result, src)
    attachments[name] = data
    unfinished = ""
    if report:
        from dtg_xl.delivery.report import report_title, write_report

        year, project = report_title(result)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{safe_filename(year + project, '评价')}绩效评价报告.docx"
            info = write_report(src, path)
            attachments[path.name] = path.read_bytes()
        unfinished = info.unfinished_text()
        if unfinished and require_finished:
            raise MailError(f"评价报告尚未完成：{unfinished}；请在“报告文字”表和指标体系中补齐后重试"
                            "（或去掉 --require-finished）")
        if unfinished:
            notes.append(f"附上的评价报告尚未完成：{unfinished}")

    msg = EmailMessage(policy=EML_POLICY)
    msg["Subject"] = subject(result)
    if senders:
        msg["From"] = senders[0]
    if recipients:
        msg["To"] = ", ".join(recipients)
    else:
        notes.append("未指定收件人（--to 或 参数表“收件人”），请在邮件程序中填写")
    if copies:
        msg["Cc"] = ", ".join(copies)
    msg["X-Unsent"] = "1"  # Outlook: open as an unsent draft
    text = body(result, list(attachments))
    if unfinished:
        text += f"\n（注意：附上的评价报告尚未完成——{unfinished}，发送前请补齐。）\n"
    msg.set_content(text)
    for filename, payload in attachments.items():
        maintype, subtype = MIME.get(Path(filename).suffix.lower(), ("application", "octet-stream"))
        msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return Draft(msg, attachments, notes)


def write_draft(src: str | Path, out: str | Path, **options) -> Draft:
    """Build the draft and write it to out (.eml, atomic)."""
    draft = build_draft(src, **options)
    atomic_write_bytes(out, draft.message.as_bytes(policy=EML_POLICY))
    return draft
