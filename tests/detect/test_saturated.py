"""Saturated hot spots: position from the clipped core's centroid, flux from the wings (JIRAM frames)."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect import DetectionFlag, detect_frame
from ioscan.detect.saturated import clipped_cores
from ioscan.instruments import jiram
from ioscan.records import BandImage, Frame


def _saturated_frame(factor: float, seed: int):
    """A night-side JIRAM M band with one point source whose peak pixel is ``factor`` × saturation (the
    simulator's PSF and detector: reflections, shot and read noise, clipping); returns (frame, x, y, flux)."""
    from ioscan.simulate.psf import jiram_psf
    from ioscan.simulate.render_jiram import JiramDetector, apply_detector

    det = JiramDetector(cosmic_rate_per_s=0.0)
    exposure = 0.1
    psf = jiram_psf()
    sat = det.saturation_w_m2_sr("M", exposure)
    rng = np.random.default_rng(seed)
    x0, y0 = 200.3 + rng.uniform(0, 1), 60.6 + rng.uniform(0, 1)
    flux = factor * sat / psf.patches(np.array([x0]), np.array([y0]))[2].max()
    img = np.zeros((128, 432))
    psf.add_point_sources(img, [x0], [y0], [flux])
    data, _ = apply_detector("M", img, exposure, det, rng)
    b = jiram.BANDS["M"]
    band = BandImage("M", data, "W m-2 sr-1", b.center_um, b.bandwidth_um, saturation=sat)
    return Frame("T", "JIRAM", "JUNO", "2022-01-01T00:00:00", exposure, {"M": band}), x0, y0, flux


@pytest.mark.parametrize("factor", [3.0, 10.0, 30.0, 300.0, 1000.0])
def test_saturated_hot_spots_are_placed_and_measured(factor):
    # measured (4 seeds): positions within 0.25 px and fluxes within ±10 % from 3× to 1,000× saturation;
    # before the clipped-core step a 300× source was placed 2.3 px off with 0.3 % of its flux
    for seed in range(2):
        frame, x0, y0, flux = _saturated_frame(factor, seed)
        res = detect_frame(frame, None)
        d = min(res.detections, key=lambda d: np.hypot(d.sample - x0, d.line - y0))
        assert d.flags & DetectionFlag.SATURATED
        assert np.hypot(d.sample - x0, d.line - y0) < 0.35
        assert abs(d.net_radiance_sum / flux - 1.0) < 0.15
        assert 0 < d.sample_err_px < 0.5
        # fragments of the clipped core and peaks of the PSF's rings are flagged: no catalogue entry
        not_entries = DetectionFlag.ARTEFACT | DetectionFlag.COSMIC_RAY
        assert [e for e in res.detections if e is not d and not e.flags & not_entries] == []


def test_clipped_cores_are_the_connected_saturated_regions():
    sat = np.zeros((40, 60), bool)
    yy, xx = np.mgrid[0:40, 0:60]
    sat |= np.hypot(xx - 20.0, yy - 15.0) <= 3.0  # a disk of 29 px centred on (20, 15)
    sat[30, 50] = sat[30, 51] = True  # two pixels: below the minimum size
    cores = clipped_cores(sat)
    assert len(cores) == 1
    c = cores[0]
    assert (c.x, c.y, c.n_pixels) == (20.0, 15.0, 29)
    assert abs(c.radius_px - 3.04) < 0.01
