"""The error model of a detection's intensity: what photon noise does not cover, random and correlated apart.

A PSF fit's own error (``Detection.net_radiance_sum_err``) holds the photon noise of the background and its
estimate only. The 1σ error of the flux F adds, in quadrature, the **random** terms (independent from one
detection to the next: ``spectral_intensity_err_gw_um_sr``, what light-curve statistics, events and
periodograms use):

* **fit excess** — the pixels' scatter about the fitted model beyond their noise (the fit's reduced χ²): the
  source's own shot noise, a PSF visibly different from the model, textured or structured background,
  neighbours. It scales the fit error: σ² = σ_fit² · (1 + f · k · max(χ²_ν − 1 − t·√(2/ν), 0)), where only
  an excess beyond ``t`` standard deviations of χ²_ν counts (ν = pixels − 3) and k = ν·ΣP³/(ΣP·ΣP²) turns
  the χ² excess into flux variance as the source's own shot noise would (≈ 5 for JIRAM's 0.6-px core; a
  uniform excess would want k = 1): bright hot spots are shot-noise limited, which the background's noise
  map does not hold. ``f`` (``fit_excess_factor``) and ``t`` are settings of
  :class:`~ioscan.measure.config.MeasureConfig`, measured by ``benchmarks/bench_pulls.py``;
* **flat field** — a fraction of F: residual pixel and column response;
* **geometry** — the intensity's factor (pixel scale)² / cos e is read at the measured position, which is off
  by the centroid and pointing errors (``Navigation.pointing_error_px``): their propagation through range and
  emission (:mod:`ioscan.measure.positions`); large near the limb;

and the **systematic** terms, correlated between all detections of an instrument (they cancel in a light
curve and add to every absolute comparison: ``spectral_intensity_sys_err_gw_um_sr``):

* **calibration** — the absolute radiometric scale;
* **PSF model** — the flux a PSF fit gives depends on the model's width: fitting ioscan's JIRAM model (core
  σ 0.6 px + 4 % wings σ 2.5 px) to sources of the independent renderer's σ 0.8 px Gaussian gives fluxes
  22 % low at every S/N (``benchmarks/bench_pulls.py``), an error no χ² shows below S/N ~30.

Fractions come from the instrument's :class:`~ioscan.instruments.PhotometryPrior` unless set in
:class:`~ioscan.measure.config.MeasureConfig`; each term's fraction of F is kept in
``Detection.extra["intensity_err_fraction"]``.

Saturated detections are not measurements: :func:`saturated_lower_limit` gives the background-subtracted
sum of the pixels around the source, clipped ones at their clipped value — less than the true flux — and
the detection is flagged ``LOWER_LIMIT``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ioscan.instruments import PhotometryPrior
from ioscan.measure.config import MeasureConfig
from ioscan.records import BandImage, Detection

#: parameters a PSF fit determines (flux and position)
FIT_PARAMETERS = 3


@dataclass(frozen=True)
class ErrorTerms:
    """1σ error terms of one detection's flux, as fractions of |F| (``nan`` where F is 0)."""

    photon: float
    fit_excess: float
    flat_field: float
    geometry: float
    calibration: float
    psf_model: float

    @property
    def random(self) -> float:
        """The random terms in quadrature (photon, fit excess, flat field, geometry)."""
        return float(np.sqrt(self.photon**2 + self.fit_excess**2 + self.flat_field**2 + self.geometry**2))

    @property
    def systematic(self) -> float:
        """The correlated terms in quadrature (calibration, PSF model)."""
        return float(np.hypot(self.calibration, self.psf_model))

    def as_dict(self) -> dict[str, float]:
        """The terms and both totals, rounded for storage."""
        out = {k: float(f"{v:.4g}") for k, v in asdict(self).items()}
        out["random"] = float(f"{self.random:.4g}")
        out["systematic"] = float(f"{self.systematic:.4g}")
        return out


def prior_for(prior: PhotometryPrior, cfg: MeasureConfig) -> PhotometryPrior:
    """The instrument's photometry prior with the settings that are set (not None) in ``cfg``."""
    return PhotometryPrior(
        calibration_err_fraction=_pick(cfg.calibration_err_fraction, prior.calibration_err_fraction),
        flat_field_err_fraction=_pick(cfg.flat_field_err_fraction, prior.flat_field_err_fraction),
        psf_model_err_fraction=_pick(cfg.psf_model_err_fraction, prior.psf_model_err_fraction),
        source=prior.source,
    )


def _pick(setting: float | None, default: float) -> float:
    return float(default) if setting is None else float(setting)


