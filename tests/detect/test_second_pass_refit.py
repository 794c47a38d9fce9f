"""The second pass's cheaper steps give what the whole-image ones give: the refit of only the first-pass
sources within two coupling steps of the new ones, those one step beyond held fixed
(:func:`ioscan.detect.second_pass.refit_beside_new`), against refitting every source, and the model-error
discount made on the searched box only (:func:`new_peaks`) against the whole image's."""

from __future__ import annotations

import numpy as np
from test_detect import _sources  # same directory: pytest puts it on sys.path

from ioscan.detect import default_psf
from ioscan.detect.background import estimate_background
from ioscan.detect.find import find_peaks
from ioscan.detect.photometry import fit_sources
from ioscan.detect.saturated import CENTROID_ERR_PX
from ioscan.detect.second_pass import (
    coupled_to,
    coupling_reach_px,
    model_error_snr,
    new_peaks,
    refit_beside_new,
    source_image,
    take_fit,
    take_peaks,
    with_fixed_sources,
    zone_box,
)

JIRAM_PSF = default_psf("JIRAM", 4.78)
SHAPE = (96, 240)


def test_coupled_to_follows_chains_within_the_reach():
    line = np.array([10, 10, 10, 10, 50, 50])
    sample = np.array([10, 19, 28, 38, 10, 19])  # 9 px steps, then a gap of 10 px; a pair far below
    got = coupled_to(line, sample, np.array([True, False, False, False, False, False]), 9)
    assert got.tolist() == [True, True, True, False, False, False]
    got = coupled_to(line, sample, np.array([False, False, False, True, False, True]), 9)
    assert got.tolist() == [False, False, False, True, True, True]
    assert not coupled_to(line, sample, np.zeros(6, bool), 9).any()


