"""The compiled background loops (:mod:`ioscan.detect.background_kernels`) against plain numpy / scipy on
random inputs: NaNs, masked pixels, frame edges, tiny crops — equal bit for bit (the truth is scipy's and
numpy's)."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import ndtri

from ioscan.detect import background_kernels as kn
from ioscan.detect.background import _fill, _phase_filter, _stacked_terms, correlate_kernel
from ioscan.detect.psf import kernel1d
from ioscan.robust import MAD_TO_SIGMA

SHAPES = [(1, 1), (1, 7), (6, 1), (3, 4), (17, 29), (40, 61)]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit (NaN payloads and the sign of zero included)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _image(rng, shape, dtype=np.float32, nan=0.0):
    x = (rng.normal(size=shape) * 10 ** rng.uniform(-3, 3)).astype(dtype)
    if nan:
        x[rng.random(shape) < nan] = np.nan
    return x


KERNELS = [
    kernel1d(0.6),  # symmetric
    kernel1d(0.6, 0.5),  # general
    kernel1d(1.7, 0.5).astype(np.float32),
    np.array([1.0, 0.0, -1.0]),  # antisymmetric
    np.array([0.25, 0.5, 0.25 + 1e-17]),  # symmetric within scipy's tolerance
    np.array([0.3]),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_correlate_passes_equal_scipy(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    x = _image(rng, shape, dtype, nan=0.05)
    for w in KERNELS + [rng.normal(size=9)]:
        w64 = np.asarray(w, np.float64)
        for mode in ("constant", "nearest"):
            cval = 0.0 if mode == "nearest" else float(rng.normal())
            near = mode == "nearest"
            for axis, fn in ((0, kn.correlate_lines), (1, kn.correlate_samples)):
                ref = ndimage.correlate1d(x, w, axis=axis, mode=mode, cval=cval)
                assert _same(fn(x, w64, near, cval, 0, shape[axis]), ref)
                lo, hi = shape[axis] // 3, shape[axis] - shape[axis] // 4  # a range of outputs
                got = fn(x, w64, near, cval, lo, hi)
                assert _same(got, ref[lo:hi] if axis == 0 else ref[:, lo:hi])


def _correlate_kernel_reference(x, h0, h1, degree):
    """correlate_kernel's separable sum as first written: scipy's passes over the whole padded image."""
    from ioscan.detect.background import _pad_odd, _separable_terms

    p = min(h1, x.shape[0] - 1, x.shape[1] - 1)
    xp = _pad_odd(x, p) if p > 0 else x
    out = np.zeros(xp.shape, xp.dtype)
    for a, b in _separable_terms(h0, h1, degree):
        out += ndimage.correlate1d(ndimage.correlate1d(xp, a, axis=0, mode="nearest"), b, 1, mode="nearest")
    return out[p : p + x.shape[0], p : p + x.shape[1]]


@pytest.mark.parametrize("shape", [(3, 4), (9, 40), (40, 61)])
@pytest.mark.parametrize("annulus", [(1, 3, 2), (2, 4, 2), (2, 6, 1)])
def test_separable_sum_equals_scipy_passes(shape, annulus):
    rng = np.random.default_rng(7)
    x = _image(rng, shape)
    ref = _correlate_kernel_reference(x, *annulus)
    a, b = _stacked_terms(*annulus)
    nl, ns = shape
    win = (slice(nl // 4, nl - 1), slice(2, ns // 2 + 1))  # a window: the same values there
    if annulus[2] <= 1:
        # the plane's kernel is the annulus mean, taken by box sums (background_kernels.annulus_mean): not
        # bit for bit, within the terms' float32 rounding (a few ulp of the image's spread)
        tol = 1e-5 * float(np.max(np.abs(x)))
        np.testing.assert_allclose(correlate_kernel(x, *annulus), ref, rtol=0, atol=tol)
        np.testing.assert_allclose(correlate_kernel(x, *annulus, window=win), ref[win], rtol=0, atol=tol)
    else:
        assert _same(correlate_kernel(x, *annulus), ref)
        assert _same(correlate_kernel(x, *annulus, window=win), ref[win])
    assert _same(kn.separable_sum(x, a, b, 0, nl, 0, ns), _sum_terms(x, a, b))


def _sum_terms(x, a, b):
    out = np.zeros(x.shape, x.dtype)
    for u, v in zip(a, b, strict=True):
        out += ndimage.correlate1d(ndimage.correlate1d(x, u, axis=0, mode="nearest"), v, 1, mode="nearest")
    return out


@pytest.mark.parametrize("shape", SHAPES)
def test_phase_filter_equals_scipy(shape):
    rng = np.random.default_rng(3)
    x = _image(rng, shape)
    shifts = (0.0, 0.5)
    kern = {sh: kernel1d(0.7, sh).astype(np.float32) for sh in shifts}
    kern_s = {sh: kernel1d(0.9, sh).astype(np.float32) for sh in shifts}
    got = _phase_filter(x, kern, kern_s)
    for (dl, ds), g in zip(((0.0, 0.0), (0.0, 0.5), (0.5, 0.0), (0.5, 0.5)), got, strict=True):
        rows = ndimage.correlate1d(x, kern[dl], axis=0, mode="constant")
        assert _same(g, ndimage.correlate1d(rows, kern_s[ds], axis=1, mode="constant"))


@pytest.mark.parametrize("shape", SHAPES)
def test_fused_phase_filter_equals_its_maps(shape):
    """The matched filter's noise and S/N made line by line (phase_filter_noise, phase_filter_snr): the values
    of the four filtered maps made first (_phase_filter, scipy's) and then numpy's √max(·, 0) / phase_snr."""
    rng = np.random.default_rng(13)
    shifts = (0.0, 0.5)
    kern = {sh: kernel1d(0.7, sh).astype(np.float32) for sh in shifts}
    kern_s = {sh: kernel1d(0.9, sh).astype(np.float32) for sh in shifts}
    ks = [np.asarray(k[sh], np.float64) for k in (kern, kern_s) for sh in shifts]
    v = _image(rng, shape, nan=0.03)  # a "variance" of either sign: the max with 0 and NaN kept
    with np.errstate(invalid="ignore"):
        ref = [np.sqrt(np.maximum(f, 0)) for f in _phase_filter(v, kern, kern_s)]
    for got, want in zip(kn.phase_filter_noise(v, *ks), ref, strict=True):
        assert _same(got, want)
    x = _image(rng, shape, nan=0.03)
    dens = [np.abs(_image(rng, shape)) for _ in range(4)]
    dens[1][rng.random(shape) < 0.2] = 0.0
    gains = [np.float32(g) for g in (1.0, 1.0731, 0.9377, 1.2113)]
    s0, top, phase = kn.phase_snr(*_phase_filter(x, kern, kern_s), *dens, *gains)
    # (the best phase's index as intp: the type the background keeps it in)
    want = (s0, top, phase.astype(np.intp))
    for got, w in zip(kn.phase_filter_snr(x, *ks, *dens, *gains), want, strict=True):
        assert _same(got, w)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", range(len(KERNELS)))
def test_padded_sample_pass_equals_scipy(shape, k):
    """The samples' pass read from a line padded in place (_sample_padded: constant 0 margins, as the phase
    filters use it; the edge values repeated, as separable_sum does) equals scipy's correlate1d bit for bit
    for every kind of kernel (symmetric, antisymmetric, within scipy's tolerance of symmetric, general, one
    tap), over the whole line and over a range of samples."""
    rng = np.random.default_rng(29 + k)
    x = _image(rng, shape, nan=0.03)
    w = np.asarray(KERNELS[k], np.float64)
    sym = kn.kernel_symmetry(w)
    nl, ns = shape
    pad = w.size
    lo, hi = ns // 3, ns - ns // 4
    for mode in ("constant", "nearest"):
        ref = ndimage.correlate1d(x, w, axis=1, mode=mode)
        acc = np.empty(ns)
        for i in range(nl):
            row = np.zeros(ns + 2 * pad, x.dtype)
            row[pad : pad + ns] = x[i]
            if mode == "nearest":
                row[:pad], row[pad + ns :] = x[i, 0], x[i, -1]
            out = np.empty(ns, x.dtype)
            kn._sample_padded(row, w, sym, pad, ns, acc, out)
            assert _same(out, ref[i])
            part = np.empty(hi - lo, x.dtype)
            kn._sample_padded(row, w, sym, pad + lo, hi - lo, acc, part)
            assert _same(part, ref[i, lo:hi])


@pytest.mark.parametrize("shape", SHAPES)
def test_masked_difference_equals_numpy_where(shape):
    """The residual map in one pass: ``np.where(ok, x - bg, 0.0)`` bit for bit (NaN, signed zeros)."""
    rng = np.random.default_rng(17)
    for dtype in (np.float32, np.float64):
        x, bg = _image(rng, shape, dtype, nan=0.05), _image(rng, shape, dtype, nan=0.05)
        bg[rng.random(shape) < 0.1] = -0.0
        ok = rng.random(shape) < 0.8
        assert _same(kn.masked_difference(x, bg, ok), np.where(ok, x - bg, 0.0))


def _best_phase_reference(s_white):
    stack = np.stack(s_white)
    top = np.max(stack, axis=0)  # NaN propagates
    phase = np.argmax(np.where(np.isnan(stack), -np.inf, stack), axis=0)
    return phase, top


@pytest.mark.parametrize("shape", SHAPES)
def test_phase_snr_equals_numpy(shape):
    rng = np.random.default_rng(11)
    num = [_image(rng, shape, nan=0.03) for _ in range(4)]
    num[2] = num[1].copy()  # ties: the first of equal maxima wins
    den = [np.abs(_image(rng, shape)) for _ in range(4)]
    den[0][rng.random(shape) < 0.2] = 0.0  # no noise: S/N 0
    den[3][rng.random(shape) < 0.1] = np.nan
    # the background step's noise gain per phase, applied as numpy's float32 product of each noise map
    gains = [np.float32(g) for g in (1.0, 1.0731, 0.9377, 1.2113)]
    s_ref = []
    for n, d, g in zip(num, den, gains, strict=True):
        s = np.zeros(shape, np.float32)
        dg = d * g
        s_ref.append(np.divide(n, dg, out=s, where=dg > 0))
    phase_ref, top_ref = _best_phase_reference(s_ref)
    s0, top, phase = kn.phase_snr(*num, *den, *gains)
    assert _same(s0, s_ref[0])
    assert np.array_equal(top, top_ref, equal_nan=True)
    finite = ~np.isnan(top_ref)
    assert np.array_equal(phase[finite], phase_ref[finite])


def _fill_reference(x, m, h):
    mf = m.astype(x.dtype)
    num = ndimage.uniform_filter(x * mf, 2 * h + 1, mode="constant")
    den = ndimage.uniform_filter(mf, 2 * h + 1, mode="constant")
    covered = den > 1e-3
    with np.errstate(invalid="ignore", divide="ignore"):
        filled = num / den
    if not covered.all():
        filled = np.where(covered, filled, float(np.mean(x[m])) if m.any() else 0.0)
    return np.where(m, x, filled)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_mean_and_fill_equal_scipy(shape, dtype):
    rng = np.random.default_rng(5)
    x = _image(rng, shape, dtype)
    for size in (3, 5, 11):
        assert _same(kn.uniform_box_mean(x, size), ndimage.uniform_filter(x, size, mode="constant"))
    for frac in (0.0, 0.1, 0.7, 1.0):  # masked pixels, down to none usable (the region mean, then 0)
        m = rng.random(shape) >= frac
        if frac == 0.7:
            m[:, : shape[1] // 2] = False  # a hole wider than the box: the region mean
        for h in (1, 2, 5):
            assert _same(_fill(x, m, h), _fill_reference(x, m, h))
    # holes in a few lines only, the last of them short of the frame's end (the fill's passes stop there)
    for n_holes in (1, 3, 7):
        m = np.ones(shape, bool)
        m.ravel()[rng.choice(m.size, min(n_holes, m.size), replace=False)] = False
        for h in (1, 2, 5):
            assert _same(_fill(x, m, h), _fill_reference(x, m, h))
    # only the holes asked for (the white noise's level sample): their values, the rest of x as it is
    for frac in (0.1, 0.7):
        m = rng.random(shape) >= frac
        want = ~m & (rng.random(shape) < 0.3)
        for h in (1, 2, 5):
            assert _same(_fill(x, m, h, want), np.where(want, _fill_reference(x, m, h), x))


def _block_reference(azb, zone, k, q):
    vals, counts = [], []
    for r in range(azb.shape[0]):
        v = azb[r][(zone[r] == k) & np.isfinite(azb[r])]
        counts.append(v.size)
        vals.append(np.sort(v)[int(np.floor(q * (v.size - 1)))] if v.size else np.nan)
    return np.array(vals, np.float32), np.array(counts)


@pytest.mark.parametrize("width", [1, 4, 64, 81, 169])
def test_block_order_stats_equal_sort(width):
    rng = np.random.default_rng(width)
    nb = 50
    azb = np.abs(rng.standard_t(3, size=(nb, width))).astype(np.float32)
    azb[rng.random(azb.shape) < 0.1] = np.nan
    azb[rng.random(azb.shape) < 0.02] = np.inf
    azb[:, : width // 3] = np.round(azb[:, : width // 3])  # ties
    zone = rng.integers(-1, 4, size=azb.shape).astype(np.int8)
    rows = np.array(sorted(rng.choice(nb, 30, replace=False)), np.intp)
    for q in (0.5, 0.9, 0.0, 1.0):
        vals, counts = kn.block_order_stats(azb, zone, rows, 4, q)
        for k in range(4):
            ref_v, ref_n = _block_reference(azb[rows], zone[rows], k, q)
            assert np.array_equal(counts[k], ref_n)
            assert np.array_equal(vals[k], ref_v, equal_nan=True)


@pytest.mark.parametrize("width", [64, 169, 400])
def test_block_order_stats_blocks_of_one_region(width):
    """Blocks whose values are all finite and of one region (selected in place, the usual case) beside blocks
    that break it by one value (a NaN, an infinity, a pixel of no region or of another region): each gives
    the sorted values' order statistic and count of the reference, and the input is left as it was."""
    rng = np.random.default_rng(width + 1)
    nb = 40
    azb = np.abs(rng.standard_normal((nb, width))).astype(np.float32)
    azb[::4, : width // 2] = np.round(azb[::4, : width // 2] * 2)  # ties
    zone = np.repeat(rng.integers(0, 3, nb).astype(np.int8)[:, None], width, axis=1)
    c = rng.integers(0, width, nb)
    azb[1::5][np.arange(len(azb[1::5])), c[1::5]] = np.nan
    azb[2::5][np.arange(len(azb[2::5])), c[2::5]] = np.inf
    zone[3::5, 0] = -1
    zone[4::5, -1] = (zone[4::5, -1] + 1) % 3
    keep = azb.copy()
    rows = np.arange(nb, dtype=np.intp)
    for q in (0.5, 0.9):
        vals, counts = kn.block_order_stats(azb, zone, rows, 3, q)
        for k in range(3):
            ref_v, ref_n = _block_reference(azb, zone, k, q)
            assert np.array_equal(counts[k], ref_n)
            assert np.array_equal(vals[k], ref_v, equal_nan=True)
    assert np.array_equal(azb, keep, equal_nan=True)


def test_kth_smallest_every_rank():
    rng = np.random.default_rng(2)
    for n in (1, 2, 5, 64):
        a = rng.integers(0, 5, n).astype(np.float64)
        srt = np.sort(a)
        for k in range(n):
            assert kn.kth_smallest(a.copy(), n, k) == srt[k]


def test_kth_by_rank_every_rank():
    rng = np.random.default_rng(4)
    for n in (1, 2, 7, 96):
        a = rng.integers(0, 6, n).astype(np.float32)
        srt = np.sort(a)
        for k in range(n):
            assert kn.kth_by_rank(a, n, k) == srt[k]
    for n in (3, 31, 64, 96):  # distinct values: each rank's own value
        a = rng.standard_normal(n).astype(np.float32)
        srt = np.sort(a)
        for k in range(n):
            assert kn.kth_by_rank(a, n, k) == srt[k]


def test_running_median_equals_scipy_median_filter():
    """The edge curvature's running median (size 15, nearest): scipy's values on finite, non-zero rows of any
    length (shorter than the window too), with ties and runs of equal values."""
    rng = np.random.default_rng(17)
    for t in range(600):
        n = int(rng.integers(1, 80))
        v = rng.normal(size=n) * 10 ** rng.uniform(-5, 5)
        if t % 3 == 0:
            v = np.round(v * 2) + 0.25  # ties, never zero
        if t % 5 == 0:
            v[: n // 2] = v[0]  # a run of one value
        want = ndimage.median_filter(v.reshape(1, n), size=(1, 15), mode="nearest").ravel()
        assert _same(kn.running_median_nearest(v, 15), want), (t, n)
        assert _same(kn.running_median_nearest(v, 3), ndimage.median_filter(v, 3, mode="nearest")), (t, n)


def test_edge_curvature_equals_scipy_median_also_with_zeros_and_nan():
    """The edge curvature (compiled median where the values are finite and non-zero, scipy's otherwise) equals
    the plain formula on images with NaN, exact zeros of either sign (flat ground) and noise."""
    from ioscan.detect.background import (
        EDGE_CURVATURE_ROWS_PER_PAD,
        EDGE_QUADRATIC_SMOOTH_PX,
        _curvature_weights,
        _edge_curvature,
    )

    rng = np.random.default_rng(23)
    for t in range(200):
        shape = (int(rng.integers(3, 40)), int(rng.integers(3, 40)))
        x = _image(rng, shape, np.float64, nan=0.02 if t % 4 == 1 else 0.0)
        if t % 4 == 2:
            x[:, : shape[1] // 2] = 0.0  # flat: curvature exactly 0
        if t % 4 == 3:
            x[: shape[0] // 2] = -0.0
        p, axis, far = int(rng.integers(1, 6)), int(t % 2), bool(t % 3)
        n = x.shape[axis]
        m = min(EDGE_CURVATURE_ROWS_PER_PAD * p + 1, n)
        idx = np.arange(n - 1, n - 1 - m, -1) if far else np.arange(m)
        rows = np.take(x, idx, axis=axis).astype(np.float64)
        wshape = (m, 1) if axis == 0 else (1, m)
        c = np.sum(rows * _curvature_weights(m).reshape(wshape), axis=axis, keepdims=True)
        size = (1, EDGE_QUADRATIC_SMOOTH_PX) if axis == 0 else (EDGE_QUADRATIC_SMOOTH_PX, 1)
        want = ndimage.median_filter(c, size=size, mode="nearest")
        assert _same(_edge_curvature(x, p, axis, far), want), t


def test_grow_diamond_equals_cross_dilations():
    """The compiled diamond dilation: ``k`` binary dilations with the 4-connected cross, on frames of any
    shape (1-pixel lines too), dense and sparse masks, k up to beyond the frame."""
    rng = np.random.default_rng(29)
    for t in range(300):
        shape = (int(rng.integers(1, 50)), int(rng.integers(1, 50)))
        m = rng.random(shape) < rng.choice([0.002, 0.02, 0.2, 0.6])
        k = int(rng.integers(1, 12))
        assert np.array_equal(kn.grow_diamond(m, k), ndimage.binary_dilation(m, iterations=k)), (t, shape, k)


def test_grow_diamond_sparse_on_long_lines():
    """The sparse path's skipped runs of 64 samples: long lines (several runs, a partial last one), few True
    pixels (some at a run's first and last sample, at the frame's edges), the same pixels as cross
    dilations."""
    rng = np.random.default_rng(31)
    for t in range(60):
        shape = (int(rng.integers(1, 40)), int(rng.integers(60, 300)))
        m = rng.random(shape) < rng.choice([0.0005, 0.003, 0.01])
        for j in rng.choice([0, 63, 64, 127, 128, shape[1] - 1], 2):
            m[int(rng.integers(0, shape[0])), min(int(j), shape[1] - 1)] = True
        k = int(rng.integers(1, 6))
        assert np.array_equal(kn.grow_diamond(m, k), ndimage.binary_dilation(m, iterations=k)), (t, shape, k)


def _random_layout(rng):
    """A block layout's inputs: (lines, samples, block side, regions, region map with values outside the
    regions, block lines, block samples), frames not a multiple of the block."""
    nl, ns, b = int(rng.integers(1, 60)), int(rng.integers(1, 60)), int(rng.integers(1, 12))
    n_regions = int(rng.integers(1, 5))
    side = rng.integers(-1, n_regions + 2, (nl, ns)).astype(np.intp)
    return nl, ns, b, n_regions, side, -(-nl // b), -(-ns // b)


def test_block_layout_kernels_equal_numpy_reshapes():
    """The block scale's pixel → grid index and its regions in block order, compiled: the numpy expressions
    they replace (region maps with values outside the regions, frames not a multiple of the block)."""
    rng = np.random.default_rng(37)
    for t in range(200):
        nl, ns, b, n_regions, side, nbl, nbs = _random_layout(rng)
        want = np.where((side >= 0) & (side < n_regions), side, n_regions) * (nbl * nbs)
        want += (np.arange(nl) // b)[:, None] * nbs + (np.arange(ns) // b)[None, :]
        assert _same(kn.block_index(side, n_regions, b, nbs, nbl * nbs), want), t
        small = side.astype(np.int8)
        ok = rng.random((nl, ns)) < 0.7
        zone = np.full((nbl * b, nbs * b), -1, np.int8)
        zone[:nl, :ns] = np.where(ok, small, np.int8(-1))
        zone = zone.reshape(nbl, b, nbs, b).transpose(0, 2, 1, 3).reshape(-1, b * b)
        assert _same(kn.zone_in_blocks(ok, small, b, nbl, nbs), zone), t


def test_take_blocks_equals_take_of_block_index():
    """The block scale's grids read back per pixel from the small region map (``take_blocks``): numpy's
    ``np.take`` of the full-size index bit for bit, sign of zero and NaN included (region maps with values
    outside the regions, frames not a multiple of the block); and ``BlockLayout.take`` gives it."""
    from ioscan.detect.background import BlockLayout

    rng = np.random.default_rng(41)
    for t in range(200):
        nl, ns, b, n_regions, side, nbl, nbs = _random_layout(rng)
        grids = rng.normal(size=(n_regions + 1, nbl, nbs)).astype(np.float32)
        grids.ravel()[rng.random(grids.size) < 0.1] = np.nan
        grids.ravel()[rng.random(grids.size) < 0.1] = -0.0
        want = np.take(grids, kn.block_index(side, n_regions, b, nbs, nbl * nbs))
        got = kn.take_blocks(grids, side.astype(np.int8), b)
        assert _same(got, want), t
        assert _same(kn.take_blocks(grids, side, b), want), t  # (an intp region map too)
        layout = BlockLayout(side, n_regions, b)
        assert _same(layout.take(grids), want), t
        assert _same(layout.index, kn.block_index(side, n_regions, b, nbs, nbl * nbs)), t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pad_odd_compiled_equals_numpy(dtype):
    """The frame-edge pad (point reflection about the smoothed edge plus the curvature across it) compiled
    equals numpy's bit for bit on crops 15–60 px, pads 1–15 px, sunlit-like levels, NaNs and ±0 edges (the
    compiled path declines where a curvature is 0 or not finite: numpy's then, scipy's median)."""
    from ioscan.detect.background import _pad_odd, _pad_odd_compiled, _pad_odd_numpy

    rng = np.random.default_rng(20261206)
    compiled = 0
    for it in range(400):
        n0, n1 = (int(v) for v in rng.integers(15, 61, 2))
        p = int(rng.integers(1, min(16, n0, n1)))  # (1 ≤ p < each side)
        x = (_image(rng, (n0, n1), dtype) + dtype(rng.uniform(-100.0, 1000.0))).astype(dtype)
        if it % 5 == 0:
            x[rng.integers(0, n0), rng.integers(0, n1)] = np.nan
        if it % 7 == 0:
            x[:3] = -0.0 if it % 2 else 0.0  # flat edge lines: zero curvature
        got = _pad_odd(x, p)
        assert _same(got, _pad_odd_numpy(x, p))
        compiled += _pad_odd_compiled(np.ascontiguousarray(x), p) is not None
    assert 250 < compiled < 400  # both paths taken


def test_pad_odd_compiled_equals_numpy_on_a_crop_view():
    """A non-contiguous window of a larger image (as ``correlate_kernel`` may pass) pads as numpy pads it."""
    from ioscan.detect.background import _pad_odd, _pad_odd_numpy

    rng = np.random.default_rng(7)
    big = _image(rng, (80, 90)) + np.float32(300.0)
    x = big[5:60, 7:70]
    assert _same(_pad_odd(x, 6), _pad_odd_numpy(x, 6))


@pytest.mark.parametrize("quantile", [0.5, 0.9])
def test_distance_bins_compiled_equal_partition_and_numpy_max(quantile):
    """A limb-distance profile's bin statistics (compiled selection) equal ``np.partition``'s, with NaNs in
    the map (numpy's path then), and ``raise_to`` (the median profile) equals numpy's masked maximum, NaNs in
    the scale too."""
    from ioscan.detect.background import DistanceBins

    rng = np.random.default_rng(11)
    for it in range(60):
        shape = (int(rng.integers(20, 70)), int(rng.integers(20, 70)))
        d = rng.uniform(-12.0, 12.0, shape)
        sel = rng.random(shape) < 0.8
        z = _image(rng, shape, nan=0.01 if it % 3 == 0 else 0.0)
        z[rng.random(shape) < 0.05] = 0.0
        bins = DistanceBins(d, sel, -8.0, 8.0, step=1.0)  # 16 bins: the compiled statistics
        got = bins.per_bin(z, quantile)
        if bins.empty:
            continue
        cnt = bins.ends - bins.starts
        stat = bins._bin_stats_numpy(z, quantile)
        factor = MAD_TO_SIGMA if quantile == 0.5 else 1.0 / float(ndtri(0.5 + 0.5 * quantile))
        want = np.maximum(np.where(cnt >= 20, factor * stat, 1.0), 1.0)
        assert _same(got, want)
        scale = (1.0 + np.abs(_image(rng, shape))).astype(np.float32)
        scale[rng.random(shape) < 0.02] = np.nan
        expect = scale.copy()
        median = np.maximum(np.where(cnt >= 20, MAD_TO_SIGMA * bins._bin_stats_numpy(z, 0.5), 1.0), 1.0)
        expect[bins.where] = np.maximum(expect[bins.where], median[bins.at].astype(np.float32))
        bins.raise_to(scale, z)
        assert _same(scale, expect)


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 1, 5), (3, 4, 1), (2, 16, 54), (4, 7, 9)])
def test_grid_box_mean_equals_scipy_uniform_filter(shape):
    """The block scale's 3 × 3 average of its block grids (``nearest``) equals scipy's bit for bit, NaNs
    included."""
    rng = np.random.default_rng(3)
    for nan in (0.0, 0.1):
        a = np.abs(_image(rng, shape, nan=nan)) + np.float32(1.0)
        want = ndimage.uniform_filter(a, size=(1, 3, 3), mode="nearest")
        assert _same(kn.grid_box_mean_nearest(a, 3), want)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_laplace_residual_equals_numpy(shape, dtype):
    """The outlier test's Laplacian residual (compiled) equals numpy's padded form bit for bit: NaNs, ±0,
    masked pixels, 1-pixel-wide crops."""
    from ioscan.detect.background import _laplace_residual, _laplace_residual_numpy

    rng = np.random.default_rng(4)
    x = _image(rng, shape, dtype, nan=0.05)
    x[rng.random(shape) < 0.1] = -0.0
    ok = rng.random(shape) < 0.9
    got, want = _laplace_residual(x, ok), _laplace_residual_numpy(x, ok)
    assert _same(got[0], want[0]) and _same(got[1], want[1])


@pytest.mark.parametrize("n", [20, 21, 399, 400, 1601, 3203, 8000])
def test_level_bin_stats_equal_numpy_median_and_percentile(n):
    """The white-noise fit's level bins (compiled) equal numpy's medians and lower quartiles bit for bit,
    ties and repeated levels included; a level mean that would add a zero is left to numpy."""
    from ioscan.detect.background import _Q25_CHI2, _level_bins_numpy

    rng = np.random.default_rng(n)
    for levels in (rng.normal(50.0, 20.0, n), np.round(rng.normal(50.0, 20.0, n))):  # (rounded: ties)
        b = levels.astype(np.float32)
        r2 = rng.normal(0.0, 2.0, n) ** 2
        order = np.argsort(b)
        nb = int(np.clip(n // 400, 1, 8))
        lev, var, wts, done = kn.level_bin_stats(b, r2, order, nb, _Q25_CHI2)
        want = _level_bins_numpy(b, r2, order, nb, False)
        assert done
        assert (lev.tolist(), var.tolist(), wts.tolist()) == want
        assert all(_same(np.array(a), np.array(w)) for a, w in zip((lev, var), want[:2], strict=True))
    b = np.zeros(40, np.float32)  # a mean of two zeros: numpy's sum decides its sign
    assert not kn.level_bin_stats(b, np.ones(40), np.argsort(b), 1, _Q25_CHI2)[3]


@pytest.mark.parametrize("n", [20, 21, 399, 400, 1601, 3203, 8000])
def test_level_bin_stats_sorted_equal_argsort_bins(n):
    """The white-noise fit's level bins made from the sorted levels equal those of the argsort bit for bit
    where no equal levels straddle a bin boundary; where they do (or a middle level is 0) it declines."""
    from ioscan.detect.background import _Q25_CHI2

    rng = np.random.default_rng(n + 1)
    nb = int(np.clip(n // 400, 1, 8))
    declined = 0
    for levels in (rng.normal(50.0, 20.0, n), np.round(rng.normal(50.0, 2.0, n)), rng.normal(0.0, 1.0, n)):
        b = levels.astype(np.float32)
        r2 = rng.normal(0.0, 2.0, n) ** 2
        got = kn.level_bin_stats_sorted(b, np.sort(b), r2, nb, _Q25_CHI2)
        want = kn.level_bin_stats(b, r2, np.argsort(b), nb, _Q25_CHI2)
        s = np.sort(b)
        bounds = np.cumsum([n // nb + (1 if c < n % nb else 0) for c in range(nb)])[:-1]
        straddled = any(s[k - 1] == s[k] for k in bounds)
        assert got[3] == (not straddled)  # (these levels have no zero middle value)
        if got[3]:
            assert want[3] and all(_same(a, w) for a, w in zip(got[:3], want[:3], strict=True))
        declined += not got[3]
    assert declined >= 1 or nb == 1  # (the rounded levels tie across a boundary)
    b = np.zeros(41, np.float32)  # a middle level of 0: its sign would be the argsort's
    assert not kn.level_bin_stats_sorted(b, b, np.ones(41), 1, _Q25_CHI2)[3]


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (40, 61), (128, 97)])
def test_psf_candidates_box_mean_equals_scipy(shape):
    """The PSF candidates' 11 × 11 mean (compiled running sums, windows wider than the image too) equals
    scipy's uniform_filter (``nearest``) bit for bit."""
    from ioscan.detect.psf_estimate import _box_mean_nearest

    rng = np.random.default_rng(6)
    m = _image(rng, shape, nan=0.02) + np.float32(100.0)
    assert _same(_box_mean_nearest(m, 11), ndimage.uniform_filter(m, 11, mode="nearest"))


@pytest.mark.parametrize("shape", SHAPES + [(128, 97)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_abs_in_blocks_equals_numpy_reshapes(shape, dtype):
    """The block scale's |z| in block order (compiled) equals numpy's padded reshape and transpose."""
    rng = np.random.default_rng(10)
    z = _image(rng, shape, dtype, nan=0.05)
    z[rng.random(shape) < 0.05] = -0.0
    for b in (1, 3, 8):
        nl, ns = shape
        nbl, nbs = -(-nl // b), -(-ns // b)
        azb = np.full((nbl * b, nbs * b), np.nan, np.float32)
        azb[:nl, :ns] = np.abs(z).astype(np.float32)
        want = azb.reshape(nbl, b, nbs, b).transpose(0, 2, 1, 3).reshape(-1, b * b)
        assert _same(kn.abs_in_blocks(z, b, nbl, nbs), want)


BIN_RANGES = [(0.5, -11.3, 11.3), (1.0, 0.0, 9.0), (3.0, 0.0, 9.0), (0.5, -2.0, 2.0)]


@pytest.mark.parametrize("step, lo, hi", BIN_RANGES)
def test_distance_bins_compiled_equal_numpy(step, lo, hi):
    """The distance profile's bins made in two compiled passes (:func:`background_kernels.distance_bins`: a
    counting sort) equal numpy's (masks, bins, clipped bins, ``np.argsort(kind="stable")`` order and
    ``np.searchsorted`` bounds), with distances on the bin edges, the range's ends, NaN-free integers (the
    frame edges', read-only) and few or many bins."""
    from ioscan.detect.background import DistanceBins

    rng = np.random.default_rng(3)
    for it in range(30):
        shape = (int(rng.integers(1, 60)), int(rng.integers(1, 60)))
        d = rng.uniform(lo - 3.0, hi + 3.0, shape)
        edges = lo + step * rng.integers(-1, int((hi - lo) / step) + 2, shape)
        d = np.where(rng.random(shape) < 0.3, edges, d)  # exactly on the bins' edges
        if it % 3 == 0:
            d = np.rint(d)
            d.setflags(write=False)
        sel = rng.random(shape) < (0.0 if it == 1 else 0.7)
        got = DistanceBins(d, sel, lo, hi, step)
        want = DistanceBins.__new__(DistanceBins)
        want.nb = got.nb
        want._init_numpy(d, sel, lo, got.nb, step)
        assert got.empty == want.empty
        assert _same(got.where, want.where) and _same(got.inside, want.inside)
        if want.empty:
            continue
        assert _same(got.bins, want.bins) and _same(got.at, want.at)
        assert _same(got.where_flat, np.flatnonzero(want.where))
        if got.nb <= 16:
            for name in ("by_bin", "starts", "ends", "flat_by_bin"):
                assert _same(getattr(got, name), getattr(want, name)), name
        z = _image(rng, shape)
        assert _same(got.per_bin(z, 0.5), want.per_bin(z, 0.5))


def _profile_by_sort(bins, z, quantile):
    """The many-bins profile as numpy's path makes it: one sort by bin + |z| ÷ max."""
    factor = MAD_TO_SIGMA if quantile == 0.5 else 1.0 / float(ndtri(0.5 + 0.5 * quantile))
    v = np.abs(z[bins.inside]).astype(np.float64)
    vmax = float(v.max()) * 1.0001 + 1e-30
    order = np.argsort(bins.bins + v / vmax)
    b, v = bins.bins[order], v[order]
    starts = np.searchsorted(b, np.arange(bins.nb))
    cnt = np.searchsorted(b, np.arange(bins.nb), side="right") - starts
    mid = np.clip(starts + np.floor(quantile * (cnt - 1)).astype(np.intp), 0, max(v.size - 1, 0))
    return np.maximum(np.where(cnt >= 20, factor * v[mid], 1.0), 1.0)


@pytest.mark.parametrize("quantile", [0.5, 0.9])
def test_many_bins_profile_by_selection_equals_the_sort(quantile):
    """A limb profile of many bins (45) by a selection in each bin equals numpy's sort by bin + |z| ÷ max:
    ordinary maps, maps with exact zeros and values a millionth of the largest (which that key cannot tell
    apart), maps with huge values (the selection then gives way to the sort) and NaNs."""
    from ioscan.detect.background import DistanceBins

    rng = np.random.default_rng(17)
    for it in range(40):
        shape = (int(rng.integers(30, 80)), int(rng.integers(30, 80)))
        d = rng.uniform(-13.0, 13.0, shape)
        bins = DistanceBins(d, rng.random(shape) < 0.9, -11.25, 11.25)
        assert bins.nb == 45 and hasattr(bins, "flat_by_bin")
        z = _image(rng, shape, nan=0.002 if it % 5 == 4 else 0.0)
        if it % 4 == 1:  # many tiny distinct values beside a few large ones
            z = (z * 1e-9).astype(np.float32)
            z[rng.random(shape) < 0.01] = 3.0
        if it % 4 == 2:
            z[rng.random(shape) < 0.5] = 0.0
        if it % 4 == 3:  # huge values: the sort decides
            z = (z * 1e7).astype(np.float32)
        assert _same(bins.per_bin(z, quantile), _profile_by_sort(bins, z, quantile))


def test_take_better_equals_copyto():
    """The option choice in one pass: numpy's copyto where the merit is higher (NaN never wins), in place."""
    rng = np.random.default_rng(17)
    shape = (9, 13)
    best = [_image(rng, shape, nan=0.1) for _ in range(2)]
    best.insert(1, rng.integers(0, 4, shape).astype(np.intp))
    new = [_image(rng, shape, nan=0.1) for _ in range(2)]
    new.insert(1, rng.integers(0, 4, shape).astype(np.intp))
    merit, b_merit = _image(rng, shape, nan=0.1), _image(rng, shape, nan=0.1)
    merit[0, :4] = b_merit[0, :4]  # ties: the best kept
    choice = rng.integers(0, 2, shape).astype(np.intp)
    better = merit > b_merit
    want = [np.where(better, n, b) for n, b in zip([merit, *new], [b_merit, *best], strict=True)]
    want_choice = np.where(better, 2, choice)
    kn.take_better(2, merit, new[0], new[1], new[2], new[2].copy(), b_merit, *best, best[2].copy(), choice)
    for got, w in zip([b_merit, *best], want, strict=True):
        assert _same(got, w)
    assert _same(choice, want_choice)


def test_block_scale_compiled_grids_equal_numpy():
    """The block scale's grids from its block statistics in two compiled passes (``block_fills``,
    ``block_grids``): the numpy path's scale maps bit for bit — regions with NaN values, regions present
    without a block of enough pixels (their own quantile as fill), absent regions, the floor, min fraction."""
    from ioscan.detect.background import BlockScale

    rng = np.random.default_rng(43)
    for t in range(120):
        nl, ns, b, n_regions, side, nbl, nbs = _random_layout(rng)
        z = _image(rng, (nl, ns), nan=0.05 * (t % 2))
        q = (0.5, 0.9)[t % 3 == 0]
        for frac in (0.9, 0.3, 0.02):
            ok = rng.random((nl, ns)) < frac
            kw = dict(floor=(1.0, 0.0)[t % 2], min_fraction=(0.25, 0.125)[t % 4 == 0])
            got = BlockScale(z, side, n_regions, b, q).scale(ok, **kw)
            ref = BlockScale(z, side, n_regions, b, q)
            ref._grids = lambda *a: None  # (numpy's path)
            with np.errstate(invalid="ignore"):
                want = ref.scale(ok, **kw)
            assert _same(got, want), (t, frac)


def test_kth_bracketed_every_rank():
    """The bracketed selection (a sample's order statistics bracket the rank, one counting pass, the values
    left selected again) gives each rank's value of ``np.sort`` above and below :data:`RANK_MAX` values, with
    many ties (the bracket's ends themselves the answer), distinct values and skewed ones, and leaves its
    input as it was."""
    rng = np.random.default_rng(11)
    cases = [rng.integers(0, 4, n).astype(np.float64) for n in (97, 300)]  # ties: the ends are the answer
    cases += [np.abs(rng.standard_normal(n)) for n in (1, 50, 97, 200, 1100)]
    cases += [rng.exponential(size=700) ** 3, np.sort(rng.random(400)), np.sort(rng.random(400))[::-1].copy()]
    for a in cases:
        n = a.size
        srt = np.sort(a)
        t1, t2 = np.empty(n), np.empty(n)
        keep = a.copy()
        for k in range(n):
            assert kn.kth_bracketed(a, n, k, t1, t2) == srt[k]
        assert np.array_equal(a, keep)
    a = rng.standard_normal(500).astype(np.float32) ** 2  # float32, the blocks' type
    t1, t2 = np.empty(500, np.float32), np.empty(500, np.float32)
    srt = np.sort(a)
    assert all(kn.kth_bracketed(a, 500, k, t1, t2) == srt[k] for k in range(0, 500, 7))


def test_clipped_outliers_equal_numpy():
    """The outlier test in one pass: numpy's pixels (float32 and float64 residuals; NaN, infinite, zero and
    negative scales; unusable pixels)."""
    rng = np.random.default_rng(21)
    s = np.abs(rng.standard_normal((40, 57))).astype(np.float32)
    s[rng.random(s.shape) < 0.05] = 0.0
    s[rng.random(s.shape) < 0.05] = -1.0
    s[rng.random(s.shape) < 0.05] = np.nan
    s[rng.random(s.shape) < 0.02] = np.inf
    ok = rng.random(s.shape) < 0.8
    for dtype in (np.float32, np.float64):
        lap = (rng.standard_normal(s.shape) * 6).astype(dtype)
        lap[rng.random(s.shape) < 0.03] = np.nan
        ref = ok & (np.abs(lap) > 5.0 * np.where(s > 0, s, np.inf))
        assert np.array_equal(kn.clipped_outliers(lap, s, ok, np.float32(5.0)), ref)


def test_positive_median_at_equals_median_or_nan():
    """The noise median in one pass: ``robust.median_or_nan(x[ok])``'s value on positive float32 maps (odd
    and even counts, ties, one or two distinct values — the white noise constant per region —, short and
    long selections); none (the numpy path) where a selected value is zero, negative or NaN, or none is."""
    from ioscan.robust import median_or_nan

    rng = np.random.default_rng(8)
    maps = [
        np.abs(rng.standard_normal((30, 41))).astype(np.float32) + 1e-6,
        np.full((25, 40), np.float32(3e-4)),
        np.where(rng.random((50, 60)) < 0.3, np.float32(2.0), np.float32(5.0)).astype(np.float32),
        np.round(rng.random((7, 9)) * 4 + 1).astype(np.float32),
    ]
    for x in maps:
        for frac in (1.0, 0.5, 0.01):
            ok = rng.random(x.shape) < frac
            if not ok.any():
                continue
            for sel in (ok, ok & (np.arange(x.size).reshape(x.shape) != np.flatnonzero(ok)[0])):  # odd / even
                v, done = kn.positive_median_at(x, sel)
                assert done and v == float(median_or_nan(x[sel]))
    x = maps[0].copy()
    ok = np.ones(x.shape, bool)
    assert not kn.positive_median_at(x, np.zeros(x.shape, bool))[1]
    for bad in (0.0, -1.0, np.nan):
        y = x.copy()
        y[3, 4] = bad
        assert not kn.positive_median_at(y, ok)[1]
        ok2 = ok.copy()
        ok2[3, 4] = False
        v, done = kn.positive_median_at(y, ok2)  # (not selected: ignored)
        assert done and v == float(median_or_nan(y[ok2]))
