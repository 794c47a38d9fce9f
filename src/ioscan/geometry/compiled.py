"""Compiled (numba) kernels of the geometry's per-pixel loops: the same numbers as their numpy versions.

Each kernel repeats its numpy version's floating-point operations in the same order on each element
(additions, multiplications, divisions, square roots, minima and maxima: exactly rounded, so equal bit for
bit; numba compiles without ``fastmath``, so nothing is reassociated or fused), but in one pass over the
pixels instead of a dozen whole-array passes with their temporaries. The numpy versions stay beside them
(:func:`ioscan.geometry.ellipsoid.limb_distance_grid_numpy`, :func:`ioscan.geometry.limbfit.
_line_opening_numpy`) as the references the tests compare them with.

numba is imported by the first caller (not by ``import ioscan``); ``cache=True`` keeps the machine code on
disk (``__pycache__`` beside this file, or numba's cache folder when that is not writable), so a fresh
process loads it instead of compiling (``benchmarks/bench_scan.py``: ``worker_start_cpu_s``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def limb_distance_rows(
    a_l, row_s, col_l, b_s, c_l, d_s, s, hss, hll, two_hsl
):  # pragma: no cover - compiled
    """Signed limb distance (px) of every pixel (len(a_l) lines × len(s) samples) from the separable terms
    :func:`ioscan.geometry.ellipsoid.limb_distance_grid` makes: f = a_l[i]·s[j] + row_s[j] + col_l[i], the
    gradient (a_l[i] + b_s[j], c_l[i] + d_s[j]); the curvature constants hss, hll and 2·hsl."""
    nl, ns = a_l.shape[0], s.shape[0]
    out = np.empty((nl, ns))
    for i in range(nl):
        ai, ci, cli = a_l[i], col_l[i], c_l[i]
        for j in range(ns):
            f = ai * s[j]
            f += row_s[j]
            f += ci
            gs = ai + b_s[j]
            gl = cli + d_s[j]
            g2 = gs * gs
            gl2 = gl * gl
            hg2 = hss * g2
            hg2 += hll * gl2
            g2 += gl2
            gs *= gl
            gs *= two_hsl
            hg2 += gs
            hg2 *= f
            hg2 /= g2
            hg2 *= -2.0
            hg2 += g2
            ok = hg2 >= 0.0
            if hg2 < 0.0:  # np.maximum(x, 0): a NaN stays NaN
                hg2 = 0.0
            hg2 = np.sqrt(hg2)
            g = np.sqrt(g2)
            hg2 += g
            f *= 2.0
            out[i, j] = f / hg2 if ok else 0.5 * f / g
    return out
