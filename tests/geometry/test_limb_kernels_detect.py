"""Detection's limb kernels in ``geometry/limb_kernels.py`` (bilinear profiles and Sobel gradients) give
scipy's numbers bit for bit: on random images (float32 and float64, one-pixel lines, signed zeros, values
that overflow float32 when squared) and positions inside, on and far beyond the array."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.geometry import limb_kernels

SHAPES = [(128, 432), (17, 9), (5, 7), (2, 3), (1, 1), (1, 9), (40, 1)]


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bytes (NaN payloads and the sign of zero included)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _positions(rng, shape, n):
    lines = rng.uniform(-20.0, shape[0] + 20.0, n)
    samples = rng.uniform(-20.0, shape[1] + 20.0, n)
    lines[:50] = np.round(lines[:50])  # on pixel centres
    samples[50:100] = np.round(samples[50:100])
    lines[100:120] = shape[0] - 1
    samples[120:140] = -0.0
    return lines, samples


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_linear_at_equals_map_coordinates_order_1(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    img = (rng.normal(size=shape) * 10.0 ** rng.uniform(-3, 3, size=shape)).astype(dtype)
    lines, samples = _positions(rng, shape, 4000)
    out = np.empty(len(lines), dtype)
    assert limb_kernels.linear_at(img, lines, samples, out)
    ref = ndimage.map_coordinates(img, [lines, samples], order=1, mode="nearest")
    assert _bits_equal(out, ref)


def test_linear_at_declines_nan_positions():
    img = np.arange(12.0).reshape(3, 4)
    out = np.empty(2)
    assert not limb_kernels.linear_at(img, np.array([1.0, np.nan]), np.array([1.0, 1.0]), out)
    assert not limb_kernels.linear_at(img, np.array([1.0, 1.0]), np.array([1e300, 1.0]), out)


@pytest.mark.parametrize("shape", SHAPES)
def test_linear_profiles_equal_map_coordinates_along_normals(shape):
    rng = np.random.default_rng(7 + sum(shape))
    img = rng.normal(size=shape).astype(np.float32)
    n = 60
    rows, cols = rng.integers(0, shape[0], n), rng.integers(0, shape[1], n)
    ang = rng.uniform(0, 2 * np.pi, n)
    ux, uy = np.cos(ang), np.sin(ang)
    t = np.arange(-6.0, 6.0 + 1e-9, 0.25)
    out = np.empty((n, len(t)), np.float32)
    assert limb_kernels.linear_profiles(img, rows, cols, uy, ux, t, out)
    px = cols[:, None] + t[None, :] * ux[:, None]
    py = rows[:, None] + t[None, :] * uy[:, None]
    ref = ndimage.map_coordinates(img, [py.ravel(), px.ravel()], order=1, mode="nearest").reshape(px.shape)
    assert _bits_equal(out, ref)
    # float rows (the geometry check's edge points), float64 image
    img64, yf, xf = img.astype(np.float64), rows + rng.uniform(-0.5, 0.5, n), cols + rng.uniform(-0.5, 0.5, n)
    out64 = np.empty((n, len(t)))
    assert limb_kernels.linear_profiles(img64, yf, xf, uy, ux, t, out64)
    px = xf[:, None] + t[None, :] * ux[:, None]
    py = yf[:, None] + t[None, :] * uy[:, None]
    ref = ndimage.map_coordinates(img64, [py.ravel(), px.ravel()], order=1, mode="nearest").reshape(px.shape)
    assert _bits_equal(out64, ref)


def _sobel_reference(s):
    gx = ndimage.sobel(s, axis=1) / np.float32(8.0)
    gy = ndimage.sobel(s, axis=0) / np.float32(8.0)
    return gx, gy, gx * gx + gy * gy


@pytest.mark.parametrize("shape", SHAPES)
def test_sobel_gradients_equal_scipys(shape):
    rng = np.random.default_rng(3 * sum(shape))
    cases = [
        rng.normal(size=shape).astype(np.float32),
        (rng.normal(size=shape) * 10.0 ** rng.uniform(-30, 30, size=shape)).astype(np.float32),  # overflow
        np.round(rng.normal(size=shape) * 2).astype(np.float32),  # flat runs: zero differences
    ]
    signed = rng.normal(size=shape).astype(np.float32)
    signed[rng.random(shape) < 0.3] = -0.0
    cases.append(signed)
    with np.errstate(over="ignore"):
        for s in cases:
            for got, ref in zip(limb_kernels.sobel_gradients(s), _sobel_reference(s), strict=True):
                assert _bits_equal(got, ref)


def _heavy_tailed(rng, n):
    """Image differences as the limb fit sees them: a narrow core and a few far values (hot spots)."""
    x = rng.normal(size=n) * 1e-3
    far = rng.random(n) < 0.05
    x[far] = rng.uniform(-1.0, 1.0, far.sum())
    return x


@pytest.mark.parametrize(
    "values",
    [
        _heavy_tailed,
        lambda rng, n: np.round(_heavy_tailed(rng, n) * 2e3) / 2e3,  # ties
        lambda rng, n: np.sort(_heavy_tailed(rng, n)),  # the evenly spaced sample is the sorted data's
        lambda rng, n: np.where(rng.random(n) < 0.7, 0.25, rng.normal(size=n)),  # mostly one value
    ],
)
def test_median_and_mad_of_large_arrays_equal_numpys(values):
    rng = np.random.default_rng(11)
    for n in (8191, 8192, 8193, 20000, 55168, 55169):
        x = values(rng, n)
        m = np.median(x)
        assert limb_kernels.median(x) == m
        assert limb_kernels.median_abs_deviation(x) == np.median(np.abs(x - m))


def test_sampled_selection_finds_the_ranks_of_heavy_tailed_data():
    """The sampled bins hold the median and the MAD's ranks of image-like data (the fast path is taken), and
    decline a sample whose range is one value (the plain selection then)."""
    x = _heavy_tailed(np.random.default_rng(5), 55168)
    k = x.size // 2
    found, a, b = limb_kernels._sampled_pair(x, k, 0.0, False)
    assert found and (a, b) == tuple(np.sort(x)[k - 1 : k + 1])
    m = np.median(x)
    found, a, b = limb_kernels._sampled_pair(x, k, m, True)
    assert found and (a, b) == tuple(np.sort(np.abs(x - m))[k - 1 : k + 1])
    assert not limb_kernels._sampled_pair(np.full(20000, 3.0), 10000, 0.0, False)[0]
