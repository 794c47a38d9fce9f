"""The limb fit prepares and correlates only the box it can read (``limbfit.PREP_LIMB_BOX``,
``COARSE_ON_BOX``): on a small disk in a wide JIRAM-like frame the box is smaller than the frame, and the
fit agrees with the whole-frame preparation and with the truth the renderer applied."""

from __future__ import annotations

import numpy as np
import pytest
from test_limbfit import JIRAM_PRIOR, jiram_scene

from ioscan.geometry import limbfit

SCENE = dict(d_sample_px=6.0, d_line_px=-30.0)  # a ~100-px disk in a 432 × 128 frame, moved along track


@pytest.fixture(scope="module")
def scene():
    return jiram_scene(**SCENE)


def _fit(scene, monkeypatch, **settings):
    img, _, cam, pose, _, _ = scene
    for name, value in settings.items():
        monkeypatch.setattr(limbfit, name, value)
    return limbfit.start_limb_fit(img, (cam, pose), **JIRAM_PRIOR)


def test_the_box_is_smaller_than_the_frame(scene):
    img, _, cam, pose, _, _ = scene
    model = limbfit._model_from_pose(cam, pose, limbfit.iobody.IO)
    f = limbfit._bin_factor(model, img.shape)
    box = limbfit._limb_box(
        model, img.shape, JIRAM_PRIOR["max_shift_px"], 8.0 * f + limbfit.PREP_MARGIN_PX, f
    )
    assert box is not None
    lines, samples = box
    assert (lines.start, lines.stop) == (0, 128)  # ±162 lines searched: every line
    assert samples.start % f == 0 and 150 < samples.stop - samples.start < 300  # disk ~100 px + window
    far = limbfit._limb_box(model, img.shape, (400.0, 400.0), 30.0, f)
    assert far is None  # a window wider than the frame: the whole frame, as before


def test_box_fit_agrees_with_whole_frame_and_truth(scene, monkeypatch):
    truth = scene[5]
    box = _fit(scene, monkeypatch).refine()
    whole = _fit(scene, monkeypatch, PREP_LIMB_BOX=False).refine()
    assert box.ok and whole.ok
    for fit in (box, whole):  # the renderer's applied offset, within the fit's stated 1σ × 3
        err = np.subtract((fit.offset_sample_px, fit.offset_line_px), truth)
        assert np.all(np.abs(err) <= 3 * np.array(fit.offset_err_px)), (err, fit.offset_err_px)
    assert abs(box.offset_sample_px - whole.offset_sample_px) <= 0.02
    assert abs(box.offset_line_px - whole.offset_line_px) <= 0.02


def test_coarse_step_on_the_box_finds_the_same_peak(scene, monkeypatch):
    # the same correlation terms; only the binned image's smoothing next to the box's edge differs (the padded
    # frame repeats edge pixels, the box's own filter its edge bins): the noise estimate moves by < 0.1 %
    on_box = _fit(scene, monkeypatch)
    padded = _fit(scene, monkeypatch, COARSE_ON_BOX=False)  # the box padded to the whole frame
    assert on_box.snr == pytest.approx(padded.snr, rel=1e-3)
    a, b = on_box.refine(), padded.refine()
    assert (a.offset_sample_px, a.offset_line_px) == pytest.approx(
        (b.offset_sample_px, b.offset_line_px), abs=1e-6
    )
