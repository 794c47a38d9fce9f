"""The error model of a detection's intensity: what photon noise does not cover, random and correlated apart.

A PSF fit's own error (``Detection.net_radiance_sum_err``) holds the photon noise of the background and its
estimate only, as the detector's noise map states it. The 1σ error of the flux F adds, in quadrature, the
**random** terms (independent from one detection to the next: ``spectral_intensity_err_gw_um_sr``, what
light-curve statistics, events and periodograms use):

* **photon** — the fit's error scaled by the band's noise-map scale b (:func:`band_noise`): the median χ²_ν
  of the band's faint unflagged fits, shrunk towards 1 when few. The map is the background's local scale,
  never below the white noise, and reads ~10–20 % high on quiet ground (χ²_ν 0.7–0.85 on both renderers),
  which made faint sources' errors too large;
* **source shot noise** — the source's own photons, which the background's noise map does not hold: with q
  the radiance of one electron (the band's saturation level over the instrument's full well,
  :class:`~ioscan.instruments.PhotometryPrior`, ``measure.full_well_e``) a pixel holding the source's share
  F·P adds q·F·P to its variance, and the PSF fit's flux (weights uniform over the small stamp) then has
  variance q·F·ΣP³/(ΣP²)² (:func:`shot_variance`); the source's own variance is the larger of this and
  what the fit's χ² excess shows (next term), never both. Unknown (no saturation level: real JIRAM labels
  carry none) → the χ² excess alone;
* **fit excess** — the pixels' scatter about the fitted model beyond their noise (the fit's reduced χ²): the
  source's own shot noise, a PSF visibly different from the model, textured or structured background,
  neighbours. It scales the fit error: σ² = σ_fit² · (b + f · k · max(χ²_ν − b − t·√(2/ν)·b, 0)), where only
  an excess beyond ``t`` standard deviations of χ²_ν counts (ν = pixels − 3) and k = ν·ΣP³/(ΣP·ΣP²) turns
  the χ² excess into flux variance as the source's own shot noise would (≈ 5 for JIRAM's 0.6-px core; a
  uniform excess would want k = 1): bright hot spots are shot-noise limited, which the background's noise
  map does not hold. ``f`` (``fit_excess_factor``) and ``t`` are settings of
  :class:`~ioscan.measure.config.MeasureConfig`, checked by ``benchmarks/bench_pulls.py``. Below S/N ~1,000
  one fit's χ² cannot see its source's shot noise (an excess of ~0.04 against a scatter of ~0.3 at S/N 200
  on the independent renderer), so there the term is mostly 0: where the gain is known the shot-noise term
  above holds it, elsewhere the flux errors are understated (bench_pulls' decomposition);
* **flat field** — the residual response of the pixels the source falls on (:func:`flat_field_fraction`): the
  PSF fit's flux is F·Σ P²(1 + ε)/Σ P² over the stamp, so independent pixel errors of rms σ_pix
  (``PhotometryPrior.flat_field_err_fraction``) average to σ_pix·√ΣP⁴/ΣP² (0.49–0.69 σ_pix for JIRAM's
  0.6-px core, by sub-pixel phase; a wider PSF averages more), while a column response (rms σ_col,
  ``flat_field_column_err_fraction``: column amplifiers, smooth column structure, blocks of columns) is
  nearly common to the 3–5 columns a source covers and is taken whole (exact for a column response smooth
  over several columns, as the simulator's; 20–45 % high for columns independent of each other, as the
  independent renderer's white column gains). Random: a source lands on other pixels in each frame. The
  flat field's effect on the background under a source is texture the noise map already measures (it is
  the background's local scale);
* **background fill** — the ground the outlier fill misses under a bright source
  (``extra["fill_flux_err"]``, :func:`ioscan.detect.photometry.fill_flux_err`): a bright source's core and
  wings fail detection's outlier test over a ~6 × 6-px hole that the background fills with the mean of the
  ground 4–6 px away; on textured sunlit ground that fill misses the ground under the hole by percents of the
  flux (±2–17 % at S/N 3k–300 on the simulator's ground, ``benchmarks/bench_source_leak.py``), on dark ground
  by nothing the effective PSF does not model. Detection measures it on the frame: the hole copied to clean
  ground around the source (near the limb also along it, at the source's limb distance), filled as
  detection fills it, the flux change that each copy's fill makes through the background kernel and the PSF
  fit, its rms less the data's own white noise. Random (the
  ground under each detection is its own); 0 where no hole was filled; scaled by
  ``background_fill_factor`` (0: off). Not the fit-excess term's: a fill error is a smooth offset of the
  background under the stamp, which the PSF fit takes into the flux (the χ² sees only the part of the offset
  orthogonal to the PSF, divided by a noise map that on textured ground holds the texture's scale);
* **geometry** — the intensity's factor (pixel scale)² / cos e is read at the measured position, which is off
  by the centroid and pointing errors (``Navigation.pointing_error_px``): their propagation through range and
  emission (:mod:`ioscan.measure.positions`); large near the limb. The backplanes' Jacobian gives the factor's
  sensitivity to the pointing as the independent renderer's exact geometry does (to emission 80°,
  ``tests/measure/test_geometry_factor_propagation.py``); at the limb pixel, where a difference can read one
  pixel twice, it is undefined and the intensity withheld (:func:`ioscan.measure.intensity.set_intensities`);

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

import functools
import math
from dataclasses import dataclass, fields

import numpy as np

from ioscan.instruments import PhotometryPrior
from ioscan.measure.config import MeasureConfig
from ioscan.records import BandImage, Detection, DetectionFlag

#: parameters a PSF fit determines (flux and position)
FIT_PARAMETERS = 3


@dataclass(frozen=True)
class ErrorTerms:
    """1σ error terms of one detection's flux, as fractions of |F| (``nan`` where F is 0)."""

    photon: float
    fit_excess: float  #: the source's own: its shot noise (gain) or the fit's χ² excess, the larger
    flat_field: float
    geometry: float
    calibration: float
    psf_model: float
    background_fill: float = 0.0  #: the ground the outlier fill misses under the source (random)

    @property
    def random(self) -> float:
        """The random terms in quadrature (photon, fit excess, flat field, background fill, geometry)."""
        return math.sqrt(  # as np.sqrt: IEEE square root
            float(
                self.photon**2
                + self.fit_excess**2
                + self.flat_field**2
                + self.background_fill**2
                + self.geometry**2
            )
        )

    @property
    def systematic(self) -> float:
        """The correlated terms in quadrature (calibration, PSF model)."""
        return _quadrature(self.calibration, self.psf_model)

    def as_dict(self) -> dict[str, float]:
        """The terms and both totals, rounded for storage."""
        out = {name: float(f"{getattr(self, name):.4g}") for name in _TERM_NAMES}
        out["random"] = float(f"{self.random:.4g}")
        out["systematic"] = float(f"{self.systematic:.4g}")
        return out


