"""An unregistered frame's pointing error, propagated by sampling into positions, emission, range and the
intensity factor: the stated 95 % regions hold the truth as often as they say.

Truth: the surface point seen at the detection's pixel by a camera shifted by the true pointing error,
computed by the backplane code (``backplanes_from_pose``), not by the sampler's ray intersection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ioscan import body as iobody
from ioscan.geometry.navigate import _prior_samples
from ioscan.geometry.pose import backplanes_from_pose
from ioscan.geometry.views import View
from ioscan.instruments import get_instrument, jiram
from ioscan.measure.config import MeasureConfig
from ioscan.measure.positions import PointingSamples, locate_detections
from ioscan.records import Detection
from ioscan.simulate.campaign import FramePlan, band_pose, recorded_jiram_to_body
from ioscan.simulate.ephemeris import sun_position_body
from ioscan.simulate.render_jiram import jiram_band_camera

PRIOR = get_instrument("JIRAM").pointing


def _view(observer_km):
    plan = FramePlan(
        product_id="JIR_IMG_RDR_2023363T211633_V01",
        orbit=57,
        mode="I2",
        time_utc="2023-12-29T21:16:33",
        exposure_s=0.02,
        observer_km=np.asarray(observer_km, dtype=float),
        observer_velocity_km_s=np.zeros(3),
        twist_deg=40.0,
        pointing_error_deg=(0.0, 0.0),
        seed=1,
        target_km=iobody.surface_point_from_lat_pg(10.0, 20.0),
    )
    return View(
        jiram_band_camera(),
        band_pose(plan, "M", recorded_jiram_to_body(plan), sun_position_body(plan.time_utc)),
    )


def _truth(view: View, x: float, y: float, offset) -> dict:
    cam = dataclasses.replace(
        view.camera,
        n_samples=1,
        n_lines=1,
        center_sample=view.camera.center_sample + offset[0] - x,
        center_line=view.camera.center_line + offset[1] - y,
        _cache={},
    )
    bp = backplanes_from_pose(cam, view.pose)
    return {k: float(bp[k][0, 0]) for k in ("lat_deg", "lon_w_deg", "emission_deg", "range_km")}


def _detection(x, y):
    return Detection(
        band="M",
        sample=x,
        line=y,
        sample_err_px=0.05,
        line_err_px=0.05,
        snr=50.0,
        net_radiance_sum=1.0,
        net_radiance_sum_err=0.01,
        unit="W m-2 sr-1",
        background=0.0,
        peak=1.0,
        n_pixels=9,
    )


@pytest.mark.parametrize("observer", [(3500.0, 900.0, 1200.0), (12000.0, -3000.0, 5000.0)])
def test_sampled_positions_cover_the_truth(observer):
    view = _view(observer)
    bp = backplanes_from_pose(view.camera, view.pose)
    offsets = _prior_samples(PRIOR, 400, seed=1)
    rng = np.random.default_rng(7)
    truths = _prior_samples(PRIOR, 150, seed=2)
    inside, ellipse_axes = [], []
    for x, y in ((60.0, 20.0), (216.0, 64.0), (400.0, 110.0)):
        det = _detection(x, y)
        pos = locate_detections([det], bp, MeasureConfig(), 0.0, PointingSamples(view, offsets))[0]
        assert pos is not None and det.lat_lon_err_corr is not None
        assert det.emission_err_deg > 0 and det.range_err_km > 0
        c = det.lat_lon_err_corr
        cov = np.array(
            [
                [det.lat_err_deg**2, c * det.lat_err_deg * det.lon_err_deg],
                [c * det.lat_err_deg * det.lon_err_deg, det.lon_err_deg**2],
            ]
        )
        cosl = np.cos(np.radians(det.lat_deg))
        ellipse_axes.append(np.sqrt(np.linalg.eigvalsh(cov * np.array([[1, cosl], [cosl, cosl**2]]))))
        for o in truths[rng.permutation(len(truths))[:50]]:
            t = _truth(view, x, y, o)
            d = np.array([t["lat_deg"] - det.lat_deg, (t["lon_w_deg"] - det.lon_w_deg + 180) % 360 - 180])
            inside.append(float(d @ np.linalg.solve(cov, d)) <= 5.99)
    # 95 % regions: the truth falls inside about as often (150 draws: ± 4 % at 2σ); a Gaussian ellipse
    # drawn around a bounded, skewed cloud is a little larger than needed, never smaller
    assert 0.91 <= np.mean(inside) <= 1.0, np.mean(inside)
    # the error is mostly along track: a thin ellipse (axes in degrees of arc)
    ratio = np.array([a[1] / a[0] for a in ellipse_axes])
    assert np.all(ratio > 4), ratio


def test_draws_that_leave_the_disk_are_dropped_or_flag_the_detection():
    view = _view((3500.0, 900.0, 1200.0))
    bp = backplanes_from_pose(view.camera, view.pose)
    far = np.array([[0.0, 1.0e5]] * 100)  # every draw points the source into the sky
    det = _detection(216.0, 64.0)
    pos = locate_detections([det], bp, MeasureConfig(), 0.0, PointingSamples(view, far))[0]
    assert pos is None and det.flag_names == ["OFF_DISK"] and det.lat_deg is None


def test_intensity_factor_interval_covers_the_truth():
    """pixel scale² / cos e: its median ± the stated 1σ (covering the central 95 %) holds the true factor."""
    from ioscan.measure.intensity import set_intensities
    from ioscan.records import BandImage

    view = _view((3500.0, 900.0, 1200.0))
    bp = backplanes_from_pose(view.camera, view.pose)
    offsets = _prior_samples(PRIOR, 400, seed=3)
    band = BandImage("M", np.zeros((128, 432), np.float32), "W m-2 sr-1", 4.78, jiram.M_BAND.bandwidth_um)
    hits = []
    for x, y in ((30.0, 5.0), (216.0, 64.0), (420.0, 120.0)):
        det = _detection(x, y)
        locate_detections([det], bp, MeasureConfig(), 0.0, PointingSamples(view, offsets))
        set_intensities([det], band, get_instrument("JIRAM").photometry)
        assert det.spectral_intensity_err_gw_um_sr > 0
        for o in _prior_samples(PRIOR, 60, seed=int(x)):
            t = _truth(view, x, y, o)
            true_factor = (t["range_km"] * jiram.IFOV_RAD) ** 2 / np.cos(np.radians(t["emission_deg"]))
            f, fe = det.extra["geometry_factor_km2"], det.extra["geometry_factor_err_km2"]
            hits.append(abs(true_factor - f) <= 1.96 * fe)
    assert np.mean(hits) >= 0.92


def _summaries_one_by_one(g):
    """The per-detection loop sampled_positions ran before it summarised all detections at once."""
    from ioscan.body import IO_MEAN_RADIUS_KM
    from ioscan.measure.positions import MIN_ON_DISK_FRACTION

    out = []
    for i in range(len(g["on_disk"])):
        on = g["on_disk"][i]
        frac = float(on.mean())
        if frac < MIN_ON_DISK_FRACTION or on.sum() < 8:
            out.append(None)
            continue
        lat, lon = np.radians(g["lat_deg"][i][on]), np.radians(g["lon_w_deg"][i][on])
        u = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
        m = u.mean(axis=0)
        m /= np.linalg.norm(m)
        lat0, lon0 = float(np.arcsin(m[2])), float(np.arctan2(m[1], m[0]))
        dlat = np.degrees(lat - lat0)
        dlon = (np.degrees(lon - lon0) + 180.0) % 360.0 - 180.0
        cov = np.cov(np.stack([dlat, dlon]))
        sl, so = float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1]))
        e, rng_km, scale = g["emission_deg"][i][on], g["range_km"][i][on], g["pixel_scale_km"][i][on]
        factor = scale**2 / np.clip(np.cos(np.radians(e)), 1e-6, None)
        lo, med, hi = np.percentile(factor, [2.5, 50.0, 97.5])
        out.append(
            {
                "lat_deg": float(np.degrees(lat0)),
                "lon_w_deg": float(np.degrees(lon0) % 360.0),
                "lat_err_deg": sl,
                "lon_err_deg": so,
                "lat_lon_err_corr": float(cov[0, 1] / (sl * so)) if sl > 0 and so > 0 else 0.0,
                "position_err_km": float(
                    np.radians(1.0) * IO_MEAN_RADIUS_KM * np.sqrt(cov[0, 0] + np.cos(lat0) ** 2 * cov[1, 1])
                ),
                "emission_deg": float(np.mean(e)),
                "emission_err_deg": float(np.std(e)),
                "incidence_deg": float(np.mean(g["incidence_deg"][i][on])),
                "phase_deg": float(np.mean(g["phase_deg"][i][on])),
                "range_km": float(np.mean(rng_km)),
                "range_err_km": float(np.std(rng_km)),
                "pixel_scale_km": float(np.mean(scale)),
                "geometry_factor_km2": float(med),
                "geometry_factor_err_km2": float(max(hi - med, med - lo) / 1.96),
                "p_on_disk": frac,
            }
        )
    return out


@pytest.mark.parametrize("observer", [(3500.0, 900.0, 1200.0), (60000.0, 2000.0, 500.0)])
def test_draws_summarised_at_once_give_the_one_by_one_numbers(observer):
    """Every detection's draws summarised together (masked arrays) give what the per-detection loop gave,
    to rounding: detections on the disk, at the limb (some draws off Io) and off it."""
    from ioscan.measure.positions import _summarise_draws

    view = _view(observer)
    offsets = _prior_samples(PRIOR, 256, seed=4)
    rng = np.random.default_rng(5)
    xs = np.concatenate([rng.uniform(0, 432, 40), [0.0, 431.0]])[:, None] - offsets[None, :, 0]
    ys = np.concatenate([rng.uniform(0, 128, 40), [0.0, 127.0]])[:, None] - offsets[None, :, 1]
    g = view.surface(xs + rng.normal(0, 0.3, xs.shape), ys + rng.normal(0, 0.3, ys.shape))
    old, new = _summaries_one_by_one(g), _summarise_draws(g)
    assert [o is None for o in old] == [n is None for n in new]
    kept = [o for o in old if o is not None]
    assert len(kept) >= 5  # near: every detection kept; far: 17 kept (some draws off Io), 25 off Io
    for o, n in zip(old, new, strict=True):
        if o is not None:
            assert n.keys() == o.keys()
            for key in o:
                assert n[key] == pytest.approx(o[key], rel=1e-9, abs=1e-9), key


def test_ground_error_widens_positions_only():
    """A limb registration's ground floor (km) is added to the position covariance on the ground, isotropic:
    1σ north grows by exactly the floor's arc, east by the floor over cos lat, in quadrature with the pointing
    draws' spread; emission, range and the intensity factor keep the draws' values."""
    view = _view((12000.0, -3000.0, 5000.0))
    bp = backplanes_from_pose(view.camera, view.pose)
    rng = np.random.default_rng(3)
    offsets = rng.normal(0.0, 0.3, (256, 2))
    a, b = _detection(216.0, 64.0), _detection(216.0, 64.0)
    locate_detections([a], bp, MeasureConfig(), 0.0, PointingSamples(view, offsets))
    locate_detections([b], bp, MeasureConfig(), 0.0, PointingSamples(view, offsets, ground_err_km=2.0))
    arc_deg = np.degrees(2.0 / iobody.IO_MEAN_RADIUS_KM)
    cosl = np.cos(np.radians(a.lat_deg))
    assert b.lat_err_deg == pytest.approx(np.hypot(a.lat_err_deg, arc_deg), rel=1e-9)
    assert b.lon_err_deg == pytest.approx(np.hypot(a.lon_err_deg, arc_deg / cosl), rel=1e-9)
    cov_ab = a.lat_lon_err_corr * a.lat_err_deg * a.lon_err_deg
    assert b.lat_lon_err_corr * b.lat_err_deg * b.lon_err_deg == pytest.approx(cov_ab, rel=1e-9)
    assert b.position_err_km == pytest.approx(np.hypot(a.position_err_km, np.sqrt(2.0) * 2.0), rel=1e-9)
    assert (b.lat_deg, b.emission_err_deg, b.range_err_km) == (a.lat_deg, a.emission_err_deg, a.range_err_km)
    assert b.extra["geometry_factor_err_km2"] == a.extra["geometry_factor_err_km2"]


@pytest.mark.parametrize("ground_km", [0.0, 2.0])
def test_located_by_columns_as_by_the_summaries(ground_km):
    """``locate_detections`` with pointing draws sets, from the summaries' columns, exactly what
    :func:`sampled_positions` and :func:`with_ground_errors` say (the dicts it set them from before): every
    field, ``extra`` and flag, for detections on the disk, at the limb (some draws off Io) and off it."""
    from ioscan.measure.positions import (
        _OFF_DISK,
        SUMMARY_KEYS,
        centroid_errors_px,
        sampled_positions,
        with_ground_errors,
    )

    view = _view((60000.0, 2000.0, 500.0))
    bp = backplanes_from_pose(view.camera, view.pose)
    offsets = _prior_samples(PRIOR, 256, seed=4)
    rng = np.random.default_rng(6)
    xy = list(zip(rng.uniform(0, 432, 30), rng.uniform(0, 128, 30), strict=True)) + [
        (0.0, 0.0),
        (431.0, 127.0),
    ]
    dets = [_detection(float(x), float(y)) for x, y in xy]
    pointing = PointingSamples(view, offsets, ground_err_km=ground_km)
    s_err, l_err = centroid_errors_px(dets, MeasureConfig(), 0.0)
    seed = int(abs(hash((round(dets[0].sample, 3), round(dets[0].line, 3)))) % 2**31)
    want = sampled_positions(dets, pointing, s_err, l_err, seed=seed)
    if ground_km:
        want = with_ground_errors(want, ground_km)
    positions = locate_detections(dets, bp, MeasureConfig(), 0.0, pointing)
    assert 5 <= sum(w is not None for w in want) < len(dets)  # some kept, some off Io
    for det, w, pos in zip(dets, want, positions, strict=True):
        if w is None:
            assert pos is None and det.flags & _OFF_DISK and det.lat_deg is None
            continue
        assert list(w) == list(SUMMARY_KEYS)
        for key in SUMMARY_KEYS[:13]:
            assert getattr(det, key) == w[key] and type(getattr(det, key)) is float, key
        for key in ("geometry_factor_km2", "geometry_factor_err_km2", "p_on_disk"):
            assert det.extra[key] == w[key], key
        ratio = w["geometry_factor_err_km2"] / w["geometry_factor_km2"]
        assert det.extra["geometry_err_fraction"] == ratio == pos.geometry_err_fraction
        assert (pos.lat_deg, pos.range_km) == (w["lat_deg"], w["range_km"])
