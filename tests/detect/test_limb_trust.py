"""Whether the image's limb circle may decide what is off the disk
(:attr:`ioscan.detect.limb.LimbCircle.trusted`): its limb's position error from the fit's covariance, checked
against Monte Carlo refits of noisy arcs."""

from __future__ import annotations

import numpy as np

from ioscan.detect.limb import KNOWN_MARGIN_PX, EdgePoints, fit_limb_circle


def _arc_points(rng, n: int, radius_px: float, arc_px: float, scatter_px: float) -> EdgePoints:
    """``n`` edge points spread along an arc of ``arc_px`` of a circle centred at (0, 0), each moved along
    the radius by Gaussian scatter, brightening towards the centre."""
    ang = np.linspace(-0.5, 0.5, n) * arc_px / radius_px
    rho = radius_px + rng.normal(0.0, scatter_px, n)
    x, y = rho * np.cos(ang), rho * np.sin(ang)
    one = np.ones(n)
    return EdgePoints(x, y, -np.cos(ang), -np.sin(ang), 100.0 * one, 2.0 * one)


def _limb_position_at(circle, angle_rad: float) -> float:
    """Where the fitted circle crosses the ray from the true centre at ``angle_rad``, px from that centre."""
    u = np.array([np.cos(angle_rad), np.sin(angle_rad)])
    c = np.array([circle.center_sample, circle.center_line])
    b = float(u @ c)
    return b + float(np.sqrt(b * b - c @ c + circle.radius_px**2))


def test_band_error_is_the_scatter_of_refitted_limbs_beyond_the_arc():
    """A 60 px arc of a 300 px circle, 20 points scattered by 0.4 px: the limb's 1σ error the covariance
    gives at the known zone's ends (the worst place) is the spread of the limb there over 400 noisy refits
    to 25 %."""
    rng = np.random.default_rng(5)
    radius, arc = 300.0, 60.0
    end = (0.5 * arc + KNOWN_MARGIN_PX) / radius
    fits = [fit_limb_circle(_arc_points(rng, 20, radius, arc, 0.4)) for _ in range(400)]
    fits = [f for f in fits if f is not None]
    assert len(fits) > 350
    spread = np.std([_limb_position_at(f, end) for f in fits])
    predicted = np.median([f.band_error_px for f in fits])
    assert abs(predicted / spread - 1.0) < 0.25


def test_a_short_noisy_arc_is_not_trusted_a_well_sampled_one_is():
    """The same 40 px arc of a 500 px circle: sampled by 14 points scattered by 0.5 px its radius is not
    pinned (the limb 10 px beyond the arc moves by > 1 px at 2σ): not trusted; by 150 points scattered by
    0.15 px it is."""
    rng = np.random.default_rng(11)
    sparse = fit_limb_circle(_arc_points(rng, 14, 500.0, 40.0, 0.5))
    dense = fit_limb_circle(_arc_points(rng, 150, 500.0, 40.0, 0.15))
    assert sparse is not None and dense is not None
    assert 2 * sparse.band_error_px > 1.0 and not sparse.trusted
    assert 2 * dense.band_error_px < 0.5 and dense.trusted
