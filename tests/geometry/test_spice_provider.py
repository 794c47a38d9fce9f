"""SpiceGeometry against SPICE itself: every backplane vs per-pixel sincpt/ilumin/recpgr, orientation, errors.

Truth is CSPICE (through spiceypy) evaluated pixel by pixel on kernels written by ioscan's kernel writer
around NAIF's real frames kernel. Pixel rays for sincpt are written out here from JIRAM's convention (lines
along −X, samples along −Y of the band frames, docs/jiram_conventions.md), independently of FrameCamera and
ioscan.instruments. Tolerances: surface points 1 m, angles 1e-4°, range 1 m.
"""

from __future__ import annotations

import dataclasses
import math
import shutil

import numpy as np
import pytest
import spice_scenes as sc
import spiceypy as sp

from ioscan import body as iobody
from ioscan.errors import GeometryError
from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.geometry.pose import backplanes_from_pose
from ioscan.geometry.spice_provider import SpiceGeometry, load_kernels, unload_kernels
from ioscan.instruments import jiram
from ioscan.simulate.kernels import write_kernel_set

ANGLE_TOL_DEG = 1e-4
POINT_TOL_KM = 1e-3


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("spice_set")
    write_kernel_set(out, sc.observations(), start_utc=sc.START_UTC, stop_utc=sc.STOP_UTC)
    yield out
    unload_kernels()


@pytest.fixture
def geo(kernel_dir):
    return SpiceGeometry(kernel_dir / "ioscan.tm")


#: 0-based pixel of each band frame's boresight: the centre of the 432 × 128 band
BAND_CENTER = (215.5, 63.5)


def _ik_ray(frame: str, sample: float, line: float) -> np.ndarray:
    """A pixel's direction from the IK's IFOV and JIRAM's convention: lines along −X, samples along −Y."""
    ifov = float(sp.gdpool(f"INS{sp.bods2c(frame)}_IFOV", 0, 1)[0])
    cs, cl = BAND_CENTER
    return np.array([-(line - cl) * ifov, -(sample - cs) * ifov, 1.0])


def _reference_pixels(bp, step: int = 7) -> list[tuple[int, int]]:
    """Every ``step``-th pixel plus every pixel within 3 px of the limb."""
    nl, ns = bp.shape
    pix = {(ln, s) for ln in range(0, nl, step) for s in range(0, ns, step)}
    near = np.argwhere(np.abs(bp["limb_distance_px"]) <= 3.0)
    pix.update((int(a), int(b)) for a, b in near)
    return sorted(pix)


def _compare_with_spice(geo: SpiceGeometry, time_utc: str, frame: str):
    bp = geo.backplanes(time_utc, frame)
    et = sp.str2et(time_utc)
    a, f = geo.body.a_km, geo.body.flattening
    worst = {k: 0.0 for k in ("point", "range", "emission", "incidence", "phase", "lat", "lat_pc", "lon")}
    n_on = n_off = 0
    grazing = []
    for ln, s in _reference_pixels(bp):
        ray = _ik_ray(frame, s, ln)
        with sp.no_found_check():
            spoint, _, srfvec, found = sp.sincpt("ELLIPSOID", "IO", et, "IAU_IO", "LT+S", "JUNO", frame, ray)
        mine = bool(bp["on_disk"][ln, s])
        if found != mine:
            grazing.append((ln, s, bp["limb_distance_px"][ln, s]))
            continue
        if not found:
            n_off += 1
            assert all(
                np.isnan(bp[name][ln, s]) for name in ("lat_deg", "lon_w_deg", "emission_deg", "range_km")
            )
            continue
        n_on += 1
        _, _, phase, inc, emi = sp.ilumin("ELLIPSOID", "IO", et, "IAU_IO", "LT+S", "JUNO", spoint)
        lon, lat, _ = sp.recpgr("IO", spoint, a, f)
        _, lon_c, lat_c = sp.reclat(spoint)
        point = iobody.surface_point_from_lat_pc(bp["lat_pc_deg"][ln, s], bp["lon_w_deg"][ln, s], geo.body)
        worst["point"] = max(worst["point"], float(np.linalg.norm(point - spoint)))
        worst["range"] = max(worst["range"], abs(np.linalg.norm(srfvec) - bp["range_km"][ln, s]))
        for key, ref, name in (
            ("emission", emi, "emission_deg"),
            ("incidence", inc, "incidence_deg"),
            ("phase", phase, "phase_deg"),
            ("lat", lat, "lat_deg"),
            ("lat_pc", lat_c, "lat_pc_deg"),
        ):
            worst[key] = max(worst[key], abs(math.degrees(ref) - bp[name][ln, s]))
        dlon = (math.degrees(lon) - bp["lon_w_deg"][ln, s] + 180.0) % 360.0 - 180.0
        worst["lon"] = max(worst["lon"], abs(dlon) * math.cos(lat))
        assert bp["pixel_scale_km"][ln, s] == pytest.approx(
            bp["range_km"][ln, s] * geo.camera(frame).ifov_rad
        )
    return bp, worst, n_on, n_off, grazing


