"""The independent renderer's geometry as ioscan backplanes: the limb distance is exact near the limb (what
ioscan's own SPICE backplanes give), not the pixel grid's."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.simulate.independent import draw_scene
from ioscan.simulate.independent import geometry as igeo
from ioscan.simulate.independent.scene import BAND_FIRST_LINE_M
from ioscan.simulate.independent_backplanes import limb_discriminant, truth_backplanes


def _limb_points(view, n: int = 40000) -> tuple[np.ndarray, np.ndarray]:
    """Points of the limb by bisection of the discriminant along rays from the disk's centre (independent of
    the Newton steps under test)."""
    cs, cl = view.center_sample_px, view.center_line_px
    th = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    lo, hi = np.zeros(n), np.full(n, 3 * view.radius_px + 10)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        inside = limb_discriminant(view, cs + mid * np.cos(th), cl + mid * np.sin(th)) > 0
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    return cs + lo * np.cos(th), cl + lo * np.sin(th)


@pytest.mark.parametrize("seed", [3, 11])
def test_limb_distance_is_exact_near_the_limb(seed):
    rng = np.random.default_rng(seed)
    for _ in range(3):
        view = draw_scene(rng, kind="day").view
        d = np.asarray(truth_backplanes(view, "M")["limb_distance_px"])
        near = np.abs(d) < 3
        if not near.any():
            continue
        first = float(BAND_FIRST_LINE_M["M"])
        ss, ll = np.meshgrid(np.arange(igeo.N_SAMPLES, dtype=float), np.arange(igeo.N_LINES_BAND) + first)
        px, py = _limb_points(view)
        s, ln = ss[near][::7], ll[near][::7]
        brute = np.min(np.hypot(s[:, None] - px[None, :], ln[:, None] - py[None, :]), axis=1)
        # the limb sampled every ≤ 2π·R/40000 px: its nearest point within ~0.02 px of the true one
        assert np.max(np.abs(np.abs(d[near][::7]) - brute)) < 0.03
        # sign: > 0 exactly where the ray meets Io
        hit = limb_discriminant(view, ss, ll) > 0
        assert np.all((d > 0) == hit)
