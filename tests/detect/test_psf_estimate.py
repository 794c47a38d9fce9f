"""The bright-source finder of the PSF estimate against its definition written out plainly (full-frame
filters, one source at a time), on frames with isolated sources, close pairs, sources at the frame edge and
near the limb, cosmic-ray hits and missing pixels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect.disk import grow
from ioscan.detect.limb import median3, pixel_noise_map
from ioscan.detect.psf import PsfModel
from ioscan.detect.psf_estimate import ISOLATION_FRACTION, ISOLATION_PX, PSF_LIMB_CLEARANCE_PX, bright_sources


def _reference(data, valid, limb_distance_px, min_peak_sigma=5.0):
    """bright_sources' docstring, literally: whole-frame maximum filter, each peak checked in turn."""
    x = np.asarray(data, dtype=np.float32)
    ok = np.isfinite(x) & valid
    if not ok.all():
        x = np.where(ok, x, np.float32(np.median(x[ok])))
    m = median3(x)
    hp = m - ndimage.uniform_filter(m, 11, mode="nearest")
    sig = pixel_noise_map(x)
    z = hp / sig
    local_max = z == ndimage.maximum_filter(z, 3, mode="nearest")
    peak = (z > min_peak_sigma) & local_max & ~grow(~ok, 6)
    peak &= np.abs(np.nan_to_num(limb_distance_px, nan=0.0)) > PSF_LIMB_CLEARANCE_PX
    oi, oj = np.nonzero((z > min_peak_sigma / 3) & local_max)
    raw = x - (m - hp)
    out = []
    for i, j in zip(*np.nonzero(peak), strict=True):
        d = np.hypot(oi - i, oj - j)
        if np.any((d > 0) & (d < ISOLATION_PX) & (z[oi, oj] > ISOLATION_FRACTION * z[i, j])):
            continue
        win = raw[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3]
        if np.count_nonzero(win > max(0.05 * float(win.max()), 4.0 * float(sig[i, j]))) >= 5:
            out.append((float(j), float(i), float(z[i, j])))
    return tuple(np.array([o[k] for o in out], float) for k in range(3))


def _frame(seed: int):
    rng = np.random.default_rng(seed)
    nl, ns = 128, 432
    img = rng.normal(100.0, 1.0, (nl, ns)).astype(np.float32)
    psf = PsfModel((0.96, 0.04), (0.7, 2.5))
    xs = np.concatenate([rng.uniform(1, ns - 2, 40), [1.2, ns - 1.6, 200.0, 203.5, 300.0, 304.0]])
    ys = np.concatenate([rng.uniform(1, nl - 2, 40), [60.0, 70.0, 1.3, 1.7, 90.0, 93.0]])
    flux = np.exp(rng.uniform(np.log(5.0), np.log(500.0), xs.size))
    ii, jj = np.mgrid[0:nl, 0:ns]
    for x0, y0, f in zip(xs, ys, flux, strict=True):
        sl = (slice(max(int(y0) - 8, 0), int(y0) + 9), slice(max(int(x0) - 8, 0), int(x0) + 9))
        p, _, _ = psf.stamps(jj[sl][None, :1, :].astype(float), ii[sl][None, :, :1].astype(float),
                             np.array([x0]), np.array([y0]))  # fmt: skip
        img[sl] += np.float32(f) * p[0].astype(np.float32)
    for _ in range(30):  # cosmic-ray hits of 1–2 pixels
        i, j = rng.integers(0, nl), rng.integers(0, ns - 1)
        img[i, j : j + rng.integers(1, 3)] += np.float32(rng.uniform(20, 400))
    limb = np.hypot(ii - 64.0, jj - 216.0) - 50.0
    return img, -limb


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("threshold", [5.0, 3.0])
def test_bright_sources_equal_their_definition(seed, missing, threshold):
    img, limb = _frame(seed)
    valid = np.ones(img.shape, bool)
    if missing:
        rng = np.random.default_rng(seed + 10)
        img[rng.integers(0, 128, 20), rng.integers(0, 432, 20)] = np.nan
        valid[rng.integers(0, 128, 20), rng.integers(0, 432, 20)] = False
    got = bright_sources(img, valid, limb, min_peak_sigma=threshold)
    want = _reference(img, valid, limb, threshold)
    assert want[0].size >= 3  # the frame has some
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_bright_sources_take_the_fill_measure_psf_made():
    """measure_psf hands bright_sources its filled float32 image (invalid pixels at the valid ones'
    median): the same candidates, bit for bit, as bright_sources filling its own copy."""
    rng = np.random.default_rng(8)
    for t in range(6):
        data = rng.normal(100.0, 3.0, size=(60, 90)).astype(np.float32)
        yy, xx = np.mgrid[0:60, 0:90]
        for _ in range(8):
            cy, cx = rng.uniform(5, 55), rng.uniform(5, 85)
            data += (rng.uniform(50, 500) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 1.6)).astype(
                np.float32
            )
        data[rng.random(data.shape) < 0.02] = np.nan
        sat = rng.random(data.shape) < (0.01 if t % 2 else 0.0)
        valid = np.isfinite(data) & ~sat
        filled = np.where(valid, data, np.float32(np.median(data[valid])))
        noise = pixel_noise_map(filled)
        want = bright_sources(data, valid, None, noise_map=noise)
        got = bright_sources(data, valid, None, noise_map=noise, filled=filled)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(got, want, strict=True)), t