@pytest.mark.parametrize(
    ("time_utc", "frame", "expect_off"),
    [
        (sc.T_CLOSE_LIMB, "JUNO_JIRAM_I_MBAND", True),
        (sc.T_CLOSE_NADIR, "JUNO_JIRAM_I_LBAND", False),
        (sc.T_FAR, "JUNO_JIRAM_I_MBAND", True),
        (sc.T_FAR_GAP, "JUNO_JIRAM_I_LBAND", True),
        (sc.T_FAR_GAP, "JUNO_JIRAM_I_MBAND", True),
    ],
)
def test_every_backplane_matches_sincpt_ilumin(geo, time_utc, frame, expect_off):
    bp, worst, n_on, n_off, grazing = _compare_with_spice(geo, time_utc, frame)
    assert n_on > 50
    assert (n_off > 50) == expect_off
    # on-disk agreement is exact except rays grazing the limb within ~1e-6 of the radius (≪ 0.01 px here)
    assert all(abs(d) < 0.01 for _, _, d in grazing), grazing
    assert len(grazing) <= 2
    assert worst["point"] < POINT_TOL_KM, worst
    assert worst["range"] < POINT_TOL_KM, worst
    for key in ("emission", "incidence", "phase", "lat", "lat_pc", "lon"):
        assert worst[key] < ANGLE_TOL_DEG, (key, worst)
    assert bp.meta["provider"] == "spice" and bp.meta["abcorr"] == "LT+S" and bp.meta["frame"] == frame


def test_limb_distance_sign_follows_on_disk(geo):
    bp = geo.backplanes(sc.T_CLOSE_LIMB, "JUNO_JIRAM_I_MBAND")
    d, on = bp["limb_distance_px"], bp.on_disk
    assert np.all(d[on] > -0.01) and np.all(d[~on] < 0.01)
    assert on.any() and (~on).any()


@pytest.mark.parametrize("time_utc", [sc.T_CLOSE_LIMB, sc.T_FAR])
def test_limb_conic_reproduces_limb_distance(geo, time_utc):
    """The limb fit takes the backplanes' conic as the predicted limb: it must be the curve
    limb_distance_px (light time of the limb, aberration) measures the distance to."""
    from ioscan.geometry.limbfit import _conic_distance

    bp = geo.backplanes(time_utc, "JUNO_JIRAM_I_MBAND")
    ll, ss = np.mgrid[0 : bp.shape[0], 0 : bp.shape[1]]
    pts = np.column_stack([ss.ravel(), ll.ravel()]).astype(float)
    d = _conic_distance(bp.limb_conic_px, pts)[0].reshape(bp.shape)
    assert np.allclose(d, bp["limb_distance_px"], atol=1e-6)


