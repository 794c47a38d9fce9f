"""Fluxes with the core measured on the frame where a limb is seen (``detect.flux_psf_where_limb_seen``):
checked against the independent renderer's truth (a Gaussian core of σ 0.8 px; the JIRAM model's is 0.6)."""

from __future__ import annotations

import numpy as np
import pytest

from independent_frames import bench_generalise_rendered, m_band_frame
from ioscan.detect import DetectConfig, DetectionFlag, detect_frame
from ioscan.detect.photometry_psf import apply_shape_ratios
from ioscan.detect.psf import PsfModel
from ioscan.records import Detection
from ioscan.simulate.independent import draw_scene, render_scene

MEASURED = PsfModel((0.96, 0.04), (0.8, 2.5))


def _relative_flux_errors(detections: list[Detection], truth) -> np.ndarray:
    """Measured ÷ true flux − 1 of the isolated, unsaturated true hot spots of ideal S/N ≥ 10 that an
    unflagged detection lies within 1 px of."""
    t = truth[(truth["band"] == "M") & (truth["neighbour_px"] >= 4) & ~truth["saturated"]]
    t = t[t["snr_ideal"] >= 10]
    bad = DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT | DetectionFlag.SATURATED
    out = []
    for _, row in t.iterrows():
        near = [
            d
            for d in detections
            if not d.flags & bad and np.hypot(d.sample - row["sample"], d.line - row["line"]) <= 1.0
        ]
        if near:
            out.append(near[0].net_radiance_sum / row["flux_w_m2_sr"] - 1.0)
    return np.array(out)


def _assert_decisions_same_fluxes_mended(new, old, truth, min_matched: int) -> None:
    """The same detections (positions, S/N, flags) with and without the measured core; without it the matched
    fluxes' median is > 15 % low, with it within 10 %."""
    key = [(d.sample, d.line, d.snr, d.flags) for d in new.detections]
    assert key == [(d.sample, d.line, d.snr, d.flags) for d in old.detections]
    rel_new = _relative_flux_errors(new.detections, truth)
    rel_old = _relative_flux_errors(old.detections, truth)
    assert len(rel_new) == len(rel_old) >= min_matched
    assert np.median(rel_old) < -0.15
    assert abs(np.median(rel_new)) < 0.10


def test_sunlit_fluxes_take_the_measured_core_and_nothing_else_changes():
    frame, r = bench_generalise_rendered(0)
    assert r.illumination == "day"
    on = detect_frame(frame)
    off = detect_frame(frame, config=DetectConfig(flux_psf_where_limb_seen=False))
    msg = next(m for m in on.messages if "taken by the fluxes only" in m)
    assert float(msg.split("core σ ")[1].split(" px")[0]) == pytest.approx(0.8, abs=0.04)
    # detection's decisions are the model core's: positions, S/N and flags identical
    key = [(d.sample, d.line, d.snr, d.flags) for d in on.detections]
    assert key == [(d.sample, d.line, d.snr, d.flags) for d in off.detections]
    rel_on = _relative_flux_errors(on.detections, r.truth)
    rel_off = _relative_flux_errors(off.detections, r.truth)
    assert len(rel_on) == len(rel_off) >= 3
    # the model's 0.6-px core leaves the fluxes ~20 % low; the measured core within 10 % (median)
    assert np.median(rel_off) < -0.15
    assert abs(np.median(rel_on)) < 0.10
    changed = [d for d in on.detections if "flux_model_psf" in d.extra]
    assert changed and all(d.extra["flux_psf_core_sigma_px"] == pytest.approx(0.8, abs=0.04) for d in changed)


def _detection(sample: float, flags: int = 0) -> Detection:
    return Detection(
        "M",
        sample,
        2.0,
        0.1,
        0.1,
        50.0,
        10.0,
        0.2,
        "W m-2 sr-1",
        0.0,
        1.0,
        9,
        flags=flags,
        extra={"chi2_dof": 2.0},
    )


def test_saturated_detections_keep_their_fluxes():
    det, sat = _detection(1.0), _detection(9.0, int(DetectionFlag.SATURATED))
    assert apply_shape_ratios([det, sat], [0, 1], np.array([0.8, 0.8]), MEASURED) == 1
    assert det.net_radiance_sum == pytest.approx(12.5) and det.net_radiance_sum_err == pytest.approx(0.25)
    assert det.extra["flux_model_psf"] == 10.0 and det.extra["flux_psf_core_sigma_px"] == 0.8
    assert sat.net_radiance_sum == 10.0 and sat.net_radiance_sum_err == 0.2


