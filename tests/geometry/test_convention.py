"""The sample-sign check: a world whose samples truly run along the declared axis must come out declared, a
mirrored world must come out mirrored, and a frame that carries no mirror-breaking information must leave the
sign unconfirmed. Worlds come from two renderers the check was not written against: the limb-fit scene
renderer (Minnaert disk, its own photometry) and the campaign renderer (albedo map, hot spots, noise)."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.geometry import convention as cv
from ioscan.geometry.camera import FrameCamera
from ioscan.instruments import jiram
from ioscan.simulate.limb_scene import render_io, rotate_pointing, scene_geometry

DECLARED = jiram.PIXEL_AXES
MIRROR = cv.mirrored_axes(DECLARED)
LAYOUT = jiram.DETECTORS[jiram.M_BAND.spice_frame]
PRIOR = jiram.JIRAM.pointing


def _camera(axes, center):
    return FrameCamera.with_axes(
        axes,
        n_samples=432,
        n_lines=128,
        ifov_rad=jiram.IFOV_RAD,
        center_sample=center[0],
        center_line=center[1],
    )


def _scene(
    world,
    *,
    phase_deg,
    sun_az_deg,
    offset_px=(2.0, 80.0),
    seed=0,
    center=(216.0, 64.0),
    k=0.8,
    symmetric=False,
):
    """A limb-scene frame of a world whose samples run along ``world``'s axis, seen with a pointing error of
    ``offset_px`` (sample, line); returns the check's view with the *predicted* pose."""
    geom, cam_decl, pose = scene_geometry(
        range_km=150_000.0,
        ifov_rad=jiram.IFOV_RAD,
        n_samples=432,
        n_lines=128,
        center_sample=center[0],
        center_line=center[1],
        phase_deg=phase_deg,
        sun_azimuth_deg=sun_az_deg,
        axes=DECLARED,
        **(dict(sub_obs_lat_deg=0.0, sub_obs_lon_w_deg=0.0, north_pa_deg=0.0) if symmetric else {}),
    )
    cam = _camera(world, (cam_decl.center_sample, cam_decl.center_line))
    true_pose = rotate_pointing(cam, pose, -offset_px[0] * jiram.IFOV_RAD, -offset_px[1] * jiram.IFOV_RAD)
    img = render_io(cam, true_pose, minnaert_k=k, night_level=0.02, psf_sigma_px=0.8)
    img = img + np.random.default_rng(seed).normal(0.0, 0.01, img.shape)
    return cv.FrameView("scene", [cv.BandView(img, pose, LAYOUT, jiram.IFOV_RAD, 0.8, np.zeros((0, 3)))])


def _evidence(view, anchors=None):
    return cv.frame_evidence(view, DECLARED, PRIOR.sigma_px, PRIOR.max_px, anchors=anchors)


def test_offset_grid_follows_the_pointing_prior():
    grid = cv.OffsetGrid.from_prior(PRIOR.sigma_px, PRIOR.max_px)
    ds, dl = cv.OffsetGrid.offsets(grid.pad_s), cv.OffsetGrid.offsets(grid.pad_l)
    # JIRAM: large along track (the lines), a few pixels across (the samples)
    assert grid.pad_l > 140 and grid.pad_s < 15
    inside = np.isfinite(grid.log_prior)
    assert np.abs(dl[inside.any(axis=1)]).max() <= PRIOR.max_px[1] + 0.5
    assert np.abs(ds[inside.any(axis=0)]).max() <= PRIOR.max_px[0] + 0.5
    assert grid.log_prior[grid.pad_l, grid.pad_s] == 0.0


@pytest.mark.parametrize("world", [DECLARED, MIRROR], ids=["declared_world", "mirrored_world"])
def test_terminator_gives_the_true_sign(world):
    frames = [_scene(world, phase_deg=70.0, sun_az_deg=az, seed=i) for i, az in enumerate((20.0, 160.0))]
    evidence = [_evidence(f) for f in frames]
    truth = 1.0 if world == DECLARED else -1.0
    for ev in evidence:
        assert truth * ev.llr > cv.DEFAULT_FRAME_CLIP, ev
        best = ev.declared if truth > 0 else ev.mirror
        # and the pointing offset comes out where it was put (80 px along the lines)
        assert best.offset_px[1] == pytest.approx(80.0, abs=1.5) and abs(best.offset_px[0] - 2.0) <= 1.5
    verdict = cv.decide(evidence, DECLARED)
    assert verdict.status == "confirmed" and verdict.choice == ("−Y" if truth > 0 else "+Y")
    assert verdict.declared_label == "−Y" and verdict.mirror_label == "+Y"


def test_no_mirror_breaking_information_stays_unconfirmed():
    """Full phase, Io centred across the samples, seen along its long axis with north along the lines: the
    mirror changes nothing a limb or shading shows."""
    for world in (DECLARED, MIRROR):
        view = _scene(world, phase_deg=0.0, sun_az_deg=0.0, center=(215.5, 64.0), k=1.0, symmetric=True)
        ev = _evidence(view)
        verdict = cv.decide([ev], DECLARED)
        assert verdict.status == "unconfirmed", ev


