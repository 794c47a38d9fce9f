"""The flat-field term of the intensity error: how a residual pixel and column response averages over a
source's PSF (``measure.errors.flat_field_fraction``), checked by Monte Carlo on stamps rendered here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from ioscan.instruments import PhotometryPrior, get_instrument
from ioscan.measure import MeasureConfig
from ioscan.measure.errors import error_terms, flat_field_fraction, prior_for
from ioscan.records import Detection

SIGMA_PX = 0.6
HALF = 2  # the 5 × 5 stamp of a 0.6-px core


def _stamp(sample_phase: float, line_phase: float, sigma: float = SIGMA_PX, sub: int = 20) -> np.ndarray:
    """A Gaussian of unit flux integrated over pixels by supersampling (sub × sub points per pixel)."""
    k = (np.arange(-HALF * sub, (HALF + 1) * sub) + 0.5) / sub - 0.5
    gx = np.exp(-0.5 * ((k - sample_phase) / sigma) ** 2)
    gy = np.exp(-0.5 * ((k - line_phase) / sigma) ** 2)
    fine = np.outer(gy, gx) / (2 * np.pi * sigma**2) / sub**2
    n = 2 * HALF + 1
    return fine.reshape(n, sub, n, sub).sum(axis=(1, 3))


def _fit_flux(p: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Least-squares flux of ``data`` (draws × stamp), PSF ``p`` at a known position, uniform weights."""
    return np.einsum("ij,kij->k", p, data) / np.sum(p**2)


@pytest.mark.parametrize("phase", [(0.0, 0.0), (0.3, -0.1), (0.5, 0.5)])
def test_pixel_response_averages_as_the_fit_weights_it(phase):
    rng = np.random.default_rng(11)
    p = _stamp(*phase)
    rms = 0.004
    eps = rng.normal(0.0, rms, (20000, *p.shape))
    measured = np.std(_fit_flux(p, p[None] * (1 + eps)) - 1.0)
    model = flat_field_fraction(rms, 0.0, SIGMA_PX, 100.0 + phase[0], 40.0 + phase[1])
    assert model == pytest.approx(measured, rel=0.03)
    assert model < 0.75 * rms  # a PSF-weighted sum of pixel errors is smaller than one pixel's


def test_column_response_is_taken_whole():
    """A column response common to a column's lines: smooth columns (the simulator's, scale 6 px) give the
    whole rms on a source; white columns (the independent renderer's) average over the 3–5 columns (the term
    is then 20–45 % high: it is an upper estimate for them)."""
    rng = np.random.default_rng(12)
    p = _stamp(0.2, 0.1)
    rms = 0.003
    model = flat_field_fraction(0.0, rms, SIGMA_PX, 100.2, 40.1)
    assert model == pytest.approx(rms)
    white = rng.normal(0.0, rms, (20000, p.shape[1]))
    smooth_long = gaussian_filter1d(rng.normal(0.0, 1.0, (20000, 64)), 6.0, axis=1, mode="wrap")
    smooth = rms * smooth_long[:, 30 : 30 + p.shape[1]] / smooth_long.std()
    for cols, lo, hi in ((white, 1.15, 1.5), (smooth, 0.95, 1.05)):
        measured = np.std(_fit_flux(p, p[None] * (1 + cols[:, None, :])) - 1.0)
        assert lo <= model / measured <= hi


def test_the_term_comes_from_the_prior_and_the_settings():
    det = Detection(
        band="M",
        sample=100.3,
        line=40.0,
        sample_err_px=0.01,
        line_err_px=0.01,
        snr=200.0,
        net_radiance_sum=1.0,
        net_radiance_sum_err=0.005,
        unit="W m-2 sr-1",
        background=0.0,
        peak=0.5,
        n_pixels=25,
        extra={"psf_core_sigma_px": SIGMA_PX},
    )
    jiram = get_instrument("JIRAM").photometry
    assert jiram.flat_field_err_fraction > 0 and jiram.flat_field_column_err_fraction > 0
    terms = error_terms(det, prior_for(jiram, MeasureConfig()), MeasureConfig())
    expected = flat_field_fraction(
        jiram.flat_field_err_fraction, jiram.flat_field_column_err_fraction, SIGMA_PX, 100.3, 40.0
    )
    assert terms.flat_field == pytest.approx(expected)
    off = MeasureConfig(flat_field_err_fraction=0.0, flat_field_column_err_fraction=0.0)
    assert error_terms(det, prior_for(jiram, off), off).flat_field == 0.0
    only_pixel = prior_for(PhotometryPrior(flat_field_err_fraction=0.01), MeasureConfig())
    assert 0.005 < error_terms(det, only_pixel, MeasureConfig()).flat_field < 0.0075