def test_sunlit_frame_whose_bright_sources_lie_near_the_limb_takes_the_core_measured_there(monkeypatch):
    """Renderer frame 34 of seed 23 (sunlit, no geometry): its bright sources lie within 6 px of the limb,
    where the old rule measures nothing; the near-limb rule (``core_estimate``) measures the true 0.8 px and
    the fluxes follow, detection's decisions unchanged."""
    import functools

    import ioscan.detect.band as band_module
    from ioscan.detect.photometry_psf import measured_core

    rng = np.random.default_rng(23)
    for _ in range(35):
        params = draw_scene(rng, kind="day")
    r = render_scene(params)
    frame = m_band_frame(r, params)
    new = detect_frame(frame)
    msg = next(m for m in new.messages if "taken by the fluxes only" in m)
    assert "(near the limb too)" in msg
    assert float(msg.split("core σ ")[1].split(" px")[0]) == pytest.approx(0.8, abs=0.04)
    monkeypatch.setattr(
        band_module, "measured_core", functools.partial(measured_core, near_limb_min_snr=None)
    )
    # without the near-limb rule the width its isolated detections share measures the same core
    stacked = detect_frame(frame)
    msg = next(m for m in stacked.messages if "taken by the fluxes only" in m)
    assert "shared by" in msg
    assert float(msg.split("core σ ")[1].split(" px")[0]) == pytest.approx(0.8, abs=0.04)
    monkeypatch.setattr(band_module, "stacked_core", lambda *a, **k: None)
    old = detect_frame(frame)
    assert not any("taken by the fluxes only" in m for m in old.messages)
    _assert_decisions_same_fluxes_mended(new, old, r.truth, min_matched=1)


def test_sunlit_frame_without_a_bright_source_takes_the_core_its_fainter_sources_share(monkeypatch):
    """Renderer frame 118 of seed 23 (sunlit, no geometry): no single source measures the core (none of S/N
    ≥ 100, nor two of 15 away from the limb, nor near it of 50); its isolated detections away from the limb
    share a width (``stacked_core``: the joint fit, an error ≤ 7 %, agreeing) of the true 0.8 px, and the
    fluxes follow, detection's decisions unchanged."""
    import ioscan.detect.band as band_module

    rng = np.random.default_rng(23)
    for _ in range(119):
        params = draw_scene(rng, kind="day")
    r = render_scene(params)
    frame = m_band_frame(r, params)
    new = detect_frame(frame)
    msg = next(m for m in new.messages if "shared by" in m)
    assert float(msg.split("core σ ")[1].split(" px")[0]) == pytest.approx(0.8, abs=0.04)
    assert not any("PSF measured on" in m for m in new.messages)
    monkeypatch.setattr(band_module, "stacked_core", lambda *a, **k: None)
    old = detect_frame(frame)
    assert not any("taken by the fluxes only" in m for m in old.messages)
    _assert_decisions_same_fluxes_mended(new, old, r.truth, min_matched=2)


def test_stacked_core_replaces_the_width_and_keeps_the_models_elongation():
    """Six sources of a true round 0.8-px core (S/N ~20 each) on a flat, noisy frame far from the limb: the
    shared width replaces the model's core (0.6 px) to within 5 %, the model's elongation is kept (the joint
    fit is round), flagged detections and close pairs take no part, and a model that already agrees is kept
    (None)."""
    from types import SimpleNamespace

    from ioscan.detect.photometry_psf import stacked_core
    from ioscan.detect.psf_estimate import _g1

    rng = np.random.default_rng(11)
    nl, ns = 80, 120
    img = np.full((nl, ns), 10.0) + rng.normal(size=(nl, ns))
    pos = [(20.3, 20.6), (60.1, 21.4), (100.7, 19.8), (20.5, 60.2), (60.4, 59.7), (100.2, 60.5)]
    for x, y in pos:  # pixel-integrated Gaussians of σ 0.8 px, matched-filter S/N 20
        g = np.outer(
            _g1(np.arange(nl)[None, :], np.array([[y]]), np.array([[0.8]]))[0][0],
            _g1(np.arange(ns)[None, :], np.array([[x]]), np.array([[0.8]]))[0][0],
        )
        img += 20.0 / np.sqrt(np.sum(g * g)) * g
    dets = [_detection(x) for x, _ in pos]
    for d, (_, y) in zip(dets, pos, strict=True):
        d.line, d.snr = y + 5.0, 20.0  # line_offset 5
    # a cosmic-ray hit flagged (not stacked), and a detection within 6 px of the fifth source (neither is)
    dets.append(_detection(40.0, int(DetectionFlag.COSMIC_RAY)))
    dets[-1].line, dets[-1].snr = 45.0, 30.0
    dets.append(_detection(64.0))
    dets[-1].line, dets[-1].snr = 59.7 + 5.0, 9.0
    limb = SimpleNamespace(distance_px=np.full((nl, ns), 100.0))
    model = PsfModel((0.96, 0.04), (0.6, 2.5), elongation=1.3)
    messages: list[str] = []
    got = stacked_core(img.astype(np.float32), None, limb, model, dets, 5, "M", messages)
    assert got is not None and got.core_sigma_px == pytest.approx(0.8, rel=0.05)
    assert got.elongation == 1.3 and got.weights == model.weights and got.sigmas_px[1] == 2.5
    assert "shared by 5 isolated detections" in messages[0]  # the sixth has a neighbour within 6 px
    agrees = PsfModel((0.96, 0.04), (got.core_sigma_px, 2.5))
    assert stacked_core(img.astype(np.float32), None, limb, agrees, dets, 5, "M", []) is None
    # one source left: no stack
    assert stacked_core(img.astype(np.float32), None, limb, model, dets[:1], 5, "M", []) is None


