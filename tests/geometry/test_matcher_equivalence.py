"""The vectorised hot-spot matcher gives what the seed-by-seed one it replaced gave (issue 15).

:mod:`reference_matcher` is the matcher as it was (a 2×2 ``numpy.linalg.inv`` per pair per iteration, one
seed at a time). On the same inputs — one and two bands, crowded anchors, detections that may be one source,
anchors listed twice, shared anchor errors, anchors without a tail — both must find the same modes in the
same order, with the same matched pairs, and offsets, covariances, evidences and false-match probabilities
equal to rounding (1e-9) — except the modes the matcher leaves out because they weigh < 1e-12 / n of the
total (not the best): the reference keeps every mode, so those are compared with its modes above that weight.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_matcher as ref

from ioscan.geometry.hotspot_registration import MatchProblem, match_offsets
from ioscan.instruments import get_instrument

PRIOR = get_instrument("JIRAM").pointing


def crowded(seed: int, *, n_anchors: int, n_bands: int = 1, sigma_px: float = 4.0) -> MatchProblem:
    """Anchors over a small disk (published positions off by ``sigma_px``), 60 % of those in view
    detected with a common shift, clutter, a split source, two anchors listed twice, anchors of one
    registered frame sharing an error, a few anchors with no tail."""
    rng = np.random.default_rng(seed)
    field = np.array([432.0, 128.0])
    centre = np.array([216.0, 64.0])
    true = centre + rng.normal(0.0, [50.0, 60.0], (n_anchors, 2))
    shift = np.array([rng.normal(0, 2.0), rng.normal(0, 40.0)])
    published = true + rng.normal(0.0, sigma_px, true.shape)
    seen = true + shift
    inside = np.all((seen >= 0) & (seen <= field - 1), axis=1)
    det = seen[inside & (rng.random(n_anchors) < 0.6)] + rng.normal(0.0, 0.3, (1, 2))
    det = np.vstack([det, det[:1] + [1.5, 0.5], rng.uniform([0, 0], field, (4, 2))])
    n, m = len(det), n_anchors
    band_shift = np.array([[0.0, 0.0], [3.0, -138.0]])[:n_bands]
    anc_xy = published[:, None, :] + band_shift[None]
    if n_bands == 2:
        anc_xy[rng.random(m) < 0.2, 1] = np.nan  # facing away in that band
    jac = rng.normal(1.0, 0.2, (m, n_bands, 2, 2)) * np.eye(2)
    anc_cov = sigma_px**2 * np.einsum("mbij,mbkj->mbik", jac, jac)
    groups = np.array([f"frame:{k % 3}" if k < 12 else f"table:{k}" for k in range(m)], dtype=object)
    shared = np.where((np.arange(m) < 12)[:, None, None, None], 0.5 * anc_cov, 0.0)
    det_cluster = np.arange(n)
    det_cluster[-5] = 0  # the split source: one label with the first detection
    anc_source = np.arange(m)
    anc_source[[1, 3]] = [0, 2]  # two anchors listed twice
    tail_fraction = np.where(np.arange(m) % 7 == 0, 0.0, 0.05)
    return MatchProblem(
        det_xy=det,
        det_cov=np.tile(np.eye(2) * 0.3**2, (n, 1, 1)) + np.eye(2) * rng.uniform(0, 0.5, (n, 1, 1)),
        det_band=rng.integers(0, n_bands, n),
        anc_xy=anc_xy,
        anc_cov=anc_cov,
        anc_tail_scale=np.full(m, 4.17),
        anc_tail_fraction=tail_fraction,
        anc_pd=np.full(m, 0.5),
        band_shape=np.tile(field, (n_bands, 1)),
        anc_group=groups,
        anc_shared_cov=shared,
        anc_id=np.arange(m),
        det_cluster=det_cluster,
        anc_source=anc_source,
    )


def weighty(reg) -> np.ndarray:
    """True for the modes of the reference's ``reg`` that weigh ≥ 1e-12 / n of the total or are the best."""
    if not reg.modes:
        return np.zeros(0, dtype=bool)
    log_ev = np.array([m.log_evidence for m in reg.modes])
    top = max(log_ev[0], reg.log_evidence_null)
    return (log_ev >= top - math.log(1e12) - math.log(len(log_ev))) | (log_ev == log_ev[0])


