"""Detection's image filters made faster equal, bit for bit, their plain numpy / scipy definitions or their
first versions (written out here): the limb check's and PSF estimate's 3 × 3 median and block noise map
(:func:`ioscan.detect.limb.median3`, :func:`ioscan.detect.limb.pixel_noise_map`), the diamond dilation
(:func:`ioscan.detect.disk.grow`), the geometry's gradient on the points' box, the band noise
(:func:`ioscan.detect.disk.laplacian_noise`) and the dark-limb test's Laplacian sample — on noise, on images
full of ties and signed zeros, with NaN, and on tiny and odd-sized frames."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect.disk import grow
from ioscan.detect.limb import _MED9, _block_mad, median3, pixel_noise_map
from ioscan.robust import MAD_TO_SIGMA


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values (NaN equal to NaN), equal zero signs, equal dtype and shape."""
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.signbit(a), np.signbit(b))
    )


def _median3_reference(x: np.ndarray) -> np.ndarray:
    """median3 as first written (all 19 exchanges of the median-of-9 network on 2-D shifted views)."""
    p = np.pad(x, 1, mode="edge")
    nl, ns = x.shape
    v = [p[i : i + nl, j : j + ns] for i in range(3) for j in range(3)]
    for a, b in _MED9:
        v[a], v[b] = np.minimum(v[a], v[b]), np.maximum(v[a], v[b])
    return v[4]


