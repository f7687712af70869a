"""dtg_xl — 项目支出绩效评价 from an Excel workbook: one engine, several doors (CLI, Excel, files)."""
__version__ = "0.1.0"
