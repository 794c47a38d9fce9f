"""The texture GLS study (benchmarks/texture_gls.py) against independent truth: a texture on a sphere.

The field is a sum of plane waves in 3-D, f(p) = Σ cos(k·p + φ), p on a sphere of radius R px seen from afar
(orthographic), |k| = K and directions isotropic: its covariance between two surface points is
sin(K d) / (K d), d their 3-D distance (for lags small against R, the surface lag) — the same everywhere on
the surface, foreshortened in the image towards the limb.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import texture_gls as tg  # noqa: E402

RADIUS_PX = 150.0
SHAPE = (200, 340)
CENTER = (170.0, 175.0)  # sample, line: the disk's top part in view, as JIRAM's frames often have it
WAVELENGTH_PX = 24.0
K_RAD_PX = 2 * np.pi / WAVELENGTH_PX


def isotropic_wavevectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """n 3-D wavevectors of length K, directions isotropic."""
    u = rng.normal(size=(n, 3))
    return K_RAD_PX * u / np.linalg.norm(u, axis=1, keepdims=True)


def sphere_points(sample_px: np.ndarray, line_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(3-D points (..., 3) px on the sphere under pixels, on-disk mask) for the test disk."""
    x, y = sample_px - CENTER[0], line_px - CENTER[1]
    z2 = RADIUS_PX**2 - x**2 - y**2
    return np.stack([x, y, np.sqrt(np.maximum(z2, 0.0))], axis=-1), z2 > 0


def sphere_texture(rng: np.random.Generator, sample_px, line_px, n_waves: int = 400) -> np.ndarray:
    """A unit-variance realisation of the sphere's field at pixels (0 off the disk)."""
    k = isotropic_wavevectors(rng, n_waves)
    phase = rng.uniform(0, 2 * np.pi, n_waves)
    p, on = sphere_points(sample_px, line_px)
    f = np.cos(p @ k.T + phase).sum(axis=-1) * np.sqrt(2.0 / n_waves)
    return np.where(on, f, 0.0)


def sinc3(d_px: np.ndarray) -> np.ndarray:
    """The field's correlation at 3-D distance d: sin(K d) / (K d)."""
    x = K_RAD_PX * np.asarray(d_px, float)
    return np.where(x > 1e-9, np.sin(x) / np.maximum(x, 1e-12), 1.0)


def told_spectrum(n: int = 40_000) -> tg.SurfaceSpectrum:
    """The field's ensemble spectrum on the sub-observer tangent plane (the projections of isotropic k)."""
    k = isotropic_wavevectors(np.random.default_rng(5), n)[:, :2]
    half = 24
    grid = np.zeros((2 * half + 1, 2 * half + 1))
    ix = np.rint(k / tg.K_STEP_RAD_PX).astype(int) + half
    np.add.at(grid, (ix[:, 1], ix[:, 0]), 0.5 / n)
    np.add.at(grid, (2 * half - ix[:, 1], 2 * half - ix[:, 0]), 0.5 / n)
    return tg.spectrum_from_grid(grid, tg.K_STEP_RAD_PX, 0.999, 150)


CIRCLE = tg.DiskCircle(CENTER[0], CENTER[1], RADIUS_PX)
CONTRAST = 0.2
NOISE = 0.005  # relative texture units: the texture is 40 × the noise


@lru_cache(maxsize=4)
def frame_texture(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(relative texture + white noise, its noise variance, usable mask) over the test frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)
    f = CONTRAST * sphere_texture(rng, xx, yy) + rng.normal(0, NOISE, SHAPE)
    _, on = sphere_points(xx, yy)
    return f, np.full(SHAPE, NOISE**2), on


LAGS_PX = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [4.0, 4.0], [9.0, 0.0], [0.0, 9.0]])
SEEDS = (1, 2, 3)


def learned_correlations() -> tuple[np.ndarray, list[float]]:
    """(mean over SEEDS of the learned correlation at LAGS_PX, the learned variances)."""
    corr, var = [], []
    for seed in SEEDS:
        f, nv, on = frame_texture(seed)
        spec = tg.learn_surface_spectrum(f, nv, on, CIRCLE)
        assert spec is not None
        corr.append(spec.covariance(LAGS_PX) / spec.variance)
        var.append(spec.variance)
    return np.mean(corr, axis=0), var


