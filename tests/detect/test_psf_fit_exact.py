"""The PSF estimate's batched elliptical-Gaussian fit
(:func:`ioscan.detect.psf_estimate.fit_elliptical_gaussians`) equals, bit for bit, its first version (every
stamp's Jacobian made again at every step, the normal equations at every step), written out below: stamps
of sources of many widths, S/N and offsets, with masked pixels and a stamp that cannot be fitted."""

from __future__ import annotations

import numpy as np

from ioscan.detect.psf_estimate import MIN_SNR, SIGMA_RANGE_PX, _g1, fit_elliptical_gaussians


def _reference(stamps: np.ndarray, weights: np.ndarray, n_iter: int = 20) -> np.ndarray:
    """fit_elliptical_gaussians as first written."""
    n, m, _ = stamps.shape
    c = (m - 1) / 2.0
    u = np.arange(m, dtype=float)[None, :]
    yy, xx = np.mgrid[0:m, 0:m].astype(float)
    ok = weights > 0
    peak = np.max(np.where(ok, stamps, -np.inf), axis=(1, 2))
    base = np.array([np.median(s[o]) if o.any() else 0.0 for s, o in zip(stamps, ok, strict=True)])
    p = np.column_stack(
        [np.maximum(peak - base, 1e-30) * 2 * np.pi * 0.64, np.full(n, c), np.full(n, c), np.full(n, 0.8),
         np.full(n, 0.8), base, np.zeros(n), np.zeros(n)]
    )  # fmt: skip
    lo = np.array([0.0, c - 1.5, c - 1.5, 0.15, 0.15, -np.inf, -np.inf, -np.inf])
    hi = np.array([np.inf, c + 1.5, c + 1.5, 4.0, 4.0, np.inf, np.inf, np.inf])
    lam = np.full(n, 1e-3)

    def evaluate(q):
        gx, dxc, dxs = _g1(u, q[:, 1:2], q[:, 3:4])
        gy, dyc, dys = _g1(u, q[:, 2:3], q[:, 4:5])
        a = q[:, 0, None, None]
        core = gy[:, :, None] * gx[:, None, :]
        model = (
            a * core + q[:, 5, None, None] + q[:, 6, None, None] * (xx - c) + q[:, 7, None, None] * (yy - c)
        )
        jac = np.stack(
            [core, a * gy[:, :, None] * dxc[:, None, :], a * dyc[:, :, None] * gx[:, None, :],
             a * gy[:, :, None] * dxs[:, None, :], a * dys[:, :, None] * gx[:, None, :],
             np.ones_like(core), np.broadcast_to(xx - c, core.shape), np.broadcast_to(yy - c, core.shape)],
            axis=-1,
        )  # fmt: skip
        return model, jac

    model, jac = evaluate(p)
    chi2 = np.sum(weights * (stamps - model) ** 2, axis=(1, 2))
    for _ in range(n_iter):
        r = stamps - model
        h = np.einsum("nabi,nab,nabj->nij", jac, weights, jac)
        g = np.einsum("nabi,nab,nab->ni", jac, weights, r)
        damp = (
            h
            + lam[:, None, None]
            * np.eye(8)[None]
            * np.maximum(np.diagonal(h, axis1=1, axis2=2), 1e-300)[:, :, None]
        )
        try:
            step = np.linalg.solve(damp, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        q = np.clip(p + step, lo, hi)
        m2, j2 = evaluate(q)
        c2 = np.sum(weights * (stamps - m2) ** 2, axis=(1, 2))
        better = c2 < chi2
        p = np.where(better[:, None], q, p)
        model = np.where(better[:, None, None], m2, model)
        jac = np.where(better[:, None, None, None], j2, jac)
        chi2 = np.where(better, c2, chi2)
        lam = np.where(better, lam / 3.0, lam * 10.0)
    h = np.einsum("nabi,nab,nabj->nij", jac, weights, jac)
    out = np.full((n, 3), np.nan)
    dof = np.maximum(ok.sum(axis=(1, 2)) - 8, 1)
    for k in range(n):
        try:
            cov = np.linalg.inv(h[k]) * max(chi2[k] / dof[k], 1.0)
        except np.linalg.LinAlgError:
            continue
        if cov[0, 0] > 0:
            out[k] = (p[k, 3], p[k, 4], p[k, 0] / np.sqrt(cov[0, 0]))
    return out


def _stamps(rng, n, m=11):
    """n stamps (m × m) of a pixel-integrated elliptical source on a sloped background, with noise."""
    stamps, weights = [], []
    o = np.arange(m, dtype=float)
    for _ in range(n):
        sl, ss = rng.uniform(0.4, 2.0, 2)
        cl, cs = (m - 1) / 2 + rng.uniform(-0.7, 0.7, 2)
        gy, _, _ = _g1(o[None, :], np.array([[cl]]), np.array([[sl]]))
        gx, _, _ = _g1(o[None, :], np.array([[cs]]), np.array([[ss]]))
        flux = rng.uniform(50.0, 5000.0)
        sig = rng.uniform(1.0, 5.0)
        img = flux * gy[0][:, None] * gx[0][None, :] + rng.uniform(-5, 5) + rng.uniform(-1, 1) * o[None, :]
        img = img + rng.normal(0.0, sig, img.shape)
        w = np.full(img.shape, 1.0 / sig**2)
        w[rng.random(img.shape) < 0.05] = 0.0
        stamps.append(img)
        weights.append(w)
    return np.array(stamps), np.array(weights)


def test_fit_equals_first_version_bit_for_bit():
    rng = np.random.default_rng(21)
    for n in (1, 2, 6, 6, 6):
        stamps, weights = _stamps(rng, n)
        if n == 2:
            stamps[1] = rng.normal(0.0, 1.0, stamps[1].shape)  # nothing to fit
        for n_iter in (20, 5):
            got = fit_elliptical_gaussians(stamps, weights, n_iter=n_iter, step_tol_sigma=0.0)
            want = _reference(stamps, weights, n_iter=n_iter)
            assert np.array_equal(got, want, equal_nan=True)


def _used(fits: np.ndarray) -> np.ndarray:
    """The rows :func:`ioscan.detect.psf_estimate.estimate_psf` takes: S/N ≥ MIN_SNR, widths in range."""
    with np.errstate(invalid="ignore"):
        w_ok = (fits[:, :2] >= SIGMA_RANGE_PX[0]) & (fits[:, :2] <= SIGMA_RANGE_PX[1])
        return (fits[:, 2] >= MIN_SNR) & w_ok.all(axis=1)


def test_early_stop_within_a_hundredth_of_the_errors():
    """Stopped once the steps are below 1e-3 σ (the default): the same stamps used (S/N ≥ 15, widths in
    range), each width within 1 % of its error (σ_w ≈ w / S/N) of the fixed 20 steps' and of a fit run to
    60 steps, the S/N within 0.01; a stamp that cannot be fitted stays NaN."""
    rng = np.random.default_rng(3)
    for rep in range(30):
        stamps, weights = _stamps(rng, 6)
        if rep == 0:
            stamps[1] = rng.normal(0.0, 1.0, stamps[1].shape)
        got = fit_elliptical_gaussians(stamps, weights)
        for n_iter in (20, 60):
            want = fit_elliptical_gaussians(stamps, weights, n_iter=n_iter, step_tol_sigma=0.0)
            assert np.array_equal(np.isnan(got), np.isnan(want))
            fin = _used(
                want
            )  # what estimate_psf takes; the rest (a fit at its bounds) is not used either way
            assert np.array_equal(_used(got), fin)
            tol = 0.01 * want[fin, :2] / want[fin, 2:3]
            assert np.all(np.abs(got[fin, :2] - want[fin, :2]) <= tol)
            assert np.all(np.abs(got[fin, 2] - want[fin, 2]) <= 0.01)


def test_early_stop_changes_values_when_unsettled():
    """A tolerance so loose that the first step settles: the widths are then the first step's, not the
    converged ones (the test can fail)."""
    rng = np.random.default_rng(5)
    stamps, weights = _stamps(rng, 6)
    loose = fit_elliptical_gaussians(stamps, weights, step_tol_sigma=1e9)
    full = fit_elliptical_gaussians(stamps, weights, step_tol_sigma=0.0)
    assert not np.allclose(loose, full)


def _numpy_loop(stamps: np.ndarray, weights: np.ndarray, n_iter: int = 20, tol: float = 1e-3) -> np.ndarray:
    """fit_elliptical_gaussians with its iteration in numpy (the version before the damped system, the
    clipped step, the settled test, the profiles and the updates were compiled), early stop included."""
    from ioscan.detect.fit_kernels import elliptical_model, normal_equations, weighted_misfit
    from ioscan.detect.psf_estimate import SETTLED_MAX_LAMBDA, _settled, _stamp_medians

    n, m, _ = stamps.shape
    c = (m - 1) / 2.0
    u = np.arange(m, dtype=float)[None, :]
    yy, xx = np.mgrid[0:m, 0:m].astype(float)
    ok = weights > 0
    peak = np.max(np.where(ok, stamps, -np.inf), axis=(1, 2))
    base = _stamp_medians(stamps, ok)
    p = np.column_stack(
        [np.maximum(peak - base, 1e-30) * 2 * np.pi * 0.64, np.full(n, c), np.full(n, c), np.full(n, 0.8),
         np.full(n, 0.8), base, np.zeros(n), np.zeros(n)]
    )  # fmt: skip
    lo = np.array([0.0, c - 1.5, c - 1.5, 0.15, 0.15, -np.inf, -np.inf, -np.inf])
    hi = np.array([np.inf, c + 1.5, c + 1.5, 4.0, 4.0, np.inf, np.inf, np.inf])
    lam = np.full(n, 1e-3)
    xc, yc = xx - c, yy - c
    eye = np.eye(8)[None]

    def evaluate(q):
        g, dc, ds = _g1(u[:, None], q[:, 1:3, None], q[:, 3:5, None])
        return elliptical_model(q, g, dc, ds, xc, yc)

    model, jac = evaluate(p)
    chi2 = weighted_misfit(weights, stamps, model)
    h, g = np.empty((n, 8, 8)), np.empty((n, 8))
    stale = np.ones(n, bool)
    for _ in range(n_iter):
        if stale.any():
            normal_equations(jac, weights, stamps, model, np.flatnonzero(stale), h, g)
            stale[:] = False
        damp = h + lam[:, None, None] * eye * np.maximum(np.diagonal(h, axis1=1, axis2=2), 1e-300)[:, :, None]
        try:
            step = np.linalg.solve(damp, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        q = np.clip(p + step, lo, hi)
        if tol > 0 and _settled(q - p, h, lam, tol):
            break
        m2, j2 = evaluate(q)
        c2 = weighted_misfit(weights, stamps, m2)
        better = c2 < chi2
        p = np.where(better[:, None], q, p)
        model = np.where(better[:, None, None], m2, model)
        jac = np.where(better[:, None, None, None], j2, jac)
        chi2 = np.where(better, c2, chi2)
        lam = np.where(better, lam / 3.0, lam * 10.0)
        stale = better.copy()
    assert SETTLED_MAX_LAMBDA == 0.1
    if stale.any():
        normal_equations(jac, weights, stamps, model, np.flatnonzero(stale), h, g)
    out = np.full((n, 3), np.nan)
    dof = np.maximum(ok.sum(axis=(1, 2)) - 8, 1)
    for k in range(n):
        try:
            cov = np.linalg.inv(h[k]) * max(chi2[k] / dof[k], 1.0)
        except np.linalg.LinAlgError:
            continue
        if cov[0, 0] > 0:
            out[k] = (p[k, 3], p[k, 4], p[k, 0] / np.sqrt(cov[0, 0]))
    return out


def test_compiled_iteration_equals_the_numpy_loop():
    """The compiled iteration (damped system, clipped step, settled test, profiles, updates) against the
    numpy loop it replaced, bit for bit, early stop on and off, stamps that cannot be fitted."""
    rng = np.random.default_rng(31)
    for rep in range(12):
        stamps, weights = _stamps(rng, int(rng.integers(1, 7)))
        if rep % 4 == 0:
            stamps[0] = rng.normal(0.0, 1.0, stamps[0].shape)
        for tol, n_iter in ((1e-3, 20), (0.0, 20), (1e-3, 4), (1e9, 20)):
            got = fit_elliptical_gaussians(stamps, weights, n_iter=n_iter, step_tol_sigma=tol)
            assert np.array_equal(got, _numpy_loop(stamps, weights, n_iter, tol), equal_nan=True), rep


def test_iteration_kernels_equal_numpy():
    """The compiled pieces against numpy's operations: ties with the bounds, ±0, NaN, infinite bounds."""
    from ioscan.detect.fit_kernels import clipped_step, damped_normal, steps_settled
    from ioscan.detect.psf_estimate import _settled

    rng = np.random.default_rng(4)
    lo = np.array([0.0, 3.5, 3.5, 0.15, 0.15, -np.inf, -np.inf, -np.inf])
    hi = np.array([np.inf, 6.5, 6.5, 4.0, 4.0, np.inf, np.inf, np.inf])
    for _ in range(40):
        n = int(rng.integers(1, 7))
        p = rng.normal(2.0, 2.0, (n, 8))
        step = rng.normal(0.0, 2.0, (n, 8))
        step[rng.random((n, 8)) < 0.1] = np.nan
        p[:, 0] = [-0.0, 0.0, 1.0, 3.0, -1.0, 5.0][:n]
        step[:, 0] = [0.0, -0.0, -1.0, -4.0, 1.0, np.inf][:n]  # sums of ±0 at the bound 0
        p[0, 3], step[0, 3] = 4.0, 0.0  # at the upper bound
        got = clipped_step(p, step, lo, hi)
        want = np.clip(p + step, lo, hi)
        assert np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))
        h = rng.normal(0.0, 1.0, (n, 8, 8))
        h[:, 2, 2] = [0.0, -0.0, 1e-320, np.nan, -3.0, 2.0][:n]
        lam = rng.uniform(1e-4, 1.0, n)
        want = (
            h
            + lam[:, None, None]
            * np.eye(8)[None]
            * np.maximum(np.diagonal(h, axis1=1, axis2=2), 1e-300)[:, :, None]
        )
        assert np.array_equal(damped_normal(h, lam), want, equal_nan=True)
        q = p + rng.normal(0.0, 1e-4, p.shape) * (rng.random(p.shape) < 0.7)
        for tol in (1e-3, 1e-6, 10.0):
            assert steps_settled(q, p, h, lam, tol, 0.1) == _settled(q - p, h, lam, tol)
