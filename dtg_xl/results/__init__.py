"""From a scored model to results: the pipeline every door runs, the 汇总 blocks, margin, what-if, compare and
the fingerprint/verify. May import ``dtg_xl.core`` and ``dtg_xl.xlsx``; never delivery or the doors."""