def test_learned_covariance_matches_the_surface_truth() -> None:
    """Variance within 20 % of contrast² (each frame; the noise's share taken off), the correlation at lags
    6–9 px along both axes (the view is of the disk's top: line ≈ radial, sample ≈ tangential) within 0.15
    of sin(Kd)/(Kd) (mean of 3 frames: one frame's texture holds only ~50 independent cells)."""
    corr, var = learned_correlations()
    np.testing.assert_allclose(var, CONTRAST**2, rtol=0.2)
    truth = sinc3(np.linalg.norm(LAGS_PX, axis=1))
    np.testing.assert_allclose(corr, truth, atol=0.15)


def test_learning_without_de_foreshortening_is_worse(monkeypatch) -> None:
    """With every learning pixel taken as seen face-on (no radial stretch by 1/cos e) the learned
    correlations are further from the truth: total absolute error ≥ 1.3 × the mapped learning's."""
    truth = sinc3(np.linalg.norm(LAGS_PX, axis=1))
    mapped = np.sum(np.abs(learned_correlations()[0] - truth))
    monkeypatch.setattr(tg, "LEARN_RINGS", ((0.6, 1.01, 1),))
    face_on = np.sum(np.abs(learned_correlations()[0] - truth))
    assert face_on >= 1.3 * mapped


def test_zone_near_the_limb_learns_the_surface_covariance() -> None:
    """The zone of cos e 0.2–0.4 (3–9 px deep in the image radially for 15–30 px of surface) learns the same
    surface correlation as the centre: within 0.15 of sin(Kd)/(Kd) at lags 6–9 px (mean of 3 frames), its
    variance within 25 % of contrast²; a window there takes that zone's spectrum."""
    corr, var = [], []
    for seed in SEEDS:
        zones = tg.learn_zone_spectra(*frame_texture(seed), CIRCLE)
        assert [lo for lo, _ in zones] == [z[0] for z in tg.ZONES_COS_E]
        spec = dict(zones)[0.2]
        corr.append(spec.covariance(LAGS_PX) / spec.variance)
        var.append(spec.variance)
        assert tg.zone_spectrum(zones, CIRCLE, window_at(10.0, -2.0)) is spec  # cos e 0.36
    np.testing.assert_allclose(var, CONTRAST**2, rtol=0.25)
    np.testing.assert_allclose(np.mean(corr, axis=0), sinc3(np.linalg.norm(LAGS_PX, axis=1)), atol=0.15)


def window_at(limb_px: float, angle_rad: float) -> tuple[float, float]:
    """(sample, line) of a point ``limb_px`` inside the limb at a position angle."""
    r = RADIUS_PX - limb_px
    return CENTER[0] + r * np.cos(angle_rad), CENTER[1] + r * np.sin(angle_rad)


def filter_outputs(centre: tuple[float, float], n_real: int, mapping: bool) -> tuple[np.ndarray, float]:
    """(outputs of the centred 15-px GLS filter on ``n_real`` independent textures + noise, its S/N for a
    unit flux) at a window centre, disk brightness 1, the told ensemble spectrum; ``mapping`` False: the
    window's surface coordinates are its image offsets (no foreshortening)."""
    width, h = 15, 7
    cs, cl = centre
    oy, ox = np.mgrid[-h : h + 1, -h : h + 1].astype(float)
    xs, ys = (cs + ox).ravel(), (cl + oy).ravel()
    _, on = sphere_points(xs, ys)
    u = tg.window_surface_coordinates(CIRCLE, cs, cl, width)
    if not mapping:
        u = np.column_stack([ox.ravel(), oy.ravel()])
    spec = told_spectrum()
    spec = tg.SurfaceSpectrum(spec.kappa_rad_px, spec.power * CONTRAST**2)
    win = tg.BinWindow(u, on.astype(float), np.full(xs.size, NOISE**2), np.ones((xs.size, 1)))
    psf = np.exp(-0.5 * (ox**2 + oy**2) / 0.8**2).ravel()
    psf /= psf.sum()
    kernel, info = tg.gls_kernels(spec, win, psf[:, None])
    rng = np.random.default_rng(7)
    out = np.array(
        [
            (CONTRAST * sphere_texture(rng, xs, ys) + rng.normal(0, NOISE, xs.size)) @ kernel[:, 0]
            for _ in range(n_real)
        ]
    )
    return out, float(np.sqrt(info[0]))


