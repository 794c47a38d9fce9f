"""Background kernels: exact for the polynomials they fit, unit sum, nothing from the source box."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.background import background_kernel, correlate_kernel


@pytest.mark.parametrize("h0, h1, degree", [(1, 3, 2), (2, 5, 2), (1, 3, 4)])
def test_kernel_reproduces_polynomials_of_its_degree(h0, h1, degree):
    k = background_kernel(h0, h1, degree)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(k[h1 - h0 : h1 + h0 + 1, h1 - h0 : h1 + h0 + 1] == 0)  # the source box is not used
    rng = np.random.default_rng(degree)
    yy, xx = np.mgrid[0:40, 0:40].astype(float) / 40.0
    poly = sum(rng.normal() * xx**i * yy**j for i in range(degree + 1) for j in range(degree + 1 - i))
    inner = (slice(h1, 40 - h1), slice(h1, 40 - h1))
    assert np.allclose(correlate_kernel(poly, h0, h1, degree)[inner], poly[inner], atol=1e-9)
    if degree == 2:  # a quadratic kernel does not follow a quartic term; the quartic one does
        quartic = (xx - 0.5) ** 4 * 50.0
        err2 = np.abs(correlate_kernel(quartic, h0, h1, 2) - quartic)[inner].max()
        err4 = np.abs(correlate_kernel(quartic, 1, 3, 4) - quartic)[inner].max()
        assert err4 < 1e-9 < err2


def test_frame_corners_calibrated_on_white_noise():
    """Unit white noise, 40 frames of 128 × 432 searched whole: the calibrated S/N's rms in the 6 × 6 corners
    (whose background extrapolates across two edges) is within 6 % of the interior's (it was 13 % above it
    before the corners had their own noise profile), and so is it along the edges."""
    from ioscan.detect import detect_frame
    from ioscan.records import BandImage, Frame

    rng = np.random.default_rng(7)
    corner, edge, inner = [], [], []
    for _ in range(40):
        img = rng.normal(0.0, 1.0, (128, 432)).astype(np.float32)
        frame = Frame(
            "T",
            "JIRAM",
            "JUNO",
            "2023-01-01T00:00:00",
            0.01,
            {"M": BandImage("M", img, "W m-2 sr-1", 4.78, 0.4975)},
        )
        s = detect_frame(frame, keep_models=True).bands["M"].model.snr
        corner += [s[:6, :6], s[:6, -6:], s[-6:, :6], s[-6:, -6:]]
        edge += [s[:6, 50:380], s[-6:, 50:380]]
        inner.append(s[30:100, 50:380])

    def rms(parts):
        return float(np.sqrt(np.mean(np.concatenate([p.ravel() for p in parts]) ** 2)))

    assert rms(corner) == pytest.approx(rms(inner), rel=0.06)
    assert rms(edge) == pytest.approx(rms(inner), rel=0.06)


def test_pad_odd_same_as_np_pad_form():
    from ioscan.detect.background import _pad_odd, _pad_odd_reference

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for shape in ((40, 61), (5, 7), (2, 2), (30, 3)):
            x = rng.standard_normal(shape).astype(dtype)
            for p in range(1, min(shape)):
                assert np.array_equal(_pad_odd(x, p, curvature=False), _pad_odd_reference(x, p))


def test_pad_continues_a_quadratic_surface_across_the_frame_edges():
    """The pad (curvature on) continues a quadratic surface exactly past every edge and corner, so the
    background kernel follows it up to the frame edge; the plain point reflection turns its curvature over
    and misses it by more than 1 (of a surface spanning ~200) beyond the edge."""
    from ioscan.detect.background import _pad_odd

    def surface(yy, xx):
        return 0.03 * xx**2 - 0.05 * yy**2 + 0.02 * xx * yy + 0.3 * xx - 0.2 * yy + 5.0

    yy, xx = np.mgrid[0:40, 0:60].astype(float)
    poly = surface(yy, xx)
    p = 5
    yp, xp = np.mgrid[-p : 40 + p, -p : 60 + p].astype(float)
    assert np.allclose(_pad_odd(poly, p), surface(yp, xp), atol=1e-8)
    for h0, h1 in ((1, 3), (2, 5), (3, 9)):
        assert np.abs(correlate_kernel(poly, h0, h1) - poly).max() < 1e-4  # of values up to ~130
    flat = _pad_odd(poly, p, curvature=False)
    assert np.abs(flat - surface(yp, xp)).max() > 1.0


def test_correlate_kernel_window_same_values():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 90)).astype(np.float32)
    full = correlate_kernel(x, 3, 9)
    for win in ((slice(20, 40), slice(30, 50)), (slice(0, 10), slice(5, 90)), (slice(55, 60), slice(0, 4))):
        assert np.array_equal(correlate_kernel(x, 3, 9, window=win), full[win])


def test_crowded_same_as_distance_matrix():
    from ioscan.detect.find import _crowded

    rng = np.random.default_rng(3)
    for n in (50, 300, 2000):
        x, y = rng.uniform(0, 300, n), rng.uniform(0, 300, n)
        x[:10], y[:10] = x[10:20] + 6.0, y[10:20]  # pairs exactly at the radius
        d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) + np.diag(np.full(n, np.inf))
        assert np.array_equal(_crowded(x, y, 6.0), np.min(d, axis=1) < 6.0)


def test_grow_sparse_same_as_cross_dilations():
    from scipy import ndimage

    from ioscan.detect.background import grow_sparse
    from ioscan.detect.disk import grow

    rng = np.random.default_rng(5)
    for shape in ((40, 61), (5, 7), (1, 9), (128, 432)):
        for density in (0.0, 0.001, 0.01, 0.2):
            m = rng.random(shape) < density
            m[0, 0] = m[-1, -1] = density > 0.005  # corners: the diamond is cut by the frame
            for k in (0, 1, 2, 4):
                assert np.array_equal(grow_sparse(m, k), grow(m, k))
            assert np.array_equal(grow_sparse(m, 1), ndimage.binary_dilation(m))


def test_noise_median_left_out_changes_nothing_else():
    """``with_noise_median=False`` (the second pass's models) leaves the noise median NaN and every other
    field of the model as it is; with it, the median of the white noise over the usable pixels."""
    from ioscan.detect.background import estimate_background
    from ioscan.detect.psf import PsfModel

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:60, 0:90]
    img = (100.0 + 0.3 * xx + rng.normal(0.0, 2.0, xx.shape)).astype(np.float32)
    img[30, 40] += 200.0
    d = 25.0 - np.hypot(yy - 30.0, xx - 45.0)
    psf = PsfModel((1.0,), (0.7,))
    mask = np.zeros(img.shape, bool)
    mask[5, 5] = True
    full = estimate_background(img, psf=psf, limb_distance_px=d, mask=mask)
    lean = estimate_background(img, psf=psf, limb_distance_px=d, mask=mask, with_noise_median=False)
    assert np.isnan(lean.noise_median)
    assert full.noise_median == float(np.median(full.sigma_white[full.usable]))
    for name in full.__dataclass_fields__:
        a, b = getattr(full, name), getattr(lean, name)
        if name == "noise_median" or a is None:
            continue
        for x, y in zip(a, b, strict=True) if isinstance(a, list) else [(a, b)]:
            assert np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y, name


def test_shape_cached_pieces_equal_their_per_call_forms():
    """The edge strip, a frame without limb's zone map and block layouts and the edge's and corners' distance
    bins, made once per crop shape, are those each call made for itself."""
    from ioscan.detect import background as bg

    shape, reach, b = (37, 53), 6, 8
    d_edge, d_corner = bg._edge_distances(shape)
    strip, flat = bg._edge_strip(shape, reach)
    np.testing.assert_array_equal(strip, d_edge < reach)
    np.testing.assert_array_equal(flat, np.flatnonzero(d_edge < reach))
    zone = bg._plain_zone(shape, reach)
    side = np.zeros(shape, np.intp)
    usable = np.ones(shape, bool)
    np.testing.assert_array_equal(zone, side + 2 * (usable & (~usable | (d_edge < reach))))
    for r, zmap, n in ((0, side, 1), (reach, zone, 2)):
        np.testing.assert_array_equal(
            bg._shared_layout(shape, r, n, b).index, bg.BlockLayout(np.array(zmap), n, b).index
        )
    z = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    cached = bg._edge_bins(shape, reach)
    fresh = (
        bg.DistanceBins(d_edge, usable & (d_edge < reach), 0.0, reach, step=1.0),
        bg.DistanceBins(d_corner, usable & (d_corner < reach), 0.0, reach, step=bg.CORNER_STEP_PX),
    )
    for c, f in zip(cached, fresh, strict=True):
        np.testing.assert_array_equal(c.per_bin(z), f.per_bin(z))
        s_c, s_f = np.ones(shape, np.float32), np.ones(shape, np.float32)
        c.raise_to(s_c, z)
        f.raise_to(s_f, z)
        np.testing.assert_array_equal(s_c, s_f)


def test_backgrounds_read_clean_pixels_alone():
    """What the outliers' pixels hold (filled or not) does not reach a region's background: its fill reads
    the clean pixels alone (the outlier fill is made only for the white noise's level sample)."""
    from ioscan.detect.background import _fill, region_background

    rng = np.random.default_rng(5)
    x = (50.0 + rng.normal(0.0, 3.0, (40, 60))).astype(np.float32)
    x[:, :7] -= 60.0  # negative values too (on-board background subtraction)
    clean = np.ones(x.shape, bool)
    for i, j in ((5, 5), (20, 33), (21, 34), (39, 59), (0, 12)):
        clean[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2] = False
    side = np.zeros(x.shape, np.intp)
    side[:, 30:] = 1
    regions = [clean & (side == 0), clean & (side == 1)]
    raw = x.copy()
    raw[~clean] = -1e4 * rng.random(int((~clean).sum())).astype(np.float32)
    filled = _fill(raw, clean, 2)
    for h0, h1, deg in ((1, 3, 2), (2, 6, 1)):
        a = region_background(raw, regions, side, h0, h1, deg)
        b = region_background(filled, regions, side, h0, h1, deg)
        assert a.tobytes() == b.tobytes()


def test_white_noise_floor_takes_the_filled_outliers_level():
    """On a nearly noiseless frame the white noise is the float32 rounding floor, 1e-5 × the level of the
    data: the median |data| of a sample that holds outliers takes their filled values (the ground's), not
    the outliers' own."""
    from ioscan.detect.background import estimate_background
    from ioscan.detect.psf import PsfModel

    rng = np.random.default_rng(11)
    img = (100.0 + rng.normal(0.0, 1e-4, (64, 96))).astype(np.float32)
    img[4:61:4, 4:93:4] += 1000.0  # outliers on most points of the level's ::4 sample (the median's too)
    assert np.median(np.abs(img[::4, ::4])) > 1000.0
    model = estimate_background(img, psf=PsfModel((1.0,), (0.6,)))
    assert (~model.clean[4:61:4, 4:93:4]).all()  # the outliers were found
    np.testing.assert_allclose(model.sigma_white, 1e-3, rtol=1e-4)


def test_median_and_percentile_equal_numpy():
    """The background's medians and percentiles (:func:`ioscan.robust.median_or_nan`,
    :func:`ioscan.detect.disk.percentile`: short samples at several points, long ones by one vectorised
    partition): numpy's values and types bit for bit (odd and even counts, ties, signed zeros, NaN, one or
    two values, float32 and float64)."""
    from ioscan.detect.disk import percentile as _percentile
    from ioscan.robust import median_or_nan as _median

    rng = np.random.default_rng(3)
    for t in range(300):
        n = int(rng.integers(1, 1000))
        dtype = (np.float32, np.float64)[t % 2]
        v = (rng.normal(size=n) * 10 ** rng.uniform(-3, 3)).astype(dtype)
        if t % 5 == 0:
            v = np.round(v)  # ties
        if t % 7 == 0:
            v[rng.random(n) < 0.3] = -0.0
        if t % 11 == 0:
            v[rng.integers(n)] = np.nan
        if t % 13 == 0:  # one or two values (a white noise constant per region): counted, not selected
            v = np.where(rng.random(n) < rng.random(), v[0], v[-1]).astype(dtype)
            if t % 3 == 0:
                v[:] = v[0]
        want = np.median(v)
        got = _median(v)
        assert type(got) is type(want) and np.array_equal(got, want, equal_nan=True), t
        assert np.signbit(got) == np.signbit(want), t
        for q in (1, 25, 50, 90, 99.5):
            w = np.percentile(v, q)
            g = _percentile(v, q)
            assert type(g) is type(w) and np.array_equal(g, w, equal_nan=True), (t, q)
