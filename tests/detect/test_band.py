"""detect.band's orchestration: steps that are skipped where their result would not be used."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ioscan.detect import DetectConfig, band
from ioscan.detect.psf import PsfModel

MODEL = PsfModel((0.9, 0.1), (0.6, 2.5))


def _limb(seen: bool):
    """What :func:`band._psf_in_use` reads of a :class:`ioscan.detect.region.Limb`."""
    return SimpleNamespace(circle=object() if seen else None, distance_px=None)


def _counting_measure(monkeypatch) -> list:
    """band._measure_psf replaced by one that records its calls and measures a 0.8-px core."""
    from ioscan.detect.psf_estimate import PsfEstimate

    calls: list = []

    def measured(data, sat_mask, limb, single_source_snr=100.0):
        calls.append(single_source_snr)
        return PsfEstimate(0.8, 0.8, 3, 400.0)

    monkeypatch.setattr(band, "_measure_psf", measured)
    return calls


def test_psf_not_measured_where_a_limb_is_seen_and_nothing_takes_it(monkeypatch):
    """With a limb seen in the image, ``psf_filter_where_limb_seen`` off and no one-source spike setting,
    neither the filter nor the spike test takes a measured core: the measurement is not made, and the
    model stays for both, as when it is made."""
    calls = _counting_measure(monkeypatch)
    img = np.zeros((20, 20), np.float32)
    msgs: list[str] = []
    psf, spike, measured = band._psf_in_use(img, None, _limb(True), MODEL, DetectConfig(), "M", msgs)
    assert calls == [] and psf is MODEL and spike is MODEL and not measured and not msgs


@pytest.mark.parametrize(
    "cfg",
    [DetectConfig(psf_filter_where_limb_seen=True), DetectConfig(psf_spike_one_source_snr=15.0)],
)
def test_psf_measured_where_a_limb_is_seen_when_a_setting_takes_it(monkeypatch, cfg):
    """Either setting that lets a measured core be used where a limb is seen still measures it."""
    calls = _counting_measure(monkeypatch)
    img = np.zeros((20, 20), np.float32)
    psf, spike, _ = band._psf_in_use(img, None, _limb(True), MODEL, cfg, "M", [])
    assert len(calls) == 1
    assert (spike if cfg.psf_spike_one_source_snr else psf).core_sigma_px == pytest.approx(0.8)


def test_psf_measured_where_no_limb_is_seen(monkeypatch):
    calls = _counting_measure(monkeypatch)
    img = np.zeros((20, 20), np.float32)
    psf, spike, measured = band._psf_in_use(img, None, _limb(False), MODEL, DetectConfig(), "M", [])
    assert len(calls) == 1 and measured and psf is spike and psf.core_sigma_px == pytest.approx(0.8)


def _renderer_frame(index: int):
    """Frame ``index`` of the independent renderer's sequence as ``benchmarks/bench_generalise.py`` draws it
    (default seed, M band, day and night alternating), with the renderer's own exact backplanes: (frame,
    backplanes, truth of the M band, the renderer's exact limb distance of each hot spot, px)."""
    import pandas as pd

    from ioscan.records import BandImage, Frame
    from ioscan.simulate.independent import draw_scene, render_scene
    from ioscan.simulate.independent_backplanes import truth_backplanes

    rng = np.random.default_rng(20261205)
    for i in range(index + 1):
        t = (pd.Timestamp("2023-03-01T00:00:00") + pd.Timedelta(seconds=97 * i)).strftime(
            "%Y-%m-%dT%H:%M:%S.000"
        )
        params = draw_scene(rng, kind="day" if i % 2 == 0 else "night", mode="I2", start_time_utc=t)
    rendered = render_scene(params)
    b = rendered.bands["M"]
    band_img = BandImage("M", b.image, "W m-2 sr-1", 4.78, 0.4975, line_offset=b.line_offset)
    frame = Frame("T", "JIRAM", "JUNO", params.start_time_utc, params.exposure_s, {"M": band_img}, mode="I2")
    truth = rendered.truth[rendered.truth["band"] == "M"]
    return frame, {"M": truth_backplanes(params.view, "M")}, truth


