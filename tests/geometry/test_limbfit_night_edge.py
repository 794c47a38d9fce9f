"""A night-side limb ray must not take the terminator's fade for the limb.

The case (simulated campaign, seed 2, ``JIR_IMG_RDR_2022152T123236_V01`` band L): Io's disk cut by the top of
the frame, its sunlit limb out of view, the limb in view all on the night side, where band L shows no
thermal step. Before the fix every night-side ray found the terminator's fade (reflected light dying away
~15 px inside the limb), and the fit registered the disk 14.8 px off in line (7.1 px in sample) with a
stated 1σ of 0.53 px: a 28σ error. Truth here is the simulator's applied pointing error, which the limb
fit never sees.
"""

from __future__ import annotations

import numpy as np
from test_limbfit import JIRAM_PRIOR

from ioscan.geometry import limbfit
from ioscan.geometry.limbfit import register_frame

PRODUCT = "JIR_IMG_RDR_2022152T123236_V01"


def _campaign_band(seed: int, product_id: str, band: str):
    from ioscan.geometry.pose import backplanes_from_pose
    from ioscan.simulate import campaign as sim
    from ioscan.simulate import ephemeris as eph
    from ioscan.simulate.render_jiram import jiram_band_camera

    plan = next(
        p
        for p in sim.plan_campaign([5, 43, 57, 58], seed=seed, frames_per_orbit=5)
        if p.product_id == product_id
    )
    frame = sim.simulate_frame(plan, population_seed=seed)
    sun = eph.sun_position_body(plan.time_utc)
    bp = backplanes_from_pose(
        jiram_band_camera(), sim.band_pose(plan, band, sim.recorded_jiram_to_body(plan), sun)
    )
    truth = np.array([frame.frame_row[f"{band}_pointing_error_{a}_px"] for a in ("sample", "line")])
    return frame.bands[band].image, bp, truth


def test_terminator_not_taken_for_a_night_limb():
    img, bp, truth = _campaign_band(2, PRODUCT, "L")
    fit = register_frame(img, bp, psf_sigma_px=0.7, **JIRAM_PRIOR)
    if fit.ok:  # registered: then within 5σ (and 3 px) of the applied pointing
        err = np.array([fit.offset_sample_px, fit.offset_line_px]) - truth
        assert np.all(np.abs(err) <= np.maximum(5 * np.array(fit.offset_err_px), 0.0)), (err, fit)
        assert np.all(np.abs(err) <= 3.0), (err, fit)
    else:  # refused: for the limb in view is night side with no thermal step (falls back to hot spots)
        assert fit.reason


def test_sharp_night_step_kept_wide_fade_refused():
    """The sharpness test itself on synthetic profiles (truth: the profiles' construction): a night-side ray
    crossing a PSF-blurred step keeps its edge; one crossing a 20 px linear fade does not, while the same fade
    on a sunlit ray is still a usable edge (sunlit limbs keep their Lambert rise inside)."""
    from scipy.special import erf

    n_rays, n_s = 40, 200
    y = np.arange(n_s, dtype=float)[None, :] * np.ones((n_rays, 1))
    x0 = 100.0
    sig = 1.0
    step = 0.5 * (1 - erf((y - x0) / (np.sqrt(2) * sig)))  # bright at small sample index (inside)
    fade = np.clip((x0 - y) / 20.0, 0.0, 1.0)
    for img, want_night in ((step, True), (fade, False)):
        img = img.T.copy()  # rays along lines: inside = low line index, outward normal +line
        prep = limbfit._prepare(img, 0.7, mask_hot_spots=False)
        pts = np.column_stack([np.arange(n_rays) + 0.0, np.full(n_rays, x0)])[5:-5]
        normals = np.tile([0.0, 1.0], (len(pts), 1))
        night = np.ones(len(pts), dtype=bool)
        sigma_tot = float(np.sqrt(0.7**2 + prep.smooth_sigma**2 + 1.0 / 12.0))
        clean = 2.0 * sigma_tot + 1.0
        *_, usable_n, _ = limbfit._measure_edges(prep, pts, normals, 8.0, clean, 1, sigma_tot, sharp=night)
        *_, usable_l, _ = limbfit._measure_edges(prep, pts, normals, 8.0, clean, 1, sigma_tot)
        assert usable_l.all()
        assert usable_n.all() == want_night and usable_n.any() == want_night
