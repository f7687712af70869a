"""Equality check for excel_round's fast path: same result as the exact path and the Decimal oracle.

Run: python bench/check_round.py [N]   (N random values per family, default 200,000)
Families: uniform scores, .xx5-looking ties (n/1000, n/200), values a few ulps either side of
ties, wide magnitudes, negative digits; arrays (numpy fast path) and scalars (pure-Python fast
path) alike.  Exits 1 on the first mismatch.
"""
from __future__ import annotations

import sys
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from dtg_xl.core.excel_round import _exact, excel_round


def oracle(x: float, digits: int) -> float:
    return float(Decimal(format(x, ".15g")).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def families(n: int, rng) -> dict[str, np.ndarray]:
    ties = rng.integers(-10**9, 10**9, n) / 1000
    return {
        "uniform 0..100": rng.uniform(0, 100, n),
        "n/1000 ties": ties,
        "n/200 ties": rng.integers(0, 10**7, n) / 200,
        "ties +-1..4 ulp": np.nextafter(ties, np.where(rng.random(n) < 0.5, -np.inf, np.inf)) * 1.0
        + np.spacing(ties) * rng.integers(-3, 4, n),
        "wide magnitudes": rng.choice([-1, 1], n) * 10.0 ** rng.uniform(-8, 16, n),
        "specials": np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1e-300, 1.005, 0.285,
                              84.445, -2.5, 2.675, 1e11, 99999999999.5, 4.9999999999999e10]),
    }


def main(n: int = 200_000) -> int:
    rng = np.random.default_rng(7)
    for name, xs in families(n, rng).items():
        for digits in (0, 1, 2, 3, 4, 6, -1, -2):
            fast = excel_round(xs, digits)
            exact = _exact(xs, digits)
            same = (fast == exact) | (np.isnan(fast) & np.isnan(exact))
            if not same.all():
                i = int(np.flatnonzero(~same)[0])
                print(f"MISMATCH fast/exact {name} digits={digits} x={xs[i]!r}: {fast[i]!r} != {exact[i]!r}")
                return 1
            sample = xs[np.isfinite(xs)][:5000]
            for x, got in zip(sample.tolist(), excel_round(sample, digits).tolist()):
                one = excel_round(x, digits)  # the scalar path (pure Python when not near a tie)
                if not got == one == oracle(x, digits):
                    print(f"MISMATCH oracle {name} digits={digits} x={x!r}: array {got!r}, scalar {one!r}, "
                          f"oracle {oracle(x, digits)!r}")
                    return 1
            for x, got in zip(xs[:500].tolist(), fast[:500].tolist()):
                one = excel_round(x, digits)
                if not (one == got or (one != one and got != got)):
                    print(f"MISMATCH scalar/array {name} digits={digits} x={x!r}: {one!r} != {got!r}")
                    return 1
        print(f"ok  {name}: {len(xs)} values x 8 digit settings equal to the exact path; "
              f"5,000 (array and scalar) to the oracle")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000))
