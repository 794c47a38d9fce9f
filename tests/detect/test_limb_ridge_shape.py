"""The limb-ridge test's shape comparison (:func:`ioscan.detect.misfits.psf_over_ridge_gain`): on a rendered
curved limb with white noise, compact sources (PSF-sized both ways) are told from ridges that run along the
limb (a line-spread profile across it, extended along it), and
:func:`ioscan.detect.artefacts.flag_limb_ridges` leaves the first alone and flags the second; a compact source
on a bright limb ridge, which the ridge alone fits about as well, stands out of the best ridge
(:func:`ioscan.detect.misfits.point_beyond_ridge_snr`) and is kept."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.artefacts import LIMB_POINT_MIN_SNR, flag_limb_ridges
from ioscan.detect.misfits import limb_ridge_psf_gains, point_beyond_ridge_snr, psf_over_ridge_gain
from ioscan.records import Detection, DetectionFlag

SIGMA_PX = 0.8
SHAPE = (64, 160)
CENTRE = (80.0, -320.0)  # (sample, line) of the disk's centre, far above the frame: a curved limb across it
RADIUS_PX = 350.0
PEAK_SIGMA = 7.0  # peak of each injected shape, in white-noise σ (a compact one: matched-filter S/N ≈ 10)
ALONG_SIGMA_PX = 5.0  # the ridges' extent along the limb (Gaussian σ)


def _limb_distance() -> np.ndarray:
    """Signed distance to the limb (px, positive on the disk)."""
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)
    return RADIUS_PX - np.hypot(xx - CENTRE[0], yy - CENTRE[1])


def _positions(d_px: float) -> list[tuple[float, float]]:
    """(sample, line) on the limb-distance contour ``d_px`` every 30 px across the frame, off-pixel-centre."""
    out = []
    for x in np.arange(20.3, SHAPE[1] - 15, 30.0):
        y = CENTRE[1] + np.sqrt((RADIUS_PX - d_px) ** 2 - (x - CENTRE[0]) ** 2)
        out.append((float(x), float(y)))
    return out


def _compact(x0: float, y0: float) -> np.ndarray:
    """A circular Gaussian core of :data:`SIGMA_PX` at (x0, y0), peak :data:`PEAK_SIGMA`."""
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)
    return PEAK_SIGMA * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * SIGMA_PX**2))


def _ridge(x0: float, y0: float, d: np.ndarray) -> np.ndarray:
    """A misfit ridge along the limb through (x0, y0): the core's line-spread profile across the limb,
    Gaussian of :data:`ALONG_SIGMA_PX` along it, peak :data:`PEAK_SIGMA`."""
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)
    d0 = RADIUS_PX - np.hypot(x0 - CENTRE[0], y0 - CENTRE[1])
    along = np.hypot(xx - x0, yy - y0) ** 2 - (d - d0) ** 2
    return PEAK_SIGMA * np.exp(
        -((d - d0) ** 2) / (2 * SIGMA_PX**2) - np.maximum(along, 0) / (2 * ALONG_SIGMA_PX**2)
    )


def _gains(kind: str, seed: int, d_px: float = 2.0) -> list[float]:
    rng = np.random.default_rng(seed)
    d = _limb_distance()
    gains = []
    for x0, y0 in _positions(d_px):
        residual = rng.normal(size=SHAPE) + (_compact(x0, y0) if kind == "compact" else _ridge(x0, y0, d))
        gains.append(psf_over_ridge_gain(residual, d, x0, y0, SIGMA_PX))
    return gains


@pytest.mark.parametrize("d_px", [-1.0, 2.0, 6.0])
def test_compact_sources_fit_a_psf_much_better_than_a_ridge(d_px: float) -> None:
    gains = np.array([g for seed in range(4) for g in _gains("compact", seed, d_px)])
    # the ridge misses the source's fall-off along the limb: χ² well above the noise's
    assert np.median(gains) > 1.0
    assert np.all(gains >= 0.65)


@pytest.mark.parametrize("d_px", [-1.0, 2.0, 6.0])
def test_ridges_along_the_limb_fit_a_ridge_as_well(d_px: float) -> None:
    gains = np.array([g for seed in range(4) for g in _gains("ridge", seed, d_px)])
    # the ridge fits, the point source leaves its extent along the limb: χ² above the ridge's
    assert np.median(gains) < 0.0
    assert np.all(gains < 0.35)


def test_pure_noise_and_no_direction() -> None:
    d = _limb_distance()
    rng = np.random.default_rng(9)
    residual = rng.normal(size=SHAPE)
    # white noise alone: neither model gains on the other
    g = [psf_over_ridge_gain(residual, d, x, y, SIGMA_PX) for x, y in _positions(2.0)]
    assert np.all(np.abs(g) < 0.35)
    # a flat limb-distance map has no direction; outside the map: NaN
    assert np.isnan(psf_over_ridge_gain(residual, np.zeros(SHAPE), 30.0, 30.0, SIGMA_PX))
    assert np.isnan(psf_over_ridge_gain(residual, d, -5.0, 30.0, SIGMA_PX))


def _det(x: float, y: float, chi2_dof: float) -> Detection:
    return Detection(
        band="M", sample=x, line=y, sample_err_px=0.1, line_err_px=0.1, snr=10.0, net_radiance_sum=1.0,
        net_radiance_sum_err=0.1, unit="W m-2 sr-1", background=0.0, peak=1.0, n_pixels=25, flags=0,
        wavelength_um=4.78, extra={"mf_snr": 11.0, "chi2_dof": chi2_dof},
    )  # fmt: skip


def test_flag_limb_ridges_keeps_compact_flags_ridges() -> None:
    """Both shapes with a χ² beyond the limb-ridge test's: the compact ones are left alone, the ridges are
    flagged (most by their shape alone); without the gains all would be flagged."""
    rng = np.random.default_rng(3)
    d = _limb_distance()
    pos = _positions(2.0)
    residual = rng.normal(size=SHAPE)
    for i, (x0, y0) in enumerate(pos):
        residual += _compact(x0, y0) if i % 2 == 0 else _ridge(x0, y0, d)
    dets = [_det(x, y, chi2_dof=50.0) for x, y in pos]
    zone = [True] * len(dets)
    sw = np.ones(SHAPE)
    gains = limb_ridge_psf_gains(dets, residual, np.zeros(SHAPE), sw, d, (0, 0), 0, SIGMA_PX, zone)
    assert all(d.extra["limb_ridge_psf_gain"] == g for d, g in zip(dets, gains, strict=True))
    n = flag_limb_ridges(dets, zone, 3.0, gains, min_psf_gain=0.65, ridge_below_gain=0.35)
    flagged = [bool(d.flags & DetectionFlag.ARTEFACT) for d in dets]
    assert flagged == [i % 2 == 1 for i in range(len(dets))]
    assert n == sum(flagged)
    assert any(d.extra.get("artefact_test") == "limb_ridge_shape" for d in dets)
    plain = [_det(x, y, chi2_dof=50.0) for x, y in pos]
    assert flag_limb_ridges(plain, zone, 3.0) == len(plain)


def test_shape_flag_needs_the_zone() -> None:
    det = _det(30.0, 30.0, chi2_dof=0.5)
    assert flag_limb_ridges([det], [False], 3.0, [0.0], 0.65, 0.35) == 0
    assert flag_limb_ridges([det], [True], 3.0, [0.0], 0.65, 0.35) == 1
    assert det.extra["artefact_test"] == "limb_ridge_shape"


def _limb_ridge(d: np.ndarray, d0_px: float, peak_sigma: float, width_px: float) -> np.ndarray:
    """A residual ridge along the whole limb at limb distance ``d0_px`` (a misplaced profile's): Gaussian
    across of σ ``width_px``, peak ``peak_sigma``."""
    return peak_sigma * np.exp(-((d - d0_px) ** 2) / (2 * width_px**2))


#: a bright limb's residual under each compact source: twice its peak, 1 px outward, wider than the core
BRIGHT_LIMB = (1.0, 2 * PEAK_SIGMA, 1.2)


def test_a_source_on_a_bright_limb_ridge_stands_out_of_it() -> None:
    """A compact source 1 px inside a limb ridge twice as bright: the ridge alone fits about as well as the
    core alone (gain < 0.35: the shape comparison took it for the ridge), but the core on top of the best
    ridge keeps a detection's S/N (the source's ≈ 10 less what the ridge shares)."""
    d = _limb_distance()
    gains, snrs = [], []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        for x0, y0 in _positions(2.0):
            residual = rng.normal(size=SHAPE) + _compact(x0, y0) + _limb_ridge(d, *BRIGHT_LIMB)
            gains.append(psf_over_ridge_gain(residual, d, x0, y0, SIGMA_PX))
            snrs.append(point_beyond_ridge_snr(residual, d, x0, y0, SIGMA_PX))
    assert np.all(np.array(gains) < 0.35)
    assert np.all(np.array(snrs) >= LIMB_POINT_MIN_SNR)
    assert 7.0 < np.median(snrs) < 10.5


@pytest.mark.parametrize("kind", ["ridge", "limb"])
def test_ridges_leave_no_source_beyond_the_ridge(kind: str) -> None:
    """A ridge along the limb (5 px long, or the whole limb's at twice the peak): the core on top of the
    best ridge has S/N well below the detection threshold."""
    d = _limb_distance()
    snrs = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        for x0, y0 in _positions(2.0):
            shape = _ridge(x0, y0, d) if kind == "ridge" else _limb_ridge(d, *BRIGHT_LIMB)
            snrs.append(point_beyond_ridge_snr(rng.normal(size=SHAPE) + shape, d, x0, y0, SIGMA_PX))
    assert np.all(np.array(snrs) < LIMB_POINT_MIN_SNR)
    assert np.median(snrs) < 3.0
    assert np.isnan(point_beyond_ridge_snr(np.zeros(SHAPE), np.zeros(SHAPE), 30.0, 30.0, SIGMA_PX))


def test_flag_limb_ridges_keeps_a_source_on_the_limb_ridge() -> None:
    """Sources on a bright limb ridge and bare stretches of it, all with a χ² the χ² test lets pass: the
    shape comparison flagged every one; with the point beyond the ridge it keeps the sources."""
    rng = np.random.default_rng(5)
    d = _limb_distance()
    pos = _positions(2.0)
    residual = rng.normal(size=SHAPE) + _limb_ridge(d, *BRIGHT_LIMB)
    for x0, y0 in pos[::2]:
        residual += _compact(x0, y0)
    dets = [_det(x, y, chi2_dof=1.0) for x, y in pos]
    zone = [True] * len(dets)
    gains = limb_ridge_psf_gains(
        dets, residual, np.zeros(SHAPE), np.ones(SHAPE), d, (0, 0), 0, SIGMA_PX, zone
    )
    assert all(g < 0.35 for g in gains)
    flag_limb_ridges(dets, zone, 3.0, gains, min_psf_gain=0.65, ridge_below_gain=0.35)
    assert [bool(d.flags & DetectionFlag.ARTEFACT) for d in dets] == [i % 2 == 1 for i in range(len(dets))]
    old = [_det(x, y, chi2_dof=1.0) for x, y in pos]
    for det, new in zip(old, dets, strict=True):
        det.extra["limb_point_snr"] = new.extra["limb_point_snr"]
    assert flag_limb_ridges(old, zone, 3.0, gains, 0.65, 0.35, min_point_snr=None) == len(old)


def test_gains_with_the_window_made_once_are_the_same() -> None:
    """limb_ridge_psf_gains makes each detection's window once for both fits: the same values as each fit
    making its own (compact sources, ridges, no direction, outside the map)."""
    from ioscan.detect.misfits import _crop_residual

    rng = np.random.default_rng(4)
    d = _limb_distance()
    image = rng.normal(size=SHAPE)
    for x0, y0 in _positions(2.0)[:3]:
        image = image + _compact(x0, y0)
    for x0, y0 in _positions(-1.0)[3:]:
        image = image + _ridge(x0, y0, d)
    pts = _positions(2.0)[:3] + _positions(-1.0)[3:] + [(-5.0, 30.0)]
    dets = [_det(x, y, 2.0) for x, y in pts]
    background, white = np.zeros(SHAPE), np.ones(SHAPE)
    gains = limb_ridge_psf_gains(dets, image, background, white, d, (0, 0), 0, SIGMA_PX, [True] * len(dets))
    residual = _crop_residual(image, background, white, (0, 0))
    for det, g, (x, y) in zip(dets, gains, pts, strict=True):
        want = psf_over_ridge_gain(residual, d, x, y, SIGMA_PX)
        snr = point_beyond_ridge_snr(residual, d, x, y, SIGMA_PX)
        assert np.array_equal(g, want, equal_nan=True) and np.array_equal(
            det.extra["limb_ridge_psf_gain"], want, equal_nan=True
        )
        assert np.array_equal(det.extra["limb_point_snr"], snr, equal_nan=True)
    assert np.isnan(gains[-1]) and np.isfinite(gains[0])
    flat = [_det(30.0, 30.0, 2.0)]
    limb_ridge_psf_gains(flat, image, background, white, np.zeros(SHAPE), (0, 0), 0, SIGMA_PX, [True])
    assert np.isnan(flat[0].extra["limb_ridge_psf_gain"]) and np.isnan(flat[0].extra["limb_point_snr"])