#: ErrorTerms' fields, in their order
_TERM_NAMES = tuple(f.name for f in fields(ErrorTerms))


@functools.lru_cache(maxsize=256)
def _quadrature(a: float, b: float) -> float:
    """np.hypot(a, b) as a float, remembered: the systematic terms are the same for a band's sources."""
    return float(np.hypot(a, b))


def prior_for(prior: PhotometryPrior, cfg: MeasureConfig) -> PhotometryPrior:
    """The instrument's photometry prior with the settings that are set (not None) in ``cfg``."""
    return PhotometryPrior(
        calibration_err_fraction=_pick(cfg.calibration_err_fraction, prior.calibration_err_fraction),
        flat_field_err_fraction=_pick(cfg.flat_field_err_fraction, prior.flat_field_err_fraction),
        flat_field_column_err_fraction=_pick(
            cfg.flat_field_column_err_fraction, prior.flat_field_column_err_fraction
        ),
        psf_model_err_fraction=_pick(cfg.psf_model_err_fraction, prior.psf_model_err_fraction),
        full_well_e=prior.full_well_e if cfg.full_well_e is None else (cfg.full_well_e or None),
        source=prior.source,
    )


def _pick(setting: float | None, default: float) -> float:
    return float(default) if setting is None else float(setting)


def core_stamp(core_sigma_px: float, sample: float, line: float) -> np.ndarray:
    """P (lines × samples) of a pixel-integrated Gaussian core of σ ``core_sigma_px`` (px) at the source's
    sub-pixel phase over the photometry stamp (half-size 2.5 σ, at least 2 px), of unit total flux."""
    from scipy.special import erf

    sigma = max(float(core_sigma_px), 0.3)
    r = max(2, int(np.ceil(2.5 * sigma)))
    k = np.arange(-r, r + 1, dtype=float)

    def profile(frac: float) -> np.ndarray:
        x = (k - frac) / (np.sqrt(2.0) * sigma)
        return 0.5 * (erf(x + 0.5 / (np.sqrt(2.0) * sigma)) - erf(x - 0.5 / (np.sqrt(2.0) * sigma)))

    return np.outer(profile(line - np.round(line)), profile(sample - np.round(sample)))


