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


def test_clipped_cores_on_the_saturated_box_are_the_whole_masks():
    """Labelled on the bounding box of the saturated pixels: the same cores (centroids bit for bit, sizes,
    radii) in the same order as labelling the whole mask; an empty mask has none."""
    import numpy as np
    from scipy import ndimage

    from ioscan.detect.saturated import MIN_CLIPPED_PIXELS, ClippedCore, clipped_cores

    def whole(mask):
        labels, _ = ndimage.label(mask, structure=np.ones((3, 3), bool))
        out = []
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            ll, ss = np.nonzero(labels[sl] == k)
            if ll.size >= MIN_CLIPPED_PIXELS:
                y, x = ll.mean() + sl[0].start, ss.mean() + sl[1].start
                out.append(ClippedCore(float(x), float(y), int(ll.size), float(np.sqrt(ll.size / np.pi))))
        return out

    rng = np.random.default_rng(6)
    assert clipped_cores(np.zeros((20, 30), bool)) == []
    for t in range(80):
        shape = (int(rng.integers(1, 60)), int(rng.integers(1, 80)))
        mask = rng.random(shape) < [0.002, 0.02, 0.2][t % 3]
        for _ in range(int(rng.integers(0, 4))):  # clipped plateaus
            i, j = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
            mask[max(i - 2, 0) : i + 3, max(j - 3, 0) : j + 2] = True
        assert clipped_cores(mask) == whole(mask), t
