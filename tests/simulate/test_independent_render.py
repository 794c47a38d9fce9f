"""The independent JIRAM-like renderer against analytic truth, and its products read back by ioscan."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from ioscan.formats import read_product
from ioscan.simulate.independent import (
    DetectorParams,
    GaussianPsf,
    HotSpotParams,
    SceneParams,
    draw_scene,
    render_scene,
    view_geometry,
    write_product,
)
from ioscan.simulate.independent import geometry as geo
from ioscan.simulate.independent.detector import apply_detector, cosmic_rays
from ioscan.simulate.independent.psf import ideal_snr
from ioscan.simulate.independent.surface import random_albedo_map, solar_band_irradiance_w_m2

_BAND_GROUP = (
    "GROUP INCIDENCE_ANGLE EMISSION_ANGLE PHASE_ANGLE SLANT_DISTANCE MINIMUM_LATITUDE CENTER_LATITUDE "
    "MAXIMUM_LATITUDE WESTERNMOST_LONGITUDE CENTER_LONGITUDE EASTERNMOST_LONGITUDE HORIZONTAL_PIXEL_SCALE "
    "VERTICAL_PIXEL_SCALE NORTH_AZIMUTH LINE_FIRST_PIXEL SAMPLE_FIRST_PIXEL END_GROUP "
)
#: keyword sequence of the real label JIR_IMG_RDR_2017033T114006_V02.LBL (../shared/data/real/), in order
REAL_LABEL_KEYWORDS = (
    "PDS_VERSION_ID DATA_SET_NAME DATA_SET_ID PRODUCT_ID PRODUCT_TYPE PROCESSING_LEVEL_ID START_TIME "
    "STOP_TIME SPACECRAFT_CLOCK_START_COUNT SPACECRAFT_CLOCK_STOP_COUNT STANDARD_DATA_PRODUCT_ID "
    "PRODUCER_FULL_NAME INSTITUTION_NAME PRODUCT_CREATION_TIME PRODUCT_VERSION_ID SEQUENCE_NUMBER "
    "SEQUENCE_SAMPLES MD5_CHECKSUM INSTRUMENT_HOST_NAME INSTRUMENT_HOST_ID COMMAND_FILE_NAME "
    "MISSION_PHASE_NAME INSTRUMENT_NAME INSTRUMENT_ID INSTRUMENT_TYPE SOFTWARE_VERSION_ID RIGHT_ASCENSION "
    "DECLINATION TWIST_ANGLE CELESTIAL_NORTH_CLOCK_ANGLE QUATERNION QUATERNION_DESC "
    "SPACECRAFT_SOLAR_DISTANCE SC_SUN_POSITION_VECTOR SC_SUN_VELOCITY_VECTOR ORBIT_NUMBER TARGET_NAME "
    "TARGET_TYPE TARGET_PIXELS JNO:TARGET_PRESENCE_FLAG COORDINATE_SYSTEM_NAME "
    "COORDINATE_SYSTEM_CENTER_NAME SUB_SPACECRAFT_LATITUDE SUB_SPACECRAFT_LONGITUDE "
    "SUB_SPACECRAFT_AZIMUTH SPACECRAFT_ALTITUDE TARGET_CENTER_DISTANCE SC_TARGET_POSITION_VECTOR "
    "SC_TARGET_VELOCITY_VECTOR SUB_SOLAR_LATITUDE SUB_SOLAR_LONGITUDE SUB_SOLAR_AZIMUTH "
    + _BAND_GROUP
    + _BAND_GROUP
    + "CHANNEL_ID INSTRUMENT_MODE_ID INSTRUMENT_MODE_DESC OBJECT RECORD_TYPE FILE_RECORDS RECORD_BYTES "
    "FRAME_TYPE DATA_QUALITY_ID DATA_QUALITY_DESC UNIT ^IMAGE OBJECT LINES LINE_SAMPLES SAMPLE_TYPE "
    "SAMPLE_BITS END_OBJECT OBJECT CALIBRATION_SOURCE_ID SOURCE_PRODUCT_ID NOTE END_OBJECT "
    "SPICE_FILE_NAME END_OBJECT "
).split()
#: the geometry keywords of that label (celestial, solar, target geometry and the two band groups)
GEOMETRY_KEYWORDS = set(REAL_LABEL_KEYWORDS[26:35] + REAL_LABEL_KEYWORDS[42:86])


def _keywords(label_text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\s*([A-Z0-9_:^]+)\s*=", label_text, re.MULTILINE)]


def _night_scene(seed: int = 1, **kw) -> SceneParams:
    """An eclipsed frame at 200,000 km with the disk in the middle (quiet background)."""
    view = view_geometry(range_km=200_000.0, center_sample_px=215.0, center_line_px=64.0, eclipsed=True)
    return SceneParams(seed=seed, view=view, **kw)


# ------------------------------------------------------------------------------------------------- geometry


def test_geometry_disk_area_centre_and_limb():
    view = view_geometry(
        range_km=150_000.0, center_sample_px=200.3, center_line_px=60.7, north_pa_deg=33.0, triaxial=False
    )
    b2c = view.body_to_cam
    assert np.allclose(b2c @ b2c.T, np.eye(3), atol=1e-12) and np.linalg.det(b2c) == pytest.approx(1.0)
    hit = geo.intersect(view, np.array([200.3]), np.array([60.7]))
    assert hit.hit[0] and hit.cos_emission[0] == pytest.approx(1.0, abs=1e-9)
    frame = render_scene(SceneParams(seed=3, view=view, hot_spots=HotSpotParams(n_surface_mean=0)))
    band = frame.bands["M"]
    r_px = np.arcsin(geo.IO_MEAN_RADIUS_KM / view.range_km) / geo.IFOV_RAD
    assert band.on_disk_fraction.sum() == pytest.approx(np.pi * r_px**2, rel=2e-3)
    ii, jj = np.nonzero(band.limb_mask)
    ring = np.hypot(jj - 200.3, ii - 60.7)
    assert np.all(np.abs(ring - r_px) < 1.0)
    assert len(frame.limb_pixels) == band.limb_mask.sum()


def test_day_night_flags():
    night = render_scene(_night_scene(hot_spots=HotSpotParams(n_surface_mean=0)))
    assert night.illumination == "night" and night.bands["M"].sunlit.max() == 0.0
    assert np.abs(night.bands["M"].background - night.params.detector.bg_residual_w_m2_sr).max() < 1e-4
    day_view = view_geometry(range_km=200_000.0, center_sample_px=215.0, center_line_px=64.0, phase_deg=10.0)
    day = render_scene(SceneParams(seed=1, view=day_view))
    assert day.illumination == "day"
    # sub-solar M radiance ~ albedo × F / π: the documented level (~1e-3–1e-2 W m⁻² sr⁻¹)
    peak = day.bands["M"].sunlit.max()
    f_sun = solar_band_irradiance_w_m2("M", 5.2)
    assert 0.05 < f_sun < 0.12 and 0.3 * 0.9 * f_sun / np.pi < peak < 0.6 * 1.3 * f_sun / np.pi


# ------------------------------------------------------------------------------------------------------ PSF


@pytest.mark.parametrize("sigma, elong", [(0.8, 1.0), (0.56, 1.0), (1.04, 1.0), (0.8, 1.6)])
def test_psf_conserves_flux(sigma, elong):
    psf = GaussianPsf(sigma, elong)
    rng = np.random.default_rng(0)
    for s, ln in rng.uniform(20, 100, (5, 2)):
        _, _, st = psf.stamp(s, ln)
        assert st.sum() == pytest.approx(1.0, abs=1e-8)
        _, _, sup = replace(psf, supersample=9).stamp(s, ln)
        assert np.abs(sup - st).max() < 5e-3 * st.max()
    img = np.zeros((60, 80))
    psf.add_sources(img, [40.3, -0.5], [30.7, 20.0], [2.0, 1.0])  # the second sits on the left edge
    assert img.sum() == pytest.approx(2.5, abs=1e-3)
    # centroid and second moment of the stamp are the Gaussian's (the pixel box adds ~1/12 px², Sheppard)
    l0, s0, st = psf.stamp(40.3, 30.7)
    yy, xx = np.mgrid[l0 : l0 + st.shape[0], s0 : s0 + st.shape[1]]
    assert (st * xx).sum() == pytest.approx(40.3, abs=2e-3)
    assert (st * yy).sum() == pytest.approx(30.7, abs=2e-3)
    assert (st * (yy - 30.7) ** 2).sum() == pytest.approx((sigma * elong) ** 2 + 1 / 12, rel=2e-2)


def test_ideal_snr_formula_noiseless_and_noisy():
    psf = GaussianPsf(0.8)
    _, _, st = psf.stamp(10.2, 10.4)
    sigma = 3e-5
    flux = 6.0 * sigma / np.sqrt(np.sum(st**2))  # S/N 6 by the formula flux / (σ · sqrt(1/ΣP²))
    assert ideal_snr(flux, st, np.full(st.shape, sigma)) == pytest.approx(6.0, rel=1e-12)
    rng = np.random.default_rng(5)
    noisy = flux * st + rng.normal(0.0, sigma, (4000, *st.shape))
    est = (noisy * st).sum(axis=(1, 2)) / sigma / np.sqrt(np.sum(st**2))  # the matched filter at the source
    assert est.mean() == pytest.approx(6.0, abs=0.08) and est.std() == pytest.approx(1.0, abs=0.05)


def test_truth_snr_matches_the_noise_and_psf_of_the_frame():
    frame = render_scene(_night_scene(seed=4, hot_spots=HotSpotParams(flux_max_w_m2_sr=0.05)))
    t = frame.truth
    assert len(t) > 3
    band = frame.bands["M"]
    det = frame.params.detector
    sigma0 = np.sqrt(det.bg_subtracted_w_m2_sr * det.radiance_per_electron + det.read_noise_w_m2_sr**2)
    assert np.allclose(band.sigma, sigma0, rtol=1e-6)  # eclipsed: no sky signal, uniform noise
    inner = t[(t["sample"] > 8) & (t["sample"] < 423) & (t["line"] > 8) & (t["line"] < 119)]
    for _, row in inner.iterrows():
        _, _, st = frame.params.psf.stamp(row["sample"], row["line"])
        expect = row["flux_w_m2_sr"] / (sigma0 * np.sqrt(1.0 / np.sum(st**2)))
        assert row["snr_ideal"] == pytest.approx(expect, rel=1e-6)
    # the image minus the true background is the hot spots + noise + cosmic rays: their flux is there
    resid = band.image - band.background
    crs = frame.cosmic_rays
    resid[crs["line"], crs["sample"]] = 0.0
    assert resid.sum() == pytest.approx(t["flux_w_m2_sr"].sum(), abs=5 * sigma0 * np.sqrt(resid.size) + 1e-6)


# ------------------------------------------------------------------------------------------------ detector


def test_saturation_clipping_and_onboard_subtraction():
    det = DetectorParams(saturation_w_m2_sr=0.05, bg_subtracted_w_m2_sr=0.004, bg_residual_w_m2_sr=1e-5)
    sky = np.zeros((20, 30))
    sky[5, 5], sky[10, 10] = 1.0, 0.02
    rng = np.random.default_rng(2)
    no_hits = cosmic_rays(rng, replace(det, cosmic_rays_mean=0), sky.shape)
    img = apply_detector(rng, sky, det, np.ones(30), np.zeros(30), no_hits)
    sat = det.product_saturation_w_m2_sr
    assert sat == pytest.approx(0.05 - 0.004 + 1e-5)
    assert img.max() == pytest.approx(sat) and img[5, 5] == pytest.approx(sat)
    assert abs(img[10, 10] - 0.02 - 1e-5) < 5 * 1e-3  # not clipped
    assert np.median(img) == pytest.approx(1e-5, abs=2e-5)  # the sky reads the residual only
    # a scene of bright hot spots only: every one saturates and its peak sits at the product saturation
    bright = HotSpotParams(n_surface_mean=30, snr_min=5e3, flux_max_w_m2_sr=5.0, pair_probability=0.0)
    frame = render_scene(_night_scene(seed=7, hot_spots=bright))
    t, band = frame.truth, frame.bands["M"]
    assert len(t) > 3 and t["saturated"].all()
    assert band.image.max() == pytest.approx(frame.saturation_w_m2_sr, rel=1e-6)
    for s, ln in zip(t["sample"], t["line"], strict=True):
        assert band.image[int(round(ln)), int(round(s))] == pytest.approx(frame.saturation_w_m2_sr, rel=1e-6)


def test_drawn_variance_is_the_stated_one_with_onboard_subtraction():
    """The pixels' variance as drawn: (sky·g + B)·q + σ_read², q the raw saturation over the full well — the
    subtracted background's shot noise stays, and the product's saturation level (raw − B + residual) over the
    full well understates q by B / raw saturation (the measurement's shot-noise term reads q from it)."""
    det = DetectorParams(
        saturation_w_m2_sr=0.04,
        full_well_e=2.5e5,
        read_noise_w_m2_sr=3e-5,
        bg_subtracted_w_m2_sr=0.006,
        bg_residual_w_m2_sr=2e-5,
        cosmic_rays_mean=0.0,
    )
    rng = np.random.default_rng(11)
    q = det.saturation_w_m2_sr / det.full_well_e
    gains = np.full(400, 1.01)
    no_hits = cosmic_rays(rng, det, (100, 400))
    for level in (0.0, 0.002, 0.01):
        img = apply_detector(rng, np.full((100, 400), level), det, gains, np.zeros(400), no_hits)
        stated = (level * 1.01 + det.bg_subtracted_w_m2_sr) * q + det.read_noise_w_m2_sr**2
        assert np.var(img) == pytest.approx(stated, rel=0.05)  # 40,000 pixels: 0.7 % 1σ
        assert np.mean(img) == pytest.approx(level * 1.01 + det.bg_residual_w_m2_sr, abs=1e-6)
    q_product = det.product_saturation_w_m2_sr / det.full_well_e
    assert q_product / q == pytest.approx(1 - (0.006 - 2e-5) / 0.04)


def test_cosmic_rays_column_effects_and_noise():
    det = DetectorParams(cosmic_rays_mean=20.0, column_gain_rms=0.0, column_offset_rms_w_m2_sr=0.0)
    frame = render_scene(_night_scene(seed=9, detector=det, hot_spots=HotSpotParams(n_surface_mean=0)))
    band, crs = frame.bands["M"], frame.cosmic_rays
    assert crs["hit"].nunique() > 5 and crs.groupby("hit").size().max() <= 3
    resid = (band.image - band.background) / band.sigma
    hit = np.zeros(band.image.shape, bool)
    hit[crs["line"], crs["sample"]] = True
    assert resid[hit].min() > 1.0  # hits are ≥ 5 σ_read before noise
    assert resid[~hit].std() == pytest.approx(1.0, abs=0.02)  # the stated noise is the noise
    step = DetectorParams(gain_step=(100, 200, 1.02), column_gain_rms=0.0, column_offset_rms_w_m2_sr=0.0)
    view = view_geometry(range_km=20_000.0, center_sample_px=215.0, center_line_px=64.0, phase_deg=5.0)
    flat = SceneParams(
        seed=2, view=view, detector=step, hot_spots=HotSpotParams(n_surface_mean=0), albedo_contrast=0.0
    )
    day = render_scene(flat)
    b = day.bands["M"]
    assert np.median(b.background[:, 100] / b.background[:, 99]) == pytest.approx(1.02, abs=0.002)
    assert np.median(b.background[:, 199] / b.background[:, 200]) == pytest.approx(1.02, abs=0.002)


# --------------------------------------------------------------------------------------------------- albedo


def test_albedo_has_no_structure_finer_than_8_px():
    rng = np.random.default_rng(11)
    view = view_geometry(range_km=20_000.0, center_sample_px=215.5, center_line_px=63.5, sub_obs_lat_deg=20.0)
    ss, ll = np.meshgrid(np.arange(432.0), np.arange(128.0))
    hits = geo.intersect(view, ss, ll)
    assert hits.hit.all() and hits.cos_emission.min() > 0.8  # the frame sits well inside the disk
    window = np.outer(np.hanning(128), np.hanning(432))
    for _ in range(3):
        alb = random_albedo_map(rng, pixel_scale_km=view.pixel_scale_km)
        assert alb.min_wavelength_km >= 20 * view.pixel_scale_km * 0.999
        field = alb.field(hits.point_body_km)
        power = np.abs(np.fft.fft2((field - field.mean()) * window)) ** 2
        fy, fx = np.meshgrid(np.fft.fftfreq(128), np.fft.fftfreq(432), indexing="ij")
        fine = np.hypot(fx, fy) > 1 / 8  # cycles per pixel
        assert power[fine].sum() / power.sum() < 1e-3
    noise = rng.normal(size=(128, 432))  # the same measure flags white noise
    p_noise = np.abs(np.fft.fft2(noise * window)) ** 2
    assert p_noise[fine].sum() / p_noise.sum() > 0.5


# ------------------------------------------------------------------------------------------------- products


@pytest.mark.parametrize("mode", ["I2", "I1"])
def test_products_read_back_by_ioscan(tmp_path, mode):
    params = draw_scene(np.random.default_rng(21), kind="day", mode=mode, range_km=150_000.0)
    frame = render_scene(params)
    lbl = write_product(frame, tmp_path)
    text = lbl.read_text()
    assert _keywords(text) == REAL_LABEL_KEYWORDS
    assert 'TARGET_NAME                    = "IO"' in text and "<degree>" not in text
    f = read_product(lbl)
    assert f.mode == mode and f.label_geometry is None and f.metadata["target_name"] == "IO"
    assert f.metadata["label_geometry_partial"] == {}
    for name, band in frame.bands.items():
        assert np.array_equal(f.bands[name].data.view(np.uint32), band.image.view(np.uint32))
        assert f.bands[name].line_offset == band.line_offset and f.bands[name].unit == "W m-2 sr-1"
    if mode == "I1":
        assert frame.truth["band"].isin(["L", "M"]).all()
        m = frame.truth[frame.truth["band"] == "M"]
        assert (m["line"] >= 127.5).all()


def test_product_without_geometry_keywords_and_legacy_unit(tmp_path):
    frame = render_scene(_night_scene(seed=2))
    lbl = write_product(frame, tmp_path, geometry="absent", label_unit="W/(m^2*sr*micron)")
    kws = _keywords(lbl.read_text())
    assert kws == [k for k in REAL_LABEL_KEYWORDS if k not in GEOMETRY_KEYWORDS]
    f = read_product(lbl)
    assert f.metadata["label_unit"] == "W/(m^2*sr*micron)" and f.bands["M"].unit == "W m-2 sr-1"
    assert np.array_equal(f.bands["M"].data, frame.bands["M"].image)
    assert "SUBTRACTION BACKGROUND ON BOARD" in lbl.read_text()