def _flat_pulls(response_of, n_frames: int, seed: int, cfg: MeasureConfig | None = None) -> np.ndarray:
    """(S/N against the background, intensity pull) of bright isolated sources on frames whose response is
    ``response_of(rng)`` (a 128 × 432 map), detected and measured as a scan does; the detector's gain is high
    (1e6 e⁻ per unit: the sources' own shot noise ~0.15 % at S/N 1,000-3,000), so the flat field dominates."""
    from test_errors import READ_NOISE, _frame, _geometry, _grid_sources, _true_intensity

    from ioscan.detect import detect_frame
    from ioscan.measure import measure_frame
    from ioscan.simulate.psf import jiram_psf

    gain = 1.0e6
    saturation = get_instrument("JIRAM").photometry.full_well_e / gain
    rng = np.random.default_rng(seed)
    bp = _geometry()
    rows = []
    for _ in range(n_frames):
        xs, ys = _grid_sources(rng)
        snr_bg = 10 ** rng.uniform(3.0, 3.5, xs.size)
        fluxes = snr_bg * READ_NOISE / 0.44
        img = np.zeros((128, 432))
        jiram_psf().add_point_sources(img, xs, ys, fluxes)
        img = img * response_of(rng)
        img = img + rng.normal(size=img.shape) * np.sqrt(READ_NOISE**2 + np.clip(img, 0, None) / gain)
        frame = _frame(img, saturation=saturation)
        found = measure_frame(
            frame, detect_frame(frame, {"M": bp}), {"M": bp}, config=cfg, pointing_error_px=0.001
        )
        for d in found.detections:
            k = int(np.argmin(np.hypot(xs - d.sample, ys - d.line)))
            if np.hypot(xs[k] - d.sample, ys[k] - d.line) > 1.0 or d.spectral_intensity_gw_um_sr is None:
                continue
            truth = _true_intensity(bp, xs[k], ys[k], fluxes[k])
            rows.append(
                (snr_bg[k], (d.spectral_intensity_gw_um_sr - truth) / d.spectral_intensity_err_gw_um_sr)
            )
    return np.array(rows)


def test_bright_sources_on_a_residual_flat_field_have_pulls_near_one():
    """Frames with the simulator's residual flat field (0.4 % pixel map, 0.3 % smooth columns per image) and
    with the independent renderer's kind (white column gains 0.3 % rms, no pixel part), S/N 1,000-3,000:
    with the flat-field term the pulls' robust std is near 1 on the first; without it the errors hold the
    photon and shot noise only and the pulls are ~2; on white columns without a pixel part the term is an
    upper estimate (its column part is taken whole, and it holds a pixel part they lack).

    Measured (8 frames, 192 sources each way, seeds 3 / 4 / 5): simulator flat 0.98 / 0.94 / 1.24 with the
    term, 1.99 / 2.00 / 2.59 without; white columns 0.58 / 0.63 / 0.58 with it."""
    from ioscan.simulate.flatfield import FlatField
    from ioscan.simulate.independent.detector import DetectorParams, column_gains

    flat = FlatField()

    def simulator(rng):
        return flat.response((128, 432), 138, rng)

    def independent(rng):
        return np.broadcast_to(column_gains(rng, DetectorParams(column_gain_rms=0.003), 432), (128, 432))

    with_term = _flat_pulls(simulator, 8, 3)
    off = MeasureConfig(flat_field_err_fraction=0.0, flat_field_column_err_fraction=0.0)
    without = _flat_pulls(simulator, 8, 3, cfg=off)
    white = _flat_pulls(independent, 8, 3)
    from ioscan.robust import mad_sigma

    assert len(with_term) >= 100 and len(white) >= 100
    assert 0.75 <= mad_sigma(with_term[:, 1]) <= 1.3
    assert mad_sigma(without[:, 1]) > 1.6
    assert 0.45 <= mad_sigma(white[:, 1]) <= 0.9