def _crowded(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A frame with a chain of sources 3.5–4 px apart on the left (their stamps overlap) and isolated ones on
    the right (sample, line, flux), noise σ = 1."""
    cx = np.array([30.2, 33.9, 37.6, 41.3, 30.5, 34.4])
    cy = np.array([40.3, 41.1, 39.6, 40.8, 44.2, 44.9])
    ix = np.array([150.4, 190.6, 215.2, 170.1])
    iy = np.array([20.5, 70.2, 30.8, 50.3])
    xs, ys = np.concatenate([cx, ix]), np.concatenate([cy, iy])
    flux = rng.uniform(300.0, 3000.0, xs.size)
    img = 5.0 + _sources(SHAPE, xs, ys, flux, psf=JIRAM_PSF) + rng.normal(0, 1, SHAPE)
    return img, xs, ys


def _split(model, new_at: list[int]):
    """The S/N map's peaks above 8, the ones nearest the positions ``new_at`` (indices into the peaks) taken
    out as the "new" ones and appended after the others, as the second pass orders them."""
    peaks = find_peaks(model.snr, 8.0, sigma_px=JIRAM_PSF.core_sigma_px)
    new = np.zeros(len(peaks), bool)
    new[new_at] = True
    first, extra = take_peaks(peaks, ~new), take_peaks(peaks, new)
    both = take_peaks(peaks, np.concatenate([np.flatnonzero(~new), np.flatnonzero(new)]))
    return first, extra, both


def test_refit_beside_new_is_the_full_refit_of_the_sources_the_new_ones_reach():
    rng = np.random.default_rng(11)
    img, xs, ys = _crowded(rng)
    model = estimate_background(img, psf=JIRAM_PSF)
    peaks = find_peaks(model.snr, 8.0, sigma_px=JIRAM_PSF.core_sigma_px)
    assert len(peaks) == xs.size
    in_chain = np.flatnonzero(peaks.sample < 100)
    first, extra, both = _split(model, [int(in_chain[2])])  # one chain member is "new"
    n1 = len(first)
    fit = fit_sources(model, first, JIRAM_PSF)
    fit_new = fit_sources(model, extra, JIRAM_PSF)
    got = refit_beside_new(model, both, JIRAM_PSF, fit, fit_new)
    full = fit_sources(model, both, JIRAM_PSF)
    chain = first.sample < 100
    assert chain.sum() == 5 and (~chain).sum() == 4
    for name in ("x", "y", "flux", "flux_err", "x_err", "y_err", "chi2_dof"):
        # the first-pass sources: the full refit's values (to rounding: BLAS sums rows in blocks that depend
        # on how many stamps are fitted together)
        np.testing.assert_allclose(getattr(got, name)[:n1], getattr(full, name)[:n1], rtol=1e-12, atol=0)
        # the far ones are their first-pass fits as they were; the new ones, theirs on the subtracted image
        assert np.array_equal(getattr(got, name)[:n1][~chain], getattr(fit, name)[~chain])
        assert np.array_equal(getattr(got, name)[n1:], getattr(fit_new, name))
    assert np.array_equal(got.n_pixels[:n1], full.n_pixels[:n1])
    # the chain's sources were refitted: the new neighbour changes their fits
    assert np.all(np.abs(got.flux[:n1][chain] - fit.flux[chain]) > 0)


def test_sources_a_saturated_core_was_put_on_are_refitted():
    rng = np.random.default_rng(12)
    img, _, _ = _crowded(rng)
    model = estimate_background(img, psf=JIRAM_PSF)
    peaks = find_peaks(model.snr, 8.0, sigma_px=JIRAM_PSF.core_sigma_px)
    first, extra, both = _split(model, [int(np.flatnonzero(peaks.sample < 100)[0])])
    fit = fit_sources(model, first, JIRAM_PSF)
    far = int(np.flatnonzero(first.sample > 100)[0])
    want = take_fit(fit, np.arange(len(first)))  # (a copy)
    # as recentre_saturated leaves a source: at a core's centroid, its errors the centroid's
    fit.x[far] += 0.7
    fit.flux[far] *= 3.0
    fit.x_err[far] = fit.y_err[far] = CENTROID_ERR_PX
    got = refit_beside_new(model, both, JIRAM_PSF, fit, fit_sources(model, extra, JIRAM_PSF))
    assert got.flux[far] == want.flux[far] and got.x[far] == want.x[far]


def test_the_model_error_discount_on_the_searched_box_only_finds_the_same_peaks():
    rng = np.random.default_rng(13)
    shape = (80, 200)
    src = source_image(
        JIRAM_PSF, np.array([60.3, 140.8]), np.array([40.2, 30.6]), np.array([4e4, 2e4]), shape
    )
    noise = rng.uniform(0.8, 1.2, shape).astype(np.float32)
    snr = (rng.normal(0, 1, shape) + 0.05 * src).astype(np.float32)
    search = np.zeros(shape, bool)
    search[25:56, 45:76] = True
    box = zone_box(search, 1)
    assert box == (slice(24, 57), slice(44, 77))
    whole = model_error_snr(src, noise, JIRAM_PSF.core_sigma_px)
    part = model_error_snr(src, noise, JIRAM_PSF.core_sigma_px, box)
    assert np.array_equal(part[box], whole[box]) and not part[~_in(box, shape)].any()
    kw = dict(
        threshold=2.0,
        sigma_px=JIRAM_PSF.core_sigma_px,
        model_error=0.05,
        min_separation_px=2.5,
        search=search,
        saddle_snr=1.5,
        max_peaks=100,
        valid=np.ones(shape, bool),
    )
    got = new_peaks(snr, src, noise, np.array([60.3]), np.array([40.2]), **kw)
    err = 0.05 * whole
    want = find_peaks(
        snr / np.sqrt(1.0 + err * err),
        2.0,
        search=search,
        sigma_px=JIRAM_PSF.core_sigma_px,
        saddle_snr=1.5,
        max_peaks=100,
        valid=np.ones(shape, bool),
    )
    keep = np.hypot(want.x - 60.3, want.y - 40.2) > 2.5
    assert len(got) == int(keep.sum()) > 3
    assert np.any((snr > 2.0) & (snr / np.sqrt(1.0 + err * err) <= 2.0) & search)  # (the discount matters)
    for f in ("line", "sample", "x", "y", "snr", "blended"):
        assert np.array_equal(getattr(got, f), getattr(want, f)[keep])


def _in(box: tuple[slice, slice], shape: tuple[int, int]) -> np.ndarray:
    """True inside ``box``."""
    out = np.zeros(shape, bool)
    out[box] = True
    return out


def test_fits_beyond_the_coupling_reach_do_not_touch_each_other():
    # two sources as far apart as two peaks past the reach: each one's fit is its fit alone (to rounding);
    # 4 px apart (overlapping stamps), the neighbour changes it
    rng = np.random.default_rng(14)
    reach = coupling_reach_px(JIRAM_PSF)
    for gap, apart in ((reach + 1, True), (4, False)):
        xs, ys = np.array([60.4, 60.4 + gap]), np.array([40.3, 40.1])
        img = 5.0 + _sources(SHAPE, xs, ys, np.array([2000.0, 2500.0]), psf=JIRAM_PSF)
        model = estimate_background(img + rng.normal(0, 1, SHAPE), psf=JIRAM_PSF)
        peaks = find_peaks(model.snr, 8.0, sigma_px=JIRAM_PSF.core_sigma_px)
        assert len(peaks) == 2 and abs(int(peaks.sample[1]) - int(peaks.sample[0])) >= (gap if apart else 3)
        both = fit_sources(model, peaks, JIRAM_PSF)
        alone = fit_sources(model, take_peaks(peaks, np.array([True, False])), JIRAM_PSF)
        close = np.isclose(both.flux[0], alone.flux[0], rtol=1e-12, atol=0)
        assert close == apart


def _chain(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nine sources 3.5 px apart along a line (flux 2,000–5,000, noise σ = 1): each one's stamp overlaps its
    neighbours' and every one is a peak; (image, samples, fluxes)."""
    rng = np.random.default_rng(seed)
    xs = 20.3 + 3.5 * np.arange(9) + rng.uniform(-0.2, 0.2, 9)
    ys = 48.2 + rng.uniform(-0.3, 0.3, 9)
    flux = rng.uniform(2000.0, 5000.0, 9)
    return 5.0 + _sources(SHAPE, xs, ys, flux, psf=JIRAM_PSF) + rng.normal(0, 1, SHAPE), xs, flux


def test_neighbours_held_fixed_give_the_joint_fit():
    # the middle source of the chain fitted with the others' fitted models held (with_fixed_sources) is the
    # joint fit's (measured ≤ 0.005 σ in flux over seeds 21–26); fitted alone it takes their light (1.6–5.5 σ)
    for seed in (21, 22, 23):
        img, xs, flux = _chain(seed)
        model = estimate_background(img, psf=JIRAM_PSF)
        peaks = find_peaks(model.snr, 8.0, sigma_px=JIRAM_PSF.core_sigma_px)
        assert len(peaks) == 9
        joint = fit_sources(model, peaks, JIRAM_PSF)
        j = int(np.argsort(peaks.sample)[4])
        one = np.arange(9) == j
        held = fit_sources(
            with_fixed_sources(model, peaks, joint, ~one, JIRAM_PSF), take_peaks(peaks, one), JIRAM_PSF
        )
        alone = fit_sources(model, take_peaks(peaks, one), JIRAM_PSF)
        err = joint.flux_err[j]
        assert abs(held.flux[0] - joint.flux[j]) < 0.02 * err
        assert np.hypot(held.x[0] - joint.x[j], held.y[0] - joint.y[j]) < 0.05 * joint.x_err[j]
        true = flux[int(np.argmin(np.abs(xs - joint.x[j])))]
        assert abs(alone.flux[0] - true) > abs(held.flux[0] - true) + 1.0 * err


def test_the_refit_beside_a_new_source_stops_two_steps_out_and_equals_the_chain_refit():
    reach = coupling_reach_px(JIRAM_PSF)
    for seed in (21, 22, 23):
        img, _, _ = _chain(seed)
        model = estimate_background(img, psf=JIRAM_PSF)
        peaks = find_peaks(model.snr, 8.0, sigma_px=JIRAM_PSF.core_sigma_px)
        assert len(peaks) == 9
        first, extra, both = _split(model, [int(np.argsort(peaks.sample)[0])])  # the chain's end is "new"
        n1 = len(first)
        fit = fit_sources(model, first, JIRAM_PSF)
        fit_new = fit_sources(model, extra, JIRAM_PSF)
        got = refit_beside_new(model, both, JIRAM_PSF, fit, fit_new)
        full = fit_sources(model, both, JIRAM_PSF)  # every source linked to the new one refitted: the chain
        near = (first.sample - extra.sample[0]) <= 2 * reach  # within two coupling steps (along the line)
        assert near.sum() == 4
        # refitted beside the new source: the chain refit's values (measured ≤ 0.003 σ in flux, 0.008 σ in
        # position over seeds 21–26), which the new neighbour moved (its nearest one by 1.3–2.8 σ)
        assert np.all(np.abs(got.flux[:n1] - full.flux[:n1])[near] < 0.02 * full.flux_err[:n1][near])
        assert np.all(np.hypot(got.x - full.x, got.y - full.y)[:n1][near] < 0.05 * full.x_err[:n1][near])
        assert np.max(np.abs(full.flux[:n1] - fit.flux)[near] / fit.flux_err[near]) > 1.0
        # beyond: their first-pass fits as they were, which the chain refit leaves (to ≤ 0.001 σ) too
        for name in ("x", "y", "flux", "flux_err", "chi2_dof"):
            assert np.array_equal(getattr(got, name)[:n1][~near], getattr(fit, name)[~near])
        assert np.all(np.abs(full.flux[:n1] - fit.flux)[~near] < 0.01 * fit.flux_err[~near])