def assert_same(a, b) -> None:
    assert (a.ok, a.reason, a.n_matches) == (b.ok, b.reason, b.n_matches)
    kept = weighty(a)
    left_out = float(np.sum(a.weights[~kept]))
    assert left_out < 1e-12
    a_modes = [m for m, k in zip(a.modes, kept, strict=True) if k]
    assert [m.pairs for m in a_modes] == [m.pairs for m in b.modes]
    assert [m.n_matches for m in a_modes] == [m.n_matches for m in b.modes]
    for ma, mb in zip(a_modes, b.modes, strict=True):
        np.testing.assert_allclose(mb.offset_px, ma.offset_px, rtol=0, atol=1e-9)
        np.testing.assert_allclose(mb.cov_px, ma.cov_px, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mb.fit_cov_px, ma.fit_cov_px, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mb.weights, ma.weights, rtol=1e-9, atol=1e-12)
        assert mb.log_evidence == pytest.approx(ma.log_evidence, rel=0, abs=1e-8)
    np.testing.assert_allclose(b.weights, a.weights[kept], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(b.offset_px, a.offset_px, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.cov_px, a.cov_px, rtol=1e-9, atol=1e-12)
    assert b.false_match_prob == pytest.approx(a.false_match_prob, rel=0, abs=1e-9)
    assert b.log_evidence == pytest.approx(a.log_evidence, rel=0, abs=1e-8)
    assert abs(b.log_evidence - a.log_evidence) <= 1e-12 + 1e-13 * abs(a.log_evidence)  # ln(1 − w), w < 1e-12
    assert b.log_evidence_null == pytest.approx(a.log_evidence_null, rel=0, abs=1e-9)
    np.testing.assert_allclose(
        b.sample(np.random.default_rng(7), 300), a.sample(np.random.default_rng(7), 300), rtol=0, atol=1e-9
    )


STRICT = {"min_matches": 3, "max_false_match_prob": 0.05, "floor_px": 0.25}


@pytest.mark.parametrize(
    ("seed", "n_anchors", "n_bands", "sigma_px", "kw"),
    [
        (1, 40, 1, 4.0, {}),  # registered on 19 matches
        (2, 50, 1, 8.0, {}),  # ambiguous
        (3, 50, 2, 4.0, STRICT),  # two bands, registered
        (4, 30, 2, 12.0, STRICT),  # two bands, ambiguous
        (5, 70, 1, 2.0, {}),  # registered on 32 matches
    ],
)
def test_same_registration_as_the_seed_by_seed_matcher(seed, n_anchors, n_bands, sigma_px, kw):
    prob = crowded(seed, n_anchors=n_anchors, n_bands=n_bands, sigma_px=sigma_px)
    assert_same(ref.match_offsets(prob, PRIOR, **kw), match_offsets(prob, PRIOR, **kw))


def test_same_registration_with_seeds_in_several_chunks(monkeypatch):
    """Chunks of seeds leave out the seeds earlier modes cover, as the one-at-a-time loop does."""
    import ioscan.geometry.hotspot_registration as hr

    prob = crowded(6, n_anchors=60, sigma_px=6.0)
    want = ref.match_offsets(prob, PRIOR)
    monkeypatch.setattr(hr, "SEED_CHUNK", 7)
    assert_same(want, match_offsets(prob, PRIOR))


@pytest.mark.parametrize(
    ("seed", "n_anchors", "sigma_px", "least_left_out"), [(1, 40, 4.0, 3), (5, 70, 2.0, 90)]
)
def test_weak_modes_left_out_change_nothing_that_counts(seed, n_anchors, sigma_px, least_left_out):
    """Registered crowded frames have weak modes (3 of 44; 94 of 100): the matcher leaves them out (they
    weigh < 1e-12 in all) and keeps the reference's decision, best mode, false-match probability and
    posterior draws."""
    prob = crowded(seed, n_anchors=n_anchors, sigma_px=sigma_px)
    want, got = ref.match_offsets(prob, PRIOR), match_offsets(prob, PRIOR)
    left_out = int(np.sum(~weighty(want)))
    assert left_out >= least_left_out and len(got.modes) == len(want.modes) - left_out
    assert_same(want, got)


def test_modes_near_the_margin():
    """Modes just inside the margin ln(1e12) + ln(n) below the larger of the best and the null are kept,
    those just outside are not; the best is kept however little it weighs against the null."""
    from ioscan.geometry.hotspot_registration import _modes_that_weigh

    n = 5
    margin = math.log(1e12) + math.log(n)
    log_ev = np.array([10.0, 10.0 - margin + 1e-9, 10.0 - margin - 1e-9, 10.0, -50.0])
    assert _modes_that_weigh(log_ev, log_null=0.0).tolist() == [True, True, False, True, False]
    # the null dominates: the margin counts from it, and the best is kept below it
    log_ev = np.array([-100.0, -99.0, -99.0 - 1e-9, -99.0])
    assert _modes_that_weigh(log_ev, log_null=30.0).tolist() == [False, True, False, True]
    margin4 = math.log(1e12) + math.log(4)
    log_ev = np.array([30.0 - margin4 + 1e-9, 30.0 - margin4 - 1e-9, -99.0, -98.0])
    assert _modes_that_weigh(log_ev, log_null=30.0).tolist() == [True, False, False, False]
    # what is left out weighs < 1e-12 of the total, whatever the evidences
    rng = np.random.default_rng(3)
    for _ in range(200):
        log_ev = rng.normal(0.0, 20.0, rng.integers(1, 300))
        log_null = float(rng.normal(0.0, 30.0))
        keep = _modes_that_weigh(log_ev, log_null)
        assert keep[np.argmax(log_ev)]
        total = np.logaddexp(np.logaddexp.reduce(log_ev), log_null)
        assert np.sum(np.exp(log_ev[~keep] - total)) < 1e-12
    assert _modes_that_weigh(np.zeros(0), 0.0).tolist() == []
