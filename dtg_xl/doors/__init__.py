"""The doors: the ``dtg-xl`` CLI, the Excel button (excel_door), the UDFs, xlwings Lite and the workbook build.
Thin: each calls the layers below and adds no scoring of its own."""
