"""One PSF core width several fainter sources share, where no single source measures it.

Where no source on a frame is bright enough for :mod:`ioscan.detect.psf_estimate`'s single-source rules, the
band's isolated detections are fitted together (:func:`joint_width`): one round Gaussian width shared by all,
each its own amplitude, centre and plane, its error from the joint fit's profile and the sources' agreement
(a χ² test drops a blend, a cosmic-ray remnant or a texture peak). :func:`stacked_width` picks the sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import chdtri

from ioscan.detect.fit_kernels import elliptical_model, weighted_misfit
from ioscan.detect.fit_kernels import normal_equations as fk_normal_equations
from ioscan.detect.psf_estimate import (
    HALF_PX,
    ISOLATION_PX,
    PSF_LIMB_CLEARANCE_PX,
    SIGMA_RANGE_PX,
    _g1,
    _stamp_medians,
    clear_of_limb,
    fit_elliptical_gaussians,
    isolated_inside,
    source_stamps,
    valid_and_noise,
)

#: the stacked width (:func:`joint_width`): sources from this fitted S/N (their own free fit's) are stacked
STACK_MIN_SNR = 8.0
#: ... and their own free fit's S/N from this (the free width and elongation take S/N from the amplitude)
STACK_MIN_FIT_SNR = 5.0
#: at most this many sources are stacked (the brightest candidates)
STACK_MAX_SOURCES = 12
#: the stacked width is accepted when its 1σ error (from the joint fit) is at most this fraction of it
STACK_MAX_REL_ERR = 0.07
#: ... and the sources agree: the likelihood-ratio statistic of one shared width against each source's own
#: is below χ²'s quantile at this probability for n − 1 degrees of freedom (a blend, a cosmic-ray remnant or
#: a texture peak among them fails it)
STACK_AGREE_QUANTILE = 0.99
#: the widths the joint fit profiles over: log-spaced across :data:`SIGMA_RANGE_PX`, 4 % apart (a parabola
#: through the three nearest the minimum refines it)
_STACK_STEP = 0.04


@dataclass(frozen=True)
class StackedWidth:
    """One round Gaussian width shared by several sources (:func:`joint_width`)."""

    sigma_px: float  #: the shared width
    #: its 1σ error ÷ it: the joint fit's profile (Δχ² = 1, each stamp's χ² scaled), times √(agree_chi2 /
    #: (n − 1)) where that exceeds 1 (the sources scatter more than their errors say: texture)
    rel_err: float
    agree_chi2: float  #: the likelihood-ratio statistic of the shared width against each source's own
    n_sources: int  #: the sources that share it
    own_sigmas_px: tuple[float, ...]  #: each of those sources' own best width (its profile's minimum)
    n_dropped: int = 0  #: sources left out as disagreeing (the worst first, while more than two were left)

    @property
    def agree(self) -> bool:
        """The sources agree with the shared width (:func:`_sources_agree`)."""
        return _sources_agree(self.n_sources, self.agree_chi2)

    @property
    def accepted(self) -> bool:
        """Two sources or more, an error ≤ :data:`STACK_MAX_REL_ERR` and agreeing sources."""
        return self.n_sources >= 2 and self.rel_err <= STACK_MAX_REL_ERR and self.agree


def _sources_agree(n_sources: int, agree_chi2: float) -> bool:
    """``n_sources`` agree when their χ² statistic is within χ²'s :data:`STACK_AGREE_QUANTILE` quantile for
    n − 1 degrees of freedom; one source always does."""
    return n_sources < 2 or agree_chi2 <= _agree_limit(n_sources)


@lru_cache(maxsize=64)
def _agree_limit(n: int) -> float:
    """χ²'s :data:`STACK_AGREE_QUANTILE` quantile for n − 1 degrees of freedom: ``scipy.stats.chi2.ppf``'s
    value (it calls ``chdtri``) without importing scipy.stats (~0.5 s once per worker, mid-scan)."""
    return float(chdtri(n - 1, 1.0 - STACK_AGREE_QUANTILE))


def _stack_grid() -> np.ndarray:
    lo, hi = np.log(SIGMA_RANGE_PX[0]), np.log(SIGMA_RANGE_PX[1])
    return np.exp(np.arange(lo, hi + 1e-9, _STACK_STEP))


def fit_fixed_width(
    stamps: np.ndarray, weights: np.ndarray, sigma: np.ndarray, n_iter: int = 8
) -> np.ndarray:
    """χ² of a pixel-integrated round Gaussian of the given width ``sigma`` (n,) plus a plane fitted to each
    stamp (n, m, m; weights 1/σ², 0 to ignore): amplitude, centre and plane free (damped Gauss–Newton from
    the stamp's centre, ``n_iter`` steps: 8 moved the stacked widths of 200 renderer frames by < 4e-6 of
    themselves against 15). Returns the χ² per stamp (inf where a fit fails)."""
    n, m, _ = stamps.shape
    c = (m - 1) / 2.0
    u = np.arange(m, dtype=float)[None, :]
    yy, xx = np.mgrid[0:m, 0:m].astype(float)
    xc, yc = xx - c, yy - c
    ok = weights > 0
    peak = np.max(np.where(ok, stamps, -np.inf), axis=(1, 2))
    base = _stamp_medians(stamps, ok)
    sig = np.asarray(sigma, float)
    p = np.column_stack(
        [np.maximum(peak - base, 1e-30) * 2 * np.pi * sig**2, np.full(n, c), np.full(n, c), sig, sig, base,
         np.zeros(n), np.zeros(n)]
    )  # fmt: skip
    free = np.array([0, 1, 2, 5, 6, 7])
    lo = np.array([0.0, c - 1.5, c - 1.5, -np.inf, -np.inf, -np.inf])
    hi = np.array([np.inf, c + 1.5, c + 1.5, np.inf, np.inf, np.inf])
    eye = np.eye(free.size)[None]

    def evaluate(q):
        g, dc, ds = _g1(u[:, None], q[:, 1:3, None], q[:, 3:5, None])
        model, jac = elliptical_model(q, g, dc, ds, xc, yc)
        return model, np.ascontiguousarray(jac[..., free])

    model, jac = evaluate(p)
    chi2 = weighted_misfit(weights, stamps, model)
    lam = np.full(n, 1e-3)
    h, g = np.empty((n, free.size, free.size)), np.empty((n, free.size))
    rows = np.arange(n)
    for _ in range(n_iter):
        fk_normal_equations(jac, weights, stamps, model, rows, h, g)
        diag = np.maximum(np.diagonal(h, axis1=1, axis2=2), 1e-300)
        try:
            step = np.linalg.solve(h + lam[:, None, None] * eye * diag[:, :, None], g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        q = p.copy()
        q[:, free] = np.clip(p[:, free] + np.nan_to_num(step), lo, hi)
        m2, j2 = evaluate(q)
        c2 = weighted_misfit(weights, stamps, m2)
        better = c2 < chi2
        p = np.where(better[:, None], q, p)
        model = np.where(better[:, None, None], m2, model)
        jac = np.where(better[:, None, None, None], j2, jac)
        chi2 = np.where(better, c2, chi2)
        lam = np.where(better, lam / 3.0, lam * 10.0)
    return np.where(np.isfinite(chi2), chi2, np.inf)


def _parabola_min(t: np.ndarray, y: np.ndarray, k: int) -> tuple[float, float, float]:
    """(position, value, curvature a of y ≈ v + a (t − t₀)²) of the parabola through the points k − 1, k,
    k + 1 of a uniform grid t (k at an end: the grid point itself, curvature from the inner side)."""
    k = int(np.clip(k, 1, len(t) - 2))
    y0, y1, y2 = y[k - 1], y[k], y[k + 1]
    dt = t[1] - t[0]
    a = (y0 - 2 * y1 + y2) / (2 * dt * dt)
    if not np.isfinite(a) or a <= 0:
        return float(t[k]), float(y1), 0.0
    off = float(np.clip((y0 - y2) / (4 * a * dt), -dt, dt))
    return float(t[k] + off), float(y1 - a * off * off), float(a)


def joint_width(stamps: np.ndarray, weights: np.ndarray) -> StackedWidth | None:
    """One round width shared by the sources of ``stamps`` (n, m, m; weights 1/σ², 0 to ignore; each its own
    amplitude, centre and plane), from the joint fit's profile: each stamp's χ² at every width of a
    log-spaced grid (:func:`fit_fixed_width`), divided by max(its own minimum's χ²/dof, 1) (a misfit the
    Gaussian + plane does not describe, e.g. texture, scales its errors as in
    :func:`fit_elliptical_gaussians`), summed; the shared width is the sum's minimum (a parabola in log σ),
    its error where the sum rises by 1 (inflated by √(agree_chi2 / (n − 1)) where that exceeds 1), and the
    sources' agreement the rise of the sum at the shared width over the sum of each stamp's own minimum (the
    likelihood-ratio statistic, χ² with n − 1 degrees of freedom). While they disagree
    (:data:`STACK_AGREE_QUANTILE`) and more than two are left, the source that adds most to that statistic
    is left out (a blend, a texture peak or a cosmic-ray remnant). None without stamps or where the profile
    has no minimum inside the grid."""
    n = len(stamps)
    if n == 0:
        return None
    grid = _stack_grid()
    t = np.log(grid)
    ng = grid.size
    st = np.repeat(np.asarray(stamps, float), ng, axis=0)
    wt = np.repeat(np.asarray(weights, float), ng, axis=0)
    chi2 = fit_fixed_width(st, wt, np.tile(grid, n)).reshape(n, ng)
    dof = np.maximum((np.asarray(weights) > 0).sum(axis=(1, 2)) - 7, 1)
    own_t, own_v = np.empty(n), np.empty(n)
    scaled = np.empty_like(chi2)
    for k in range(n):
        if not np.all(np.isfinite(chi2[k])):
            return None
        tk, vk, _ = _parabola_min(t, chi2[k], int(np.argmin(chi2[k])))
        s = max(vk / dof[k], 1.0)
        scaled[k] = chi2[k] / s
        own_t[k], own_v[k] = tk, vk / s
    use = np.ones(n, bool)
    while True:
        total = scaled[use].sum(axis=0)
        kk = int(np.argmin(total))
        if kk == 0 or kk == ng - 1:
            return None
        t0, v0, a = _parabola_min(t, total, kk)
        if a <= 0:
            return None
        agree = max(v0 - own_v[use].sum(), 0.0)
        m = int(use.sum())
        if m <= 2 or agree <= _agree_limit(m):
            break
        # each source's share of the statistic at the shared width (its χ² there, interpolated, over its own)
        at = np.array([np.interp(t0, t, scaled[k]) - own_v[k] if use[k] else -np.inf for k in range(n)])
        use[int(np.argmax(at))] = False
    rel = float(1.0 / np.sqrt(a)) * max(np.sqrt(agree / (m - 1)), 1.0) if m > 1 else float(1.0 / np.sqrt(a))
    return StackedWidth(
        sigma_px=float(np.exp(t0)),
        rel_err=rel,
        agree_chi2=float(agree),
        n_sources=m,
        own_sigmas_px=tuple(float(v) for v in np.exp(own_t[use])),
        n_dropped=n - m,
    )


def stacked_width(
    data: np.ndarray,
    saturated: np.ndarray | None,
    limb_distance_px: np.ndarray | None,
    x: np.ndarray,
    y: np.ndarray,
    snr: np.ndarray,
    candidate: np.ndarray,
) -> StackedWidth | None:
    """The round core width shared by the band's isolated sources (:func:`joint_width`), or None where fewer
    than two are left: ``candidate`` sources at (``x``, ``y``) (sample, line of ``data``; e.g. unflagged
    detections) of S/N ``snr`` ≥ :data:`STACK_MIN_SNR`, ≥ :data:`PSF_LIMB_CLEARANCE_PX` from the limb, no
    other source of ``x``, ``y`` within :data:`ISOLATION_PX`, a stamp inside the frame with ≥ 80 % usable
    pixels, their own free fit's S/N ≥ :data:`STACK_MIN_SNR` and widths in :data:`SIGMA_RANGE_PX`; the
    :data:`STACK_MAX_SOURCES` of highest ``snr``. Accept it with :attr:`StackedWidth.accepted`."""
    data = np.asarray(data)
    valid = np.isfinite(data) if saturated is None else np.isfinite(data) & ~saturated
    x, y, snr = np.asarray(x, float), np.asarray(y, float), np.asarray(snr, float)
    ok = np.asarray(candidate, bool) & (snr >= STACK_MIN_SNR) & np.isfinite(x) & np.isfinite(y)
    ok = isolated_inside(ok, x, y, data.shape, HALF_PX, ISOLATION_PX)
    idx = np.flatnonzero(clear_of_limb(ok, x, y, limb_distance_px, PSF_LIMB_CLEARANCE_PX))
    if idx.size < 2 or not valid.any():
        return None
    idx = idx[np.argsort(-snr[idx], kind="stable")][: 2 * STACK_MAX_SOURCES]
    valid, noise = valid_and_noise(data, saturated)
    stamps, weights, _ = source_stamps(data, noise, valid, x, y, idx)
    if len(stamps) < 2:
        return None
    stamps, weights = np.array(stamps), np.array(weights)
    fits = fit_elliptical_gaussians(stamps, weights)
    a, b, sn = fits[:, 0], fits[:, 1], fits[:, 2]
    lo, hi = SIGMA_RANGE_PX
    keep = np.isfinite(a) & np.isfinite(b) & np.isfinite(sn) & (sn >= STACK_MIN_FIT_SNR)
    keep &= (a >= lo) & (a <= hi) & (b >= lo) & (b <= hi)
    sel = np.flatnonzero(keep)[:STACK_MAX_SOURCES]
    if sel.size < 2:
        return None
    return joint_width(stamps[sel], weights[sel])
