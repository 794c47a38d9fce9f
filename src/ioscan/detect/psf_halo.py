"""The weight of the PSF model's halo, measured on the frame's bright isolated sources.

Where detection measures the core it keeps the model's other components; a PSF without the model's halo
(another instrument's, an independent renderer's Gaussian) then comes out with fluxes a few per cent high.
:func:`halo_weight` fits core plus halo (the model's width) to each bright isolated source and combines the
weights (:class:`HaloWeight`): the fluxes take it where it is precise and differs from the model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioscan.detect.psf import PsfModel
from ioscan.detect.psf_estimate import _g1, clear_of_limb, isolated_inside, source_stamps, valid_and_noise
from ioscan.detect.psf_stack import _agree_limit, _sources_agree

#: the halo's weight is fitted on stamps this many px either side of a source (15 × 15: a halo of σ 2.5 px
#: to ±2.8 σ)
HALO_HALF_PX = 7
#: sources whose detection S/N reaches this weigh the halo (a 4 % halo of σ 2.5 px is measured to ~±2 % at
#: S/N 100 and ~±0.3 % at S/N 1000)
HALO_MIN_SNR = 50.0
#: ... and their own fit's S/N (core and halo free: their degeneracy takes S/N from the total) from this
HALO_MIN_FIT_SNR = 20.0
#: at most this many sources (the brightest) are fitted
HALO_MAX_SOURCES = 8
#: the sources are fitted only where their detection S/Ns add in quadrature to this: the weight's error is
#: ≳ 6 ÷ that sum on white noise (synthetic stamps, σ 0.6–0.8 px cores), so below it the error could not
#: reach :data:`HALO_MAX_ERR` (a factor 2 to spare)
HALO_MIN_COMBINED_SNR = 300.0
#: the measured weight is taken where its 1σ error is at most this (absolute, of the total flux) ...
HALO_MAX_ERR = 0.01
#: ... and it differs from the model's by more than this many of it (noise alone: ~3 in 1000 frames)
HALO_CHANGE_SIGMA = 3.0
#: added in quadrature to the combined weight's error: the model's shape is good to no better (our
#: simulator, whose PSF is the model's 4 % halo, gives 0.032–0.043 on the demo campaign's bright sources with
#: stated errors down to 0.0005, pulls −5.6 to +2.3, median −1)
HALO_SYSTEMATIC_ERR = 0.003


@dataclass(frozen=True)
class HaloWeight:
    """The fraction of each source's flux in a round halo of the model's width (:func:`halo_weight`)."""

    weight: float  #: the weighted mean over the agreeing sources (may be < 0 by noise)
    #: its 1σ error, times √(agree_chi2 / (n − 1)) where that exceeds 1, :data:`HALO_SYSTEMATIC_ERR` added
    err: float
    agree_chi2: float  #: Σ ((wᵢ − w̄) / eᵢ)² over the agreeing sources (χ² with n − 1 dof)
    n_sources: int  #: the sources that agree
    own_weights: tuple[float, ...]  #: each agreeing source's own weight
    n_dropped: int = 0  #: sources left out as disagreeing (the worst first, while more than two were left)

    @property
    def agree(self) -> bool:
        """The sources agree (:func:`_sources_agree`)."""
        return _sources_agree(self.n_sources, self.agree_chi2)

    @property
    def accepted(self) -> bool:
        """An error ≤ :data:`HALO_MAX_ERR` and agreeing sources."""
        return self.err <= HALO_MAX_ERR and self.agree

    def differs_from(self, model: PsfModel) -> bool:
        """The weight differs from ``model``'s halo weight (:func:`halo_component`) by more than
        :data:`HALO_CHANGE_SIGMA` errors."""
        k = halo_component(model)
        return k is not None and abs(self.weight - model.weights[k]) > HALO_CHANGE_SIGMA * self.err

    def applied_to(self, model: PsfModel) -> PsfModel:
        """``model`` with its halo's weight the measured one (clipped to [0, 0.5]) and its core's the rest."""
        k = halo_component(model)
        core = model.sigmas_px.index(model.core_sigma_px)
        w = list(model.weights)
        w[k] = round(float(np.clip(self.weight, 0.0, 0.5)), 4)
        w[core] = 1.0 - w[k]
        return PsfModel(tuple(w), model.sigmas_px, elongation=model.elongation)


def halo_component(model: PsfModel) -> int | None:
    """The index of ``model``'s halo where it has two components (a core and one wider), else None."""
    if len(model.weights) != 2:
        return None
    core = model.sigmas_px.index(model.core_sigma_px)
    other = 1 - core
    return other if model.sigmas_px[other] > model.sigmas_px[core] else None


