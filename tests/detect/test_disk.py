"""The data's own limb (:func:`ioscan.detect.disk.limb_distance_from_data`) equals, bit for bit, its form
before the holes were filled by one labelling and the medians taken by one partition (written out below),
and :func:`ioscan.detect.disk.fill_holes` equals ``ndimage.binary_fill_holes``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect.disk import fill_holes, limb_distance_from_data, robust_sigma


def _reference(data, psf_sigma_px, min_contrast_snr=10.0):
    """limb_distance_from_data as it was (np.median, ndimage.sum_labels, binary_fill_holes, np.mgrid)."""
    img = np.asarray(data, dtype=np.float64)
    valid = np.isfinite(img)
    if valid.sum() < 100:
        return None
    fill = float(np.median(img[valid]))
    sm = ndimage.uniform_filter(np.where(valid, img, fill), 3)
    vals = sm[valid]
    if vals.size > 50000:
        vals = vals[:: vals.size // 50000 + 1]
    hist, edges = np.histogram(vals, bins=256)
    p = hist / hist.sum()
    w0 = np.cumsum(p)
    mu = np.cumsum(p * 0.5 * (edges[1:] + edges[:-1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        between = (mu[-1] * w0 - mu) ** 2 / (w0 * (1 - w0))
    between[~np.isfinite(between)] = -1
    thr = float(edges[np.argmax(between) + 1])
    lo, hi = vals[vals <= thr], vals[vals > thr]
    if lo.size < 20 or hi.size < 20:
        return None
    noise = robust_sigma((img - sm)[valid]) * 1.2
    contrast = float(np.median(hi) - np.median(lo))
    if noise <= 0 or contrast < min_contrast_snr * noise / 3.0:
        return None
    lab, n = ndimage.label(sm > thr)
    if n == 0:
        return None
    sizes = ndimage.sum_labels(np.ones_like(lab), lab, np.arange(1, n + 1))
    disk = ndimage.binary_fill_holes(lab == (int(np.argmax(sizes)) + 1))
    rmin = 10 * psf_sigma_px
    if disk.sum() < np.pi * rmin**2 / 4:
        return None
    edge = disk & ~ndimage.binary_erosion(disk)
    edge[0, :] = edge[-1, :] = False
    edge[:, 0] = edge[:, -1] = False
    ly, sx = np.nonzero(edge)
    if ly.size < 10:
        return None
    a = np.column_stack([2 * sx, 2 * ly, np.ones_like(sx)]).astype(float)
    rhs = sx.astype(float) ** 2 + ly.astype(float) ** 2
    (xc, yc, c), *_ = np.linalg.lstsq(a, rhs, rcond=None)
    rad2 = c + xc * xc + yc * yc
    if rad2 <= 0:
        return None
    rad = float(np.sqrt(rad2)) + 0.5
    resid = np.hypot(sx - xc, ly - yc) - (rad - 0.5)
    if float(np.sqrt(np.mean(resid**2))) > 1.5 or rad < rmin:
        return None
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return rad - np.hypot(xx - xc, yy - yc)


def test_fill_holes_is_binary_fill_holes():
    """Random masks of many densities (holes of all shapes, ones touching the edges, diagonal links that
    the 4-connected cross does not follow), all-true, all-false, thin images."""
    rng = np.random.default_rng(4)
    shapes = [(40, 50), (1, 30), (30, 1), (2, 2), (64, 17)]
    for shape in shapes:
        for density in (0.0, 0.2, 0.45, 0.55, 0.7, 0.9, 1.0):
            for _ in range(3):
                m = rng.random(shape) < density
                m = ndimage.binary_closing(m) if density == 0.7 else m
                assert np.array_equal(fill_holes(m), ndimage.binary_fill_holes(m))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_limb_distance_from_data_equals_reference_bit_for_bit(dtype):
    """Disks of several sizes and centres, partly off the frame, with holes (dark paterae), NaN pixels,
    flat frames (None) and an even number of valid pixels (np.median's mean of two)."""
    rng = np.random.default_rng(9)
    nl, ns = 128, 432
    yy, xx = np.mgrid[0:nl, 0:ns]
    seen = 0
    for k in range(16):
        xc, yc, r = rng.uniform(0, 430), rng.uniform(-100, 250), rng.uniform(100, 400)
        img = (np.hypot(xx - xc, yy - yc) < r) * rng.uniform(20, 200) + rng.normal(0, 3, (nl, ns))
        for _ in range(3):  # dark spots on the disk: holes to fill
            py, px = rng.uniform(0, nl), rng.uniform(0, ns)
            img[np.hypot(xx - px, yy - py) < rng.uniform(2, 5)] -= 150.0
        if k % 3 == 1:
            img[rng.random(img.shape) < 0.01] = np.nan
        if k % 4 == 3:
            img[0, 0] = np.nan  # an even count of valid pixels
        if k == 5:
            img = rng.normal(0, 3, (nl, ns))  # no disk
        img = img.astype(dtype)
        got, want = limb_distance_from_data(img, 1.2), _reference(img, 1.2)
        assert (got is None) == (want is None)
        if want is not None:
            seen += 1
            assert got.shape == want.shape and got.tobytes() == want.tobytes()
    assert seen >= 6


def test_limb_distance_from_data_small_images_equal_reference_bit_for_bit():
    """Images of fewer pixels than robust_sigma's and the histogram's sub-samples (every value used), with and
    without NaN pixels."""
    rng = np.random.default_rng(12)
    seen = 0
    for k, (nl, ns) in enumerate([(60, 80), (40, 40), (77, 91), (120, 45)]):
        yy, xx = np.mgrid[0:nl, 0:ns]
        disk = np.hypot(xx - ns * 0.6, yy - nl * 0.4) < 0.35 * min(nl, ns)
        img = disk * 80.0 + rng.normal(0, 2, (nl, ns))
        if k % 2:
            img[rng.random(img.shape) < 0.02] = np.nan
        got, want = limb_distance_from_data(img, 0.7), _reference(img, 0.7)
        assert (got is None) == (want is None)
        if want is not None:
            seen += 1
            assert got.tobytes() == want.tobytes()
    assert seen >= 3


def test_box_mean_and_histogram_of_the_data_limb_are_numpys():
    """limb_distance_from_data's 3 × 3 box mean and 256-bin histogram, compiled: scipy's and numpy's values
    bit for bit (values on the bin edges, a constant, tiny ranges, ±0; 1 × 1 … 40 × 50 images)."""
    import numpy as np
    from scipy import ndimage

    from ioscan.detect.disk import _box3, _histogram

    rng = np.random.default_rng(3)
    for t in range(120):
        n = int(rng.integers(1, 3000))
        kind = t % 6
        if kind == 0:
            v = rng.normal(size=n)
        elif kind == 1:
            v = np.round(rng.normal(size=n) * 4) / 4  # many values on edges
        elif kind == 2:
            v = np.full(n, 3.0)  # a constant: its edges ±0.5
        elif kind == 3:
            v = rng.uniform(-1, 1, n) * 1e-300
        elif kind == 4:
            v = np.concatenate([rng.normal(size=n), [0.0, -0.0]])
        else:
            v = np.linspace(-2, 5, n)
        counts, edges = _histogram(v, 256)
        want_counts, want_edges = np.histogram(v, bins=256)
        assert np.array_equal(counts, want_counts) and counts.dtype == want_counts.dtype, t
        assert edges.tobytes() == want_edges.tobytes(), t
        img = rng.normal(size=(int(rng.integers(1, 40)), int(rng.integers(1, 50)))) * 10 ** rng.uniform(-3, 3)
        assert _box3(img).tobytes() == ndimage.uniform_filter(img, 3).tobytes(), t
