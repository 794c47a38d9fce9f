"""The limb fit's results pinned: offsets and their 1σ within 1e-6 px on frames of both renderers — the
campaign simulator (``ioscan.simulate``) and the independent limb renderer (``ioscan.simulate.limb_scene``) —
in all three modes (camera rotation, backplanes, scale and rotation fitted). A change meant to make the fit
faster must not move them; a change meant to make it better (or faster with numbers that move on purpose)
updates them after showing its accuracy against truth before and after.

History: pinned at commit c03f803; re-pinned by the thin wide passes and the limb fit's own Gauss–Newton
solver (``geometry/limbsolve.py``, issue 15): the offsets moved by < 1e-6 px in the offset-only modes of
the scenes, ≤ 0.013 px with scale and rotation fitted (the rotation is barely constrained), and by 0.009 /
0.011 px on one campaign band (the fine passes start from the thin passes' estimate); the accuracy against
the simulator's applied pointing on 351 campaign bands (100 registered) is unchanged (README, "Measured
figures").
Re-pinned by the night-side edge test (a night limb ray's edge must be a blurred step, not the terminator's
fade; ``NIGHT_STEP_MAX``): the scenes' night-side rays (night level 0: no thermal step) no longer give edges;
offsets moved by ≤ 0.003 px in the offset-only modes, toward the truth with scale and rotation fitted ("full":
error (−1.21, −1.59) → (−0.47, −0.99) px; "along_lines": line 0.088 → 0.025 px, sample 0.41 → 0.40 px); the
campaign pins are unchanged.
Re-pinned by the offset model floor (``OFFSET_MODEL_FLOOR_PX`` = 0.08 px in quadrature on each offset's
1σ): every offset unchanged, every 1σ → √(1σ² + 0.08²).
Campaign pins re-made when the simulator gained a residual flat field (``simulate/flatfield.py``; the limb fit
unchanged): the three registered bands moved by ≤ 0.03 px, their errors against the applied pointing (sample,
line) (−0.183, −0.002) → (−0.162, −0.029), (−0.048, +0.011) → (−0.051, +0.011), (−0.096, +0.063) →
(−0.087, +0.053) px; 2017086T014145 M is still refused, now because its limb points span only 23 px.
Re-pinned by the limb fit's third speed round (issue 15: preparation on the box the fit can read, fewer
refinement passes, least squares stopped at 1e-3 px, the coarse step on that box, the edge-bias model
interpolated along the limb): offset-only modes moved by ≤ 0.003 px (campaign: ≤ 0.022
px), with scale and rotation fitted by up to 0.43 px, toward the truth in all three scenes ("along_lines"
sample error −0.396 → +0.035 px, "crescent" −0.418 → −0.291, "full" line −0.994 → −0.903); 2017086T014145 M
(a faint limb fitted on 6 grouped edges) now registers, 0.33 px from the applied pointing (−0.23, +0.24) at a
stated 1σ (0.24, 0.17); before, its 6 edges spanned 23 px (< 37) and it was refused.
On 351 campaign bands and the close flybys the accuracy is unchanged (README, "Measured figures").
Three pins re-made when the detection background's pad beyond the frame edge kept the curvature across it
(``detect/background.py`` ``_pad_odd``, issue 11): "along_lines" and "crescent" with scale and rotation
fitted moved by 1.2e-5 / 4.5e-5 px, 2017086T014145 M by 1.5e-6 px; every other pin within 1e-6 px."""

from __future__ import annotations

import numpy as np
import pytest
from test_limbfit import ALONG_SAMPLES, JIRAM_PRIOR, jiram_scene

from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.geometry.limbfit import register_frame
from ioscan.instruments.jiram import PIXEL_AXES

TOL_PX = 1e-6