def _night_frame(index: int, seed: int = 23):
    """Frame ``index`` of the renderer's night-side sequence from ``seed`` (``bench_psf_core --side night``'s
    frames; M band, no geometry) and the renderer's result."""
    rng = np.random.default_rng(seed)
    for _ in range(index + 1):
        params = draw_scene(rng, kind="night")
    r = render_scene(params)
    return m_band_frame(r, params), r


def _flux_ratio_of_brightest(detections: list[Detection], truth) -> float:
    t = truth[(truth["band"] == "M") & (truth["neighbour_px"] >= 4) & ~truth["saturated"]]
    row = t.loc[t["snr_ideal"].idxmax()]
    d = min(detections, key=lambda d: np.hypot(d.sample - row["sample"], d.line - row["line"]))
    assert np.hypot(d.sample - row["sample"], d.line - row["line"]) <= 1.0 and row["snr_ideal"] >= 1000
    return d.net_radiance_sum / row["flux_w_m2_sr"] - 1.0


def test_night_fluxes_take_the_halo_weight_a_bright_source_shows_and_nothing_else_changes(monkeypatch):
    import ioscan.detect.band as band_module

    frame, r = _night_frame(13)
    on = detect_frame(frame)
    monkeypatch.setattr(band_module, "measured_halo", lambda *a, **k: None)
    off = detect_frame(frame)
    msg = next(m for m in on.messages if "halo" in m)
    # the renderer's Gaussian PSF has no halo; the model's 4 % one is measured as ~0
    assert abs(float(msg.split("weight ")[1].split(" ")[0])) < 0.02
    key = [(d.sample, d.line, d.snr, d.flags) for d in on.detections]
    assert key == [(d.sample, d.line, d.snr, d.flags) for d in off.detections]
    # the brightest source (S/N ≥ 1000): the model's halo left its flux ~3 % high (tens of its errors); the
    # measured weight within 1 %
    rel_off, rel_on = (
        _flux_ratio_of_brightest(off.detections, r.truth),
        _flux_ratio_of_brightest(on.detections, r.truth),
    )
    assert rel_off > 0.02
    assert abs(rel_on) < 0.01


def test_measured_halo_keeps_a_model_the_frame_agrees_with():
    from ioscan.detect.photometry_psf import measured_halo
    from ioscan.detect.psf_estimate import _g1
    from ioscan.detect.region import Limb

    rng = np.random.default_rng(3)
    img = (rng.normal(0.0, 1.0, (80, 80)) + 5.0).astype(np.float32)
    u = np.arange(15, dtype=float)
    pos = [(20.0, 20.0), (50.0, 25.0), (30.0, 55.0), (60.0, 60.0)]
    for x, y in pos:
        stamp = sum(
            4000.0 * w * _g1(u, 7.0, s)[0][:, None] * _g1(u, 7.0, s)[0][None, :]
            for w, s in ((0.96, 0.6), (0.04, 2.5))
        )
        img[int(y) - 7 : int(y) + 8, int(x) - 7 : int(x) + 8] += stamp.astype(np.float32)
    dets = []
    for x, y in pos:
        d = _detection(x)
        d.line, d.snr = y, 300.0
        dets.append(d)
    limb = Limb(None, False, None, 0.0)
    msgs: list[str] = []
    model = PsfModel((0.96, 0.04), (0.6, 2.5))
    assert measured_halo(img, None, limb, model, dets, 0, "M", msgs) is None and not msgs
    # against a halo-free model the same sources show their halo
    halo_free = PsfModel((1.0, 0.0), (0.6, 2.5))
    got = measured_halo(img, None, limb, halo_free, dets, 0, "M", msgs)
    assert got is not None and got.weights[1] == pytest.approx(0.04, abs=0.01) and msgs
