"""dtg_xl — 项目支出绩效评价 from an Excel workbook: one engine, several doors (CLI, Excel, files)."""
__version__ = "0.1.0"


def main():
    """The 绩效评价 add-in's button (``dtg_xl.xlam``: ``RunPython "import dtg_xl; dtg_xl.main()"``)."""
    from dtg_xl.doors.addin import main as addin_main

    addin_main()