#: (scene, mode) → (offset sample, line), (1σ sample, line), px
SCENE_PINS = {
    ("full", "pose"): (
        (-120.03016056583458, -3.003420649234061),
        (0.10792732057922226, 0.13309584592126933),
    ),
    ("full", "bp"): (
        (-120.07930152908564, -3.0366532309568997),
        (0.11369119207107617, 0.1364816607195614),
    ),
    ("full", "scale"): (
        (-120.44540396989315, -3.9029397045287206),
        (0.3359588736303609, 0.24266969586827714),
    ),
    ("crescent", "pose"): (
        (85.01677148421852, 4.985791002389892),
        (0.08958892877472661, 0.0993700006277536),
    ),
    ("crescent", "bp"): (
        (85.01625461865856, 4.971713075980918),
        (0.08932968692454221, 0.09884548367099634),
    ),
    ("crescent", "scale"): (
        (84.70875634794011, 4.866599915180075),
        (0.21294053277967062, 0.14511426790985024),
    ),
    ("thermal", "pose"): (
        (40.00761216472139, -1.967941442817944),
        (0.08972090769602391, 0.09934730526220345),
    ),
    ("thermal", "bp"): (
        (40.01090841351946, -1.9725168097143257),
        (0.08944062870362393, 0.09878597509653617),
    ),
    ("thermal", "scale"): (
        (40.02631594371984, -1.9869360941706926),
        (0.08780241403499309, 0.08490100676917695),
    ),
    ("along_lines", "pose"): (
        (1.9796765902124158, 40.00309021765252),
        (0.09083989184761754, 0.15072201191037213),
    ),
    ("along_lines", "bp"): (
        (1.980599776495242, 39.99409266222364),
        (0.09148444789533274, 0.15417701264670428),
    ),
    ("along_lines", "scale"): (
        (2.034787228469439, 39.94954434879652),
        (0.423342227414393, 0.5040716569496659),
    ),
}
SCENES = {
    "full": dict(d_sample_px=-120.0, d_line_px=3.0),
    "crescent": dict(d_sample_px=85.0, d_line_px=-5.0, phase_deg=120.0),
    "thermal": dict(d_sample_px=40.0, d_line_px=2.0, phase_deg=120.0, night_level=0.2),
    "along_lines": dict(d_sample_px=2.0, d_line_px=-40.0),  # JIRAM's own window: ±162 lines
}
#: campaign simulator, orbits 5 and 43, seed 1, 3 frames per orbit: (product, band) → offset and 1σ, or the
#: start of the reason it was not registered
CAMPAIGN_PINS = {
    ("JIR_IMG_RDR_2017086T003049_V01", "M"): (
        (1.2238554667212074, 37.571765667993965),
        (0.12637350127438718, 0.11479719584061397),
    ),
    ("JIR_IMG_RDR_2017086T014145_V01", "L"): "no limb signal",
    ("JIR_IMG_RDR_2017086T014145_V01", "M"): (
        (0.13942791931511858, 23.26127774503059),
        (0.2382077960489605, 0.1749510542975175),
    ),
    ("JIR_IMG_RDR_2017086T043645_V01", "M"): (
        (-1.241318086092701, -14.413648550666558),
        (0.13510530197512324, 0.18196346722541032),
    ),
    ("JIR_IMG_RDR_2022152T142653_V01", "L"): "no limb signal found",
    ("JIR_IMG_RDR_2022152T142653_V01", "M"): "no limb signal",
    ("JIR_IMG_RDR_2022152T164927_V01", "M"): (
        (1.5926471412388363, 14.329820271752759),
        (0.11760516046415155, 0.1595659370397066),
    ),
    ("JIR_IMG_RDR_2022152T165154_V01", "L"): "no limb signal found",
    ("JIR_IMG_RDR_2022152T165154_V01", "M"): "no limb signal",
}


def _assert_pinned(fit, pin, what):
    if isinstance(pin, str):
        assert not fit.ok and fit.reason.startswith(pin), (what, fit)
        return
    (ds, dl), err = pin
    assert fit.ok, (what, fit.reason)
    assert abs(fit.offset_sample_px - ds) <= TOL_PX and abs(fit.offset_line_px - dl) <= TOL_PX, (what, fit)
    assert np.allclose(fit.offset_err_px, err, rtol=0, atol=TOL_PX), (what, fit.offset_err_px, err)


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_limb_scene_offsets_pinned(scene):
    img, geom, cam, pose, _, _ = jiram_scene(**SCENES[scene])
    window = JIRAM_PRIOR if scene == "along_lines" else ALONG_SAMPLES
    for mode in ("pose", "bp", "scale"):
        predicted = backplanes_from_label(geom, 432, 128, axes=PIXEL_AXES) if mode == "bp" else (cam, pose)
        extra = dict(fit_scale=True, fit_rotation=True) if mode == "scale" else {}
        fit = register_frame(img, predicted, **window, **extra)
        _assert_pinned(fit, SCENE_PINS[(scene, mode)], (scene, mode))


def test_campaign_offsets_pinned():
    from ioscan.geometry.pose import backplanes_from_pose
    from ioscan.simulate import campaign as sim
    from ioscan.simulate import ephemeris as eph
    from ioscan.simulate.render_jiram import jiram_band_camera

    cam = jiram_band_camera()
    seen = set()
    for plan in sim.plan_campaign([5, 43], seed=1, frames_per_orbit=3):
        frame = sim.simulate_frame(plan, population_seed=1)
        sun = eph.sun_position_body(plan.time_utc)
        for band, render in frame.bands.items():
            key = (plan.product_id, band)
            bp = backplanes_from_pose(cam, sim.band_pose(plan, band, sim.recorded_jiram_to_body(plan), sun))
            fit = register_frame(render.image, bp, psf_sigma_px=0.7, **JIRAM_PRIOR)
            _assert_pinned(fit, CAMPAIGN_PINS[key], key)
            seen.add(key)
    assert seen == set(CAMPAIGN_PINS)
