"""The hot-spot matcher against synthetic frames with a known offset: right offsets with honest errors,
false-match probabilities that mean what they say, refusal when the data cannot decide."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.geometry.hotspot_registration import MatchProblem, log_prior, match_offsets
from ioscan.instruments import PointingPrior, get_instrument

PRIOR = get_instrument("JIRAM").pointing  # 51 px along the lines (bound 147), 3 px across (bound 8)
SHAPE = (432, 128)


def problem(
    rng,
    *,
    offset,
    n_anchors=60,
    anchor_sigma_px=4.0,
    pd=0.7,
    n_clutter=3,
    centroid_px=0.3,
    field=(432, 128),
    spread=None,
    mirror=False,
):
    """Anchors scattered over the frame and ±200 lines around it (catalogue error ``anchor_sigma_px``), a
    fraction ``pd`` of those that land in the frame detected, plus clutter."""
    spread = spread or (field[0], field[1] + 400)
    true = np.column_stack(
        [rng.uniform(0, spread[0], n_anchors), rng.uniform(-200, spread[1] - 200, n_anchors)]
    )
    published = true + rng.normal(0.0, anchor_sigma_px, true.shape)
    seen = true + np.asarray(offset)
    inside = (seen[:, 0] >= 0) & (seen[:, 0] <= field[0] - 1)
    inside &= (seen[:, 1] >= 0) & (seen[:, 1] <= field[1] - 1)
    det = seen[inside & (rng.random(n_anchors) < pd)]
    det = det + rng.normal(0.0, centroid_px, det.shape)
    clutter = np.column_stack([rng.uniform(0, field[0], n_clutter), rng.uniform(0, field[1], n_clutter)])
    det = np.vstack([det, clutter])
    if mirror:  # the image as a wrong sample sign would show it
        det[:, 0] = field[0] - 1 - det[:, 0]
    n, m = len(det), n_anchors
    return MatchProblem(
        det_xy=det,
        det_cov=np.tile(np.eye(2) * centroid_px**2, (n, 1, 1)),
        det_band=np.zeros(n, dtype=int),
        anc_xy=published[:, None, :],
        anc_cov=np.tile(np.eye(2) * anchor_sigma_px**2, (m, 1, 1, 1)),
        anc_tail_scale=np.full(m, 4.0),
        anc_tail_fraction=np.full(m, 0.02),
        anc_pd=np.full(m, 0.5),
        band_shape=np.array([field], dtype=float),
        anc_group=np.arange(m).astype(str).astype(object),
        anc_shared_cov=np.zeros((m, 1, 2, 2)),
    )


def test_registers_a_large_along_track_offset_with_honest_errors():
    rng = np.random.default_rng(1)
    pulls = []
    for _ in range(40):
        truth = np.array([rng.normal(0, 2.0), np.clip(rng.normal(0, 51.0), -140, 140)])
        reg = match_offsets(problem(rng, offset=truth), PRIOR)
        if not reg.ok:
            continue
        assert reg.n_matches >= 2 and reg.false_match_prob <= 0.01
        d = np.subtract(reg.offset_px, truth)
        pulls.append(float(d @ np.linalg.solve(reg.cov_px, d)))
    assert len(pulls) >= 30
    # χ² with 2 degrees of freedom: mean 2; every registration within 99.9 %
    assert 0.8 < np.mean(pulls) < 3.0 and max(pulls) < 13.8


def test_false_match_probability_is_calibrated():
    """Among frames the matcher calls ambiguous or not, the best mode is wrong about as often as it says."""
    rng = np.random.default_rng(2)
    said, wrong = [], []
    for _ in range(150):
        truth = np.array([rng.normal(0, 2.0), rng.normal(0, 51.0)])
        prob = problem(rng, offset=truth, n_anchors=40, anchor_sigma_px=12.0, n_clutter=4)
        reg = match_offsets(prob, PRIOR)
        if not reg.modes:
            continue
        d = np.subtract(reg.offset_px, truth)
        said.append(reg.false_match_prob)
        wrong.append(float(d @ np.linalg.solve(reg.cov_px, d)) > 13.8)
    said, wrong = np.array(said), np.array(wrong)
    assert len(said) > 100
    # calibration: the expected number of wrong best modes is the sum of the stated probabilities
    expected = said.sum()
    assert abs(wrong.sum() - expected) <= 3.0 * np.sqrt(max(expected, 1.0)) + 2, (wrong.sum(), expected)
    confident = said <= 0.01
    assert confident.sum() >= 8 and wrong[confident].sum() <= 1
    print(f"stated {expected:.1f} wrong, found {wrong.sum()} of {len(said)}; confident {confident.sum()}")


def test_no_anchor_in_reach_is_not_registered_and_samples_the_prior():
    rng = np.random.default_rng(3)
    prob = problem(rng, offset=(0.0, 0.0), n_anchors=0)
    reg = match_offsets(prob, PRIOR)
    assert not reg.ok and "no known hot spot" in reg.reason
    draws = reg.sample(np.random.default_rng(0), 4000)
    assert np.all(np.abs(draws) <= np.asarray(PRIOR.max_px) + 1.0)
    assert abs(draws[:, 1].std() - PRIOR.sigma_px[1]) < 0.1 * PRIOR.sigma_px[1]


def test_a_lattice_is_ambiguous_not_confidently_wrong():
    """Anchors on a regular 40-line lattice and a single column: every shift by a lattice step matches as
    well; the matcher must say so."""
    rng = np.random.default_rng(4)
    m = 12
    anchors = np.column_stack([np.full(m, 200.0), -200.0 + 40.0 * np.arange(m)])
    det = anchors[(anchors[:, 1] >= 10) & (anchors[:, 1] <= 110)] + np.array([0.0, 17.0])
    prob = MatchProblem(
        det_xy=det,
        det_cov=np.tile(np.eye(2) * 0.1, (len(det), 1, 1)),
        det_band=np.zeros(len(det), dtype=int),
        anc_xy=anchors[:, None, :],
        anc_cov=np.tile(np.eye(2) * 1.0, (m, 1, 1, 1)),
        anc_tail_scale=np.full(m, 4.0),
        anc_tail_fraction=np.full(m, 0.02),
        anc_pd=np.full(m, 0.5),
        band_shape=np.array([SHAPE], dtype=float),
    )
    reg = match_offsets(prob, PRIOR)
    assert not reg.ok and reg.false_match_prob > 0.3
    assert len(reg.modes) >= 3
    del rng


def test_mirrored_detections_have_less_evidence():
    """The evidence compares pixel conventions: the same frame seen mirrored matches worse."""
    rng = np.random.default_rng(5)
    better = 0
    for _ in range(20):
        state = rng.integers(1 << 30)
        offset = np.array([1.0, 30.0])
        right = match_offsets(problem(np.random.default_rng(state), offset=offset), PRIOR)
        mirror = match_offsets(problem(np.random.default_rng(state), offset=offset, mirror=True), PRIOR)
        better += right.log_evidence > mirror.log_evidence
    assert better >= 18


def test_log_prior_is_a_normalised_truncated_gaussian():
    prior = PointingPrior.along_track("line", 50.0, 140.0, 3.0, 8.0)
    s = np.linspace(-10, 10, 201)
    ln = np.linspace(-150, 150, 601)
    ss, ll = np.meshgrid(s, ln, indexing="ij")
    dens = np.exp(log_prior(np.stack([ss, ll], -1), prior))
    assert np.sum(dens) * (s[1] - s[0]) * (ln[1] - ln[0]) == pytest.approx(1.0, abs=0.01)
    assert np.exp(log_prior([0.0, 141.0], prior)) == 0.0


def _offset_pulls_rms(rng, make_problem, frames: int = 60):
    """Per-axis rms of the registered offsets' pulls against the truth over ``frames`` drawn problems
    (``make_problem(rng, truth)``; offsets drawn as JIRAM's prior: 2 px across, 51 px along track), and the
    residual variance factors; at least 40 must register."""
    pulls, scales = [], []
    for _ in range(frames):
        truth = np.array([rng.normal(0, 2.0), np.clip(rng.normal(0, 51.0), -140, 140)])
        reg = match_offsets(make_problem(rng, truth), PRIOR)
        if reg.ok:
            pulls.append(np.subtract(reg.offset_px, truth) / np.sqrt(np.diag(reg.cov_px)))
            scales.append(reg.residual_scale2)
    assert len(pulls) >= 40
    return np.sqrt((np.array(pulls) ** 2).mean(axis=0)), scales


def test_overstated_pair_errors_give_honest_offset_errors():
    """The stated pair covariances are an upper guess (a matching floor on every centroid): with centroids
    stated at 1 px and scattering 0.3 px (anchors 0.4 px), the offset's error must follow what the matched
    residuals show, not the guess (truth: the offset the frames were built with). Before the residual
    variance factor the pulls' rms was ~0.45."""
    from dataclasses import replace

    def overstated(rng, truth):
        prob = problem(rng, offset=truth, anchor_sigma_px=0.4, centroid_px=0.3, n_anchors=120)
        return replace(prob, det_cov=np.tile(np.eye(2) * 1.0**2, (prob.n_det, 1, 1)))

    rms, scales = _offset_pulls_rms(np.random.default_rng(11), overstated)
    # 40+ frames: the rms of unit pulls lies within ~±0.12 of 1 (2σ); the guess alone gives ~0.45
    assert np.all((rms > 0.75) & (rms < 1.3)), rms
    # the factor measures (0.3² + 0.4²) / (1 + 0.4²) ≈ 0.22 with many matches
    assert 0.1 < np.median(scales) < 0.4, np.median(scales)


def test_honest_pair_errors_keep_their_scale():
    """Honest stated covariances: the residual variance factor stays near 1 and the pulls near 1."""

    def honest(rng, truth):
        return problem(rng, offset=truth, anchor_sigma_px=0.4, n_anchors=120)

    rms, scales = _offset_pulls_rms(np.random.default_rng(12), honest)
    assert np.all((rms > 0.75) & (rms < 1.3)), rms
    assert 0.75 < np.median(scales) < 1.25, np.median(scales)


def test_the_nulls_prior_grid_is_kept_per_prior_and_gives_what_a_fresh_one_gives():
    """The grid the "nothing matched" hypothesis integrates over is made once per prior (σ and bound) and
    kept read-only: the same registration bit for bit as with a grid made afresh, another prior its own."""
    import dataclasses

    from ioscan.geometry import hotspot_registration as hr

    prob = problem(np.random.default_rng(5), offset=(2.0, 40.0))
    hr._PRIOR_GRIDS.clear()
    fresh = match_offsets(prob, PRIOR)
    grid = hr._prior_grid(PRIOR)
    assert hr._prior_grid(PRIOR) is grid and not any(a.flags.writeable for a in grid[1:])
    kept = match_offsets(prob, PRIOR)
    assert kept.log_evidence_null == fresh.log_evidence_null and kept.log_evidence == fresh.log_evidence
    assert kept.offset_px == fresh.offset_px and kept.false_match_prob == fresh.false_match_prob
    d_kept, d_fresh = kept.sample(np.random.default_rng(0), 500), fresh.sample(np.random.default_rng(0), 500)
    assert np.array_equal(d_kept, d_fresh)
    wider = dataclasses.replace(PRIOR, max_px=(PRIOR.max_px[0], PRIOR.max_px[1] + 10.0))
    assert hr._prior_grid(wider)[2].size > grid[2].size and len(hr._PRIOR_GRIDS) == 2
    hr._PRIOR_GRIDS.clear()
