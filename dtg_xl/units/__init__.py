"""The units' side: per-unit forms, consolidation of the returned forms, and 因素法 allocation.
May import ``dtg_xl.core`` and ``dtg_xl.xlsx``; never results, delivery or the doors."""
