"""BESSELI, BESSELJ, BESSELK and BESSELY as Excel computes them.

Excel's values are those of the classic polynomial and rational approximations of
Abramowitz & Stegun (9.4.1-9.4.6, 9.8.1-9.8.8) and Hart, with Miller's downward recurrence
for I and J of orders above the argument (40 as the accuracy constant) and upward
recurrence for K and Y, as tabulated in Press et al., *Numerical Recipes* (2nd ed., 1992),
section 6.5-6.6: they agree with Excel's cached values in ``tests/data/excel/`` to the last
bit, where scipy's exact values differ from them in the 8th digit (the approximations are
accurate to about 1e-8). Orders above :data:`MAX_ORDER` take scipy's value instead of a
recurrence that long (Excel's there is 0 or beyond a double to about that accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from formulas.functions import Error

MAX_ORDER = 1000
"""Orders up to this are computed by the recurrences; above it, by scipy."""
_ACC, _BIG, _SMALL = 40.0, 1e10, 1e-10
_TWO_OVER_PI = 0.636619772


def _poly(y: float, coefs: tuple[float, ...]) -> float:
    out = 0.0
    for c in reversed(coefs):
        out = out * y + c
    return out


def i0(x: float) -> float:
    ax = abs(x)
    if ax < 3.75:
        return _poly((x / 3.75) ** 2, (1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732,
                                       0.0360768, 0.0045813))
    y = 3.75 / ax
    return math.exp(ax) / math.sqrt(ax) * _poly(y, (
        0.39894228, 0.01328592, 0.00225319, -0.00157565, 0.00916281, -0.02057706,
        0.02635537, -0.01647633, 0.00392377))


def i1(x: float) -> float:
    ax = abs(x)
    if ax < 3.75:
        ans = ax * _poly((x / 3.75) ** 2, (0.5, 0.87890594, 0.51498869, 0.15084934,
                                           0.02658733, 0.00301532, 0.00032411))
    else:
        y = 3.75 / ax
        tail = _poly(y, (0.02282967, -0.02895312, 0.01787654, -0.00420059))
        ans = 0.39894228 + y * (-0.03988024 + y * (-0.00362018 + y * (
            0.00163801 + y * (-0.01031555 + y * tail))))
        ans *= math.exp(ax) / math.sqrt(ax)
    return -ans if x < 0 else ans


_P0 = (1.0, -0.1098628627e-2, 0.2734510407e-4, -0.2073370639e-5, 0.2093887211e-6)
_Q0 = (-0.1562499995e-1, 0.1430488765e-3, -0.6911147651e-5, 0.7621095161e-6, -0.934935152e-7)
_Q0_Y = (*_Q0[:4], -0.934945152e-7)  # Y0's table has ...945... where J0's has ...935...
_P1 = (1.0, 0.183105e-2, -0.3516396496e-4, 0.2457520174e-5, -0.240337019e-6)
_Q1 = (0.04687499995, -0.2002690873e-3, 0.8449199096e-5, -0.88228987e-6, 0.105787412e-6)


def _hankel(ax: float, shift: float, p: tuple[float, ...], q: tuple[float, ...],
            sine: bool) -> float:
    """The asymptotic form for arguments of 8 and more: sqrt(2/(pi x)) (P cos - z Q sin) for
    J, (P sin + z Q cos) for Y."""
    z = 8.0 / ax
    y = z * z
    xx = ax - shift
    a, b = _poly(y, p), _poly(y, q)
    if sine:
        return math.sqrt(_TWO_OVER_PI / ax) * (math.sin(xx) * a + z * math.cos(xx) * b)
    return math.sqrt(_TWO_OVER_PI / ax) * (math.cos(xx) * a - z * math.sin(xx) * b)


def j0(x: float) -> float:
    ax = abs(x)
    if ax < 8.0:
        y = x * x
        return _poly(y, (57568490574.0, -13362590354.0, 651619640.7, -11214424.18,
                         77392.33017, -184.9052456)) / _poly(y, (
            57568490411.0, 1029532985.0, 9494680.718, 59272.64853, 267.8532712, 1.0))
    return _hankel(ax, 0.785398164, _P0, _Q0, sine=False)


def j1(x: float) -> float:
    ax = abs(x)
    if ax < 8.0:
        y = x * x
        return x * _poly(y, (72362614232.0, -7895059235.0, 242396853.1, -2972611.439,
                             15704.48260, -30.16036606)) / _poly(y, (
            144725228442.0, 2300535178.0, 18583304.74, 99447.43394, 376.9991397, 1.0))
    ans = _hankel(ax, 2.356194491, _P1, _Q1, sine=False)
    return -ans if x < 0 else ans


def y0(x: float) -> float:
    if x < 8.0:
        y = x * x
        return _poly(y, (-2957821389.0, 7062834065.0, -512359803.6, 10879881.29,
                         -86327.92757, 228.4622733)) / _poly(y, (
            40076544269.0, 745249964.8, 7189466.438, 47447.26470, 226.1030244, 1.0)) + \
            _TWO_OVER_PI * j0(x) * math.log(x)
    return _hankel(x, 0.785398164, _P0, _Q0_Y, sine=True)


def y1(x: float) -> float:
    if x < 8.0:
        y = x * x
        return x * _poly(y, (-0.4900604943e13, 0.1275274390e13, -0.5153438139e11,
                             0.7349264551e9, -0.4237922726e7, 0.8511937935e4)) / _poly(y, (
            0.2499580570e14, 0.4244419664e12, 0.3733650367e10, 0.2245904002e8,
            0.1020426050e6, 0.3549632885e3, 1.0)) + \
            _TWO_OVER_PI * (j1(x) * math.log(x) - 1.0 / x)
    return _hankel(x, 2.356194491, _P1, _Q1, sine=True)


def k0(x: float) -> float:
    if x <= 2.0:
        return -math.log(x / 2.0) * i0(x) + _poly(x * x / 4.0, (
            -0.57721566, 0.42278420, 0.23069756, 0.03488590, 0.00262698, 0.00010750, 0.0000074))
    return math.exp(-x) / math.sqrt(x) * _poly(2.0 / x, (
        1.25331414, -0.07832358, 0.02189568, -0.01062446, 0.00587872, -0.00251540, 0.00053208))


def k1(x: float) -> float:
    if x <= 2.0:
        return math.log(x / 2.0) * i1(x) + (1.0 / x) * _poly(x * x / 4.0, (
            1.0, 0.15443144, -0.67278579, -0.18156897, -0.01919402, -0.00110404, -0.00004686))
    return math.exp(-x) / math.sqrt(x) * _poly(2.0 / x, (
        1.25331414, 0.23498619, -0.03655620, 0.01504268, -0.00780353, 0.00325614, -0.00068245))


def bessel_i(n: int, x: float) -> float:
    if n == 0:
        return i0(x)
    if n == 1:
        return i1(x)
    if x == 0:
        return 0.0
    tox, bip, ans, bi = 2.0 / abs(x), 0.0, 0.0, 1.0
    for j in range(2 * (n + int(math.sqrt(_ACC * n))), 0, -1):  # Miller's recurrence
        bip, bi = bi, bip + j * tox * bi
        if abs(bi) > _BIG:
            ans, bi, bip = ans * _SMALL, bi * _SMALL, bip * _SMALL
        if j == n:
            ans = bip
    ans *= i0(x) / bi
    return -ans if x < 0 and n % 2 else ans


def bessel_j(n: int, x: float) -> float:
    if n == 0:
        return j0(x)
    if n == 1:
        return j1(x)
    ax = abs(x)
    if ax == 0:
        return 0.0
    tox = 2.0 / ax
    if ax > n:  # upward recurrence
        bjm, bj = j0(ax), j1(ax)
        for j in range(1, n):
            bjm, bj = bj, j * tox * bj - bjm
        ans = bj
    else:  # Miller's recurrence, normalised by J0 + 2 (J2 + J4 + ...) = 1
        odd, bjp, ans, total, bj = False, 0.0, 0.0, 0.0, 1.0
        for j in range(2 * ((n + int(math.sqrt(_ACC * n))) // 2), 0, -1):
            bjp, bj = bj, j * tox * bj - bjp
            if abs(bj) > _BIG:
                bj, bjp, ans, total = bj * _SMALL, bjp * _SMALL, ans * _SMALL, total * _SMALL
            if odd:
                total += bj
            odd = not odd
            if j == n:
                ans = bjp
        ans /= 2.0 * total - bj
    return -ans if x < 0 and n % 2 else ans


def bessel_k(n: int, x: float) -> float:
    bkm, bk = k0(x), k1(x)
    if n == 0:
        return bkm
    for j in range(1, n):
        bkm, bk = bk, bkm + j * (2.0 / x) * bk
    return bk


def bessel_y(n: int, x: float) -> float:
    bym, by = y0(x), y1(x)
    if n == 0:
        return bym
    for j in range(1, n):
        bym, by = by, j * (2.0 / x) * by - bym
    return by


def _excel(kind: str, ours: Callable[[int, float], float], positive: bool) -> Callable[..., Any]:
    """The worksheet function: ``formulas``' reading of the arguments (errors, text, the
    order truncated), #NUM! for a negative order (and for K and Y an argument <= 0) or a
    result beyond a double."""
    from formulas.functions.eng import _parse_x_n

    def func(x: Any, n: Any) -> Any:
        x, n = _parse_x_n(x, n)
        if n < 0 or (positive and x <= 0):
            return Error.errors["#NUM!"]
        try:
            if n > MAX_ORDER:
                import scipy.special

                res = float(getattr(scipy.special, kind + "v")(n, x))
            else:
                res = ours(n, x)
        except (OverflowError, ZeroDivisionError, ValueError):
            return Error.errors["#NUM!"]
        return res if math.isfinite(res) else Error.errors["#NUM!"]

    func.__name__ = f"bessel{kind}"
    return func


BESSELI = _excel("i", bessel_i, positive=False)
BESSELJ = _excel("j", bessel_j, positive=False)
BESSELK = _excel("k", bessel_k, positive=True)
BESSELY = _excel("y", bessel_y, positive=True)