def test_pixel_axes_follow_the_declared_convention(geo):
    """The kernels hold no pixel-axis keyword (the IK has only keywords known from NAIF's): the camera's
    mapping is JIRAM's declared one, lines along −X and samples along −Y, which sincpt confirms pixel by
    pixel."""
    frame = "JUNO_JIRAM_I_LBAND"
    code = sp.bods2c(frame)
    for name in ("SAMPLE_AXIS", "LINE_AXIS", "CCD_CENTER"):
        with sp.no_found_check():
            assert not sp.dtpool(f"INS{code}_{name}")[-1]
    cam = geo.camera(frame)
    assert cam.sample_axis == (0.0, -1.0, 0.0) and cam.line_axis == (-1.0, 0.0, 0.0)
    assert cam.pixel_axes.mirrored
    bp = geo.backplanes(sc.T_CLOSE_NADIR, frame)
    et = sp.str2et(sc.T_CLOSE_NADIR)
    cs, cl = BAND_CENTER
    for ds, dl in ((150, 0), (0, 40), (-150, -40)):
        s, ln = int(cs + 0.5) + ds, int(cl + 0.5) + dl
        spoint = sp.sincpt("ELLIPSOID", "IO", et, "IAU_IO", "LT+S", "JUNO", frame, _ik_ray(frame, s, ln))[0]
        lon, lat, _ = sp.recpgr("IO", spoint, geo.body.a_km, geo.body.flattening)
        assert bp["lat_deg"][ln, s] == pytest.approx(math.degrees(lat), abs=1e-6)
        assert bp["lon_w_deg"][ln, s] == pytest.approx(math.degrees(lon), abs=1e-6)
    # the mirrored pixel (sample axis flipped) sees a place ~12 km away: the check above can fail
    ln0, s0 = int(cl + 0.5), int(cs + 0.5)
    right = iobody.surface_point_from_lat_pg(bp["lat_deg"][ln0, s0 + 150], bp["lon_w_deg"][ln0, s0 + 150])
    left = iobody.surface_point_from_lat_pg(bp["lat_deg"][ln0, s0 - 150], bp["lon_w_deg"][ln0, s0 - 150])
    assert np.linalg.norm(right - left) > 5.0


def test_layouts_override_the_declared_convention(kernel_dir):
    """``layouts`` replaces the registry's pixel layout of a frame (check-convention scores the other sample
    sign with it): samples along +Y mirror the band about its boresight sample."""
    import dataclasses

    from ioscan.instruments import PixelAxes, jiram

    frame = "JUNO_JIRAM_I_LBAND"
    flipped = dataclasses.replace(jiram.DETECTORS[frame], axes=PixelAxes((0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)))
    declared = SpiceGeometry(kernel_dir / "ioscan.tm").backplanes(sc.T_CLOSE_NADIR, frame)
    other = SpiceGeometry(kernel_dir / "ioscan.tm", layouts={frame: flipped})
    assert other.camera(frame).sample_axis == (0.0, 1.0, 0.0)
    mirrored = other.backplanes(sc.T_CLOSE_NADIR, frame)
    for name in ("lat_deg", "incidence_deg", "range_km"):
        assert np.allclose(mirrored[name][:, ::-1], declared[name], atol=1e-7, equal_nan=True)


def test_frame_without_declared_convention_is_refused(geo):
    # JUNO_JIRAM_S is a real frame of NAIF's FK, but no instrument module declares its pixel axes
    with pytest.raises(GeometryError, match="no pixel-axis convention"):
        geo.camera("JUNO_JIRAM_S")


def test_camera_from_ik(geo):
    cam = geo.camera("JUNO_JIRAM_I_MBAND")
    assert (cam.n_samples, cam.n_lines) == (432, 128)
    assert cam.ifov_rad == pytest.approx(0.000237767)
    assert (cam.center_sample, cam.center_line) == (215.5, 63.5)
    shape, _, bore, _, bounds = sp.getfov(-61412, 4)
    assert shape == "RECTANGLE" and np.allclose(bore, cam.boresight)
    # the FOV corners (NAIF's rounded half-angles 0.872° along track, +X, and 2.943° across) are the outer
    # pixel edges of the camera to 0.02 line and 0.25 sample: 128 lines × 432 samples, lines along X
    s, ln, front = cam.project(bounds)
    assert front.all()
    assert np.allclose(np.sort(np.unique(np.round(s, 6))), [-0.5, 431.5], atol=0.25)
    assert np.allclose(np.sort(np.unique(np.round(ln, 6))), [-0.5, 127.5], atol=0.02)
    shifted = geo.camera("JUNO_JIRAM_I_MBAND", pointing_offset_px=(3.0, -2.0))
    assert (shifted.center_sample, shifted.center_line) == (218.5, 61.5)
    full = geo.camera("JUNO_JIRAM_I")
    assert (full.n_samples, full.n_lines, full.center_line) == (432, 266, 132.5)


def test_pointing_offset_shifts_the_disk(geo):
    base = geo.backplanes(sc.T_FAR, "JUNO_JIRAM_I_MBAND")
    moved = geo.backplanes(sc.T_FAR, "JUNO_JIRAM_I_MBAND", pointing_offset_px=(5.0, -3.0))
    assert np.array_equal(base.on_disk[10:120, 10:420], moved.on_disk[7:117, 15:425])
    assert moved.meta["pointing_offset_px"] == (5.0, -3.0)