def _pixel_noise_map_reference(x: np.ndarray, block_px: int = 16) -> np.ndarray:
    """pixel_noise_map as first written: two np.median over the blocks."""
    lap = np.zeros_like(x)
    lap[1:-1, 1:-1] = x[1:-1, 1:-1] - 0.25 * (x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:])
    nl, ns = x.shape
    bl, bs = max(1, (nl - 2) // block_px), max(1, (ns - 2) // block_px)
    hl, hs = (nl - 2) // bl, (ns - 2) // bs
    v = lap[1 : 1 + bl * hl, 1 : 1 + bs * hs].reshape(bl, hl, bs, hs).transpose(0, 2, 1, 3)
    v = v[:, :, ::2, ::2].reshape(bl, bs, -1)
    med = np.median(v, axis=2, keepdims=True)
    out = MAD_TO_SIGMA * np.median(np.abs(v - med), axis=2) / np.sqrt(1.25)
    pos = out[out > 0]
    out = np.where(out > 0, out, float(np.median(pos)) if pos.size else 1.0)
    rows = np.clip((np.arange(nl) - 1) // hl, 0, bl - 1)
    cols = np.clip((np.arange(ns) - 1) // hs, 0, bs - 1)
    return out[rows][:, cols]


def _image(rng, shape, kind, dtype=np.float32):
    x = rng.normal(100.0, 5.0, shape)
    if kind == "ties":  # integers and signed zeros: many equal values
        x = np.round(rng.normal(0.0, 1.5, shape))
        x[rng.random(shape) < 0.3] = -0.0
    elif kind == "ties+0":  # integers, zeros all +0
        x = np.round(rng.normal(0.0, 1.5, shape)) + 0.0
    elif kind == "nan":
        x[rng.random(shape) < 0.05] = np.nan
    return x.astype(dtype)


@pytest.mark.parametrize("kind", ["noise", "ties", "ties+0", "nan"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_median3_equals_scipy_and_the_full_network(kind, dtype):
    rng = np.random.default_rng(7)
    for shape in [(128, 432), (97, 97), (53, 101), (1, 1), (1, 6), (6, 1), (2, 3), (3, 2)]:
        x = _image(rng, shape, kind, dtype)
        got = median3(x)
        assert _same(got, _median3_reference(x)), shape
        if kind != "nan":  # (scipy's median filter orders NaN differently from the min/max network)
            assert np.array_equal(got, ndimage.median_filter(x, 3, mode="nearest")), shape


@pytest.mark.parametrize("kind", ["noise", "ties", "nan"])
def test_pixel_noise_map_equals_np_median_blocks(kind):
    rng = np.random.default_rng(11)
    for shape in [(128, 432), (97, 97), (53, 97), (73, 249), (20, 20), (5, 7), (3, 3)]:
        x = _image(rng, shape, kind)
        assert _same(pixel_noise_map(x), _pixel_noise_map_reference(x)), shape
        assert _same(pixel_noise_map(x, block_px=5), _pixel_noise_map_reference(x, block_px=5)), shape


def test_block_mad_equals_np_median_on_random_blocks():
    rng = np.random.default_rng(3)
    for t in range(600):
        shape = tuple(int(k) for k in (rng.integers(1, 5), rng.integers(1, 7), rng.integers(1, 70)))
        v = (rng.standard_normal(shape) * rng.uniform(0.1, 100.0)).astype(np.float32)
        if t % 3 == 0:
            v = np.round(v)
            v[rng.random(shape) < 0.2] = -0.0
        if t % 25 == 0:
            v.flat[rng.integers(v.size)] = np.nan
        want = np.median(np.abs(v - np.median(v, axis=2, keepdims=True)), axis=2)
        assert _same(_block_mad(v), want), (t, shape)


def test_grow_equals_iterated_cross_dilation():
    rng = np.random.default_rng(5)
    for t in range(1500):
        shape = (int(rng.integers(1, 30)), int(rng.integers(1, 30)))
        k = int(rng.integers(0, 7))
        m = rng.random(shape) < rng.uniform(0.0, 0.3)
        if t % 5 == 0:
            m = np.asfortranarray(m)
        want = m.copy() if k <= 0 or not m.any() else ndimage.binary_dilation(m, iterations=k)
        got = grow(m, k)
        assert got.dtype == bool and np.array_equal(got, want), (t, shape, k)


def test_gradient_on_the_points_box_interpolates_as_the_whole_image():
    from ioscan.detect.limb import _gradient_at

    rng = np.random.default_rng(13)
    yy, xx = np.mgrid[0:90, 0:140].astype(float)
    for t in range(200):
        d = (
            40.0
            - np.hypot(xx - rng.uniform(-50, 190), yy - rng.uniform(-50, 140))
            + rng.normal(0, 0.01, xx.shape)
        )
        n = int(rng.integers(1, 30))
        y = rng.uniform(-0.5, 89.5, n) if t % 2 else rng.uniform(30.0, 33.0, n)
        x = rng.uniform(-0.5, 139.5, n) if t % 3 else np.full(n, 139.0)
        full = np.gradient(d)
        part, (l0, s0) = _gradient_at(d, y, x)
        for g, p in zip(full, part, strict=True):
            want = ndimage.map_coordinates(g, [y, x], order=1, mode="nearest")
            got = ndimage.map_coordinates(p, [y - l0, x - s0], order=1, mode="nearest")
            assert np.array_equal(got, want), t


def test_laplacian_noise_from_its_sub_sample_alone():
    from ioscan.detect.disk import laplacian_noise, robust_sigma

    def reference(data):
        x = np.asarray(data, dtype=np.float64)
        lap = x[1:-1, 1:-1] - 0.25 * (x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:])
        return robust_sigma(lap[np.isfinite(lap)]) / np.sqrt(1.25)

    rng = np.random.default_rng(17)
    for t in range(200):
        shape = (int(rng.integers(3, 200)), int(rng.integers(3, 500)))
        x = rng.standard_normal(shape) * rng.uniform(0.1, 100.0) + rng.uniform(0.0, 1000.0)
        x = x.astype(np.float32 if t % 2 else np.float64)
        if t % 7 == 0:
            x[rng.random(shape) < 0.01] = np.nan
        assert laplacian_noise(x) == reference(x) or np.isnan(reference(x)), (t, shape)


def test_laplace_sample_equals_the_whole_residual_sub_sampled():
    from ioscan.detect.background import _laplace_residual, _laplace_sample

    rng = np.random.default_rng(19)
    for t in range(500):
        shape = (int(rng.integers(1, 60)), int(rng.integers(1, 90)))
        x = (rng.standard_normal(shape) * rng.uniform(0.1, 100.0)).astype(np.float32 if t % 3 else np.float64)
        valid = rng.random(shape) < 0.95
        ok = valid & (rng.random(shape) < 0.9)
        lap, good = _laplace_residual(np.where(valid, x, 0.0), ok)
        got = _laplace_sample(x, valid, ok, 50)
        if not good.any():
            assert got is None
            continue
        want = np.abs(lap[good])
        want = want[:: want.size // 50 + 1]
        assert got.dtype == want.dtype and np.array_equal(got, want), (t, shape)


def test_percentile_equals_numpy_value_and_type():
    from ioscan.detect.disk import percentile

    rng = np.random.default_rng(23)
    for t in range(3000):
        n = int(rng.integers(1, 3000))
        v = rng.standard_normal(n) * rng.uniform(0.01, 1000.0) + rng.uniform(-100.0, 100.0)
        v = v.astype(np.float32 if t % 2 else np.float64)
        if t % 5 == 0:
            v = np.round(v)  # ties
        if t % 97 == 0:
            v[rng.integers(n)] = np.nan
        for q in (0, 1, 2, 25, 50, 90, 97.5, 100):
            want, got = np.percentile(v, q), percentile(v, q)
            assert type(got) is type(want) and (got == want or (np.isnan(got) and np.isnan(want))), (t, n, q)
    img = rng.standard_normal((40, 70)).astype(np.float32)
    assert percentile(img[::2, ::3], 2) == np.percentile(img[::2, ::3], 2)
