"""Workbook files, the bottom layer: pre-flight of untrusted files, books (file and live xlwings), the zip patch,
atomic output and cell helpers. Imports nothing else from dtg_xl except ``dtg_xl.errors``."""