def psf_sums(core_sigma_px: float, sample: float, line: float) -> tuple[float, float, float]:
    """(ΣP, ΣP², ΣP³) of :func:`core_stamp`."""
    p = core_stamp(core_sigma_px, sample, line)
    return float(np.sum(p)), float(np.sum(p**2)), float(np.sum(p**3))


#: (ΣP, ΣP², ΣP³, Σ(P²)²) of one detection's :func:`core_stamp` (:func:`stamp_sums`)
StampSums = tuple[float, float, float, float]


def stamp_sums(core_sigma_px: np.ndarray, sample: np.ndarray, line: np.ndarray) -> np.ndarray:
    """(n, 4) sums (ΣP, ΣP², ΣP³, Σ(P²)²) of :func:`core_stamp` for n sources at once (core σ px, sample,
    line), the same values bit for bit as each source's own stamp gives (:func:`psf_sums`)."""
    sigma = np.maximum(np.asarray(core_sigma_px, dtype=float), 0.3)
    sample, line = np.asarray(sample, dtype=float), np.asarray(line, dtype=float)
    out = np.empty((sigma.size, 4))
    half = np.maximum(np.ceil(2.5 * sigma).astype(int), 2)
    for r in np.unique(half):
        rows = np.flatnonzero(half == r)
        p = _core_stamps(sigma[rows], sample[rows], line[rows], int(r))
        p2 = p**2
        for c, power in enumerate((p, p2, p**3, p2**2)):
            out[rows, c] = np.sum(power, axis=(1, 2))
    return out


def _core_stamps(sigma: np.ndarray, sample: np.ndarray, line: np.ndarray, half_px: int) -> np.ndarray:
    """(n, 2·half_px + 1, 2·half_px + 1) :func:`core_stamp` of n sources of core σ ``sigma`` (px, ≥ 0.3)."""
    k = np.arange(-half_px, half_px + 1, dtype=float)
    width = (np.sqrt(2.0) * sigma)[:, None]
    edge = 0.5 / width

    def profile(frac: np.ndarray) -> np.ndarray:
        from scipy.special import erf

        x = (k[None, :] - frac[:, None]) / width
        return 0.5 * (erf(x + edge) - erf(x - edge))

    return profile(line - np.round(line))[:, :, None] * profile(sample - np.round(sample))[:, None, :]


def source_stamp_sums(dets: list[Detection]) -> list[StampSums]:
    """:func:`stamp_sums` of detections at their centroid with their ``extra["psf_core_sigma_px"]`` (0.6 px
    if not stated), as each one's (ΣP, ΣP², ΣP³, Σ(P²)²)."""
    if not dets:
        return []
    sums = stamp_sums(
        [float(d.extra.get("psf_core_sigma_px", 0.6)) for d in dets],
        [d.sample for d in dets],
        [d.line for d in dets],
    )
    return [tuple(row) for row in sums.tolist()]  # Python floats, the same values


def _own_sums(core_sigma_px: float, sample: float, line: float, sums: StampSums | None) -> StampSums:
    """``sums`` if given, else the source's own stamp's (:func:`stamp_sums`)."""
    if sums is not None:
        return sums
    return tuple(stamp_sums([core_sigma_px], [sample], [line])[0].tolist())


def flat_field_fraction(
    pixel_rms: float,
    column_rms: float,
    core_sigma_px: float,
    sample: float,
    line: float,
    sums: StampSums | None = None,
) -> float:
    """1σ fractional flux error of a PSF fit from the residual flat field: independent pixel errors of rms
    ``pixel_rms`` weighted as the fit weights them, σ_pix·√ΣP⁴/ΣP² (P: :func:`core_stamp` at the source's
    phase), and a column response of rms ``column_rms`` common to the stamp's columns, in quadrature.
    ``sums``: the source's :func:`stamp_sums`, if already known."""
    if pixel_rms == 0:
        return float(abs(column_rms))
    _, s2, _, s4 = _own_sums(core_sigma_px, sample, line, sums)
    pixel = float(pixel_rms) * float(np.sqrt(s4)) / s2
    return float(np.hypot(pixel, column_rms))