def fit_core_halo(
    stamp: np.ndarray, weight: np.ndarray, halo_sigma_px: float, n_iter: int = 30
) -> tuple[float, float, float]:
    """(halo weight b / (a + b), its 1σ error, S/N of a + b) of a · core + b · halo + plane fitted to a
    square ``stamp`` (weights 1/σ², 0 to ignore): the core a pixel-integrated axis-aligned Gaussian of free
    widths, the halo a round one of ``halo_sigma_px``, both at one free centre (damped Gauss–Newton from
    the stamp's centre); the errors scaled by max(χ²/dof, 1). NaNs where the fit fails."""
    m = stamp.shape[0]
    c = (m - 1) / 2.0
    u = np.arange(m, dtype=float)
    yy, xx = np.mgrid[0:m, 0:m].astype(float)
    xc, yc = xx - c, yy - c
    w = np.asarray(weight, float)
    ok = w > 0
    base = float(np.median(stamp[ok])) if ok.any() else 0.0
    peak = float(np.max(np.where(ok, stamp, -np.inf)))
    hs = float(halo_sigma_px)

    def evaluate(q):
        a, b, x0, y0, sx, sy, c0, c1, c2 = q
        gx, dgx, sgx = _g1(u, x0, sx)
        gy, dgy, sgy = _g1(u, y0, sy)
        hx, dhx, _ = _g1(u, x0, hs)
        hy, dhy, _ = _g1(u, y0, hs)
        core = gy[:, None] * gx[None, :]
        halo = hy[:, None] * hx[None, :]
        model = a * core + b * halo + c0 + c1 * xc + c2 * yc
        jac = np.stack(
            [core, halo, a * gy[:, None] * dgx[None, :] + b * hy[:, None] * dhx[None, :],
             a * dgy[:, None] * gx[None, :] + b * dhy[:, None] * hx[None, :], a * gy[:, None] * sgx[None, :],
             a * sgy[:, None] * gx[None, :], np.ones_like(xc), xc, yc], axis=-1
        )  # fmt: skip
        return model, jac

    p = np.array([max(peak - base, 1e-30) * 2 * np.pi * 0.64, 0.0, c, c, 0.8, 0.8, base, 0.0, 0.0])
    lo = np.array([-np.inf, -np.inf, c - 1.5, c - 1.5, 0.15, 0.15, -np.inf, -np.inf, -np.inf])
    hi = np.array([np.inf, np.inf, c + 1.5, c + 1.5, 4.0, 4.0, np.inf, np.inf, np.inf])
    model, jac = evaluate(p)
    chi2 = float(np.sum(w * (stamp - model) ** 2))
    lam = 1e-3
    for _ in range(n_iter):
        r = stamp - model
        jw = jac * w[..., None]
        h = np.einsum("ijk,ijl->kl", jw, jac)
        g = np.einsum("ijk,ij->k", jw, r)
        try:
            step = np.linalg.solve(h + lam * np.diag(np.maximum(np.diag(h), 1e-300)), g)
        except np.linalg.LinAlgError:
            return np.nan, np.nan, np.nan
        q = np.clip(p + step, lo, hi)
        m2, j2 = evaluate(q)
        c2 = float(np.sum(w * (stamp - m2) ** 2))
        if c2 < chi2:
            done = chi2 - c2 < 1e-6 * max(chi2, 1.0)
            p, model, jac, chi2, lam = q, m2, j2, c2, lam / 3.0
            if done:
                break
        else:
            lam *= 10.0
    jw = jac * w[..., None]
    h = np.einsum("ijk,ijl->kl", jw, jac)
    try:
        cov = np.linalg.inv(h) * max(chi2 / max(int(ok.sum()) - 9, 1), 1.0)
    except np.linalg.LinAlgError:
        return np.nan, np.nan, np.nan
    a, b = p[0], p[1]
    tot = a + b
    if not (np.isfinite(tot) and tot > 0):
        return np.nan, np.nan, np.nan
    d = np.array([-b / tot**2, a / tot**2])
    var = float(d @ cov[:2, :2] @ d)
    var_tot = float(cov[0, 0] + cov[1, 1] + 2 * cov[0, 1])
    if not (var > 0 and var_tot > 0):
        return np.nan, np.nan, np.nan
    return float(b / tot), float(np.sqrt(var)), float(tot / np.sqrt(var_tot))


