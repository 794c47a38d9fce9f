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


@pytest.mark.parametrize("float32", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_lag_correlation_equals_the_direct_sums_at_every_searched_lag(seed, float32, monkeypatch):
    """The coarse step's FFT correlation (transform length only as long as the searched lags need, not the
    whole linear correlation's) against the sums written out, lag by lag, for images and templates of any
    relative size, boxes that overlap or not, and pairs summed: to 1e-9 of the largest sum in double
    precision, and in single precision (``COARSE_FFT_FLOAT32``, the scan's) to 1e-7 of the sums' bound
    (√(Σ image² · Σ template²) per pair, what a transform's rounding scales with)."""
    from ioscan.geometry.limbfit import _lag_correlate

    monkeypatch.setattr(limbfit, "COARSE_FFT_FLOAT32", float32)
    rng = np.random.default_rng(seed)
    n_c = tuple(int(v) for v in rng.integers(5, 90, 2))
    n_t = tuple(int(v) for v in rng.integers(5, 90, 2))
    at_image = tuple(int(v) for v in rng.integers(0, 40, 2))
    at_tpl = tuple(int(v) for v in rng.integers(0, 40, 2))
    lags = tuple(
        np.arange(int(a), int(a) + int(n))
        for a, n in zip(rng.integers(-60, 20, 2), rng.integers(3, 70, 2), strict=True)
    )
    images = (rng.normal(size=n_c), rng.normal(size=n_c))
    tpls = (rng.normal(size=n_t), rng.normal(size=n_t))
    got = _lag_correlate(images, at_image, tpls, at_tpl, lags)
    # canvas sums: c[dl, ds] = Σ_x image(x + (dl, ds)) · tpl(x), both zero outside their boxes
    want = np.zeros((len(lags[0]), len(lags[1])))
    for i, dl in enumerate(lags[0]):
        for j, ds in enumerate(lags[1]):
            for img, tpl in zip(images, tpls, strict=True):
                for tl in range(n_t[0]):
                    line = at_tpl[0] + tl + dl - at_image[0]
                    if 0 <= line < n_c[0]:
                        s = at_tpl[1] + np.arange(n_t[1]) + ds - at_image[1]
                        inside = (s >= 0) & (s < n_c[1])
                        want[i, j] += np.dot(img[line, s[inside]], tpl[tl, inside])
    if float32:
        bound = sum(np.sqrt(np.sum(a * a) * np.sum(b * b)) for a, b in zip(images, tpls, strict=True))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7 * bound)  # measured ≤ 9e-9
        assert got.dtype == np.float64
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compact_sources_are_the_whole_box_filters(seed):
    """``_compact_sources`` (the local mean at the pixels above the floor only, the mask grown by a box
    around each source) gives the mask of ``uniform_filter`` and ``maximum_filter`` over the whole image,
    sources at the edges and corners included."""
    from scipy import ndimage

    from ioscan.geometry.limbfit import HOT_SPOT_CONTRAST, _compact_sources, _line_opening

    rng = np.random.default_rng(seed)
    img = 50.0 + 10.0 * rng.normal(size=(60, 90)) + np.linspace(0, 200, 90)  # a surface with texture
    ll, ss = rng.integers(0, 60, 40), rng.integers(0, 90, 40)
    ll[:4], ss[:4] = (0, 59, 0, 59), (0, 89, 89, 0)  # the corners
    img[ll, ss] += rng.uniform(20, 400, 40)
    size, grow, floor = 7, 3, 30.0
    opened = _line_opening(img, size)
    local = ndimage.uniform_filter(np.clip(opened, 0.0, None), size=size)
    want = (img - opened) > np.maximum(floor, HOT_SPOT_CONTRAST * local)
    want = ndimage.maximum_filter(want.astype(np.uint8), size=grow) > 0
    got = _compact_sources(img, opened, floor, size, grow)
    assert want.any() and np.array_equal(got, want)


class _Reads(dict):
    """Backplane arrays that record which layers are read."""

    def __init__(self, arrays):
        super().__init__(arrays)
        self.read = set()

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)


