"""The sunlit disk's global model (ioscan.detect.disk_model) against independent truth: closed-form blurred
edges, and a Lambert sphere rendered here by brute force (supersampled, Gaussian-blurred, binned)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import ndtr

from ioscan.detect.disk_model import (
    cubic_bspline_1d,
    fit_disk_model,
    radial_tables,
    surface_distance_px,
)

SIGMA = 1.0  # noise, image units
PSF_SIGMA_PX = 0.8


def test_bsplines_sum_to_one_and_derivatives_match() -> None:
    x = np.linspace(0.0, 50.0, 401)
    i0, val, der = cubic_bspline_1d(x, 6.0)
    assert np.allclose(val.sum(axis=1), 1.0, atol=1e-12)
    assert np.allclose(der.sum(axis=1), 0.0, atol=1e-12)
    # derivative of one basis function against a finite difference of its values
    h = 1e-5
    _, v2, _ = cubic_bspline_1d(x + h, 6.0)
    same = cubic_bspline_1d(x + h, 6.0)[0] == i0
    assert np.allclose(((v2 - val) / h)[same], der[same], atol=1e-4)


def test_blurred_edge_is_the_gaussian_cdf_and_its_moment() -> None:
    s = 0.85
    t = radial_tables(200.0, s)
    d = np.linspace(-3.0, 3.0, 61)
    h, g = t.at(d)
    assert np.allclose(h[0], ndtr(d / s), atol=2e-3)
    # ∫_{u>0} φ_s(u − d)(u − d) du = s² φ_s(d)
    phi = np.exp(-0.5 * (d / s) ** 2) / (s * np.sqrt(2 * np.pi))
    assert np.allclose(g[0], s**2 * phi, atol=2e-3)
    # deep inside: the unblurred cos e of the sphere
    deep = np.array([60.0, 120.0])
    hd, gd = t.at(deep)
    assert np.allclose(hd[1], np.sqrt(1 - ((200.0 - deep) / 200.0) ** 2), atol=1e-9)
    assert np.all(gd == 0.0)


def test_surface_distance_from_the_limb() -> None:
    r = 100.0
    assert surface_distance_px(np.array([r]), r)[0] == pytest.approx(r * np.pi / 2)
    assert surface_distance_px(np.array([-1.0, 0.0]), r).tolist() == [0.0, 0.0]
    # near the limb s ≈ √(2 R d)
    assert surface_distance_px(np.array([0.5]), r)[0] == pytest.approx(np.sqrt(2 * r * 0.5), rel=0.01)


def _lambert_sphere(shape, cx, cy, r, sun, k=6) -> np.ndarray:
    """Noise-free image of a Lambert sphere with a smooth albedo: supersampled k × k, blurred by the PSF,
    binned (pixel centres at integers); rendered 8 px beyond the frame (the blur brings in what lies
    outside)."""
    pad = 8
    ny, nx = shape[0] + 2 * pad, shape[1] + 2 * pad
    cx, cy = cx + pad, cy + pad
    ys = (np.arange(ny * k) + 0.5) / k - 0.5
    xs = (np.arange(nx * k) + 0.5) / k - 0.5
    xx, yy = np.meshgrid(xs, ys)
    u, v = (xx - cx) / r, (yy - cy) / r
    rho2 = u**2 + v**2
    inside = rho2 < 1.0
    nz = np.sqrt(np.clip(1.0 - rho2, 0.0, None))
    cos_i = u * sun[0] + v * sun[1] + nz * sun[2]
    albedo = 1.0 + 0.15 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    img = np.where(inside, 400.0 * albedo * np.clip(cos_i, 0.0, None), 0.0)
    img = ndimage.gaussian_filter(img, PSF_SIGMA_PX * k, mode="constant", truncate=5.0)
    return img.reshape(ny, k, nx, k).mean(axis=(1, 3))[pad:-pad, pad:-pad]


def _point_source(shape, x0, y0, flux) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    p = np.exp(-0.5 * ((xx - x0) ** 2 + (yy - y0) ** 2) / PSF_SIGMA_PX**2)
    return flux * p / p.sum()


@pytest.fixture(scope="module")
def sphere_fit():
    rng = np.random.default_rng(3)
    shape = (96, 160)
    cx, cy, r = 60.3, 118.6, 95.2  # the centre below the frame: an arc of limb across it
    sun = np.array([0.3, -0.5, 0.81])
    sun /= np.linalg.norm(sun)
    truth = _lambert_sphere(shape, cx, cy, r, sun)
    offsets = rng.normal(0.0, 0.3, shape[1])
    truth = truth + offsets[None, :] + 2.0
    # a hot spot 5 px inside the limb (S/N ~ 30) and a cosmic ray
    ang = np.deg2rad(-100.0)
    sx, sy = cx + (r - 5.0) * np.cos(ang), cy + (r - 5.0) * np.sin(ang)
    source = _point_source(shape, sx, sy, 60.0)
    image = truth + source + rng.normal(0.0, SIGMA, shape)
    image[40, 120] += 500.0
    fit = fit_disk_model(image, cx + 0.4, cy - 0.3, r - 0.5, 0.85)
    return fit, truth, source, (cx, cy, r), (sx, sy)


def test_fit_refines_the_limb_sub_pixel(sphere_fit) -> None:
    fit, _, _, (cx, cy, r), _ = sphere_fit
    # a circle: the ellipse terms stay small; the limb's place comes closer to the truth than the first
    # guess (0.4, 0.3, 0.5 px off): the limb term's finest radial splines share the edge's last tenths of
    # a pixel with it, so the model, not the circle, is what must be right (next test)
    assert max(abs(e) for e in fit.ellipse) < 5e-3
    yy, xx = np.mgrid[0:96, 0:160]
    true_d = r - np.hypot(xx - cx, yy - cy)
    at_limb = np.abs(true_d) < 1.0
    first = (r - 0.5) - np.hypot(xx - cx - 0.4, yy - cy + 0.3)
    err_fit = np.abs(fit.limb_distance_px[at_limb] - true_d[at_limb])
    err_first = np.abs(first[at_limb] - true_d[at_limb])
    assert np.median(err_fit) < 0.5 * np.median(err_first)
    assert fit.trusted()


def test_model_follows_the_true_background_at_the_limb(sphere_fit) -> None:
    fit, truth, source, (cx, cy, r), _ = sphere_fit
    yy, xx = np.mgrid[0:96, 0:160]
    d = r - np.hypot(xx - cx, yy - cy)
    clean = (source < 0.05 * SIGMA) & (np.hypot(xx - 120, yy - 40) > 3)
    z = (fit.model - truth) / SIGMA
    near = clean & (np.abs(d) <= 8.0)
    far = clean & (d > 8.0)
    # the background's own misfit at a bright limb (~400 σ step) is well below the noise
    assert np.sqrt(np.mean(z[near] ** 2)) < 0.5
    assert np.sqrt(np.mean(z[far] ** 2)) < 0.35


def test_model_does_not_absorb_a_point_source(sphere_fit) -> None:
    fit, truth, source, _, (sx, sy) = sphere_fit
    i, j = int(round(sy)), int(round(sx))
    box = (slice(i - 3, i + 4), slice(j - 3, j + 4))
    absorbed = float(np.sum((fit.model - truth)[box]))
    assert abs(absorbed) < 0.1 * float(np.sum(source[box]))
    assert fit.clipped[i, j]


@pytest.mark.parametrize("own_filter", [False, True])
def test_detection_with_the_disk_model_finds_a_hot_spot_at_the_limb(own_filter: bool) -> None:
    from dataclasses import replace

    from ioscan.detect import DetectConfig
    from ioscan.detect.band import detect_band
    from ioscan.records import BandImage

    rng = np.random.default_rng(5)
    shape = (128, 200)
    cx, cy, r = 100.4, 150.3, 110.2
    sun = np.array([0.2, -0.6, 0.77])
    sun /= np.linalg.norm(sun)
    sigma_w = 4e-5  # W m-2 sr-1: the disk's ~400 units become ~0.016
    truth = _lambert_sphere(shape, cx, cy, r, sun) * sigma_w
    ang = np.deg2rad(-90.0)
    sx, sy = cx + (r - 3.0) * np.cos(ang), cy + (r - 3.0) * np.sin(ang)
    image = truth + _point_source(shape, sx, sy, 40.0 * sigma_w) + rng.normal(0.0, sigma_w, shape)
    band = BandImage("M", image.astype(np.float32), "W m-2 sr-1", wavelength_um=4.78, bandwidth_um=0.4975)
    # (own_filter: the S/N map within 10 px of the limb is the matched filter on the data less the model)
    cfg = replace(DetectConfig(), disk_model="band", disk_model_filter=own_filter, disk_model_filter_px=10.0)
    out = detect_band(band, instrument="JIRAM", config=cfg)
    assert any("disk model subtracted" in m for m in out.messages)
    hits = [d for d in out.detections if np.hypot(d.sample - sx, d.line - sy) <= 1.5]
    assert len(hits) == 1
    if own_filter:  # no second local background: the map keeps ≥ 0.85 of the ideal S/N (the local one ~0.74)
        ideal = 40.0 * np.sqrt(np.sum(_point_source(shape, sx, sy, 1.0) ** 2))
        assert hits[0].extra["mf_snr"] > 0.85 * ideal
    # the background it reports is the disk's there (the model added back), within a few noise σ
    i, j = int(round(hits[0].line)), int(round(hits[0].sample))
    assert abs(hits[0].background - truth[i, j]) < 5 * sigma_w


def _known_fit(truth: np.ndarray, sigma: np.ndarray, cx: float, cy: float, r: float):
    """A DiskModelFit whose model is the truth itself (the S/N map's own behaviour, no fit's error)."""
    from ioscan.detect.disk_model import DiskModelFit

    yy, xx = np.mgrid[0 : truth.shape[0], 0 : truth.shape[1]]
    d = r - np.hypot(xx - cx, yy - cy)
    return DiskModelFit(
        cx, cy, r, PSF_SIGMA_PX, (0.0, 0.0), truth, np.zeros(truth.shape[1]), sigma,
        np.zeros(truth.shape, bool), d, 1.0, 1.0, 0.0,
    )  # fmt: skip


def test_snr_map_on_data_less_model_is_the_ideal_matched_filter() -> None:
    from ioscan.detect.disk_model import disk_snr_map

    rng = np.random.default_rng(11)
    shape, (cx, cy, r) = (128, 200), (100.4, 150.3, 110.2)
    sun = np.array([0.2, -0.6, 0.77]) / np.linalg.norm([0.2, -0.6, 0.77])
    truth = _lambert_sphere(shape, cx, cy, r, sun) + 5.0
    sigma = np.sqrt(1.0 + 0.02 * truth)  # the photon noise of the level: 1 on the sky, ~3 on the disk
    image = truth + rng.normal(0.0, 1.0, shape) * sigma
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    ideal, spots = [], []
    for x0, y0 in zip(rng.uniform(10, 190, 14), rng.uniform(6, 122, 14), strict=True):
        p = _point_source(shape, x0, y0, 1.0)
        flux = 10.0 / np.sqrt(np.sum(p**2 / sigma**2))  # ideal S/N 10 on its own noise
        image += flux * p
        spots.append((x0, y0))
    out = disk_snr_map(_known_fit(truth, sigma, cx, cy, r), image, PSF_SIGMA_PX)
    d = r - np.hypot(xx - cx, yy - cy)
    for x0, y0 in spots:
        i, j = int(round(y0)), int(round(x0))
        if abs(d[i, j]) > 6.0:  # (the limb's own scale reaches 6 px)
            ideal.append(out.snr[i - 1 : i + 2, j - 1 : j + 2].max() / 10.0)
    # the matched filter at the best of 4 phases keeps ≥ 0.9 of the ideal S/N (no local background)
    assert len(ideal) >= 8
    assert 0.9 < np.median(ideal) < 1.12
    # away from the sources, the calibrated map is a unit Gaussian and the scale stays near 1
    free = np.ones(shape, bool)
    for x0, y0 in spots:
        free &= np.hypot(xx - x0, yy - y0) > 5.0
    z = out.snr[free]
    assert 0.85 < 1.4826 * np.median(np.abs(z)) < 1.1
    assert np.median(out.scale) < 1.1 and out.scale.min() >= 1.0
    assert np.allclose(out.noise, sigma * out.scale)


def test_snr_map_raises_its_scale_where_the_model_misses_the_limb() -> None:
    from ioscan.detect.disk_model import disk_snr_map

    rng = np.random.default_rng(12)
    shape, (cx, cy, r) = (128, 200), (100.4, 150.3, 110.2)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    d = r - np.hypot(xx - cx, yy - cy)
    truth = np.where(d > 0, 300.0, 5.0)
    sigma = np.full(shape, 2.0)
    # the model misses the limb over its left half: a ridge of ±3σ per pixel (a misplaced edge) 0–2 px inside
    ridge = (d > 0) & (d < 2) & (xx < cx) & (xx > cx - 60)
    misfit = np.where(ridge, 3.0 * sigma * np.sign(rng.normal(size=shape)) + 4.0 * sigma, 0.0)
    image = truth + misfit + rng.normal(0.0, 1.0, shape) * sigma
    x0, y0 = cx + 30.0, cy - (r - 12.0)  # a hot spot 12 px inside, ideal S/N 12
    p = _point_source(shape, x0, y0, 1.0)
    image += 12.0 / np.sqrt(np.sum(p**2 / sigma**2)) * p
    out = disk_snr_map(_known_fit(truth, sigma, cx, cy, r), image, PSF_SIGMA_PX)
    # the misfit's cells take its rms: no pixel of the ridge reaches the detection threshold
    assert out.snr[ridge].max() < 5.2
    assert np.median(out.scale[ridge]) > 3.0
    # the far side of the limb and the hot spot are left as they were
    other = (np.abs(d) < 2) & (xx > cx + 5)
    assert np.median(out.scale[other]) < 1.15
    i, j = int(round(y0)), int(round(x0))
    assert out.snr[i - 1 : i + 2, j - 1 : j + 2].max() > 10.0
