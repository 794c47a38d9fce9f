"""The compiled azimuthal-median profiles (:mod:`ioscan.detect.second_pass_kernels`) equal, bit for bit, the
numpy reference :func:`ioscan.detect.second_pass.radial_profiles_numpy`: random residuals with NaN, ±inf,
masked pixels, repeated values (even counts, ties), positions on pixel centres and half pixels (radii on the
bins' edges and centres), over and beyond the frame edges, overlapping sources; and a ring whose median is a
zero of either sign falls back to numpy."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.second_pass import radial_profiles, radial_profiles_numpy, ring_edges
from ioscan.detect.second_pass_kernels import radial_profiles_kernel


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit (NaN equals NaN, −0 is not 0), same shape and dtype."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _residual(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A halo-like residual with heavy-tailed noise, NaN, ±inf, rounded (tied) values and a usable mask."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    resid = 30.0 * np.exp(-0.5 * ((xx - shape[1] / 2) ** 2 + (yy - shape[0] / 2) ** 2) / 4.0**2)
    resid += rng.standard_t(2, shape) * rng.lognormal(0, 1, shape)
    tied = rng.random(shape) < 0.3
    resid[tied] = np.round(resid[tied]) + 0.25  # many equal values (no zeros: those fall back to numpy)
    resid[rng.random(shape) < 0.03] = np.nan
    resid[rng.random(shape) < 0.005] = np.inf
    resid[rng.random(shape) < 0.005] = -np.inf
    usable = rng.random(shape) > 0.1
    return resid, usable


@pytest.mark.parametrize("seed", range(8))
def test_radial_profiles_are_numpys_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(20, 70)), int(rng.integers(20, 70)))
    resid, usable = _residual(rng, shape)
    n = 12
    x = rng.uniform(-8, shape[1] + 8, n)  # some over the edges, a few beyond them
    y = rng.uniform(-8, shape[0] + 8, n)
    x[:6] = np.round(x[:6])  # on pixel centres: radii exactly on the bins' edges (3, 4, 5 px, ...)
    y[:3] = np.round(y[:3])
    y[3:6] = np.round(y[3:6]) + 0.5  # half pixels: radii on the edges 0.5, 1.5, 2.5 and the centres 3.5, ...
    x[6], y[6] = x[7] + 1.3, y[7] - 0.7  # overlapping: the second works on what the first left
    radius = float(rng.choice([6.0, 12.0, 12.5, 18.0]))
    expected = radial_profiles_numpy(resid, usable, x, y, radius)
    assert np.count_nonzero(expected) > 100  # profiles were made
    work = np.where(usable, resid, np.nan)
    out, exact = radial_profiles_kernel(work, x, y, ring_edges(radius), int(np.ceil(radius)), 3)
    assert exact  # the kernel's own result, not numpy's fall-back
    assert _same(out, expected)
    assert _same(radial_profiles(resid, usable, x, y, radius), expected)


def test_the_kernel_subtracts_each_profile_before_the_next():
    rng = np.random.default_rng(11)
    resid, usable = _residual(rng, (40, 40))
    x, y = np.array([20.2, 21.0]), np.array([19.6, 20.5])
    work = np.where(usable, resid, np.nan)
    out, exact = radial_profiles_kernel(work.copy(), x, y, ring_edges(10.0), 10, 3)
    first, _ = radial_profiles_kernel(work.copy(), x[:1], y[:1], ring_edges(10.0), 10, 3)
    second, _ = radial_profiles_kernel(work - first, x[1:], y[1:], ring_edges(10.0), 10, 3)
    assert exact
    assert _same(out, first + second)


def test_a_zero_median_of_either_sign_falls_back_to_numpy():
    rng = np.random.default_rng(5)
    resid = rng.normal(size=(30, 30))
    resid[10:20, 10:20] = 0.0
    resid[10:20:2, 10:20] = -0.0  # the inner rings: medians among +0 and −0
    usable = np.ones(resid.shape, bool)
    x, y = np.array([14.5]), np.array([15.0])
    _, exact = radial_profiles_kernel(np.array(resid), x, y, ring_edges(8.0), 8, 3)
    assert not exact
    assert _same(radial_profiles(resid, usable, x, y, 8.0), radial_profiles_numpy(resid, usable, x, y, 8.0))


def test_too_few_rings_leave_no_profile():
    resid = np.full((20, 20), np.nan)
    resid[10, 10:13] = 5.0  # 3 values in 3 rings: no ring has the 3 values a median needs
    usable = np.ones(resid.shape, bool)
    out = radial_profiles(resid, usable, np.array([10.0]), np.array([10.0]), 6.0)
    assert _same(out, radial_profiles_numpy(resid, usable, np.array([10.0]), np.array([10.0]), 6.0))
    assert not out.any()


@pytest.mark.parametrize("seed", range(6))
def test_the_ring_median_selected_is_numpys(seed):
    """The rings' medians by selection: numpy's median of 3–200 finite values (odd and even counts, many
    ties, sorted and reversed input), bit for bit; a zero median with both signed zeros present is reported
    ambiguous, one with a single sign is not."""
    from ioscan.detect.second_pass_kernels import _middle_median

    rng = np.random.default_rng(seed)
    for n in list(range(3, 40)) + [63, 64, 100, 199, 200]:
        for kind in ("spread", "ties", "sorted", "reversed"):
            v = rng.standard_t(2, n) * 10.0 ** rng.uniform(-3, 3)
            if kind == "ties":
                v = np.round(v) + 0.5
            elif kind == "sorted":
                v = np.sort(v)
            elif kind == "reversed":
                v = np.sort(v)[::-1].copy()
            med, ambiguous = _middle_median(v.copy())
            assert not ambiguous
            assert _same(np.float64(med), np.float64(np.median(v))), (n, kind)
    med, ambiguous = _middle_median(np.array([-1.0, -0.0, 0.0, 2.0, 3.0]))
    assert med == 0.0 and ambiguous
    med, ambiguous = _middle_median(np.array([-1.0, 0.0, 0.0, 2.0, 3.0]))
    assert _same(np.float64(med), np.float64(0.0)) and not ambiguous


def test_add_at_equals_numpy_add_at_with_repeated_pixels():
    """The source image's scatter: repeated pixels summed in np.add.at's order, bit for bit."""
    from ioscan.detect.second_pass_kernels import add_at

    rng = np.random.default_rng(8)
    li, sj = rng.integers(0, 6, 400), rng.integers(0, 7, 400)  # every pixel hit ~10 times
    vals = rng.normal(size=400) * 10.0 ** rng.uniform(-8, 8, 400)
    want = np.zeros((6, 7))
    np.add.at(want, (li, sj), vals)
    got = np.zeros((6, 7))
    add_at(got, li, sj, vals)
    assert _same(got, want)


@pytest.mark.parametrize("seed", range(4))
def test_source_image_equals_numpy_add_at_of_its_stamps(seed):
    """The source image's stamps added where they fall inside (overlapping, across every frame edge) in
    np.add.at's order, bit for bit (the numpy form it replaced: broadcast pixel indices, an inside mask,
    np.add.at of flux × stamp)."""
    from ioscan.detect.psf import PsfModel
    from ioscan.detect.second_pass import source_image

    rng = np.random.default_rng(seed)
    psf = PsfModel((0.9, 0.1), (0.6, 2.0))
    shape = (int(rng.integers(15, 40)), int(rng.integers(15, 40)))
    n = 30
    x = rng.uniform(-6, shape[1] + 6, n)
    y = rng.uniform(-6, shape[0] + 6, n)
    flux = rng.normal(size=n) * 10.0 ** rng.uniform(-3, 6, n)
    r = int(np.ceil(4.0 * max(psf.sigmas_px)))
    off = np.arange(-r, r + 1)
    ci, cj = np.rint(y).astype(int), np.rint(x).astype(int)
    li = ci[:, None, None] + off[None, :, None]
    sj = cj[:, None, None] + off[None, None, :]
    p = psf.stamp_values(sj.astype(float), li.astype(float), x, y)
    li, sj = np.broadcast_arrays(li, sj)
    inside = (li >= 0) & (li < shape[0]) & (sj >= 0) & (sj < shape[1])
    want = np.zeros(shape)
    np.add.at(want, (li[inside], sj[inside]), (flux[:, None, None] * p)[inside])
    assert _same(source_image(psf, x, y, flux, shape), want)


def test_model_error_snr_equals_scipy_correlations():
    """The model error's matched filter (compiled correlate passes) equals scipy's two correlate1d passes."""
    from scipy import ndimage

    from ioscan.detect.psf import PsfModel, kernel1d
    from ioscan.detect.second_pass import model_error_snr, source_image

    rng = np.random.default_rng(9)
    psf = PsfModel((0.9, 0.1), (0.6, 2.5))  # (weights, σ px)
    shape = (50, 70)
    x, y = rng.uniform(-3, 73, 12), rng.uniform(-3, 53, 12)  # some over the edges
    src = source_image(psf, x, y, 10.0 ** rng.uniform(1, 5, 12), shape)
    noise = np.abs(rng.normal(size=shape)).astype(np.float32)
    noise[rng.random(shape) < 0.05] = 0.0
    k = kernel1d(0.6)
    mf = ndimage.correlate1d(ndimage.correlate1d(src, k, axis=0, mode="constant"), k, axis=1, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = float(np.sum(k * k))  # (a Python float: the product with the float32 noise stays float32)
        want = np.nan_to_num(mf / (norm * np.where(noise > 0, noise, np.inf)), nan=0.0, posinf=0.0)
    assert _same(model_error_snr(src, noise, 0.6), want)


def test_near_sources_compiled_is_the_window_loop():
    """near_sources' disks OR-ed in by the compiled loop: the windows of disk_window, clipped to the image
    (sources off the image, on its edges, overlapping; radii below and above a pixel)."""
    import numpy as np

    from ioscan.detect.second_pass import disk_offsets, disk_window, near_sources

    rng = np.random.default_rng(13)
    for t in range(80):
        shape = (int(rng.integers(1, 50)), int(rng.integers(1, 60)))
        n = int(rng.integers(0, 12))
        x, y = rng.uniform(-15, shape[1] + 15, n), rng.uniform(-15, shape[0] + 15, n)
        radius = float(rng.choice([0.4, 1.0, 2.5, 6.0, 12.0, 13.5]))
        want = np.zeros(shape, bool)
        r, disk = disk_offsets(radius)
        for xi, yi in zip(np.rint(x).astype(int), np.rint(y).astype(int), strict=True):
            part = disk_window(int(xi), int(yi), shape, r, disk)
            if part is not None:
                want[part[0]] |= part[1]
        assert np.array_equal(near_sources(x, y, shape, radius), want), t
