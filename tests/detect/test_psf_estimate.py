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


def _gaussian_stamps(rng, sigmas, snr, m=11):
    """Stamps (n, m, m) of pixel-integrated round Gaussians of widths ``sigmas`` (px) centred within ±0.5 px
    of the middle on a level of 3 with white noise of 1, each of matched-filter S/N ``snr``, and weights 1."""
    from ioscan.detect.psf_estimate import _g1

    u = np.arange(m, dtype=float)[None, :]
    out = []
    for s in sigmas:
        cx, cy = (m - 1) / 2 + rng.uniform(-0.5, 0.5, 2)
        p = np.outer(
            _g1(u, np.array([[cy]]), np.array([[s]]))[0][0], _g1(u, np.array([[cx]]), np.array([[s]]))[0][0]
        )
        out.append(snr / np.sqrt(np.sum(p * p)) * p + 3.0 + rng.normal(size=(m, m)))
    return np.array(out), np.ones((len(sigmas), m, m))


def test_joint_width_of_bright_sources_is_the_truth_between_the_grid_points():
    """At S/N 1000 (a width error of ~0.1 %) the profile's parabola finds the true 0.8 px between the grid's
    points (4 % apart) to 0.2 %."""
    from ioscan.detect.psf_estimate import joint_width

    rng = np.random.default_rng(0)
    est = joint_width(*_gaussian_stamps(rng, [0.8] * 3, 1e3))
    assert est.sigma_px == pytest.approx(0.8, rel=2e-3)
    assert est.n_sources == 3 and est.n_dropped == 0 and est.rel_err < 2e-3 and est.accepted


def test_joint_width_error_is_honest_and_shrinks_with_the_combined_snr():
    """Sources of S/N 12, each too faint alone (a width error of ~10 %), shared: the stated error shrinks as
    1/√n and describes the scatter of the estimate over independent draws (truth 0.8 px)."""
    from ioscan.detect.psf_estimate import joint_width

    rng = np.random.default_rng(5)
    res = {n: [joint_width(*_gaussian_stamps(rng, [0.8] * n, 12.0)) for _ in range(30)] for n in (2, 8)}
    err = {n: np.median([e.rel_err for e in v]) for n, v in res.items()}
    assert err[8] < 0.6 * err[2] and err[8] < 0.05
    for v in res.values():
        pulls = np.array([np.log(e.sigma_px / 0.8) / e.rel_err for e in v])
        assert abs(np.median(pulls)) < 0.5
        assert 0.6 < np.std(pulls) < 1.5
    assert np.mean([e.accepted for e in res[8]]) > 0.9


def test_joint_width_leaves_out_a_blend_and_rejects_sources_that_disagree():
    from ioscan.detect.psf_estimate import joint_width

    rng = np.random.default_rng(2)
    # four true sources and a blend (twice as wide): the blend is left out, the width stays the truth's
    est = joint_width(*_gaussian_stamps(rng, [0.8, 0.8, 0.8, 0.8, 1.6], 30.0))
    assert est.n_dropped == 1 and est.n_sources == 4 and est.accepted
    assert est.sigma_px == pytest.approx(0.8, rel=0.05)
    assert max(est.own_sigmas_px) < 1.0
    # two sources that disagree: nothing is left out (two are needed), and the width is not accepted
    est = joint_width(*_gaussian_stamps(rng, [0.8, 1.6], 30.0))
    assert est.n_dropped == 0 and not est.agree and not est.accepted


def _mixture_stamp(rng, weights, sigmas, flux, m=15, noise=1.0, background=3.0):
    """A pixel-integrated Gaussian mixture of total ``flux`` near the centre of an m × m stamp, plus a flat
    background and white noise of σ ``noise``."""
    from ioscan.detect.psf_estimate import _g1

    u = np.arange(m, dtype=float)
    x0, y0 = (m - 1) / 2 + rng.uniform(-0.5, 0.5, 2)
    img = np.full((m, m), background)
    for w, s in zip(weights, sigmas, strict=True):
        img += flux * w * _g1(u, y0, s)[0][:, None] * _g1(u, x0, s)[0][None, :]
    return img + rng.normal(0.0, noise, (m, m))


