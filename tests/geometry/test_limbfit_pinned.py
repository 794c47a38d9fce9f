"""The limb fit's results pinned to what it gave before its speed work (commit c03f803): offsets and their 1σ
within 1e-6 px on frames of both renderers — the campaign simulator (``ioscan.simulate``) and the independent
limb renderer (``ioscan.simulate.limb_scene``) — in all three modes (camera rotation, backplanes, scale and
rotation fitted). A change meant to make the fit faster must not move them; a change meant to make it better
updates them on purpose."""

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
    ("full", "pose"): ((-120.02739555279354, -3.006431965690884), (0.07156282022982037, 0.10718705753070061)),
    ("full", "bp"): ((-120.07768115653873, -3.0378807562142147), (0.08104876061869615, 0.11227871553993164)),
    ("full", "scale"): ((-121.2125410485802, -4.5869325661749425), (0.6244731987265676, 0.7004655155489063)),
    ("crescent", "pose"): ((85.01957663133463, 4.982726163399453), (0.0401881942736207, 0.05902282856524351)),
    ("crescent", "bp"): ((85.01562789729451, 4.971656715475013), (0.039761546998931696, 0.05807518492058418)),
    ("crescent", "scale"): (
        (84.57894314440566, 4.871102985683683),
        (0.20130738008918736, 0.19783269380698532),
    ),
    ("thermal", "pose"): (
        (40.00761198913663, -1.9679413402573456),
        (0.04061823788434931, 0.058905747270018606),
    ),
    ("thermal", "bp"): ((40.00996778259341, -1.972183103973159), (0.03999141806980207, 0.057951353395803734)),
    ("thermal", "scale"): (
        (40.025174504250096, -1.98662383818036),
        (0.03650231799031283, 0.028474547665415097),
    ),
    ("along_lines", "pose"): (
        (1.9803406924744984, 40.00283939164211),
        (0.04303468159660497, 0.12773934015312643),
    ),
    ("along_lines", "bp"): (
        (1.9798079959071953, 39.99329073344095),
        (0.04437236969726455, 0.13177521804414946),
    ),
    ("along_lines", "scale"): (
        (1.592837060647269, 40.08793144483123),
        (0.10376258967352853, 0.5308225636043481),
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
        (1.2039736861030133, 37.599492451583515),
        (0.11259232909402755, 0.10035568685922186),
    ),
    ("JIR_IMG_RDR_2017086T014145_V01", "L"): "no limb signal",
    ("JIR_IMG_RDR_2017086T014145_V01", "M"): "no limb signal",
    ("JIR_IMG_RDR_2017086T043645_V01", "M"): (
        (-1.2393124952656664, -14.41341520387954),
        (0.10977499951845293, 0.16464427131354872),
    ),
    ("JIR_IMG_RDR_2022152T142653_V01", "L"): "no limb signal found",
    ("JIR_IMG_RDR_2022152T142653_V01", "M"): "no limb signal",
    ("JIR_IMG_RDR_2022152T164927_V01", "M"): (
        (1.5911197229556444, 14.35146826704473),
        (0.0892716478620932, 0.14715002740807834),
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