@pytest.mark.parametrize("limb_px", [3.0, 30.0])
def test_gls_output_is_unit_noise_on_the_sphere_texture(limb_px: float) -> None:
    """Near the limb (cos e 0.2) and deeper (cos e 0.6): the filter's output over independent sphere textures
    has a standard deviation of 1 within 25 % (its S/N is honest), and its S/N for a unit flux is ≥ 65 % of
    the white-noise matched filter's (√Σp² / NOISE): the texture, 40 × the noise, is nulled."""
    out, snr_per_flux = filter_outputs(window_at(limb_px, -2.0), 300, mapping=True)
    assert np.std(out) == pytest.approx(1.0, rel=0.25)
    yy, xx = np.mgrid[-7:8, -7:8]
    p = np.exp(-0.5 * (xx**2 + yy**2) / 0.8**2)
    white = np.sqrt(np.sum((p / p.sum()) ** 2)) / NOISE
    assert snr_per_flux >= 0.65 * white


def test_gls_near_the_limb_needs_the_foreshortening() -> None:
    """3 px inside the limb a filter that takes the texture as unforeshortened lets it through: its output's
    standard deviation is > 2 (not the 1 it claims)."""
    out, _ = filter_outputs(window_at(3.0, -2.0), 300, mapping=False)
    assert np.std(out) > 2.0


def test_bank_map_finds_an_injected_source_at_its_snr() -> None:
    """The whole-map bank on a textured disk (brightness 1, the spectrum learned from another frame), on a
    cut of the frame: an injected source's centred response is its predicted S/N within 15 %, and the map's
    robust spread on the disk (away from the source and the limb) is 1 within 30 %."""
    spec = tg.learn_surface_spectrum(*frame_texture(1), CIRCLE)
    f, _, on = frame_texture(2)
    cut = (slice(30, 110), slice(80, 260))
    circle = tg.DiskCircle(CENTER[0] - 80, CENTER[1] - 30, RADIUS_PX)
    f, disk = f[cut], on[cut].astype(float)
    shape = f.shape
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    src, flux = (60.0, 40.0), 0.5
    psf = np.exp(-0.5 * ((xx - src[0]) ** 2 + (yy - src[1]) ** 2) / 0.8**2)
    image = (f + flux * psf / psf.sum()) * disk
    oy, ox = np.mgrid[-7:8, -7:8].astype(float)
    template = np.exp(-0.5 * (ox**2 + oy**2) / 0.8**2)
    template /= template.sum()
    sigma = np.full(shape, NOISE)
    maps = tg.texture_gls_maps(image, disk, sigma, circle, spec, [template])
    bins = tg.filter_bins(circle, shape)
    b = bins.label[int(src[1]), int(src[0])]
    win = tg.bin_window(circle, disk, sigma**2, tuple(bins.centers[b]), bins.limb_px[b], 15, 8.0)
    _, info = tg.gls_kernels(spec, win, template.ravel()[:, None])
    assert maps.centred[int(src[1]), int(src[0])] == pytest.approx(flux * np.sqrt(info[0]), rel=0.15)
    r = np.hypot(xx - circle.center_sample, yy - circle.center_line)
    away = (r < RADIUS_PX - 20) & (np.hypot(xx - src[0], yy - src[1]) > 10)
    z = maps.centred[away & np.isfinite(maps.centred)]
    spread = 1.4826 * np.median(np.abs(z - np.median(z)))
    assert spread == pytest.approx(1.0, rel=0.3)