def test_pose_reproduces_backplanes_within_a_tenth_of_a_pixel(geo):
    frame = "JUNO_JIRAM_I_MBAND"
    bp = geo.backplanes(sc.T_FAR, frame)
    pose = geo.pose(sc.T_FAR, frame)
    approx = backplanes_from_pose(geo.camera(frame), pose)
    both = bp.on_disk & approx.on_disk & (bp["limb_distance_px"] > 2)
    scale = float(np.nanmedian(bp["pixel_scale_km"]))
    p1 = iobody.surface_point_from_lat_pc(bp["lat_pc_deg"][both], bp["lon_w_deg"][both])
    p2 = iobody.surface_point_from_lat_pc(approx["lat_pc_deg"][both], approx["lon_w_deg"][both])
    assert np.max(np.linalg.norm(p1 - p2, axis=-1)) / scale < 0.1
    assert np.sum(bp.on_disk != approx.on_disk) < 0.02 * bp.on_disk.sum()


def test_sub_observer_and_label_geometry(geo):
    et = sp.str2et(sc.T_FAR)
    lat, lon, rng = geo.sub_observer(sc.T_FAR)
    far = next(o for o in sc.observations() if o.time_utc == sc.T_FAR)
    # NEAR POINT: the planned (geometric) observer lies on the surface normal of the sub-observer point, up to
    # light-time and aberration shifts (< 1e-3 rad at 300,000 km)
    point = iobody.surface_point_from_lat_pg(lat, lon)
    normal = iobody.surface_normal(point)
    to_obs = far.observer_km - point
    assert math.degrees(math.acos(normal @ to_obs / np.linalg.norm(to_obs))) < 0.06
    assert rng == pytest.approx(np.linalg.norm(sp.spkpos("IO", et, "J2000", "LT+S", "JUNO")[0]))
    geom = geo.label_geometry(sc.T_FAR, "JUNO_JIRAM_I_MBAND")
    # pointed by the planner with the M band boresight on Io's centre and north at PA = twist
    assert geom.disk_center_sample == pytest.approx(215.5, abs=1.5)
    assert geom.disk_center_line == pytest.approx(63.5, abs=1.5)
    assert (geom.north_pa_deg - sc.FAR_TWIST_DEG + 180) % 360 - 180 == pytest.approx(0.0, abs=0.05)
    assert geom.pixel_scale_km == pytest.approx(rng * 0.000237767)


def test_label_provider_agrees_with_spice_on_a_far_frame(geo):
    """Label geometry computed by SPICE, fed to the label provider: < 0.05 px-equivalent on the disk.

    Justification: the label model differs from sincpt only by aberration/light-time details (~1e-3 px at
    300,000 km) and by placing the optical axis through the disk centre (the planner put it there).
    """
    frame = "JUNO_JIRAM_I_MBAND"
    spice_bp = geo.backplanes(sc.T_FAR, frame)
    geom = geo.label_geometry(sc.T_FAR, frame)
    label_bp = backplanes_from_label(geom, 432, 128, time_utc=sc.T_FAR, axes=jiram.PIXEL_AXES)
    inner = spice_bp.on_disk & label_bp.on_disk & (spice_bp["limb_distance_px"] > 1.5)
    assert inner.sum() > 1000
    p1 = iobody.surface_point_from_lat_pg(spice_bp["lat_deg"][inner], spice_bp["lon_w_deg"][inner])
    p2 = iobody.surface_point_from_lat_pg(label_bp["lat_deg"][inner], label_bp["lon_w_deg"][inner])
    err_px = np.linalg.norm(p1 - p2, axis=-1) / geom.pixel_scale_km
    assert err_px.max() < 0.05, err_px.max()
    # the limb (disk size and place) agrees too
    assert np.sum(spice_bp.on_disk != label_bp.on_disk) <= 0.02 * spice_bp.on_disk.sum()
    # angles differ by what the position difference implies (|ΔP|/R rad at most) plus < 0.002°
    allowed = np.degrees(np.linalg.norm(p1 - p2, axis=-1) / 1815.0) + 0.002
    for name in ("incidence_deg", "emission_deg", "phase_deg"):
        assert np.all(np.abs(spice_bp[name][inner] - label_bp[name][inner]) < allowed), name


