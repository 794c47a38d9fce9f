"""The test generator and the ARI metric, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.body import great_circle_distance_km
from ioscan.track import synthetic as sy


def test_ari_known_values():
    assert sy.adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)  # sklearn doc example
    assert sy.adjusted_rand_index([0, 0, 1, 1], [5, 5, 9, 9]) == 1.0
    assert sy.adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)


def test_pairs_and_errors_are_as_requested():
    rng = np.random.default_rng(0)
    truth = sy.population(50, rng, n_pairs=10)
    d = great_circle_distance_km(
        truth.lat_deg[:10].to_numpy(),
        truth.lon_w_deg[:10].to_numpy(),
        truth.lat_deg[50:].to_numpy(),
        truth.lon_w_deg[50:].to_numpy(),
    )
    assert np.all((d > 29) & (d < 101))  # planetographic vs centric: < 1 % scale difference
    det = sy.detections(truth, rng, n_obs=200, sigma_km=(5.0, 5.0))
    assert not det[["observation_id", "true_id"]].duplicated().any()
    tr = truth.set_index("true_id").loc[det.true_id]
    off = great_circle_distance_km(
        det.lat_deg.to_numpy(), det.lon_w_deg.to_numpy(), tr.lat_deg.to_numpy(), tr.lon_w_deg.to_numpy()
    )
    rms = np.sqrt(np.mean(off**2) / 2)  # per-axis
    assert rms == pytest.approx(5.0 * np.sqrt(np.mean(np.linspace(0.8, 1.2, 1001) ** 2)), rel=0.05)
