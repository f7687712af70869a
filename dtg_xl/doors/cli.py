"""`dtg-xl`: the headless door. Each verb is a few lines over a library function.

Exit codes: 0 done, 2 the input has problems (each named with sheet!cell), 1 an unexpected
internal error (reported in one line; DTG_DEBUG=1 shows the traceback).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from dtg_xl.doors.cliparse import ChineseParser
from dtg_xl.errors import DtgError
from dtg_xl.xlsx.atomic import refuse_input_as_output

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2


class UserError(DtgError):
    """A problem with the command line itself (a missing file, a clashing output path)."""


def _existing(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"找不到文件：{path}")
    return path


def _print_json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=float))


def default_output(path: Path) -> Path:
    return path.with_name(f"{path.stem}-评价结果{path.suffix}")


# ---------------------------------------------------------------- verbs
def cmd_new(args) -> int:
    from dtg_xl.delivery.template import write_template

    path = Path(args.path)
    if path.exists() and not args.force:
        raise UserError(f"文件已存在：{path}（覆盖请加 --force）")
    write_template(path, profile=args.profile, example=args.example)
    print(f"已生成：{path}")
    return EXIT_OK


def _collect_rarely() -> None:
    """For a verb that reads one workbook and exits: it allocates millions of small objects (cells,
    XML elements) and makes few reference cycles, and collecting every 700 allocations cost a
    quarter of a large evaluate (bench/).  Not for the verbs that loop over many files (portfolio,
    consolidate): their garbage would pile up between rare collections (measured: 150 MB instead
    of 42 MB over 300 projects)."""
    import gc

    gc.set_threshold(100_000, 20, 20)


def cmd_evaluate(args) -> int:
    _collect_rarely()
    from dtg_xl.xlsx.books import FileBook
    from dtg_xl.results.pipeline import evaluate_book, result_json

    src = _existing(args.input)
    out = src if args.in_place else Path(args.output) if args.output else default_output(src)
    if not args.in_place:
        refuse_input_as_output(out, [src], hint="要改写输入文件请使用 --in-place")
    book = FileBook(src)
    try:
        result = evaluate_book(book, profile=args.profile)
    finally:
        book.close()
    images = None  # made before any write, so a missing font fails with nothing written
    if args.charts or _has_charts(src):  # charts once asked for are kept current
        images = _chart_images(result) if result.ok else []  # no scores, no charts
    if book.writes and images is not None:
        from dtg_xl.core.schema import SHEET_SUMMARY
        from dtg_xl.delivery.images import save_with_images

        save_with_images(book, out, images, SHEET_SUMMARY)
    elif book.writes:
        book.save(out)
    if args.json:
        _print_json(result_json(result) | {"output": str(out)})
    else:
        _print_summary(result, out)
    return EXIT_OK if result.ok else EXIT_INPUT


def _has_charts(path: Path) -> bool:
    from dtg_xl.delivery.images import has_our_images

    return has_our_images(path)


def _chart_images(result):
    from dtg_xl.delivery.images import chart_images

    return chart_images(result)


def cmd_report(args) -> int:
    from dtg_xl.delivery.report import write_report

    src = _existing(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}-评价报告.docx")
    refuse_input_as_output(out, [src])
    info = write_report(src, out, charts=not args.no_charts)
    print(f"已生成报告：{out}（综合得分 {info.result.total:g} 分，等次：{info.result.grade}）")
    for w in info.warnings:
        print(f"提示：{w}")
    if info.placeholders:
        print(f"待填写（“报告文字”表）：{'、'.join(info.placeholders)}")
    if info.unfinished_text():
        print(f"提示：报告尚未完成：{info.unfinished_text()}")
    return EXIT_OK


def cmd_mail(args) -> int:
    from dtg_xl.delivery.mail import write_draft

    src = _existing(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}-邮件草稿.eml")
    refuse_input_as_output(out, [src])
    draft = write_draft(src, out, to=args.to, sender=args.sender, cc=args.cc,
                        report=args.report, original=args.original, require_finished=args.require_finished)
    msg = draft.message
    print(f"已生成邮件草稿（未发送）：{out}")
    print(f"  主题：{msg['Subject']}")
    print(f"  收件人：{msg['To'] or '（未填写）'}")
    print(f"  附件：{'、'.join(draft.attachments)}")
    for note in draft.notes:
        print(f"提示：{note}")
    return EXIT_OK


def _print_summary(result, out: Path) -> None:
    if not result.ok:
        print(f"发现{len(result.errors)}个问题，未计算得分：", file=sys.stderr)
        for p in result.errors:
            print(f"  {p}", file=sys.stderr)
        print(f"问题清单已写入：{out}（汇总表）", file=sys.stderr)
        return
    print(f"综合得分 {result.total:g} 分，等次：{result.grade}（评价方案 {result.model.profile.name}）")
    from dtg_xl.results.margin import result_margin

    m = result_margin(result)
    print(f"  {m.down_text}；{m.up_text}")
    if m.grade_above:
        print("  单独挽回即可改变等次的失分：" + ("" if m.decisive else "无"))
        for d in m.decisive:
            print(f"    {d.l3}：失{d.lost:g}分，挽回后{d.total_if:g}分（{d.grade_if}）")
    for c in result.categories:
        print(f"  {c.name} {c.score:g} / {c.points:g}")
    if result.budget:
        b = result.budget
        print(f"预算 {b.initial:g} + {b.added:g} = {b.adjusted:g} 万元，实际到位 {b.in_place:g}，"
              f"实际支出 {b.spent:g}，执行率 {b.execution_rate:g}%")
    if result.budget_score is not None:
        print(f"  预算执行 {result.budget_score:g} / {result.model.profile.budget_score_points:g}")
    from dtg_xl.results.layout import adjustments

    for x in adjustments(result):  # evaluator adjustments: the rule's score and the final one
        print(f"评价调整：{x['l3']} 公式得分{x['formula_score']:g} → 评定得分{x['score']:g}"
              f"（{x['difference']:+g}），原因：{x['reason']}")
    for p in result.warnings:
        print(f"提示：{p}")
    print(f"结果已写入：{out}")


def cmd_profiles(args) -> int:
    from dtg_xl.core.profiles import available_profiles, load_profile

    for name in available_profiles():
        p = load_profile(name)
        bands = " / ".join(f"{g}≥{lo:g}" for g, lo in p.grades)
        print(f"{name}\t{p.title}\t{bands}\t{p.policy.describe()}")
    return EXIT_OK


def cmd_whatif(args) -> int:
    _collect_rarely()
    from dtg_xl.xlsx.books import FileBook
    from dtg_xl.results.whatif import WhatIfError, format_whatif, run_whatif, whatif_json

    src = _existing(args.input)
    book = FileBook(src)  # read only: nothing is written or saved
    try:
        w = run_whatif(book, args.set or [], profile=args.profile)
    except WhatIfError as exc:
        raise UserError("模拟输入有问题：\n  " + "\n  ".join(exc.problems)) from None
    finally:
        book.close()
    if args.json:
        _print_json(whatif_json(w))
    else:
        print("\n".join(format_whatif(w)))
    return EXIT_OK if w.ok else EXIT_INPUT


def cmd_unit_forms(args) -> int:
    from dtg_xl.units.unitforms import write_unit_forms

    src = _existing(args.master)
    paths = write_unit_forms(src, Path(args.output), force=args.force)
    for path in paths:
        print(f"已生成：{path}")
    print(f"共{len(paths)}个单位填报表")
    return EXIT_OK


def cmd_consolidate(args) -> int:
    from dtg_xl.units.consolidate import consolidate, format_report, report_json

    src = _existing(args.master)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}-汇集{src.suffix}")
    refuse_input_as_output(out, [src, *args.forms], hint="主表和填报表不会被改写，请用 -o 指定另一个文件")
    report = consolidate(src, [Path(f) for f in args.forms], out, jobs=args.jobs)
    if args.json:
        _print_json(report_json(report))
    else:
        print("\n".join(format_report(report)), file=sys.stdout if report.ok else sys.stderr)
    return EXIT_OK if report.ok else EXIT_INPUT


def cmd_allocate(args) -> int:
    from dtg_xl.units.allocate import allocation_blocks, allocation_json, format_allocation, read_allocation
    from dtg_xl.xlsx.books import FileBook
    from dtg_xl.core.schema import SHEET_ALLOCATION

    src = _existing(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}-分配建议{src.suffix}")
    refuse_input_as_output(out, [src])
    book = FileBook(src)
    try:
        alloc = read_allocation(book, profile=args.profile)
        writable = SHEET_ALLOCATION in book.sheet_names()
        for sheet, row, col, values in allocation_blocks(alloc) if writable else []:
            book.write(sheet, row, col, values)
    finally:
        book.close()
    if writable:
        book.save(out)
    if args.json:
        _print_json(allocation_json(alloc) | {"output": str(out) if writable else None})
    else:
        for line in format_allocation(alloc):
            print(line, file=sys.stdout if alloc.ok else sys.stderr)
        print(f"结果已写入：{out}（{SHEET_ALLOCATION}表）" if writable
              else f"工作簿中没有“{SHEET_ALLOCATION}”工作表，未写文件（用 dtg-xl new 生成的新版模板含此表）")
    return EXIT_OK if alloc.ok else EXIT_INPUT


def cmd_build_workbook(args) -> int:
    from dtg_xl.doors.workbook_build import build_workbook

    out = build_workbook(args.output, example=None if args.blank else "dtg-2020")
    shown = out if args.output is not None or not out.is_relative_to(Path.cwd()) else out.relative_to(Path.cwd())
    print(f"已生成：{shown}（宏工作簿）和 {shown.with_suffix('.py')}（按钮调用的 Python 模块）")
    from dtg_xl.doors.addin_build import NAME, build_addin

    build_addin(out.parent / f"{NAME}.xlam")
    print(f"已生成：{shown.parent / f'{NAME}.xlam'}（“绩效评价”加载项）")
    return EXIT_OK


def cmd_bundle_windows(args) -> int:
    from dtg_xl.doors.bundle import PYTHONS, bundle_windows

    out = bundle_windows(args.out_dir)
    print(f"已生成 Windows 离线安装文件夹：{out}（wheelhouse 含 Python {' 和 '.join(PYTHONS)} 的 win_amd64 wheel）")
    print("  复制整个文件夹到 Windows 电脑，关闭 Excel，双击“安装.cmd”；说明见“安装说明.txt”")
    return EXIT_OK


def cmd_export(args) -> int:
    _collect_rarely()
    from dtg_xl.delivery.export import export_email_safe

    src = _existing(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}-邮寄副本.xlsx")
    refuse_input_as_output(out, [src])
    removed: list[str] = []
    export_email_safe(src, out, removed=removed)
    print(f"已导出（无宏、公式已转为数值、结果表已保护）：{out}")
    for item in removed:
        print(f"  已删除：{item}")
    return EXIT_OK


def cmd_verify(args) -> int:
    _collect_rarely()
    from dtg_xl.results.verify import verify_file

    src = _existing(args.input)
    verdict = verify_file(src)
    if args.json:
        _print_json(verdict.as_dict())
    else:
        print("核验通过：显示的结果与输入一致" if verdict.ok else "核验未通过：显示的结果与输入不一致")
        for line in verdict.lines:
            print(f"  {line}")
        for d in verdict.differences[:50]:
            print(f"    {d}")
        if len(verdict.differences) > 50:
            print(f"    ……另有 {len(verdict.differences) - 50} 处")
    return EXIT_OK if verdict.ok else EXIT_INPUT


def cmd_compare(args) -> int:
    from dtg_xl.xlsx.books import FileBook
    from dtg_xl.results.compare import SHEET_COMPARE, compare_blocks, compare_books, default_output, format_compare
    from dtg_xl.results.pipeline import evaluate_book

    paths = [_existing(args.last), _existing(args.this)]
    out = Path(args.output) if args.output else default_output(paths[1])
    refuse_input_as_output(out, paths)
    last, this = FileBook(paths[0]), FileBook(paths[1])
    try:
        data = compare_books(last, this, paths[0].name, paths[1].name, profile=args.profile,
                             paths=tuple(paths))
        has_sheet = SHEET_COMPARE in this.sheet_names()
        if args.output and not has_sheet:
            raise UserError(f"“{paths[1].name}”中没有“{SHEET_COMPARE}”工作表（dtg-xl new 生成的新模板才有），"
                            "无法写入同比表；可去掉 -o 只看结果")
        if has_sheet:
            evaluate_book(this, profile=args.profile)  # the copy also carries this year's results
            for sheet, row, col, values in compare_blocks(data):
                this.write(sheet, row, col, values)
            this.save(out)
    finally:
        last.close()
        this.close()
    if args.json:
        _print_json(data | {"output": str(out) if has_sheet else None})
    else:
        print("\n".join(format_compare(data)))
        print(f"同比表已写入：{out}（“{SHEET_COMPARE}”工作表）" if has_sheet else
              f"“{paths[1].name}”中没有“{SHEET_COMPARE}”工作表，未写入文件")
    return EXIT_OK


def cmd_survey_import(args) -> int:
    from dtg_xl.core.survey import import_export

    export, into = _existing(args.export), _existing(args.into)
    if export.resolve() == into.resolve():
        raise UserError("问卷导出文件与评价工作簿是同一个文件")
    report = import_export(export, into, args.output, basis=args.basis)
    print("\n".join(report.lines()))
    return EXIT_OK


def cmd_portfolio(args) -> int:
    from dtg_xl.delivery.portfolio_book import write_portfolio_book
    from dtg_xl.results.portfolio import cache_path, format_lines, portfolio_json, run_portfolio

    out = Path(args.output)
    if out.suffix.lower() != ".xlsx":
        raise UserError(f"输出文件应为 .xlsx：{out}")
    refuse_input_as_output(out, [Path(i) for i in args.inputs if Path(i).is_file()])
    pf = run_portfolio(args.inputs, cache_path(out), jobs=args.jobs, profile=args.profile,
                       resume=not args.fresh, exclude=(out,))
    write_portfolio_book(pf, out)
    pf.output = str(out)
    if args.json:
        _print_json(portfolio_json(pf))
    else:
        for line in format_lines(pf):
            print(line, file=sys.stderr if line.startswith(("未能评价", "重复")) else sys.stdout)
        print(f"汇总已写入：{out}")
    return EXIT_OK if pf.ok else EXIT_INPUT


# ---------------------------------------------------------------- wiring
# Each command's arguments are added only when that command runs (or for the full help): building
# all sixteen subparsers costs about 10 ms of every run, mostly argparse's own gettext look-ups.
def _args_new(p: ChineseParser) -> None:
    p.add_argument("path", help="输出文件（.xlsx）")
    p.add_argument("--profile", help="评价方案，如 qingdao-2020、mof-2020")
    p.add_argument("--example", help="填入示例数据，如 dtg-2020")
    p.add_argument("--force", action="store_true", help="覆盖已存在的文件")
    p.set_defaults(func=cmd_new)


def _args_evaluate(p: ChineseParser) -> None:
    p.add_argument("input", help="评价工作簿（.xlsx/.xlsm）")
    p.add_argument("-o", "--output", help="输出文件（默认：输入文件名-评价结果）")
    p.add_argument("--in-place", action="store_true", help="直接写回输入文件")
    p.add_argument("--json", action="store_true", help="在标准输出打印JSON结果")
    p.add_argument("--profile", help="覆盖工作簿中的评价方案")
    p.add_argument("--charts", action="store_true", help="同时在“汇总”表右侧插入图表")
    p.set_defaults(func=cmd_evaluate)


def _args_report(p: ChineseParser) -> None:
    p.add_argument("input", help="评价工作簿（.xlsx/.xlsm）")
    p.add_argument("-o", "--output", help="输出文件（默认：输入文件名-评价报告.docx）")
    p.add_argument("--no-charts", action="store_true", help="报告中不插入图表")
    p.set_defaults(func=cmd_report)


def _args_mail(p: ChineseParser) -> None:
    p.add_argument("input", help="已计算的评价工作簿（.xlsx/.xlsm）")
    p.add_argument("-o", "--output", help="输出的邮件草稿（.eml，默认：输入文件名-邮件草稿.eml）")
    p.add_argument("--to", help="收件人，多个用分号分隔（默认取“参数”表的收件人）")
    p.add_argument("--cc", help="抄送，多个用分号分隔")
    p.add_argument("--from", dest="sender", help="发件人（默认取“参数”表的发件人）")
    p.add_argument("--report", action="store_true", help="同时附上评价报告（.docx）")
    p.add_argument("--original", action="store_true", help="附上工作簿本身，而不是邮件安全版本")
    p.add_argument("--require-finished", action="store_true",
                   help="报告仍有【待填写】或偏差提示时拒绝生成（与 --report 一起用）")
    p.set_defaults(func=cmd_mail)


def _args_whatif(p: ChineseParser) -> None:
    p.add_argument("input", help="评价工作簿（.xlsx/.xlsm）")
    p.add_argument("--set", action="append", metavar="工作表!单元格=值",
                   help="模拟值，可重复，如 --set 指标体系!J12=95")
    p.add_argument("--json", action="store_true", help="在标准输出打印JSON结果")
    p.add_argument("--profile", help="覆盖工作簿中的评价方案")
    p.set_defaults(func=cmd_whatif)


def _args_unit_forms(p: ChineseParser) -> None:
    p.add_argument("master", help="主表（评价工作簿）")
    p.add_argument("-o", "--output", required=True, help="输出文件夹")
    p.add_argument("--force", action="store_true", help="覆盖文件夹中已有的同名填报表")
    p.set_defaults(func=cmd_unit_forms)


def _args_consolidate(p: ChineseParser) -> None:
    p.add_argument("master", help="主表（评价工作簿）")
    p.add_argument("forms", nargs="+", help="交回的单位填报表")
    p.add_argument("-o", "--output", help="输出文件（默认：主表文件名-汇集）")
    p.add_argument("--jobs", type=int, default=0, help="并行读取的进程数（默认按文件数自动；最多为 CPU 数和文件数）")
    p.add_argument("--json", action="store_true", help="在标准输出打印JSON结果")
    p.set_defaults(func=cmd_consolidate)


def _args_allocate(p: ChineseParser) -> None:
    p.add_argument("input", help="评价工作簿（含分配参数表）")
    p.add_argument("-o", "--output", help="输出文件（默认：输入文件名-分配建议）")
    p.add_argument("--json", action="store_true", help="在标准输出打印JSON结果")
    p.add_argument("--profile", help="覆盖工作簿中的评价方案（决定上年等次）")
    p.set_defaults(func=cmd_allocate)


def _args_compare(p: ChineseParser) -> None:
    p.add_argument("last", help="上年评价工作簿")
    p.add_argument("this", help="本年评价工作簿")
    p.add_argument("-o", "--output", help="输出文件（默认：本年文件名-同比），本年文件的副本，含“同比”表")
    p.add_argument("--json", action="store_true", help="在标准输出打印JSON结果")
    p.add_argument("--profile", help="覆盖工作簿中的评价方案")
    p.set_defaults(func=cmd_compare)


def _args_survey_import(p: ChineseParser) -> None:
    p.add_argument("export", help="问卷星导出的 Excel 文件（第1行为题目，每行一份答卷）")
    p.add_argument("into", help="评价工作簿（.xlsx/.xlsm）；默认直接写回此文件")
    p.add_argument("-o", "--output", help="另存为此文件（默认写回评价工作簿）")
    p.add_argument("--basis", help="本次汇报所用满意度口径（默认取工作簿参数“满意度口径”或评价方案）")
    p.set_defaults(func=cmd_survey_import)


def _args_export(p: ChineseParser) -> None:
    p.add_argument("input", help="评价工作簿（.xlsx/.xlsm）")
    p.add_argument("-o", "--output", help="输出文件（.xlsx，默认：输入文件名-邮寄副本.xlsx）")
    p.set_defaults(func=cmd_export)


def _args_verify(p: ChineseParser) -> None:
    p.add_argument("input", help="计算过的评价工作簿或导出的副本")
    p.add_argument("--json", action="store_true", help="在标准输出打印JSON结果")
    p.set_defaults(func=cmd_verify)


def _args_portfolio(p: ChineseParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="文件夹或文件", help="项目评价工作簿或其所在文件夹（含子文件夹）")
    p.add_argument("-o", "--output", required=True, help="输出的汇总工作簿（.xlsx）")
    p.add_argument("--jobs", type=int, default=0, help="并行进程数（默认按可用处理器核数，不超过核数）")
    p.add_argument("--profile", help="覆盖各工作簿中的评价方案")
    p.add_argument("--fresh", action="store_true", help="全部重新计算（不沿用上次未改动文件的结果）")
    p.add_argument("--json", action="store_true", help="在标准输出打印JSON结果")
    p.set_defaults(func=cmd_portfolio)


def _args_profiles(p: ChineseParser) -> None:
    p.set_defaults(func=cmd_profiles)


def _args_build_workbook(p: ChineseParser) -> None:
    p.add_argument("-o", "--output", default=None,
                   help="输出文件（.xlsm，默认为项目源代码中的 workbook/dtg.xlsm，在任何文件夹运行都一样）")
    p.add_argument("--blank", action="store_true", help="不填入2020年示例数据")
    p.set_defaults(func=cmd_build_workbook)


def _args_bundle_windows(p: ChineseParser) -> None:
    p.add_argument("out_dir", metavar="OUT_DIR", help="输出文件夹（不存在或为空）")
    p.set_defaults(func=cmd_bundle_windows)


COMMANDS = [  # name, add_parser options (shown in the command list), the function adding its arguments
    ("new", dict(help="生成评价工作簿模板"), _args_new),
    ("evaluate", dict(help="校验、计分并写回结果"), _args_evaluate),
    ("report", dict(help="生成评价报告（Word .docx）"), _args_report),
    ("mail", dict(help="生成邮件草稿（.eml，不发送）：附评价工作簿和结果摘要"), _args_mail),
    ("whatif", dict(help="模拟：改变若干输入后重新计分（不修改文件）"), _args_whatif),
    ("unit-forms", dict(help="为各单位生成填报表（只可编辑本单位一行）"), _args_unit_forms),
    ("consolidate", dict(help="汇集各单位交回的填报表到主表"), _args_consolidate),
    ("allocate", dict(help="因素法测算下年度资金分配建议"), _args_allocate),
    ("compare", dict(help="同比：对比上年与本年的评价工作簿"), _args_compare),
    ("survey-import", dict(help="把问卷星（按选项文本）导出的答卷导入工作簿的“问卷”表"), _args_survey_import),
    ("export", dict(help="导出可邮寄的副本：无宏、公式转为数值、结果表保护"), _args_export),
    ("verify", dict(help="核验：按输入重新计算，检查显示的结果是否被改动"), _args_verify),
    ("portfolio", dict(help="批量评价：文件夹中的全部项目工作簿汇总为一张表（含结果应用）"), _args_portfolio),
    ("profiles", dict(help="列出评价方案"), _args_profiles),
    ("build-workbook", dict(help="生成带按钮和 xlwings 宏的 Excel 工作簿（dtg.xlsm）和“绩效评价”加载项（dtg_xl.xlam）"),
     _args_build_workbook),
    ("bundle-windows", dict(help="生成 Windows 离线安装文件夹（wheelhouse、安装.cmd、加载项、dtg.xlsm）",
                            description="生成可用U盘复制、无需联网和管理员权限即可在 Windows 上安装的文件夹。"
                                        "构建时需要联网（从 PyPI 解析并下载 win_amd64 的 wheel）。"), _args_bundle_windows),
]


def build_parser(only: str | None = None) -> ChineseParser:
    """The CLI's parser: every command, or (``only``) just the one a run names."""
    parser = ChineseParser(prog="dtg-xl", description="项目支出绩效评价工作簿工具")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")
    for name, options, add_arguments in COMMANDS:
        if only is None or name == only:
            add_arguments(sub.add_parser(name, **options))
    return parser