def test_kernels_load_once_and_set_moves(kernel_dir, tmp_path):
    key = load_kernels(kernel_dir / "ioscan.tm")
    n = sp.ktotal("ALL")
    assert load_kernels(kernel_dir / "ioscan.tm") == key and sp.ktotal("ALL") == n
    moved = tmp_path / "moved"
    shutil.copytree(kernel_dir, moved)
    geo2 = SpiceGeometry(moved / "ioscan.tm")  # relative PATH_VALUES resolve in the new place
    lat, _, _ = geo2.sub_observer(sc.T_FAR)
    assert np.isfinite(lat)
    unload_kernels()
    assert sp.ktotal("ALL") == 0


# ----------------------------------------------------------------------------------------------- bad input
def test_missing_metakernel(tmp_path):
    with pytest.raises(GeometryError, match="does not exist"):
        SpiceGeometry(tmp_path / "nope.tm")


def test_metakernel_listing_a_missing_file(kernel_dir, tmp_path):
    bad = tmp_path / "set"
    shutil.copytree(kernel_dir, bad)
    (bad / "ioscan_natural.bsp").unlink()
    with pytest.raises(GeometryError, match="ioscan_natural.bsp"):
        SpiceGeometry(bad / "ioscan.tm")


def test_unreadable_kernel(kernel_dir, tmp_path):
    bad = tmp_path / "set"
    shutil.copytree(kernel_dir, bad)
    (bad / "ioscan_juno.bsp").write_bytes(b"DAF/SPK " + bytes(range(256)) * 8)  # a damaged binary kernel
    with pytest.raises(GeometryError, match="loading kernels"):
        SpiceGeometry(bad / "ioscan.tm")
    assert sp.ktotal("ALL") == 0  # nothing half-loaded stays in the pool


def test_time_outside_coverage(geo):
    with pytest.raises(GeometryError, match="2024-02-03T12:00:00"):
        geo.backplanes("2024-02-03T12:00:00", "JUNO_JIRAM_I_MBAND")  # no Juno SPK/CK there
    with pytest.raises(GeometryError, match="2030-01-01"):
        geo.sub_observer("2030-01-01T00:00:00")


def test_bad_time_string(geo):
    with pytest.raises(GeometryError, match="bad time"):
        geo.backplanes("yesterday-ish", "JUNO_JIRAM_I_MBAND")


def test_unknown_frame(geo):
    with pytest.raises(GeometryError, match="JUNO_JIRAM_X"):
        geo.backplanes(sc.T_FAR, "JUNO_JIRAM_X")


def test_observer_inside_body(geo):
    with pytest.raises(GeometryError, match="inside"):
        geo.backplanes(sc.T_INSIDE, "JUNO_JIRAM_I_MBAND")


def test_frame_inputs_asked_of_spice_once_per_band_and_epoch(geo, monkeypatch):
    """A navigation asks for a band's inputs several times (backplanes and pose, again when it re-points):
    SPICE is queried once per band and epoch, and the kept inputs are those a fresh query gives."""
    calls = []
    pxform = sp.pxform

    def counted(*args):
        calls.append(args[0])
        return pxform(*args)

    monkeypatch.setattr(sp, "pxform", counted)
    bands = ("JUNO_JIRAM_I_MBAND", "JUNO_JIRAM_I_LBAND")
    for _ in range(3):
        kept = {band: geo.frame_inputs(sc.T_FAR, band) for band in bands}
        geo.pose(sc.T_FAR, bands[0])
    assert sorted(calls) == sorted(bands)
    fresh = SpiceGeometry(geo.metakernel)
    for band in bands:
        new = fresh.frame_inputs(sc.T_FAR, band)
        for name, value in vars(kept[band]).items():
            assert np.array_equal(value, getattr(new, name)), (band, name)
    # another epoch asks again, and a band's inputs are those of the epoch asked for
    calls.clear()
    assert geo.frame_inputs(sc.T_CLOSE_LIMB, bands[0]).et == geo.et(sc.T_CLOSE_LIMB)
    assert geo.frame_inputs(sc.T_FAR, bands[1]).et == geo.et(sc.T_FAR)
    assert calls == [bands[0], bands[1]]