@pytest.mark.parametrize("world", [DECLARED, MIRROR], ids=["declared_world", "mirrored_world"])
def test_known_hot_spots_give_the_true_sign_on_the_night_side(world):
    """No sunlight: only the pattern of known hot spots (put where the catalogue says) breaks the mirror."""
    from ioscan.detect import detect_frame
    from ioscan.geometry.pose import project_points
    from ioscan.records import BandImage, Frame
    from ioscan.simulate.limb_scene import add_point_sources

    geom, cam_decl, pose = scene_geometry(
        range_km=150_000.0,
        ifov_rad=jiram.IFOV_RAD,
        n_samples=432,
        n_lines=128,
        center_sample=216.0,
        center_line=64.0,
        phase_deg=179.0,
        sun_azimuth_deg=0.0,
        sub_obs_lon_w_deg=300.0,
        axes=DECLARED,
    )
    anchors = cv.catalogue_anchors(60)
    cam = _camera(world, (cam_decl.center_sample, cam_decl.center_line))
    true_pose = rotate_pointing(cam, pose, 0.0, -60.0 * jiram.IFOV_RAD)
    s, ln, vis = project_points(cam, true_pose, anchors.points_km())
    inside = vis & (s > 3) & (s < 428) & (ln > 3) & (ln < 124)
    assert inside.sum() >= 4
    rng = np.random.default_rng(1)
    img = render_io(cam, true_pose, night_level=0.05, psf_sigma_px=0.8)
    # catalogue positions are good to ~15 km (0.4 px here): the sources sit within that of their entries
    jitter = rng.normal(0.0, 0.3, (int(inside.sum()), 2))
    img = add_point_sources(
        img, np.column_stack([s[inside], ln[inside]]) + jitter, np.full(inside.sum(), 2.0), 0.7
    )
    img = img + rng.normal(0.0, 0.01, img.shape)
    frame = Frame(
        "n",
        "JIRAM",
        "JUNO",
        "2020-01-01T00:00:00",
        0.1,
        {"M": BandImage("M", img, "W m-2 sr-1", 4.78, 0.4975)},
    )
    found = detect_frame(frame, None)
    dets = np.array([(d.sample, d.line, 0.3) for d in found.hot_spots]).reshape(-1, 3)
    ev = _evidence(
        cv.FrameView("night", [cv.BandView(img, pose, LAYOUT, jiram.IFOV_RAD, 0.8, dets)]), anchors
    )
    truth = 1.0 if world == DECLARED else -1.0
    assert truth * (ev.declared.hot_spot_term - ev.mirror.hot_spot_term) > cv.DEFAULT_FRAME_CLIP, ev
    best = ev.declared if truth > 0 else ev.mirror
    assert best.n_matches >= 3 and best.offset_px[1] == pytest.approx(60.0, abs=2)


def test_campaign_renderer_mirrored_world_comes_out_mirrored():
    """The campaign's renderer (albedo map, hot spots, noise, streaks) rendering a +Y world: the check, given
    only the reconstructed pose, must favour +Y."""
    from ioscan.simulate import campaign as cp
    from ioscan.simulate import ephemeris as eph
    from ioscan.simulate.render_jiram import render_band

    plan = next(p for p in cp.plan_campaign([20], 2, 3) if np.linalg.norm(p.observer_km) < 3e5)
    pop = cp._population(2, None)
    state = pop.state_at(plan.time_utc)
    sun = eph.sun_position_body(plan.time_utc)
    band = "L" if plan.mode == "I3" else "M"
    cam = _camera(MIRROR, (LAYOUT.center_sample, LAYOUT.center_line))
    r = render_band(
        band,
        cam,
        cp.band_pose(plan, band, cp.true_jiram_to_body(plan), sun),
        state,
        exposure_s=plan.exposure_s,
        rng=np.random.default_rng(0),
        surface=cp.default_surface(pop),
    )
    pose = cp.band_pose(plan, band, cp.recorded_jiram_to_body(plan), sun)
    view = cv.FrameView(plan.product_id, [cv.BandView(r.image, pose, LAYOUT, jiram.IFOV_RAD, 0.7)])
    ev = _evidence(view, cv.catalogue_anchors())
    assert ev.llr < -cv.DEFAULT_FRAME_CLIP, ev


def test_independent_renderer_worlds():
    """The independent renderer (its own geometry and photometry; a direct-view camera, i.e. a +Y world) and
    its left–right flip (a −Y world), seen with a pointing error along track: each comes out as it is."""
    from ioscan.geometry.pose import CameraPose
    from ioscan.simulate.independent import render_scene, view_geometry
    from ioscan.simulate.independent.scene import SceneParams

    view = view_geometry(
        range_km=150_000.0,
        center_sample_px=300.0,
        center_line_px=70.0,
        sub_obs_lat_deg=10.0,
        sub_obs_lon_w_deg=120.0,
        north_pa_deg=30.0,
        phase_deg=60.0,
        sun_azimuth_deg=20.0,
    )
    img = render_scene(SceneParams(seed=3, view=view)).bands["M"].image.astype(float)
    # its camera: samples along +x, lines along +y, boresight +z; as a JIRAM frame with samples along +Y and
    # lines along −X, the instrument's X is −y and Y is +x in camera coordinates
    b2c = view.body_to_cam
    inst_in_cam = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    true = CameraPose(-(b2c.T @ view.center_cam_km), b2c.T @ inst_in_cam, b2c.T @ view.sun_dir_cam * 7.8e8)
    cam_plus = _camera(MIRROR, (LAYOUT.center_sample, LAYOUT.center_line))
    # the kernels' (predicted) pointing: off by 70 px along track, 2 px across
    pred = rotate_pointing(cam_plus, true, 2.0 * jiram.IFOV_RAD, -70.0 * jiram.IFOV_RAD)
    for world, im, truth in (("+Y", img, -1.0), ("-Y", img[:, ::-1].copy(), 1.0)):
        ev = _evidence(cv.FrameView(world, [cv.BandView(im, pred, LAYOUT, jiram.IFOV_RAD, 0.8)]))
        assert truth * ev.llr > cv.DEFAULT_FRAME_CLIP, (world, ev)
