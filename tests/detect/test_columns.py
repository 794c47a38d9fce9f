"""JIRAM down-track streaks of very bright sources: removed in the data, no detections along them."""

from __future__ import annotations

import numpy as np

from ioscan.detect import DetectConfig, detect_frame
from ioscan.detect.columns import remove_column_streaks
from ioscan.detect.disk import laplacian_noise
from ioscan.instruments import jiram
from ioscan.records import BandImage, Frame


def _bright_source_frame(seed: int, cosmic_rate: float = 0.0):
    """A night-side JIRAM M band (dark sky and disk) with one saturating hot spot and the simulator's
    down-track reflections; returns (frame, source sample, source line)."""
    from ioscan.simulate.psf import jiram_psf
    from ioscan.simulate.render_jiram import JiramDetector, apply_detector

    det = JiramDetector(cosmic_rate_per_s=cosmic_rate)
    exposure = 0.1
    psf = jiram_psf()
    img = np.zeros((128, 432))
    x0, y0 = 250.3, 64.6
    psf.add_point_sources(img, [x0], [y0], [1000.0 * det.saturation_w_m2_sr("M", exposure)])
    data, _ = apply_detector("M", img, exposure, det, np.random.default_rng(seed))
    b = jiram.BANDS["M"]
    band = BandImage(
        "M", data, "W m-2 sr-1", b.center_um, b.bandwidth_um, saturation=det.saturation_w_m2_sr("M", exposure)
    )
    return Frame("T", "JIRAM", "JUNO", "2022-01-01T00:00:00", exposure, {"M": band}), x0, y0


def _along_streak(detections, x0, y0):
    """Detections in the source's columns more than 12 lines away from it (beyond its PSF and rings)."""
    return [d for d in detections if abs(d.sample - x0) < 4 and abs(d.line - y0) > 12]


def test_streak_of_a_saturated_hot_spot_gives_no_detections():
    """A hot spot of 1,000× the saturation radiance (its reflections ~1,000σ per pixel along its column):
    after the correction nothing at all is detected along the streak; without it dozens of peaks are (which
    the artefact flags keep out of the hot spots now that the source's flux is measured from its wings: with
    the clipped core's flux at 0.1 % of the truth, some were hot spots)."""
    for seed in range(3):
        frame, x0, y0 = _bright_source_frame(seed)
        res = detect_frame(frame, None)
        assert any(np.hypot(d.sample - x0, d.line - y0) < 3 for d in res.detections)  # the source itself
        assert _along_streak(res.detections, x0, y0) == []
        assert any("down-track streaks" in m for m in res.messages)
    frame, x0, y0 = _bright_source_frame(0)
    raw = detect_frame(frame, None, config=DetectConfig(remove_column_streaks=False))
    assert len(_along_streak(raw.detections, x0, y0)) >= 10


def test_cosmic_rays_and_noise_leave_every_column_alone():
    rng = np.random.default_rng(4)
    img = rng.normal(0.0, 1.0, (128, 432))
    ii, jj = rng.integers(0, 128, 40), rng.integers(0, 432, 40)
    img[ii, jj] += rng.uniform(5e3, 5e4, 40)  # 1-pixel hits far above the 2,000σ trigger
    out, cols = remove_column_streaks(img, laplacian_noise(img))
    assert cols.size == 0 and out is img


def test_row_median_is_numpys_nanmedian_bit_for_bit():
    """The streak removal's one-sort row median equals np.nanmedian(axis=1): NaNs, ties, zeros of either
    sign, all-NaN rows, odd and even counts."""
    import warnings

    from ioscan.detect.columns import _nanmedian_rows

    rng = np.random.default_rng(3)
    for trial in range(400):
        a = rng.normal(size=(rng.integers(1, 30), rng.integers(1, 25))) * 10.0 ** rng.uniform(-30, 30)
        if trial % 3:
            a[rng.random(a.shape) < rng.uniform(0, 0.9)] = np.nan
        if trial % 7 == 0:
            a = np.round(a)
        if trial % 11 == 0:
            a = a * 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmedian(a, axis=1)
        assert repr(_nanmedian_rows(a).tolist()) == repr(want.tolist())