def combine_halo_weights(own: np.ndarray, err: np.ndarray) -> HaloWeight | None:
    """The sources' weights (``own`` ± ``err``) combined (inverse-variance mean; while they disagree,
    :data:`STACK_AGREE_QUANTILE`, and more than two are left, the one adding most to χ² is left out; the
    error with :data:`HALO_SYSTEMATIC_ERR` added in quadrature)."""
    own, err = np.asarray(own, float), np.asarray(err, float)
    use = np.isfinite(own) & np.isfinite(err) & (err > 0)
    n0 = int(use.sum())
    if n0 == 0:
        return None
    while True:
        iv = np.where(use, 1.0 / np.where(use, err, 1.0) ** 2, 0.0)
        mean = float(np.sum(iv * np.where(use, own, 0.0)) / iv.sum())
        contrib = np.where(use, (own - mean) ** 2 * iv, -np.inf)
        chi2 = float(np.sum(contrib[use]))
        m = int(use.sum())
        if m <= 2 or chi2 <= _agree_limit(m):
            break
        use[int(np.argmax(contrib))] = False
    e = float(1.0 / np.sqrt(iv.sum()))
    if m > 1:
        e *= max(np.sqrt(chi2 / (m - 1)), 1.0)
    e = float(np.hypot(e, HALO_SYSTEMATIC_ERR))
    return HaloWeight(mean, e, chi2, m, tuple(float(v) for v in own[use]), n0 - m)


def halo_weight(
    data: np.ndarray,
    saturated: np.ndarray | None,
    limb_distance_px: np.ndarray | None,
    x: np.ndarray,
    y: np.ndarray,
    snr: np.ndarray,
    candidate: np.ndarray,
    halo_sigma_px: float,
) -> HaloWeight | None:
    """The halo's weight (a round Gaussian of ``halo_sigma_px``) measured on the band's bright isolated
    sources (:func:`fit_core_halo` each, :func:`combine_halo_weights`), or None where none is left:
    ``candidate`` sources at (``x``, ``y``) (sample, line of ``data``; e.g. unflagged detections) of S/N
    ``snr`` ≥ :data:`HALO_MIN_SNR`, more than :data:`HALO_HALF_PX` + 3 px from the limb, no other source of
    ``x``, ``y`` within :data:`HALO_HALF_PX` + 1 px, a stamp inside the frame with ≥ 80 % usable pixels
    (finite, unsaturated), their own fit's S/N ≥ :data:`HALO_MIN_FIT_SNR`; the :data:`HALO_MAX_SOURCES` of
    highest ``snr``, where their S/Ns add in quadrature to :data:`HALO_MIN_COMBINED_SNR`. Accept it with
    :attr:`HaloWeight.accepted`."""
    data = np.asarray(data)
    valid = np.isfinite(data) if saturated is None else np.isfinite(data) & ~saturated
    x, y, snr = np.asarray(x, float), np.asarray(y, float), np.asarray(snr, float)
    h = HALO_HALF_PX
    ok = np.asarray(candidate, bool) & (snr >= HALO_MIN_SNR) & np.isfinite(x) & np.isfinite(y)
    ok = isolated_inside(ok, x, y, data.shape, h, np.nextafter(h + 1.0, np.inf))  # none within h + 1 px
    idx = np.flatnonzero(clear_of_limb(ok, x, y, limb_distance_px, h + 3))
    if idx.size == 0 or not valid.any():
        return None
    idx = idx[np.argsort(-snr[idx], kind="stable")][:HALO_MAX_SOURCES]
    if np.sqrt(np.sum(snr[idx] ** 2)) < HALO_MIN_COMBINED_SNR:  # too faint to reach HALO_MAX_ERR: not fitted
        return None
    valid, noise = valid_and_noise(data, saturated)
    stamps, weights, _ = source_stamps(data, noise, valid, x, y, idx, h)
    own, err = [], []
    for stamp, wt in zip(stamps, weights, strict=True):
        hw, he, sn = fit_core_halo(stamp, wt, halo_sigma_px)
        if np.isfinite(hw) and np.isfinite(sn) and sn >= HALO_MIN_FIT_SNR:
            own.append(hw)
            err.append(he)
    return combine_halo_weights(np.array(own), np.array(err)) if own else None
