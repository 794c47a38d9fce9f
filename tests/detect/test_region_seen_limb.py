"""The near OFF_DISK zone follows only the runs of limb seen (:func:`ioscan.detect.region.seen_limb_runs`,
issue 11, day side): a gap in the edge points bridged by a few points at a bright hot spot's edge is not
decided, so true hot spots on the limb there are not flagged OFF_DISK."""

from __future__ import annotations

import numpy as np

from ioscan.detect.limb import (
    KNOWN_MARGIN_PX,
    MIN_POINTS,
    EdgePoints,
    LimbCircle,
    find_limb,
    known_zone,
)
from ioscan.detect.region import (
    SEEN_GAP_PX,
    Limb,
    decides_off_disk,
    off_disk_zone,
    seen_limb_runs,
    seen_limb_zone,
)
from ioscan.simulate.independent import draw_scene, render_scene

NEAR_PX = 2.2  # detection's near-limb distance at the renderer's measured PSF (2σ + 1)


def _circle_through(angles_deg: np.ndarray, cx: float = 0.0, cy: float = 0.0, r: float = 60.0) -> LimbCircle:
    """A circle of radius ``r`` (px) centred at (``cx``, ``cy``) with edge points at the given angles."""
    a = np.radians(np.asarray(angles_deg, float))
    x, y = cx + r * np.cos(a), cy + r * np.sin(a)
    ones = np.ones_like(a)
    pts = EdgePoints(x, y, -np.cos(a), -np.sin(a), 100.0 * ones, 1.8 * ones)
    return LimbCircle(cx, cy, r, 0.2, a.size, r * float(np.ptp(a)), 100.0, pts, np.eye(3) * 1e-4)


def test_runs_split_at_gaps_and_leave_out_a_few_stray_points():
    """Points every 1° on 0–60° and 120–150° of a 60 px circle (gap 63 px), and 5 points near 200°: two
    runs (the stray five, fewer than MIN_POINTS, are no limb seen); without gaps, one run all round."""
    stray = 200.0 + np.arange(5.0)
    circle = _circle_through(np.concatenate([np.arange(0.0, 61.0), np.arange(120.0, 151.0), stray]))
    runs = seen_limb_runs(circle)
    assert len(stray) < MIN_POINTS
    assert sorted((round(np.degrees(s)), round(np.degrees(sp))) for s, sp in runs) == [(0, 60), (120, 30)]
    assert seen_limb_runs(_circle_through(np.arange(0.0, 360.0, 1.0))) == [(0.0, 2 * np.pi)]


def test_the_seen_zone_holds_each_run_and_its_margin_not_the_gap():
    """Directions from the centre: within KNOWN_MARGIN_PX of a run's end (along the circle) in the zone, the
    gap's middle (90°) and the stray points' direction (202°) not; the known zone holds all of them."""
    circle = _circle_through(
        np.concatenate([np.arange(0.0, 61.0), np.arange(120.0, 151.0), 200.0 + np.arange(5.0)]), 200.0, 200.0
    )
    shape = (400, 400)
    zone = seen_limb_zone(circle, shape)
    known = known_zone(circle, shape)

    def pixel(deg: float, rho: float = 150.0) -> tuple[int, int]:
        a = np.radians(deg)
        return int(round(200.0 + rho * np.sin(a))), int(round(200.0 + rho * np.cos(a)))

    inside_margin = 60.0 + np.degrees(0.8 * KNOWN_MARGIN_PX / circle.radius_px)
    beyond_margin = 60.0 + np.degrees(1.2 * KNOWN_MARGIN_PX / circle.radius_px)
    assert zone[pixel(30.0)] and zone[pixel(135.0)] and zone[pixel(inside_margin)]
    assert not zone[pixel(beyond_margin)] and not zone[pixel(90.0)] and not zone[pixel(202.0)]
    assert known[pixel(90.0)] and known[pixel(202.0)]
    assert SEEN_GAP_PX == 2 * KNOWN_MARGIN_PX


def _renderer_day_frame(index: int, seed: int = 47):
    """Frame ``index`` of ``bench_generalise --seed 47`` (scenes drawn in turn, even frames sunlit)."""
    rng = np.random.default_rng(seed)
    for i in range(index + 1):
        params = draw_scene(rng, kind="day" if i % 2 == 0 else "night", mode="I2")
    return render_scene(params)


def test_a_hot_spot_on_the_limb_beyond_the_arc_seen_is_not_off_the_disk():
    """Renderer seed 47, frame 82: the sunlit limb's arc (86 px) ends where it darkens towards the
    terminator's horn, and its circle is 3.3 px short; edge points at two bright hot spots inside the limb
    (S/N 113 and 152) lie on that circle 88 px further on, and the known zone bridged the gap: a hot spot
    of S/N 5.2 on the limb (emission 84°) lay 4.2 px beyond the circle and was flagged OFF_DISK, with 156
    other pixels of the true disk. The zone now stops at the arc seen: no pixel of the true disk, the sky
    beyond the arc still off the disk."""
    frame = _renderer_day_frame(82)
    b = frame.bands["M"]
    saturated = b.image >= frame.saturation_w_m2_sr * (1 - 1e-6)
    circle = find_limb(b.image, 0.8, saturated)
    assert circle is not None and decides_off_disk(circle) and not circle.soft
    d = circle.distance_px(b.image.shape)
    known = known_zone(circle, b.image.shape)
    limb = Limb(d, False, None, 0.0, circle=circle, known=known, trusted=True)
    zone = off_disk_zone(limb, b.image.shape, NEAR_PX)
    true_disk = b.on_disk_fraction > 0
    spot = (32, 368)  # (line, sample) of the hot spot at (368.2, 32.2)
    assert known[spot] and d[spot] < -NEAR_PX  # what the known zone alone flagged
    assert (known & (d < -NEAR_PX) & true_disk).sum() > 100
    assert not zone[spot] and not (zone & true_disk).any()
    assert len(seen_limb_runs(circle)) == 1
    assert zone[64, 200] and d[64, 200] < -60.0  # the sky left of the arc seen