def shot_noise_factor(core_sigma_px: float, sample: float, line: float, n_pixels: int) -> float:
    """ν · ΣP³ / (ΣP · ΣP²) of a pixel-integrated Gaussian core at the source's sub-pixel phase: the flux
    variance, in units of the fit's own variance, per unit of χ²_ν excess when the excess is the source's own
    shot noise (pixel variance ∝ P; uniform background noise). ≈ 5 for JIRAM's 0.6-px core on 5 × 5 pixels."""
    from scipy.special import erf

    sigma = max(float(core_sigma_px), 0.3)
    r = max(2, int(np.ceil(2.5 * sigma)))
    k = np.arange(-r, r + 1, dtype=float)

    def profile(frac: float) -> np.ndarray:
        x = (k - frac) / (np.sqrt(2.0) * sigma)
        return 0.5 * (erf(x + 0.5 / (np.sqrt(2.0) * sigma)) - erf(x - 0.5 / (np.sqrt(2.0) * sigma)))

    p = np.outer(profile(line - np.round(line)), profile(sample - np.round(sample)))
    dof = max(int(n_pixels) - FIT_PARAMETERS, 1)
    return float(dof * np.sum(p**3) / (np.sum(p) * np.sum(p**2)))


def fit_excess_variance_ratio(det: Detection, cfg: MeasureConfig) -> float:
    """Extra flux variance from the fit's χ², in units of the fit's own variance: f · k_shot · max(χ²_ν − 1
    − t√(2/ν), 0) with k_shot from :func:`shot_noise_factor`, f = ``cfg.fit_excess_factor`` (0 without χ²)."""
    chi2_dof = det.extra.get("chi2_dof")
    if chi2_dof is None or not np.isfinite(chi2_dof) or not det.n_pixels:
        return 0.0
    dof = max(int(det.n_pixels) - FIT_PARAMETERS, 1)
    excess = float(chi2_dof) - 1.0 - cfg.fit_excess_threshold_sigma * np.sqrt(2.0 / dof)
    if excess <= 0:
        return 0.0
    core = float(det.extra.get("psf_core_sigma_px", 0.6))
    k = shot_noise_factor(core, det.sample, det.line, det.n_pixels)
    return cfg.fit_excess_factor * k * excess


def error_terms(det: Detection, prior: PhotometryPrior, cfg: MeasureConfig) -> ErrorTerms:
    """The error terms of ``det``'s flux (see the module docstring); ``prior`` already merged with ``cfg``."""
    flux = abs(float(det.net_radiance_sum))
    with np.errstate(divide="ignore", invalid="ignore"):
        photon = float(det.net_radiance_sum_err) / flux if flux > 0 else float("nan")
    ratio = fit_excess_variance_ratio(det, cfg)
    geometry = det.extra.get("geometry_err_fraction", 0.0)
    return ErrorTerms(
        photon=photon,
        fit_excess=photon * float(np.sqrt(ratio)),
        flat_field=prior.flat_field_err_fraction,
        geometry=float(geometry) if geometry is not None and np.isfinite(geometry) else 0.0,
        calibration=prior.calibration_err_fraction,
        psf_model=prior.psf_model_err_fraction,
    )


def random_flux_err(det: Detection, terms: ErrorTerms) -> float:
    """The random 1σ error of the flux, in the detection's unit (well defined for F ≈ 0 too)."""
    fit_var = float(det.net_radiance_sum_err) ** 2 * (
        1.0 + (terms.fit_excess / terms.photon) ** 2 if terms.photon > 0 else 1.0
    )
    frac2 = terms.flat_field**2 + terms.geometry**2
    return float(np.sqrt(fit_var + frac2 * float(det.net_radiance_sum) ** 2))


def saturated_lower_limit(
    det: Detection, band: BandImage, psf_core_sigma_px: float, radius_px: float
) -> float:
    """A lower limit on a saturated source's flux (band units): Σ (pixel − local background) over the pixels
    within ``radius_px`` + 3 core σ + the clipped core's radius of the centroid, clipped pixels counted at
    their clipped value (never above the truth but for noise and neighbours)."""
    data = np.asarray(band.data, float)
    nl, ns = data.shape
    y, x = det.line - band.line_offset, det.sample
    n_clipped = 0
    if band.saturation is not None and np.isfinite(band.saturation):
        r0 = int(np.ceil(radius_px + 3 * psf_core_sigma_px)) + 1
        win = data[max(int(y) - r0, 0) : int(y) + r0 + 2, max(int(x) - r0, 0) : int(x) + r0 + 2]
        n_clipped = int(np.sum(win >= 0.95 * band.saturation))
    r = radius_px + 3.0 * psf_core_sigma_px + np.sqrt(n_clipped / np.pi)
    ri = int(np.ceil(r))
    l0, l1 = max(int(np.floor(y)) - ri, 0), min(int(np.ceil(y)) + ri + 1, nl)
    s0, s1 = max(int(np.floor(x)) - ri, 0), min(int(np.ceil(x)) + ri + 1, ns)
    ll, ss = np.mgrid[l0:l1, s0:s1]
    inside = (np.hypot(ll - y, ss - x) <= r) & np.isfinite(data[l0:l1, s0:s1])
    return float(np.sum(data[l0:l1, s0:s1][inside] - float(det.background)))
