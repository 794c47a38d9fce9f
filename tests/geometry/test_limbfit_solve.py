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


@pytest.mark.parametrize(
    ("seed", "f_scale", "prior"), [(0, 0.5, (None, None)), (1, 0.5, (3.0, None)), (2, None, (3.0, None))]
)
def test_compiled_shift_solver_is_the_python_one(seed, f_scale, prior):
    """``limb_kernels.solve_shift`` (the scan's offset-only fits) takes ``limbsolve.solve``'s steps: the same
    offsets, to the rounding that may flip a step's halving at the 1e-3 px tolerance."""
    from ioscan.geometry import limb_kernels, limbfit

    rng = np.random.default_rng(seed)
    model = limbfit._circle_model((200.0, 60.0), 45.0)
    model.k_matrix = None
    phi = np.linspace(-0.6, 1.4, 120)
    true = np.array([1.7, -4.2])
    edges = (
        (200.0, 60.0)
        + true
        + (45.0 + rng.normal(0, 0.2, phi.size))[:, None] * np.column_stack([np.cos(phi), np.sin(phi)])
    )
    edges[rng.choice(phi.size, 6, replace=False)] += 3.0  # outliers
    weights = rng.uniform(0.5, 3.0, phi.size)
    s_eff = 0.4
    x0 = np.array([0.0, -2.0])

    def fun(q):
        conic = limbfit._moved_conic(model, q[0], q[1], 0.0, 0.0)
        rows = [s_eff * q[k] / sig for k, sig in enumerate(prior) if sig is not None]
        return np.concatenate([weights * limbfit._conic_signed_distance(conic, edges), rows])

    ours = limbfit._solve(model, edges, weights, x0, f_scale, True, prior, s_eff)
    python = limbsolve.solve(fun, x0, f_scale=f_scale, step_tol=limbfit.LSQ_STEP_TOL_PX)
    assert ours is not None
    assert np.allclose(ours, python, rtol=0, atol=1e-5)
    assert np.all(np.abs(ours - true) < 0.5)  # 6 outliers of 3 px pull a plain fit by ~0.35 px
    # no convergence (a single step allowed): the Python solver is asked to take over
    args = limbfit._readonly(model.conic, edges[:, 0], edges[:, 1], weights, np.zeros(2), x0)
    _, ok = limb_kernels.solve_shift(*args, 0.0, 1e-12, 1e-12, limbsolve.FD_STEP, 1)
    assert not ok
