"""Per-anchor detection probabilities (P_d,j from brightness, range, emission and the band's noise) and what
they do to the hot-spot matcher on far frames: a right offset that a constant P_d loses to "nothing matched"
registers, and faint anchors do not let detections that match nothing register a wrong offset."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from ioscan.geometry.detectability import (
    P_D_FLOOR,
    band_colour,
    band_flux_noise,
    detect_prob,
)
from ioscan.geometry.hotspot_registration import MatchProblem, match_offsets
from ioscan.instruments import get_instrument

PRIOR = get_instrument("JIRAM").pointing  # 51 px along the lines (bound 147), 3 px across (bound 8)
SHAPE = (432, 128)


def test_band_colour_is_one_at_m_and_below_one_at_l_with_a_spread():
    assert band_colour(4.78) == (0.0, 0.0)
    ln_c, sig = band_colour(3.455)
    assert 0.6 < math.exp(ln_c) < 1.0 and 0.3 < sig < 0.7  # Planck at 450–950 K: L/M 0.4–1.5
    ln_k, sig_k = band_colour(2.2)
    assert ln_k < ln_c and sig_k > sig  # farther from M: fainter relative to M, less certain


def test_band_flux_noise_is_the_lower_quartile_of_positive_errors():
    assert band_flux_noise(np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan, -1.0])) == pytest.approx(2.0)
    assert math.isnan(band_flux_noise(np.array([])))


def test_detect_prob_follows_the_predicted_snr():
    """P_d = default × Φ((ln S_pred − ln(t σ)) / σ_ln), floored; S_pred = c (P/π) 1e3 |det J| (M: c = 1)."""
    area = np.array([[1e-3], [1e-3], [1e-3], [1e-3], [np.nan]])  # px² per km²
    power = np.array([5 * math.pi, 50 * math.pi, 0.05 * math.pi, np.nan, 5 * math.pi])  # S_pred 5, 50, 0.05
    sig = np.full(5, 0.8)
    p = detect_prob(power, sig, area, np.array([1.0]), np.array([4.78]), 5.0, 0.5)
    assert p[0] == pytest.approx(0.25)  # at the threshold: half of the default
    assert p[1] == pytest.approx(0.5 * ndtr(math.log(10.0) / 0.8))
    assert p[2] == P_D_FLOOR  # far below: the floor
    assert p[3] == 0.5 and p[4] == 0.5  # no brightness, or not shown by any band: the default
    # a band without a noise estimate says nothing: the default
    assert np.all(detect_prob(power, sig, area, np.array([np.nan]), np.array([4.78]), 5.0, 0.5) == 0.5)


def test_a_fainter_neighbour_is_blended_into_a_brighter_one():
    xy = np.array([[[100.0, 60.0]], [[103.0, 60.0]], [[140.0, 60.0]]])
    area = np.full((3, 1), 1e-3)
    power = np.array([500.0, 400.0, 400.0]) * math.pi  # all far above the threshold
    p = detect_prob(power, np.full(3, 0.8), area, np.array([1.0]), np.array([4.78]), 5.0, 0.5, xy, 8.0)
    assert p[0] == pytest.approx(0.5) and p[2] == pytest.approx(0.5)
    assert p[1] == P_D_FLOOR  # 3 px from a brighter source that is surely detected


def far_frame(rng, *, offset, n_anchors=150, disk_px=60.0, mean_ln_snr=-2.0, match=True):
    """A far frame: ``n_anchors`` hot spots on a disk ``disk_px`` in radius centred on the 128-line band, a
    ~7 % of them bright enough to be detected (predicted S/N e^N(mean_ln_snr + ln 5, 1.2), the observed one
    that × e^N(0, 0.8)); returns the problem (P_d to be set) and the anchors' brightness inputs.
    ``match=False``: detections at random places instead (they match nothing)."""
    r = disk_px * np.sqrt(rng.random(n_anchors))
    t = rng.uniform(0, 2 * np.pi, n_anchors)
    true = np.column_stack([216 + r * np.cos(t), 64 + r * np.sin(t)])
    published = true + rng.normal(0.0, 0.5, true.shape)
    # M band, noise 1, area 1e-3 px²/km²: S_pred = P / π, threshold 5
    snr_pred = np.exp(rng.normal(mean_ln_snr + math.log(5.0), 1.2, n_anchors))
    power = 5.0 * math.pi * snr_pred / 5.0
    seen = true + np.asarray(offset)
    inside = (
        (seen[:, 0] >= 0) & (seen[:, 0] <= SHAPE[0] - 1) & (seen[:, 1] >= 0) & (seen[:, 1] <= SHAPE[1] - 1)
    )
    bright = snr_pred * np.exp(rng.normal(0.0, 0.8, n_anchors)) >= 5.0
    det = seen[inside & bright] + rng.normal(0.0, 0.2, (int(np.sum(inside & bright)), 2))
    if not match:
        det = np.column_stack(
            [rng.uniform(0, SHAPE[0], len(det) + 4), rng.uniform(0, SHAPE[1], len(det) + 4)]
        )
    n, m = len(det), n_anchors
    prob = MatchProblem(
        det_xy=det,
        det_cov=np.tile(np.eye(2) * 0.5**2, (n, 1, 1)),
        det_band=np.zeros(n, dtype=int),
        anc_xy=published[:, None, :],
        anc_cov=np.tile(np.eye(2) * 0.5**2, (m, 1, 1, 1)),
        anc_tail_scale=np.full(m, 4.0),
        anc_tail_fraction=np.full(m, 0.05),
        anc_pd=np.full(m, 0.5),
        band_shape=np.array([SHAPE], dtype=float),
    )
    pd = detect_prob(
        power, np.full(m, 0.8), np.full((m, 1), 1e-3), np.array([1.0]), np.array([4.78]), 5.0, 0.5
    )
    return prob, pd


def test_far_frames_register_with_per_anchor_detection_probabilities():
    """~150 anchors in view, ~12 detected: a constant P_d = 0.5 charges the right offset ln 0.5 for each of
    the ~140 it misses and "nothing matched" (the disk pushed out of the 128-line band) wins; per-anchor P_d
    registers the right offset (as 2017085T200837 of bench_scan's campaign)."""
    rng = np.random.default_rng(11)
    old_ok, new_ok = 0, 0
    for _ in range(12):
        truth = np.array([rng.normal(0, 2.0), rng.normal(0, 30.0)])
        prob, pd = far_frame(rng, offset=truth)
        old = match_offsets(prob, PRIOR)
        prob.anc_pd = pd
        new = match_offsets(prob, PRIOR)
        old_ok += old.ok
        if new.ok:
            new_ok += 1
            d = np.subtract(new.offset_px, truth)
            assert float(d @ np.linalg.solve(new.cov_px, d)) < 13.8  # right: within 99.9 %
            assert new.log_evidence_null < new.modes[0].log_evidence
    assert new_ok >= 11 and old_ok <= 3, (old_ok, new_ok)


def test_faint_anchors_do_not_let_unmatched_detections_register():
    """Detections at random places match nothing: with ~150 faint anchors in reach, "nothing matched" must
    still win (a false registration is far worse than none)."""
    rng = np.random.default_rng(12)
    for _ in range(12):
        prob, pd = far_frame(rng, offset=(0.0, 0.0), match=False)
        prob.anc_pd = pd
        reg = match_offsets(prob, PRIOR)
        assert not reg.ok, reg.offset_px