@pytest.mark.parametrize("center", [(216.0, 64.0), (216.0, -120.0)])  # centred; its lower edge only
def test_the_predicted_limb_is_lit_only_where_it_can_come_into_view(center):
    from ioscan.geometry.pose import backplanes_from_pose
    from ioscan.simulate.limb_scene import jiram_band_geometry

    _, cam, pose = jiram_band_geometry(range_km=30_000.0, phase_deg=30.0, center=center)
    bp = backplanes_from_pose(cam, pose)
    shift = (20.0, 20.0)
    lit = limbfit._model_from_backplanes(bp)
    n_samples = len(lit.phi)
    limbfit._crop_model(lit, (cam.n_lines, cam.n_samples), shift)
    cropped = limbfit._model_from_backplanes(bp, crop=((cam.n_lines, cam.n_samples), shift))
    assert 12 <= len(cropped.phi) < n_samples  # a disk larger than the 128-line band: partly out of reach
    for name in ("phi", "points", "cos_limb", "cos_phase", "sun_disk"):  # lit then cropped: the same numbers
        assert np.array_equal(getattr(lit, name), getattr(cropped, name)), name


def test_a_limb_that_cannot_come_into_view_is_not_lit():
    from ioscan.geometry.pose import backplanes_from_pose
    from ioscan.simulate.limb_scene import jiram_band_geometry

    _, cam, pose = jiram_band_geometry(range_km=3_000.0, phase_deg=30.0, center=(216.0, 64.0))  # overfills
    bp = backplanes_from_pose(cam, pose)
    bp.arrays = _Reads(bp.arrays)
    img = np.ones((cam.n_lines, cam.n_samples))
    coarse = limbfit.start_limb_fit(img, bp, max_shift_px=(5.0, 5.0))
    assert coarse.failed is not None and "no limb in view" in coarse.failed.reason
    assert "incidence_deg" not in bp.arrays.read  # the Sun is not fitted to a limb no fit can use


@pytest.mark.parametrize("seed", range(8))
def test_long_limb_sampled_in_reach_is_the_whole_limb_cropped(seed):
    """A long predicted limb (a close frame's, thousands of samples) sampled only in the blocks within the
    search window's reach (``_sample_ellipse(crop=...)``) gives the very samples of sampling it whole and
    cropping: the same angles and points, in the same order, for limbs that cross the frame, graze it or
    miss it."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(300.0, 4000.0, 2)
    t = rng.uniform(0.0, np.pi)
    axes = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    centre = np.array([216.0, 64.0]) + rng.uniform(-1.2, 1.2, 2) * max(a, b)
    shape, window = (128, 432), (23.0, float(rng.uniform(20.0, 170.0)))

    def model():
        return limbfit._LimbModel(
            np.eye(3), centre, (float(a), float(b)), axes, centre.copy(), np.array([0.0, 0.0, 1.0]), None
        )

    whole, in_reach = model(), model()
    limbfit._sample_ellipse(whole)
    limbfit._crop_model(whole, shape, window)
    limbfit._sample_ellipse(in_reach, crop=(shape, window))
    assert np.array_equal(whole.phi, in_reach.phi)
    assert np.array_equal(whole.points, in_reach.points)


def test_noise_statistics_read_a_line_subsample_of_a_large_box():
    """The preparation's noise statistics read every k-th line of a box larger than ``NOISE_SAMPLES`` pixels
    (k the smallest leaving ≤ that many), the whole box when those lines hold too few good differences;
    on white noise of σ = 1 the hot-spot floor's noise (MAD of neighbour differences / √2) is still σ to
    within 4× its scatter (measured over 200 noise images: 1σ 1.33 % from σ, 1.17 % from the whole box's
    estimate)."""
    rng = np.random.default_rng(3)
    img = rng.normal(0.0, 1.0, (128, 432))
    bad = np.zeros(img.shape, dtype=bool)
    k = limbfit._noise_step(img.shape)
    assert k == -(-img.size // limbfit.NOISE_SAMPLES) and k > 1
    sub = limbfit._row_diffs_noise(img, bad)
    assert np.array_equal(sub, np.diff(img[::k], axis=1).ravel())
    whole = limbfit._clean_row_diffs(img, bad)
    noise, noise_whole = limbfit._mad(sub) / np.sqrt(2), limbfit._mad(whole) / np.sqrt(2)
    assert abs(noise - 1.0) < 4 * 0.0133 and abs(noise / noise_whole - 1.0) < 4 * 0.0117
    bad[::k] = True  # the lines read hold no good difference: every line's instead
    assert np.array_equal(limbfit._row_diffs_noise(img, bad), limbfit._clean_row_diffs(img, bad))
    small = img[:40, :100]  # a box under NOISE_SAMPLES: every line
    assert limbfit._noise_step(small.shape) == 1
