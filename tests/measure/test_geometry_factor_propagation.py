"""The intensity's geometric factor (pixel scale)² / cos e under a pointing error, propagated by the
backplanes' local Jacobian (``surface_positions``' ``geometry_err_fraction``): its stated 1σ is the factor's
true sensitivity to the pointing, up to emission 80°.

Truth: the independent renderer's own ray–ellipsoid intersection (``ioscan.simulate.independent.geometry``),
at the exact sub-pixel position, in the true view and in views shifted by drawn pointing errors; ioscan's
side reads backplanes made at pixel centres (bilinear, finite differences over ±0.5 px)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from ioscan.instruments import get_instrument
from ioscan.measure.config import MeasureConfig
from ioscan.measure.errors import prior_for
from ioscan.measure.intensity import set_intensities
from ioscan.measure.positions import locate_detections, surface_positions
from ioscan.records import BandImage, Detection
from ioscan.robust import mad_sigma
from ioscan.simulate.independent import geometry as igeo
from ioscan.simulate.independent.scene import draw_scene
from ioscan.simulate.independent_backplanes import truth_backplanes

POINTING_PX = 0.25
EMISSION_BINS = ((0.0, 60.0), (60.0, 75.0), (75.0, 80.0))
#: pointing draws per view: one draw moves every position of a view together, so the draws (not the
#: positions) set how well a bin's spread is known (~0.05 in its robust std at 3 × 100)
DRAWS = 100


def _factor(view: igeo.ViewGeometry, s: np.ndarray, ln: np.ndarray) -> np.ndarray:
    """(range · IFOV)² / cos e, km², at M-band sub-pixel positions, from the renderer's intersection."""
    hits = igeo.intersect(view, s, ln)
    p_cam = hits.point_body_km @ view.body_to_cam.T + view.center_cam_km
    scale = np.linalg.norm(p_cam, axis=-1) * igeo.IFOV_RAD
    cos_e = np.clip(hits.cos_emission, 1e-9, None)
    return np.where(hits.hit & (hits.cos_emission > 0), scale**2 / cos_e, np.nan)


def _shifted(view: igeo.ViewGeometry, shift) -> igeo.ViewGeometry:
    return replace(
        view,
        center_sample_px=view.center_sample_px + float(shift[0]),
        center_line_px=view.center_line_px + float(shift[1]),
    )


def _positions(view: igeo.ViewGeometry, rng: np.random.Generator, per_bin: int):
    """Sub-pixel M-band positions ≥ 2 px inside the frame, ``per_bin`` per emission bin where the frame has
    them, with their true emission (deg)."""
    bp = truth_backplanes(view, "M")
    e = bp.arrays["emission_deg"]
    ll, ss = np.nonzero(np.isfinite(e))
    keep = (ll >= 2) & (ll < igeo.N_LINES_BAND - 2) & (ss >= 2) & (ss < igeo.N_SAMPLES - 2)
    ll, ss = ll[keep], ss[keep]
    s_out, l_out = [], []
    for lo, hi in EMISSION_BINS:
        idx = np.flatnonzero((e[ll, ss] >= lo) & (e[ll, ss] < hi))
        pick = rng.choice(idx, min(per_bin, idx.size), replace=False) if idx.size else idx
        s_out.append(ss[pick] + rng.uniform(-0.5, 0.5, pick.size))
        l_out.append(ll[pick] + rng.uniform(-0.5, 0.5, pick.size))
    s, ln = np.concatenate(s_out), np.concatenate(l_out)
    cos_e = igeo.intersect(view, s, ln).cos_emission
    return s, ln, np.degrees(np.arccos(np.clip(cos_e, -1, 1)))


@pytest.fixture(scope="module")
def scenes():
    """Three day scenes at 30,000-80,000 km (disks 70-190 px in radius: the limb in frame)."""
    rng = np.random.default_rng(20261206)
    return [draw_scene(rng, kind="day", range_km=(30_000.0, 80_000.0)).view for _ in range(3)]


def test_stated_sensitivity_is_the_exact_gradient(scenes):
    """The stated 1σ of ln G for a 0.25-px pointing error on both axes equals 0.25 px × |∇ ln G| from the
    exact factor: median ratio within 2 % in every emission bin, 90 % of positions within 10 % below 75°."""
    rng = np.random.default_rng(1)
    ratio, emission = [], []
    for view in scenes:
        s, ln, e = _positions(view, rng, 40)
        bp = truth_backplanes(view, "M")
        err = np.full(s.size, POINTING_PX)
        stated = np.array([p.geometry_err_fraction for p in surface_positions(bp, s, ln, err, err)])
        d = 0.02
        g_s = (np.log(_factor(view, s + d, ln)) - np.log(_factor(view, s - d, ln))) / (2 * d)
        g_l = (np.log(_factor(view, s, ln + d)) - np.log(_factor(view, s, ln - d))) / (2 * d)
        ratio.append(stated / (POINTING_PX * np.hypot(g_s, g_l)))
        emission.append(e)
    ratio, emission = np.concatenate(ratio), np.concatenate(emission)
    for lo, hi in EMISSION_BINS:
        r = ratio[(emission >= lo) & (emission < hi) & np.isfinite(ratio)]
        assert r.size >= 30, (lo, hi, r.size)
        assert abs(np.median(r) - 1) < 0.02, (lo, hi, np.median(r))
        if hi <= 75:
            assert np.mean(np.abs(r - 1) < 0.10) >= 0.9, (lo, hi, np.percentile(r, [5, 95]))


