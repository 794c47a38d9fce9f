"""A detection at the frame edge refitted on a background free to curve across the edge
(detect/edge_refit.py): curved sunlit ground with and without a point source, and dark ground, built
analytically with white noise; the S/N of a refitted source checked against its ideal value."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from ioscan.detect import DetectConfig, DetectionFlag
from ioscan.detect.edge_refit import flag_edge_refits, one_sided_snr
from ioscan.detect.psf import PsfModel
from ioscan.records import Detection

SHAPE = (128, 432)
PSF = PsfModel.gaussian(0.8)


def _det(sample, line, mf_snr, flags=0):
    d = Detection("M", sample, line, 0.1, 0.1, mf_snr, 1.0, 0.1, "W m-2 sr-1", 0.0, 1.0, 5, flags)
    d.extra["mf_snr"] = mf_snr
    return d


def _ground():
    """Sunlit ground (white-noise σ 1) rising towards the bottom edge and bending there: 3 σ per px along
    the samples and a curvature of 0.4 σ / px² across the edge."""
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)
    return 200.0 + 3.0 * (xx - 200.0) * 0.1 - 0.4 * (yy - 120.0) ** 2


def _source(x, y, snr):
    """A point source of ideal matched-filter S/N ``snr`` under unit white noise."""
    jj, ii = np.meshgrid(np.arange(SHAPE[1]), np.arange(SHAPE[0]))
    p, _, _ = PSF.stamps(jj[None].astype(float), ii[None].astype(float), np.array([x]), np.array([y]))
    p = p[0]
    return snr * p / np.sqrt(np.sum(p**2))


def test_a_source_keeps_its_snr_and_ground_alone_has_none():
    rng = np.random.default_rng(11)
    sw = np.ones(SHAPE)
    snrs_src, snrs_none = [], []
    for _ in range(40):
        x = rng.uniform(50, 380)
        noise = rng.normal(size=SHAPE)
        snrs_src.append(one_sided_snr(_ground() + noise + _source(x, 126.7, 10.0), sw, x, 126.7, PSF))
        snrs_none.append(one_sided_snr(_ground() + noise, sw, x, 126.7, PSF))
    # the quadratic costs a source at the edge a part of its S/N (its own PSF: ideal 10), no more
    assert 7.0 < np.median(snrs_src) < 10.5
    # without a source: unit-normal amplitudes (the fit's own error calibrated)
    assert abs(np.mean(snrs_none)) < 0.5 and 0.7 < np.std(snrs_none) < 1.3


def test_flagged_on_curved_ground_kept_for_a_source_and_not_tested_on_flat_ground():
    rng = np.random.default_rng(2)
    noise = rng.normal(size=SHAPE)
    data = _ground() + noise + _source(300.2, 126.8, 9.0)
    background = _ground()  # structure: the estimate varies by tens of σ within 4 px
    sw = np.ones(SHAPE)
    line_offset = 128
    patch = _det(150.0, 126.9 + line_offset, 6.0)  # a peak the reflection made: nothing in the data
    source = _det(300.2, 126.8 + line_offset, 9.0)
    inner = _det(150.0, 100.0 + line_offset, 6.0)  # 27 px from the edge: not tested
    sat = _det(160.0, 127.0 + line_offset, 6.0, flags=int(DetectionFlag.SATURATED))
    n = flag_edge_refits([patch, source, inner, sat], data, background, sw, (0, 0), line_offset, PSF, 0.5)
    assert n == 1 and patch.extra["artefact_test"] == "edge_refit"
    assert patch.extra["edge_refit_fraction"] < 0.5
    assert not source.flags & DetectionFlag.ARTEFACT and source.extra["edge_refit_fraction"] > 0.6
    assert "edge_refit_fraction" not in inner.extra and "edge_refit_fraction" not in sat.extra
    # dark ground (no structure to misfit): not tested
    flat = np.zeros(SHAPE)
    again = _det(150.0, 126.9 + line_offset, 6.0)
    assert flag_edge_refits([again], noise, flat, sw, (0, 0), line_offset, PSF, 0.5) == 0
    assert "edge_refit_fraction" not in again.extra


@pytest.mark.parametrize("edge", ["top", "left", "right"])
def test_every_edge(edge):
    """The window lies along the nearest edge, whichever it is."""
    rng = np.random.default_rng(4)
    x, y = {"top": (200.3, 0.4), "left": (0.6, 60.2), "right": (431.2, 60.2)}[edge]
    data = rng.normal(size=SHAPE) + _source(x, y, 12.0)
    assert one_sided_snr(data, np.ones(SHAPE), x, y, PSF) > 7.0
    assert abs(one_sided_snr(rng.normal(size=SHAPE), np.ones(SHAPE), x, y, PSF)) < 4.0


def test_the_setting():
    from ioscan.settings import Settings

    d = DetectConfig()
    assert d.edge_refit_test and d.edge_refit_min_fraction == 0.5
    cfg = Settings.load(None, ["detect.edge_refit_test=false", "detect.edge_refit_min_fraction=0.4"]).detect
    assert not cfg.edge_refit_test and cfg.edge_refit_min_fraction == 0.4


def test_structures_taken_at_once_are_the_pixels_own():
    """The detections near the edge have their background structure taken all at once (misfits'
    background_structures): the flags and fractions are those of each pixel's own test, as the loop over
    detections made them (written out here), on a crop offset within the band, detections off the crop,
    already flagged and far from the edge among them."""
    from ioscan.detect.edge_refit import MIN_STRUCTURE_SIGMA, REACH_PX
    from ioscan.detect.flags import flag_artefact
    from ioscan.detect.misfits import background_structure, unflagged_near_edge

    rng = np.random.default_rng(5)
    data = _ground() + rng.normal(size=SHAPE)
    for x in (40.3, 300.2):
        data = data + _source(x, 126.8, 9.0)
    offset = (2, 3)
    background = _ground()[2:, 3:-4].copy()
    background[:, :60] = 200.0  # flat: no structure to test there
    sw = np.ones(background.shape)

    def dets():
        out = [_det(x, 126.6, 8.0) for x in rng.uniform(0, SHAPE[1] - 1, 30)]
        out += [_det(x, 0.4, 7.0) for x in (10.0, 200.0)] + [_det(430.8, 60.0, 6.0), _det(1.0, 1.0, 6.0)]
        out += [_det(300.2, 126.8, 9.0), _det(200.0, 60.0, 9.0), _det(250.0, 127.0, 9.0, flags=1)]
        return out

    got = dets()
    want = copy.deepcopy(got)
    n_got = flag_edge_refits(got, data, background, sw, offset, 0, PSF, 0.5)
    n_want = 0
    l0, s0 = offset
    bl, bs = background.shape
    sw_band = np.full(data.shape, np.nan)
    sw_band[l0 : l0 + bl, s0 : s0 + bs] = sw
    for det, li, sj in unflagged_near_edge(want, 0, data.shape, REACH_PX):
        ci, cj = li - l0, sj - s0
        if not (0 <= ci < bl and 0 <= cj < bs):
            continue
        if background_structure(background, sw, ci, cj) < MIN_STRUCTURE_SIGMA:
            continue
        snr = one_sided_snr(data, sw_band, det.sample, det.line, PSF)
        mf = det.extra["mf_snr"]
        if not (np.isfinite(snr) and mf > 0):
            continue
        det.extra["edge_refit_fraction"] = snr / mf
        if snr < 0.5 * mf:
            flag_artefact(det, "edge_refit")
            n_want += 1
    assert n_got == n_want
    assert [d.flags for d in got] == [d.flags for d in want]
    assert [d.extra for d in got] == [d.extra for d in want]
    assert sum("edge_refit_fraction" in d.extra for d in got) >= 5
