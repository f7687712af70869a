"""Excel's ROUND, vectorised.

Python's ``round`` and numpy's ``round`` round half to even on the binary value, so
``round(1.005, 2) == 1.0`` while Excel shows 1.01.  Excel rounds half away from zero on the
value as it displays it (15 significant digits).  We reproduce that exactly with integer
arithmetic in float64 (every integer below 2**53 is exact), so one call rounds a scalar or a
million-element array without a Python loop.  No library offers this vectorised, hence by hand.
"""
from __future__ import annotations

import math

import numpy as np

_SIG = 15  # Excel keeps 15 significant decimal digits
# fast path: 10**digits exact, y = |x| * 10**digits below 1e11 (so the tolerance stays < 0.5),
# tolerance 1e-12 relative: 100x the worst gap between x, its 15-digit decimal and y
_FAST_DIGITS = 15
_FAST_MAX = 1e11
_FAST_TOL = 1e-12


def excel_round(x, digits: int = 2):
    """ROUND(x, digits) as Excel computes it. Scalars in, float out; arrays in, arrays out."""
    if isinstance(x, (float, int)) and abs(digits) <= _FAST_DIGITS:
        quick = _fast_scalar(float(x), digits)
        return quick if quick is not None else float(_exact(np.asarray(float(x)), digits))
    arr = np.asarray(x, dtype=float)
    if abs(digits) > _FAST_DIGITS:
        out = _exact(arr, digits)
    else:
        out = _fast(arr.reshape(-1), digits).reshape(arr.shape)
    return float(out) if out.ndim == 0 else out


def _fast(flat, digits):
    """Round y = |x| * 10**digits half up directly; only elements near a .5 boundary go exact.

    The 15-digit decimal D of |x| differs from |x| by at most 0.5e-14 relative and y carries
    one rounding (2**-53 relative), so when y is more than 1e-12 * y away from the nearest
    half-integer, D * 10**digits rounds to the same integer as y.  That is nearly every value,
    and it costs a few array passes instead of the ~40 of the exact path.
    """
    scale = 10.0 ** abs(digits)
    mag = np.abs(flat)
    y = mag * scale if digits >= 0 else mag / scale
    base = np.floor(y)
    with np.errstate(invalid="ignore"):  # inf - inf; such elements go the exact way
        frac = y - base
        easy = (np.abs(frac - 0.5) > y * _FAST_TOL) & (y < _FAST_MAX)  # False for NaN/inf too
    q = base + (frac > 0.5)
    rounded = q / scale if digits >= 0 else q * scale
    out = np.sign(flat) * rounded + 0.0  # + 0.0 turns -0.0 into 0.0
    hard = ~easy
    if hard.any():
        out[hard] = _exact(flat[hard], digits)
    return out


def _fast_scalar(x: float, digits: int) -> float | None:
    """``_fast`` for one Python float, without numpy's per-call overhead (a =DTG_SCORE cell
    rounds one value; numpy on a 0-d array costs ~10x more).  None when the exact path is needed."""
    scale = 10.0 ** abs(digits)
    y = abs(x) * scale if digits >= 0 else abs(x) / scale
    if not y < _FAST_MAX:  # also NaN and inf
        return None
    base = float(math.floor(y))
    frac = y - base
    if not abs(frac - 0.5) > y * _FAST_TOL:
        return None
    q = base + (frac > 0.5)
    rounded = q / scale if digits >= 0 else q * scale
    return math.copysign(rounded, x) + 0.0  # + 0.0 turns -0.0 into 0.0


def _exact(arr, digits):
    """The exact path: 15-digit integer mantissa (ties decided by TwoProduct), then half up."""
    sign = np.sign(arr)
    mag = np.abs(arr)
    # values below half a unit of the last digit kept round to 0; excluding them keeps 10**e finite
    finite = np.isfinite(mag) & (mag >= 0.5 * 10.0 ** -(digits + 1))
    safe = np.where(finite, mag, 1.0)
    # decimal exponent, corrected where log10 lands one off near a power of ten
    exp = np.floor(np.log10(safe))
    mant = _rint_scaled(safe, (_SIG - 1) - exp)  # 15-digit integer mantissa
    too_big = mant >= 10.0**_SIG
    exp = np.where(too_big, exp + 1, exp)
    mant = np.where(too_big, np.rint(mant / 10.0), mant)
    # drop `drop` trailing digits of the mantissa, half away from zero, exactly
    drop = (_SIG - 1) - exp - digits
    p = _pow10(np.clip(drop, 0, None))
    q = np.floor_divide(mant, p)
    q = q + (np.mod(mant, p) * 2 >= p) * (drop > 0)
    # q counts units of 10**-digits when drop > 0; else the 15-digit value is already exact enough
    rounded = np.where(drop > 0, _div_pow10(q, digits), _div_pow10(mant, (_SIG - 1) - exp))
    return np.where(finite, sign * rounded + 0.0, np.where(np.isfinite(arr), 0.0, arr))  # + 0.0 turns -0.0 into 0.0


def _rint_scaled(v, e):
    """Nearest integer to v * 10**e, decided on the exact product, not the rounded one.

    v * 10**e is rounded to a double first; when that lands exactly on .5 the true product
    may lie just below or above it.  Dekker's TwoProduct gives the rounding error exactly,
    and its sign settles the tie (a true tie goes to even, as Python's '%.15g' does).
    """
    e = np.asarray(e, dtype=float)
    scale = _pow10(np.abs(e))
    up = e >= 0
    prod = np.where(up, v * scale, v / scale)
    err = np.where(up, _product_error(v, scale, prod), 0.0)
    base = np.floor(prod)
    tie = (prod - base) == 0.5
    return np.where(tie & (err != 0), base + (err > 0), np.rint(prod))


def _product_error(a, b, p):
    """Exact a*b - p for p = fl(a*b) (Dekker's TwoProduct, Veltkamp splitting)."""
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    return ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _split(a):
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _pow10(e):
    return np.power(10.0, e)


def _div_pow10(v, e):
    """v / 10**e, dividing by an exact power of ten (correctly rounded) for either sign of e."""
    e = np.asarray(e, dtype=float)
    return np.where(e >= 0, v / _pow10(np.abs(e)), v * _pow10(np.abs(e)))


def excel_rounddown(x, digits: int = 2):
    """ROUNDDOWN(x, digits) as Excel computes it: toward zero, on the 15-digit decimal value.

    Built on ``excel_round`` so it shares its decimal view: 8.62 (stored as 8.6199999…) stays
    8.62, 2.675 gives 2.67 and −1.239 gives −1.23.  ROUND rounds away from zero, so where it
    went beyond the value (compared at ``digits + 9`` places, far below any score's precision
    and far above float noise) one unit of the last place is taken back.
    """
    arr = np.asarray(x, dtype=float)
    q = np.asarray(excel_round(arr, digits), dtype=float)
    fine = np.asarray(excel_round(arr, digits + 9), dtype=float)
    with np.errstate(invalid="ignore"):
        over = np.abs(q) > np.abs(fine)
    unit = 10.0 ** -digits
    out = np.where(over, q - np.sign(arr) * unit, q)
    out = np.asarray(excel_round(out, digits), dtype=float) + 0.0
    return float(out) if out.ndim == 0 else out
