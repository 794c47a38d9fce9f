"""Measurement settings (:class:`MeasureConfig`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MeasureConfig:
    """Settings of :func:`ioscan.measure.measure_frame`.

    Attributes:
        flagged_centroid_sys_px: 1-σ systematic centroid error of NEAR_LIMB and BLENDED detections, pixels,
            or a quarter of the PSF core σ if larger (limb background, PSF truncation, neighbours;
            foreshortening magnifies it on the surface). 0.15: such centroids scatter by 0.10-0.17 px rms
            about the truth at every S/N on the simulated campaign (bench_pulls' kept rows, seed 20261208),
            where 0.3 (half the core σ) made their intensity's geometric term ~2.7× its scatter.
        saturated_centroid_sys_px: 1-σ systematic centroid error of SATURATED detections, pixels (a centroid
            fitted to the wings of a clipped core, often of an extended source at close range).
        limit_snr: S/N of the point-source detection limit stored per band.
        fit_excess_factor: scale of the flux variance the PSF fit's reduced-χ² excess adds, 1 = as if the
            excess were the source's shot noise (:mod:`ioscan.measure.errors`; checked by bench_pulls).
        fit_excess_threshold_sigma: only a χ²_ν excess beyond this many of its standard deviations √(2/ν)·b
            over the band's noise-map scale b counts (a fit that is merely unlucky does not inflate its error;
            2 gives the renderers' faint bins 0.03-0.1 more, but shot-noise-limited sources, whose excess it
            hides, pulls up to 0.25 wider: tests/measure/test_errors.py, bench_pulls).
        background_fill_factor: scale of the outlier fill's flux error under bright sources that detection
            measures on the frame (``extra["fill_flux_err"]``, :mod:`ioscan.measure.errors`), random; 0: off.
            1: injected sources on the simulator's sunlit ground, flux pulls (fit error ⊕ this) 9.5 / 10.7 /
            8.2 → 1.06 / 1.05 / 0.90 at S/N 300 / 1k / 3k (``benchmarks/bench_source_leak.py``).
        calibration_err_fraction: 1σ absolute calibration error, fraction of the flux, correlated between
            detections (None: the instrument's, :class:`ioscan.instruments.PhotometryPrior`).
        flat_field_err_fraction: rms of the residual pixel-to-pixel response, a fraction, random (None: the
            instrument's); a source's flux error is this averaged over its PSF (:mod:`ioscan.measure.errors`).
        flat_field_column_err_fraction: rms of the residual column response, a fraction of the flux, random
            (None: the instrument's).
        psf_model_err_fraction: 1σ flux error of a PSF mismatch the fit's χ² cannot see, fraction of the flux,
            random (None: the instrument's).
        full_well_e: electrons at a band's saturation level, for the sources' own shot noise (None: the
            instrument's, :class:`ioscan.instruments.PhotometryPrior`; 0: no shot-noise term).
        saturated_aperture_px: a saturated source's lower limit sums the pixels within this radius + 3 PSF
            core σ + the clipped core's radius, px.
        max_geometry_err_fraction: no intensity (only the radiance sum) when the position's error makes the
            factor (pixel scale)² / cos e uncertain by more than this fraction (1σ): a frame whose pointing is
            unknown by ~150 px (not registered) can put a source anywhere on a small disk.
    """

    flagged_centroid_sys_px: float = 0.15
    saturated_centroid_sys_px: float = 1.0
    limit_snr: float = 5.0
    fit_excess_factor: float = 1.0
    fit_excess_threshold_sigma: float = 1.0
    background_fill_factor: float = 1.0
    calibration_err_fraction: float | None = None
    flat_field_err_fraction: float | None = None
    flat_field_column_err_fraction: float | None = None
    psf_model_err_fraction: float | None = None
    full_well_e: float | None = None
    saturated_aperture_px: float = 1.0
    max_geometry_err_fraction: float = 0.5
