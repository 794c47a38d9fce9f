"""Scene radiometry, PSF and JIRAM/AO rendering against independent analytic truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan import body as iobody
from ioscan.geometry.label_provider import pose_from_label
from ioscan.geometry.pose import backplanes_from_pose
from ioscan.instruments import jiram
from ioscan.radiometry.bands import BandResponse, band_radiance_w_m2_sr, band_response
from ioscan.records import LabelGeometry
from ioscan.simulate.flatfield import FlatField
from ioscan.simulate.psf import GaussianMixturePsf, ao_psf, jiram_psf
from ioscan.simulate.render_jiram import (
    JiramDetector,
    apply_detector,
    column_reflections,
    jiram_band_camera,
    render_band,
)
from ioscan.simulate.scene import (
    AU_KM,
    SurfaceModel,
    solar_band_irradiance_w_m2,
    surface_band_radiance_w_m2_sr,
    surface_radiance_image,
)


def _pose(range_km=50_000.0, sub_lon=300.0, sun_lon=300.0):
    g = LabelGeometry(5.0, sub_lon, 0.0, sun_lon, range_km, 20.0, range_km * jiram.IFOV_RAD, 215.5, 63.5)
    return pose_from_label(g, axes=jiram.PIXEL_AXES)  # the pose of a band camera with JIRAM's pixel axes


def _one_spot(lat=10.0, lon=310.0, t1=400.0, a1=50.0, t2=900.0, a2=0.5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["X"],
            "name": ["X"],
            "lat_deg": [lat],
            "lon_w_deg": [lon],
            "temp1_k": [t1],
            "area1_km2": [a1],
            "temp2_k": [t2],
            "area2_km2": [a2],
        }
    )


def test_solar_irradiance_integrates_to_solar_constant():
    lam = np.geomspace(0.05, 300.0, 600)  # many segments so the quadrature resolves the Planck peak
    broad = BandResponse("bolometric", lam, np.ones_like(lam), 1.0, 299.95)
    d = 5.2 * AU_KM
    assert solar_band_irradiance_w_m2(broad, d) == pytest.approx(1361.0 / 5.2**2, rel=2e-3)


def test_psf_patch_normalised_and_centred():
    psf = jiram_psf()
    for s, ln in [(10.3, 20.77), (5.5, 5.5), (100.0, 0.01)]:
        l0, s0, p = psf.patch(s, ln)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        ys, xs = np.mgrid[l0 : l0 + p.shape[0], s0 : s0 + p.shape[1]]
        # pixel-integrated sampling of a 0.6-px core has a small pixel-phase centroid bias (< 1e-3 px)
        assert np.sum(p * xs) == pytest.approx(s, abs=1e-3)
        assert np.sum(p * ys) == pytest.approx(ln, abs=1e-3)
    wide = GaussianMixturePsf((1.0,), (2.0,))  # no bias for a well-sampled Gaussian
    l0, s0, p = wide.patch(10.3, 20.77)
    ys, xs = np.mgrid[l0 : l0 + p.shape[0], s0 : s0 + p.shape[1]]
    assert np.sum(p * xs) == pytest.approx(10.3, abs=1e-8) and np.sum(p * ys) == pytest.approx(
        20.77, abs=1e-8
    )
    # an AO PSF core is diffraction-sized: 0.42 λ/D at 3.78 µm with 9.942 mas pixels ≈ 3.3 px
    assert ao_psf(3.776, 0.009942).sigmas_px[0] == pytest.approx(3.29, abs=0.05)


def test_fast_surface_path_equals_backplane_path():
    cam, pose = jiram_band_camera(), _pose(sun_lon=340.0)
    resp = band_response("JIRAM", "M")
    surf = SurfaceModel(seed=3, dark_spots=((10.0, 300.0, 3.0),))
    bp = backplanes_from_pose(cam, pose)
    a = surface_radiance_image(resp, cam, pose, surf)
    b = surface_band_radiance_w_m2_sr(resp, bp.arrays, surf, float(np.linalg.norm(pose.sun_km)))
    assert np.allclose(a, b, rtol=1e-8, atol=0) and (a > 0).sum() > 5000


def test_night_side_is_cold_thermal_only():
    cam, pose = jiram_band_camera(), _pose(sun_lon=120.0)  # sub-solar point on the far side
    resp = band_response("JIRAM", "M")
    surf = SurfaceModel()
    bp = backplanes_from_pose(cam, pose)
    img = surface_radiance_image(resp, cam, pose, surf)
    night = bp.on_disk & (bp["incidence_deg"] > 95)
    assert night.sum() > 1000
    expected = surf.emissivity * band_radiance_w_m2_sr(resp, surf.t_night_k)
    assert np.allclose(img[night], expected, rtol=1e-9)
    # day-side M radiance is dominated by sunlight, thermal ~1e-4 of it
    cam_day, pose_day = jiram_band_camera(), _pose(sun_lon=300.0)
    bp_day = backplanes_from_pose(cam_day, pose_day)
    day_img = surface_radiance_image(resp, cam_day, pose_day, surf)
    assert np.median(day_img[bp_day.on_disk & (bp_day["incidence_deg"] < 60)]) > 1000 * expected


@pytest.mark.parametrize("band", ["M", "L"])
def test_energy_check_isolated_hot_spot(band):
    """Σ pixels × (range · IFOV)² of a rendered hot spot = band radiance × area × cos e (within 1 %; a perfect
    flat field, whose residual would move it by ~0.4 %)."""
    cam, pose = jiram_band_camera(), _pose(range_km=80_000.0, sub_lon=320.0, sun_lon=330.0)
    spot = _one_spot()
    det = JiramDetector(flat=FlatField(pixel_rms=0.0, column_rms=0.0))
    rng = np.random.default_rng(0)
    kw = {"exposure_s": 0.001, "rng": rng, "detector": det, "noise": False, "artefacts": False}
    with_spot = render_band(band, cam, pose, spot, **kw)
    empty = spot.assign(area1_km2=0.0, area2_km2=0.0)
    without = render_band(band, cam, pose, empty, **kw)
    assert with_spot.image.max() < with_spot.saturation_w_m2_sr
    net = float(np.sum(with_spot.image.astype(np.float64) - without.image))
    # independent analytic intensity: Planck band radiance × area × cos e from the ellipsoid normal
    resp = band_response("JIRAM", band)
    p = iobody.surface_point_from_lat_pg(10.0, 310.0)
    to_obs = pose.observer_km - p
    rng_km = np.linalg.norm(to_obs)
    cos_e = float(iobody.surface_normal(p) @ to_obs / rng_km)
    intensity = (
        band_radiance_w_m2_sr(resp, 400.0) * 50e6 + band_radiance_w_m2_sr(resp, 900.0) * 0.5e6
    ) * cos_e
    footprint_m2 = (rng_km * 1e3 * jiram.IFOV_RAD) ** 2
    assert net * footprint_m2 == pytest.approx(float(intensity), rel=0.01)


def test_saturation_clips_at_exposure_dependent_level():
    det = JiramDetector()
    cam, pose = jiram_band_camera(), _pose(range_km=30_000.0)
    bright = _one_spot(t2=1300.0, a2=50.0)
    for exp in (0.01, 0.2):
        r = render_band("M", cam, pose, bright, exposure_s=exp, rng=np.random.default_rng(1), noise=True)
        sat = det.full_well_e / (det.responsivity_e["M"] * exp)
        assert r.saturation_w_m2_sr == pytest.approx(sat)
        assert r.image.max() == pytest.approx(sat, rel=1e-6)
        assert bool(r.spots.saturated.iloc[0])
        assert (r.image >= np.float32(sat) * (1 - 1e-6)).sum() >= 1


def test_noise_statistics_match_model():
    det = JiramDetector(read_noise_e=120.0, flat=FlatField(pixel_rms=0.0, column_rms=0.0))
    level = 0.02
    flat = np.full((400, 432), level)
    img, _ = apply_detector("L", flat, 0.05, det, np.random.default_rng(5), noise=True, artefacts=False)
    g = det.gain("L", 0.05)
    expected = np.sqrt(det.read_noise_e**2 + level * g) / g
    assert img.mean() == pytest.approx(level, rel=2e-3)
    assert img.std() == pytest.approx(expected, rel=0.02)
    dark, _ = apply_detector("L", np.zeros((400, 432)), 0.05, det, np.random.default_rng(6), artefacts=False)
    assert dark.std() == pytest.approx(det.read_noise_e / g, rel=0.02)


def test_residual_flat_field_has_its_stated_parts():
    """The flat field's residual: a pixel map fixed per detector (the same whatever the frame), each band on
    its own detector rows, and a smooth column response drawn per image, each of the stated rms; the frame's
    own noise draws are the ones it had without a flat field."""
    det = JiramDetector(flat=FlatField(pixel_rms=0.004, column_rms=0.003, column_scale_px=6.0))
    level = 0.02
    scene = np.full((128, 432), level)
    kw = {"noise": False, "artefacts": False}
    a, _ = apply_detector("L", scene, 0.05, det, np.random.default_rng(1), **kw)
    a2, _ = apply_detector("L", scene, 0.05, det, np.random.default_rng(1), **kw)
    b, _ = apply_detector("L", scene, 0.05, det, np.random.default_rng(2), **kw)
    m, _ = apply_detector("M", scene, 0.05, det, np.random.default_rng(1), **kw)
    assert np.array_equal(a, a2)  # a frame's generator decides its columns
    ra, rb, rm = (x.astype(float) / level for x in (a, b, m))
    ca, cb = ra.mean(axis=0), rb.mean(axis=0)
    assert ra.mean() == pytest.approx(1.0, abs=2e-3)
    # columns: rms 0.3 % (one 432-column draw of a smooth process: within 30 %), smooth, other per frame
    for c in (ca, cb):
        assert np.std(c) == pytest.approx(0.003, rel=0.3)
        assert np.corrcoef(c[:-1], c[1:])[0, 1] > 0.8
    assert abs(np.corrcoef(ca, cb)[0, 1]) < 0.5
    # pixels: what is left about each column's mean, 0.4 %, the same map in every frame
    pa, pb = ra / ca[None, :], rb / cb[None, :]
    assert np.std(pa) == pytest.approx(0.004, rel=0.05)
    assert np.corrcoef(pa.ravel(), pb.ravel())[0, 1] > 0.99
    # M reads other detector rows: its pixel map is unrelated to L's
    assert abs(np.corrcoef(pa.ravel(), (rm / rm.mean(axis=0)).ravel())[0, 1]) < 0.02
    # the noise draws are untouched: a noisy frame minus its noiseless flat-fielded image is the same noise
    # as without a flat field (up to the flat's scaling of the shot noise)
    perfect = JiramDetector(flat=FlatField(pixel_rms=0.0, column_rms=0.0))
    noisy, _ = apply_detector("L", scene, 0.05, det, np.random.default_rng(3), artefacts=False)
    plain, _ = apply_detector("L", scene, 0.05, perfect, np.random.default_rng(3), artefacts=False)
    flat_only, _ = apply_detector("L", scene, 0.05, det, np.random.default_rng(3), **kw)
    assert np.corrcoef((noisy - flat_only).ravel(), (plain - level).ravel())[0, 1] > 0.999
    c, _ = apply_detector("L", scene, 0.05, perfect, np.random.default_rng(1), **kw)
    assert np.allclose(c, level, rtol=1e-6)


def test_cosmic_rays_are_sharp_spikes():
    det = JiramDetector(cosmic_base=20.0)
    img, hits = apply_detector("M", np.zeros((128, 432)), 0.05, det, np.random.default_rng(2), noise=False)
    assert len(hits) > 5
    g = det.gain("M", 0.05)
    for ln, s, e in hits:
        assert img[ln, s] >= min(e / g, det.saturation_w_m2_sr("M", 0.05)) * 0.999
    assert np.count_nonzero(img) <= 2 * len(hits)


def test_column_reflections_spread_fixed_fraction_along_column():
    img = np.zeros((4000, 5))
    img[2000, 2] = 1.0
    ghost = column_reflections(img, 0.01, 40.0)
    assert ghost.sum() == pytest.approx(0.01, rel=1e-6)
    assert np.count_nonzero(ghost[:, [0, 1, 3, 4]]) == 0
    assert ghost[2000, 2] == 0.0 and ghost[1999, 2] == pytest.approx(ghost[2001, 2])