def os_error_message(exc: OSError) -> str:
    """A locked, read-only or missing path, said plainly (the strerror text is English)."""
    import errno

    name = exc.filename2 or exc.filename or ""
    reasons = {errno.EACCES: "没有写入权限：文件可能正在 Excel/WPS 中打开，或文件/文件夹是只读的",
               errno.EPERM: "没有权限：文件可能正在 Excel/WPS 中打开，或文件/文件夹是只读的",
               errno.EROFS: "所在磁盘是只读的", errno.ENOSPC: "磁盘空间不足，未写入任何内容",
               errno.EFBIG: "文件超出允许的大小（或磁盘空间不足），未写入任何内容", errno.EDQUOT: "磁盘配额已满，未写入任何内容",
               errno.ENOENT: "文件或文件夹不存在", errno.EISDIR: "这是一个文件夹，不是文件",
               errno.ENOTDIR: "路径中的某一级不是文件夹", errno.EBUSY: "文件正被其他程序占用"}
    reason = reasons.get(exc.errno, f"无法读写文件（{exc.strerror or exc}）")
    return f"{reason}：{name}" if name else reason


def _terminate(signum, frame):  # a plain `kill`: unwind, so temp files are removed
    raise SystemExit(128 + signum)


def _stdout_closed() -> int:
    """`dtg-xl verify x | head -1`: the reader has gone; not an error, and nothing more to say."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the guard: a reader that has gone is seen here, not at exit
        return code
    except BrokenPipeError:
        return _stdout_closed()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = {name for name, _, _ in COMMANDS}
    args = build_parser(argv[0] if argv and argv[0] in names else None).parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        raise
    except DtgError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # locked or read-only output, full disk …
        print(f"错误：{os_error_message(exc)}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, for users
        if os.environ.get("DTG_DEBUG"):
            raise
        print(f"内部错误（请将此信息反馈给开发者）：{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


def run() -> None:
    """The console script (and ``python -m dtg_xl``): ``main()``, then exit without interpreter
    teardown (freeing every module and object takes ~20 ms and does nothing for the user: every
    output is complete, renamed and closed when ``main`` returns; streams are flushed here)."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # reader gone, or a stream already closed
        pass
    os._exit(code)


if __name__ == "__main__":
    run()