@pytest.mark.parametrize(
    ("weights", "sigmas", "halo"), [((1.0,), (0.8,), 0.0), ((0.96, 0.04), (0.6, 2.5), 0.04)]
)
def test_core_halo_fit_measures_the_halo_weight_with_an_honest_error(weights, sigmas, halo):
    from ioscan.detect.psf_estimate import fit_core_halo

    rng = np.random.default_rng(5)
    fits = np.array(
        [
            fit_core_halo(_mixture_stamp(rng, weights, sigmas, 3000.0), np.ones((15, 15)), 2.5)
            for _ in range(60)
        ]
    )
    w, e = fits[:, 0], fits[:, 1]
    assert np.all(np.isfinite(fits))
    # S/N ~200 of the total: the weight to ~0.006; unbiased, and the stated error its scatter
    assert np.median(e) < 0.01
    pull = (w - halo) / e
    assert abs(np.mean(pull)) < 0.4
    assert 0.7 < np.std(pull) < 1.3


def test_halo_weights_combined_leave_out_a_disagreeing_source():
    from ioscan.detect.psf_estimate import HALO_SYSTEMATIC_ERR, combine_halo_weights

    hw = combine_halo_weights(np.array([0.001, -0.002, 0.0, 0.08]), np.array([0.004, 0.004, 0.004, 0.004]))
    assert hw.n_sources == 3 and hw.n_dropped == 1 and hw.agree
    assert hw.weight == pytest.approx(-0.001 / 3, abs=1e-9)
    assert hw.err == pytest.approx(np.hypot(0.004 / np.sqrt(3), HALO_SYSTEMATIC_ERR), rel=1e-6)
    model = PsfModel((0.96, 0.04), (0.6, 2.5))
    assert hw.accepted and hw.differs_from(model)
    halo_free = hw.applied_to(model)
    assert halo_free.weights == (1.0, 0.0) and halo_free.sigmas_px == (0.6, 2.5)
    # a weight within 3 errors of the model's does not differ; a single Gaussian has no halo to measure
    assert not combine_halo_weights(np.array([0.035]), np.array([0.004])).differs_from(model)
    assert not combine_halo_weights(np.array([0.0]), np.array([0.004])).differs_from(PsfModel.gaussian(0.8))


def test_halo_weight_on_a_frame_of_halo_free_sources():
    from ioscan.detect.psf_estimate import HALO_MAX_ERR, halo_weight

    rng = np.random.default_rng(11)
    img = rng.normal(0.0, 1.0, (80, 80)).astype(np.float32) + 5.0
    xs, ys = np.array([20.0, 50.0, 30.0, 60.0]), np.array([20.0, 25.0, 55.0, 60.0])
    for x, y in zip(xs, ys, strict=True):
        img[int(y) - 7 : int(y) + 8, int(x) - 7 : int(x) + 8] += _mixture_stamp(
            rng, (1.0,), (0.8,), 4000.0, noise=0.0, background=0.0
        ).astype(np.float32)
    hw = halo_weight(img, None, None, xs, ys, np.full(4, 300.0), np.ones(4, bool), 2.5)
    assert hw is not None and hw.n_sources == 4 and hw.accepted and hw.err <= HALO_MAX_ERR
    assert abs(hw.weight) < 3 * hw.err
    assert hw.differs_from(PsfModel((0.96, 0.04), (0.8, 2.5)))
    # sources too faint, or not isolated, weigh nothing
    assert halo_weight(img, None, None, xs, ys, np.full(4, 30.0), np.ones(4, bool), 2.5) is None
    close = halo_weight(img, None, None, np.array([20.0, 26.0]), np.array([20.0, 20.0]), np.full(2, 300.0),
                        np.ones(2, bool), 2.5)  # fmt: skip
    assert close is None