def shot_noise_factor(
    core_sigma_px: float, sample: float, line: float, n_pixels: int, sums: StampSums | None = None
) -> float:
    """ν · ΣP³ / (ΣP · ΣP²) of a pixel-integrated Gaussian core at the source's sub-pixel phase: the flux
    variance, in units of the fit's own variance, per unit of χ²_ν excess when the excess is the source's own
    shot noise (pixel variance ∝ P; uniform background noise). ≈ 5 for JIRAM's 0.6-px core on 5 × 5 pixels.
    ``sums``: the source's :func:`stamp_sums`, if already known."""
    s1, s2, s3, _ = _own_sums(core_sigma_px, sample, line, sums)
    dof = max(int(n_pixels) - FIT_PARAMETERS, 1)
    return float(dof * s3 / (s1 * s2))


@dataclass(frozen=True)
class BandNoise:
    """What the PSF fits of one band say about the noise map they were weighted with (:func:`band_noise`).

    Attributes:
        map_scale2: the χ²_ν of the band's fits of faint sources (fit S/N < :data:`FAINT_SNR`, where a
            source's own shot noise adds nothing to χ²): the true pixel variance over the noise map's, < 1
            where the map is overestimated (it is the background's local scale, never below the white noise),
            shrunk towards 1 with :data:`MAP_SCALE_PRIOR_SOURCES` when few sources say it.
        n_sources: the faint fits it was measured on.
        radiance_per_electron: q, the band's unit per electron in one pixel (saturation level / full well),
            for the sources' own shot noise; None where not known.
    """

    map_scale2: float = 1.0
    n_sources: int = 0
    radiance_per_electron: float | None = None


def radiance_per_electron(saturation: float | None, full_well_e: float | None) -> float | None:
    """q = ``saturation`` / ``full_well_e``: the band's unit per electron in one pixel, or None when either is
    unknown (or not positive)."""
    if saturation is None or full_well_e is None or not np.isfinite(saturation) or saturation <= 0:
        return None
    if not np.isfinite(full_well_e) or full_well_e <= 0:
        return None
    return float(saturation) / float(full_well_e)


def shot_variance(det: Detection, q: float | None, sums: StampSums | None = None) -> float:
    """The PSF-fit flux variance from the source's own shot noise, band units²: q·F·ΣP³/(ΣP²)² for a
    pixel-integrated Gaussian core (σ ``extra["psf_core_sigma_px"]``) at the source's sub-pixel phase, P of
    unit total flux over the stamp (uniform weights: the background's noise); 0 if q is unknown or F ≤ 0.
    ``sums``: the detection's :func:`source_stamp_sums`, if already known."""
    flux = float(det.net_radiance_sum)
    if q is None or not flux > 0:
        return 0.0
    core = float(det.extra.get("psf_core_sigma_px", 0.6))
    _, s2, s3, _ = _own_sums(core, det.sample, det.line, sums)
    return float(q * flux * s3 / s2**2)


#: fits below this S/N measure the noise map's scale (their sources' shot noise raises χ²_ν by < 2 %)
FAINT_SNR = 50.0
#: sources' worth of weight on χ²_ν = 1 (the noise map as it is) when a band's own fits set its scale
MAP_SCALE_PRIOR_SOURCES = 3.0
#: the noise map's variance scale is kept within these bounds
MAP_SCALE2_BOUNDS = (0.5, 2.0)
#: flags of detections whose χ² does not describe the band's noise (not used by :func:`band_noise`)
_NOT_NOISE = int(
    DetectionFlag.COSMIC_RAY
    | DetectionFlag.ARTEFACT
    | DetectionFlag.SATURATED
    | DetectionFlag.BLENDED
    | DetectionFlag.NEAR_LIMB
    | DetectionFlag.EDGE
)


def band_noise(dets: list[Detection], q: float | None = None) -> BandNoise:
    """The noise map's variance scale of one band: the median χ²_ν of its faint, unflagged PSF fits (one fit's
    χ²_ν scatters by √(2/ν) ≈ 0.3; pooled it says by how much the map misstates the pixels' noise), shrunk
    towards 1 (:data:`MAP_SCALE_PRIOR_SOURCES`) and bounded (:data:`MAP_SCALE2_BOUNDS`); ``q``: the band's
    radiance per electron (:func:`radiance_per_electron`), kept for the sources' shot noise."""
    chi = []
    for d in dets:
        c = d.extra.get("chi2_dof")
        if d.flags & _NOT_NOISE or c is None or not math.isfinite(c) or not d.n_pixels:
            continue
        if int(d.n_pixels) > 2 * FIT_PARAMETERS and 0 < d.snr < FAINT_SNR:
            chi.append(float(c))
    if not chi:
        return BandNoise(radiance_per_electron=q)
    n = len(chi)
    b = (n * float(np.median(chi)) + MAP_SCALE_PRIOR_SOURCES) / (n + MAP_SCALE_PRIOR_SOURCES)
    return BandNoise(float(np.clip(b, *MAP_SCALE2_BOUNDS)), n, q)