def test_stamp_medians_are_numpys_median_of_the_fitted_pixels_bit_for_bit():
    """The stamps' starting planes: one sort of all stamps gives ``np.median`` of each stamp's weighted
    pixels exactly (odd and even counts, repeated values, a stamp with none: 0)."""
    from ioscan.detect.psf_estimate import _stamp_medians

    rng = np.random.default_rng(3)
    for trial in range(300):
        n, m = int(rng.integers(1, 10)), int(rng.integers(3, 14))
        stamps = rng.normal(size=(n, m, m)) * 10 ** rng.uniform(-3, 5)
        if trial % 3 == 0:
            stamps = np.round(stamps)  # ties
        ok = rng.random((n, m, m)) < rng.uniform(0.05, 1.0)
        ok[0] = ok[0] if trial % 7 else False
        want = np.array([np.median(s[o]) if o.any() else 0.0 for s, o in zip(stamps, ok, strict=True)])
        np.testing.assert_array_equal(_stamp_medians(stamps, ok), want)


def test_sources_near_the_frame_edge_measure_the_psf():
    """Two bright sources (σ 0.8 × 1.2 px, the independent renderer's) centred 2.6 and 3.4 px from the frame's
    edges, none elsewhere: their stamps cross the edge and are fitted on the pixels inside; the widths
    measured are the truth's (before: no estimate)."""
    from ioscan.detect.psf_estimate import measure_psf
    from ioscan.simulate.independent import GaussianPsf

    rng = np.random.default_rng(5)
    psf = GaussianPsf(sigma_sample_px=0.8, elongation=1.5)
    img = rng.normal(0.0, 1.0, (128, 432)).astype(np.float32)
    im = img.astype(float)
    psf.add_sources(im, np.array([120.3, 428.6]), np.array([2.6, 70.2]), np.array([400.0, 400.0]))
    est = measure_psf(im.astype(np.float32), None, None)
    assert est is not None and est.n_sources == 2
    assert est.sigma_sample_px == pytest.approx(0.8, rel=0.08)
    assert est.sigma_line_px == pytest.approx(1.2, rel=0.08)


def test_edge_sources_measure_the_psf_only_where_none_inside_do():
    """Three bright sources inside the frame and one 2.6 px from its edge: the estimate is the three's alone
    (the edge's stamp is a fallback for frames with none inside; on a renderer night frame the fourth, edge
    source moved the core 0.80 → 0.78 px and the brightest flux 2 % low)."""
    from ioscan.detect.psf_estimate import measure_psf
    from ioscan.simulate.independent import GaussianPsf

    rng = np.random.default_rng(8)
    psf = GaussianPsf(sigma_sample_px=0.8, elongation=1.5)
    img = rng.normal(0.0, 1.0, (128, 432))
    psf.add_sources(img, np.array([100.3, 200.6, 300.2]), np.array([40.4, 70.7, 90.1]), np.full(3, 400.0))
    inside = measure_psf(img.astype(np.float32), None, None)
    psf.add_sources(img, np.array([250.3]), np.array([2.6]), np.array([900.0]))
    both = measure_psf(img.astype(np.float32), None, None)
    assert inside is not None and inside.n_sources == 3
    assert both == inside
