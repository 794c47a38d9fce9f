"""The published-position error model, refitted from the shipped tables (independent of the simulator)."""

from __future__ import annotations

import numpy as np

from ioscan.body import angular_separation_deg
from ioscan.catalog.reference import PUBLISHED_POSITION_ERROR, davies2024_jiram, mura2024


def _name(n) -> str | None:
    if not isinstance(n, str):
        return None
    return n.lower().replace(" patera", "").replace("close to ", "").strip()


def test_error_model_reproduces_how_far_two_published_catalogues_disagree():
    """Davies et al. 2024 and Mura et al. 2024 located the same named hot spots apart; two independent
    draws of the model must spread like their separations."""
    a = davies2024_jiram().assign(key=lambda d: d["name"].map(_name)).dropna(subset=["key"])
    b = mura2024().assign(key=lambda d: d["name"].map(_name)).dropna(subset=["key"])
    m = a.merge(b, on="key")
    sep = angular_separation_deg(m.lat_deg_x, m.lon_w_deg_x, m.lat_deg_y, m.lon_w_deg_y).to_numpy()
    sep = sep[sep < 10.0]  # a different source under the same name
    assert len(sep) >= 70
    rng = np.random.default_rng(0)
    pair = PUBLISHED_POSITION_ERROR.draw_deg(rng, 200_000) - PUBLISHED_POSITION_ERROR.draw_deg(rng, 200_000)
    model = np.hypot(pair[:, 0], pair[:, 1])
    for q in (25, 50, 68, 90):
        assert abs(np.percentile(model, q) - np.percentile(sep, q)) < 0.15, q
    assert 0.6 < PUBLISHED_POSITION_ERROR.rms_deg < 0.9