def fit_variance_parts(
    det: Detection, cfg: MeasureConfig, noise: BandNoise | None = None, sums: StampSums | None = None
) -> tuple[float, float]:
    """The flux variance of the PSF fit, band units²: (the background's, σ_fit² · b; the source's own, the
    larger of its shot noise from the band's radiance per electron, :func:`shot_variance`, and what the fit's
    χ² shows beyond b: f · k_shot · σ_fit² · max(χ²_ν − b − t√(2/ν)·b, 0), k_shot from
    :func:`shot_noise_factor`, f = ``cfg.fit_excess_factor``, t = ``cfg.fit_excess_threshold_sigma``),
    b = ``noise.map_scale2``; ``sums``: the detection's :func:`source_stamp_sums`, if already known."""
    noise = noise or BandNoise()
    b = noise.map_scale2
    var = float(det.net_radiance_sum_err) ** 2
    shot = shot_variance(det, noise.radiance_per_electron, sums)
    chi2_dof = det.extra.get("chi2_dof")
    if chi2_dof is None or not math.isfinite(chi2_dof) or not det.n_pixels:
        return var * b, shot
    dof = max(int(det.n_pixels) - FIT_PARAMETERS, 1)
    excess = float(chi2_dof) - b - cfg.fit_excess_threshold_sigma * math.sqrt(2.0 / dof) * b
    if excess <= 0:
        return var * b, shot
    core = float(det.extra.get("psf_core_sigma_px", 0.6))
    k = shot_noise_factor(core, det.sample, det.line, det.n_pixels, sums)
    return var * b, max(shot, cfg.fit_excess_factor * k * excess * var)


def fill_variance(det: Detection, cfg: MeasureConfig) -> float:
    """The flux variance of the outlier fill under ``det``, band units²: (``background_fill_factor`` ×
    ``extra["fill_flux_err"]``)², 0 where detection stated none (no hole, or not measurable: nan)."""
    err = det.extra.get("fill_flux_err")
    if err is None or not math.isfinite(err) or cfg.background_fill_factor <= 0:
        return 0.0
    return float((cfg.background_fill_factor * float(err)) ** 2)


def error_terms(
    det: Detection,
    prior: PhotometryPrior,
    cfg: MeasureConfig,
    noise: BandNoise | None = None,
    sums: StampSums | None = None,
) -> ErrorTerms:
    """The error terms of ``det``'s flux (see the module docstring); ``prior`` already merged with ``cfg``,
    ``noise`` the band's :func:`band_noise` (None: the noise map as it is), ``sums`` the detection's
    :func:`source_stamp_sums` (None: from its own stamp)."""
    flux = abs(float(det.net_radiance_sum))
    background, source = fit_variance_parts(det, cfg, noise, sums)
    # math.sqrt: the IEEE square root np.sqrt takes too, of variances ≥ 0 (or NaN)
    photon = math.sqrt(background) / flux if flux > 0 else float("nan")
    fit_excess = math.sqrt(source) / flux if flux > 0 else float("nan")
    fill = math.sqrt(fill_variance(det, cfg)) / flux if flux > 0 else float("nan")
    geometry = det.extra.get("geometry_err_fraction", 0.0)
    flat = flat_field_fraction(
        prior.flat_field_err_fraction,
        prior.flat_field_column_err_fraction,
        float(det.extra.get("psf_core_sigma_px", 0.6)),
        det.sample,
        det.line,
        sums,
    )
    return ErrorTerms(
        photon=photon,
        fit_excess=fit_excess,
        flat_field=flat,
        geometry=float(geometry) if geometry is not None and math.isfinite(geometry) else 0.0,
        calibration=prior.calibration_err_fraction,
        psf_model=prior.psf_model_err_fraction,
        background_fill=fill,
    )


def random_flux_err(
    det: Detection,
    terms: ErrorTerms,
    cfg: MeasureConfig | None = None,
    noise: BandNoise | None = None,
    sums: StampSums | None = None,
) -> float:
    """The random 1σ error of the flux, in the detection's unit (well defined for F ≈ 0 too); ``sums``: the
    detection's :func:`source_stamp_sums`, if already known."""
    cfg = cfg or MeasureConfig()
    background, source = fit_variance_parts(det, cfg, noise, sums)
    frac2 = terms.flat_field**2 + terms.geometry**2
    fill = fill_variance(det, cfg)
    return math.sqrt(background + source + fill + frac2 * float(det.net_radiance_sum) ** 2)


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