def test_sun_occultation_asked_of_spice_once_per_epoch(geo, monkeypatch):
    """Every band of a frame, predicted and re-pointed, asks for the Sun's occultation at the same target
    epoch: SPICE's ``occult`` once per epoch, and the kept code is the one a fresh query gives."""
    calls = []
    occult = sp.occult

    def counted(*args):
        calls.append(args[-1])
        return occult(*args)

    monkeypatch.setattr(sp, "occult", counted)
    bands = ("JUNO_JIRAM_I_MBAND", "JUNO_JIRAM_I_LBAND")
    w = geo.pointing_correction(sc.T_FAR, bands[0], (200.0, 60.0), (3.0, -2.0))
    made = [geo.backplanes(sc.T_FAR, b, pointing_correction_j2000=c) for c in (None, w) for b in bands]
    assert len(calls) == 1
    inp = geo.frame_inputs(sc.T_FAR, bands[0])
    fresh = SpiceGeometry(geo.metakernel).sun_occultation(inp.et - inp.lt_s)
    assert all(bp.meta["sun_occulted_by_jupiter"] == fresh for bp in made)
    calls.clear()
    geo.backplanes(sc.T_CLOSE_LIMB, bands[0])  # another epoch asks again
    assert len(calls) == 1


def _umbra_by_angles(et: float) -> bool:
    """Io's centre in Jupiter's umbra by plain vector geometry (independent of ``occult``): seen from Io, the
    Sun's centre lies within Jupiter's equatorial angular radius less the Sun's angular radius of Jupiter's
    centre (Io's orbit is near Jupiter's equator, where its equatorial radius is the one that counts)."""
    import spiceypy as sp

    sun, _ = sp.spkpos("SUN", et, "J2000", "LT", "IO")
    jup, _ = sp.spkpos("JUPITER", et, "J2000", "LT", "IO")
    r_sun = sp.bodvrd("SUN", "RADII", 3)[1][0]
    r_jup = sp.bodvrd("JUPITER", "RADII", 3)[1][0]
    sep = math.acos(np.clip(np.dot(sun, jup) / (np.linalg.norm(sun) * np.linalg.norm(jup)), -1.0, 1.0))
    return sep < math.asin(r_jup / np.linalg.norm(jup)) - math.asin(r_sun / np.linalg.norm(sun))


def test_jupiters_shadow_is_known_to_the_backplanes(tmp_path):
    """The provider's ``sun_occultation`` says Io is in Jupiter's umbra (−3) exactly when plain vector
    geometry does, over two days of the kernels at 2-min steps (Io's eclipse, ~2.2 h of its 42.5-h orbit, is
    in them); backplanes made in the umbra say so (no pixel sunlit,
    :func:`ioscan.detect.shading.sunlit_mask`), outside it the incidence decides as before."""
    import spiceypy as sp

    from ioscan.detect.shading import sunlit_mask

    stop = "2024-02-05T00:00:00"  # two days: Io's 42.5-h orbit, its eclipse in it
    write_kernel_set(tmp_path, sc.observations(), start_utc=sc.START_UTC, stop_utc=stop)
    geo = SpiceGeometry(tmp_path / "ioscan.tm")
    geo.backplanes(sc.T_FAR, "JUNO_JIRAM_I_MBAND")  # the kernels loaded
    et0, et1 = sp.str2et(sc.START_UTC), sp.str2et(stop)
    ets = np.arange(et0 + 60.0, et1 - 60.0, 120.0)
    codes = np.array([geo.sun_occultation(et) for et in ets])
    by_angles = np.array([_umbra_by_angles(et) for et in ets])
    assert set(codes.tolist()) <= {0, -1, -3}
    assert by_angles.sum() > 30  # an eclipse (> 1 h) in the day
    assert np.sum((codes == -3) != by_angles) <= 2  # the two agree but at the umbra's edges
    out = geo.backplanes(sc.T_FAR, "JUNO_JIRAM_I_MBAND")
    assert out.in_jupiter_shadow == (out.meta["sun_occulted_by_jupiter"] == -3)
    dark = dataclasses.replace(out, meta={**out.meta, "sun_occulted_by_jupiter": -3})
    assert dark.in_jupiter_shadow and not sunlit_mask(dark).any()
    lit = dataclasses.replace(out, meta={**out.meta, "sun_occulted_by_jupiter": 0})
    assert np.array_equal(sunlit_mask(lit), out.on_disk & (np.asarray(out["incidence_deg"]) < 90.0))
