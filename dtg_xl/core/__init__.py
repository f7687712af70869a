"""The scoring core: Excel rounding, rules, profiles, the workbook schema, the model read from a book and the
engine. Knows nothing of Excel or delivery; may import only ``dtg_xl.xlsx`` (to read cells) and ``dtg_xl.errors``."""
