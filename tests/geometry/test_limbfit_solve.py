"""The limb fit's small least-squares solver (``geometry/limbsolve.py``): the minimum scipy's
``least_squares`` finds, and the truth it was made from, on a circle fit with outliers (a limb arc in
miniature: 2 offsets and a log scale, pixels)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

from ioscan.geometry import limbsolve

TRUE = np.array([3.7, -12.2, 0.02])  # centre offset (sample, line) px, log radius scale
RADIUS_PX = 60.0
NOISE_PX = 0.2


def _arc(seed: int, outliers: int = 8):
    rng = np.random.default_rng(seed)
    phi = np.linspace(-0.9, 1.1, 150)  # a 115° arc, as a limb cut by the frame
    r = RADIUS_PX * np.exp(TRUE[2]) + rng.normal(0, NOISE_PX, phi.size)
    r[rng.choice(phi.size, outliers, replace=False)] += rng.uniform(2, 6, outliers)  # hot spots, streaks
    pts = TRUE[:2] + r[:, None] * np.column_stack([np.cos(phi), np.sin(phi)])

    def fun(q):
        return np.hypot(*(pts - q[:2]).T) - RADIUS_PX * np.exp(q[2])

    return fun


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_soft_l1_minimum_is_scipys_and_near_truth(seed):
    fun = _arc(seed)
    x0 = np.array([0.0, -8.0, 0.0])  # a coarse step's start, 5 px off
    ours = limbsolve.solve(fun, x0, f_scale=0.5)
    theirs = least_squares(fun, x0, loss="soft_l1", f_scale=0.5, method="trf", xtol=1e-12, ftol=1e-12).x
    assert np.allclose(ours, theirs, rtol=0, atol=1e-5)
    # truth: 150 points of 0.2 px noise on a 115° arc constrain the centre to ~0.1 px (1σ); 8 outliers of
    # 2–6 px barely move a soft-L1 fit
    assert np.all(np.abs(ours[:2] - TRUE[:2]) < 0.5)


def test_plain_least_squares_is_lm():
    fun = _arc(3, outliers=0)
    x0 = np.array([1.0, -10.0, 0.0])
    ours = limbsolve.solve(fun, x0)
    theirs = least_squares(fun, x0, method="lm", xtol=1e-12, ftol=1e-12).x
    assert np.allclose(ours, theirs, rtol=0, atol=1e-6)


def test_non_finite_residuals_fall_back_to_scipy():
    calls = []

    def fun(q):
        calls.append(q)
        r = np.array([q[0] - 1.0, q[1] + 2.0, 0.1 * q[0]])
        return r if len(calls) > 1 else r * np.nan  # the first evaluation is lost

    x = limbsolve.solve(fun, np.zeros(2))
    assert np.all(np.isfinite(x))