def test_pulls_under_drawn_pointing_errors(scenes):
    """Drawn pointing errors (σ 0.25 px per axis, one per believed view, as bench_pulls draws them): the
    factor read from the believed view's backplanes over the true factor, in units of the stated 1σ, has a
    robust std and an rms within 0.85-1.15 per emission bin (the linear propagation holds near the limb
    too)."""
    rng = np.random.default_rng(2)
    pulls, emission = [], []
    for view in scenes:
        s, ln, e = _positions(view, rng, 8)
        true = _factor(view, s, ln)
        err = np.full(s.size, POINTING_PX)
        for _ in range(DRAWS):
            believed = truth_backplanes(_shifted(view, rng.normal(0.0, POINTING_PX, 2)), "M")
            pos = surface_positions(believed, s, ln, err, err)
            ok = np.array([p is not None and p.on_disk for p in pos])
            got = np.array(
                [p.pixel_scale_km**2 / np.cos(np.radians(p.emission_deg)) if p else np.nan for p in pos]
            )
            frac = np.array([p.geometry_err_fraction if p else np.nan for p in pos])
            pulls.append(np.where(ok, np.log(got / true) / frac, np.nan))
            emission.append(e)
    pulls, emission = np.concatenate(pulls), np.concatenate(emission)
    for lo, hi in EMISSION_BINS:
        p = pulls[(emission >= lo) & (emission < hi) & np.isfinite(pulls)]
        assert p.size >= 4 * DRAWS, (lo, hi, p.size)
        assert 0.85 <= mad_sigma(p) <= 1.15, (lo, hi, mad_sigma(p))
        assert 0.85 <= np.sqrt(np.mean(p**2)) <= 1.15, (lo, hi, np.sqrt(np.mean(p**2)))


def _detection(sample: float, line: float) -> Detection:
    return Detection(
        band="M",
        sample=sample,
        line=line,
        sample_err_px=0.05,
        line_err_px=0.05,
        snr=100.0,
        net_radiance_sum=1e-3,
        net_radiance_sum_err=1e-5,
        unit="W m-2 sr-1",
        background=0.0,
        peak=1e-3,
        n_pixels=25,
        extra={"psf_core_sigma_px": 0.8, "chi2_dof": 1.0},
    )


def test_no_intensity_where_the_factor_has_no_error(scenes):
    """A centroid on a limb pixel whose backplane neighbours lie off the disk: the factor's derivatives are
    undefined, so no error can be propagated; such detections get no intensity (they were given one with a
    geometric error of 0: pulls of −30 to −660 on the renderer) and say why; one 5 px inside gets both."""
    view = scenes[0]
    bp = truth_backplanes(view, "M")
    d = bp.arrays["limb_distance_px"]
    on_disk = bp.arrays["on_disk"] > 0
    ll, ss = np.nonzero(on_disk & ~ndimage.binary_erosion(on_disk))  # the disk's outermost pixels
    off = np.linspace(-0.45, 0.45, 7)
    ss = (ss[:, None, None] + off[None, :, None] + 0 * off[None, None, :]).ravel()
    ll = (ll[:, None, None] + 0 * off[None, :, None] + off[None, None, :]).ravel()
    err = np.full(ll.size, POINTING_PX)
    pos = surface_positions(bp, ss, ll, err, err)
    frac = np.array([p.geometry_err_fraction if p is not None and p.on_disk else 1.0 for p in pos])
    undefined = np.flatnonzero(~np.isfinite(frac))
    assert undefined.size, "a position on a limb pixel with undefined derivatives"
    assert not np.any(frac == 0), "a geometric error of 0 at the limb"
    on = [p for p in pos if p is not None and p.on_disk]
    for name in ("lat_err_deg", "lon_err_deg", "position_err_km"):
        errs = np.array([getattr(p, name) for p in on])
        assert not np.any(errs == 0), f"a {name} of 0 at the limb: unknown there, not exact"
        assert np.isfinite(errs).any()
    k = undefined[0]
    inside = np.argwhere((d >= 5.0) & (d < 6.0))[0]
    dets = [_detection(float(ss[k]), float(ll[k])), _detection(float(inside[1]), float(inside[0]))]
    band = BandImage("M", np.zeros(bp.shape, np.float32), "W m-2 sr-1", 4.78, 0.4975, saturation=1.0)
    cfg = MeasureConfig()
    locate_detections(dets, bp, cfg, POINTING_PX)
    set_intensities(dets, band, prior_for(get_instrument("JIRAM").photometry, cfg), cfg)
    at_limb, good = dets
    assert at_limb.spectral_intensity_gw_um_sr is None
    assert "limb" in at_limb.extra["no_intensity"]
    assert good.spectral_intensity_gw_um_sr is not None and good.spectral_intensity_err_gw_um_sr > 0
    assert good.extra["intensity_err_fraction"]["geometry"] > 0