def test_sunlit_disk_given_by_the_geometry_detects_with_the_model_core():
    """The independent renderer's sunlit frame 92 (PSF σ 0.8 px; the instrument's model 0.6 px), given its
    exact geometry: the core measured on the frame takes the fluxes only and the model's core detects, as
    where a limb is seen in the image (``detect.geometry_lit_model_core``); with the setting off the measured
    core detects (1.3 px: measured on textured sunlit ground, far from the true 0.8). Against the renderer's
    truth the model's core finds more of the frame's isolated hot spots of ideal S/N ≥ 7."""
    from ioscan.detect import detect_frame

    frame, backplanes, truth = _renderer_frame(92)
    found = {}
    for on in (True, False):
        # the geometry's template kept (on this foreign limb ``shading_foreign_law`` models it by the image)
        cfg = DetectConfig(pointing_error_px=0.1, geometry_lit_model_core=on, shading_foreign_law=False)
        res = detect_frame(frame, backplanes, config=cfg)
        msgs = res.bands["M"].messages
        assert any("taken by the fluxes only on the sunlit disk" in m for m in msgs) is on, msgs
        cores = {d.extra["psf_core_sigma_px"] for d in res.detections}
        if on:
            assert cores == {0.6}
        else:
            assert min(cores) > 0.7  # measured on the frame (1.3 px here: on sunlit ground, not the truth)
        found[on] = _found_isolated(res, truth, frame.bands["M"].line_offset)
    assert found[True] >= found[False] + 3, found  # measured: 6 and 1 of 10


def _found_isolated(res, truth, line_offset: float, min_snr: float = 7.0) -> int:
    """How many isolated true hot spots of ideal S/N ≥ ``min_snr`` an unflagged (not COSMIC_RAY or ARTEFACT)
    detection lies within 2 px of (the benchmark's match radius)."""
    from ioscan.records import DetectionFlag

    iso = truth[(truth["snr_ideal"] >= min_snr) & (truth["neighbour_px"] >= 4)][["sample", "line"]]
    ignored = DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT
    kept = [d for d in res.detections if not d.flags & ignored]
    xy = np.array([(d.sample, d.line - line_offset) for d in kept]).reshape(-1, 2)
    return sum(
        bool(xy.size and np.min(np.hypot(xy[:, 0] - x, xy[:, 1] - y)) <= 2.0) for x, y in iso.to_numpy()
    )


@pytest.mark.parametrize(("index", "off", "on"), [(101, 2, 4), (33, 2, 7)])
def test_dark_limb_given_by_the_geometry_is_searched_whole(index, off, on):
    """The independent renderer's night frames 101 (Io eclipsed, 4 isolated hot spots of S/N ≥ 7, three of
    them within 4 px of the limb) and 33, given their exact geometry: with
    ``detect.geometry_dark_limb_unsplit`` the dark limb's background is that of a frame without a limb, and
    every hot spot is found; without it, the limb band's box means, raised by the hot spots on the limb,
    call the limb bright around them and leave them in the unsearched band. (Frame 33 without it: 2 found
    since its PSF is measured on a source 2.4 px from the frame's edge, σ 0.80 px as the truth's; 4 with the
    model's 0.6-px core.)"""
    from ioscan.detect import detect_frame

    frame, backplanes, truth = _renderer_frame(index)
    line_offset = frame.bands["M"].line_offset
    found = {}
    for unsplit in (False, True):
        cfg = DetectConfig(pointing_error_px=0.1, geometry_dark_limb_unsplit=unsplit)
        found[unsplit] = _found_isolated(detect_frame(frame, backplanes, config=cfg), truth, line_offset)
    assert found == {False: off, True: on}
