"""Campaign: products, kernels and truth written consistently; geometry and readers agree with the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan import body as iobody
from ioscan.formats import read_product
from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.geometry.pose import backplanes_from_pose
from ioscan.instruments import jiram
from ioscan.simulate.campaign import (
    FramePlan,
    band_pose,
    perijove_utc,
    plan_campaign,
    recorded_jiram_to_body,
    simulate_campaign,
    simulate_frame,
    true_jiram_to_body,
)
from ioscan.simulate.ephemeris import sun_position_body
from ioscan.simulate.render_jiram import jiram_band_camera


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    out = tmp_path_factory.mktemp("campaign")
    return simulate_campaign(out, orbits=2, seed=3, frames_per_orbit=3, ground_nights=1, ground_pixels=256)


def _plan(**kw) -> FramePlan:
    base = dict(
        product_id="JIR_IMG_RDR_2022152T161319_V01",
        orbit=43,
        mode="I1",
        time_utc="2022-06-01T16:13:19",
        exposure_s=0.02,
        observer_km=np.array([60_000.0, 20_000.0, 15_000.0]),
        observer_velocity_km_s=np.array([0.0, 10.0, 0.0]),
        twist_deg=30.0,
        pointing_error_deg=(0.8, 0.02),
        seed=11,
    )
    base.update(kw)
    return FramePlan(**base)


def _sep_px(lat1, lon1, lat2, lon2, scale_km):
    p1 = iobody.surface_point_from_lat_pg(lat1, lon1)
    p2 = iobody.surface_point_from_lat_pg(lat2, lon2)
    return np.linalg.norm(p1 - p2, axis=-1) / scale_km


def test_perijove_dates():
    assert perijove_utc(5).startswith("2017-03-27")
    assert perijove_utc(57).startswith("2023-12-30") and perijove_utc(58).startswith("2024-02-03")
    assert (
        50 < (np.datetime64(perijove_utc(6)) - np.datetime64(perijove_utc(5))) / np.timedelta64(1, "D") < 56
    )


def test_plan_is_deterministic_from_seed():
    a, b, c = plan_campaign(3, 5), plan_campaign(3, 5), plan_campaign(3, 6)
    assert [p.product_id for p in a] == [p.product_id for p in b]
    assert all(np.array_equal(p.observer_km, q.observer_km) for p, q in zip(a, b, strict=True))
    assert [p.product_id for p in a] != [p.product_id for p in c]
    assert {p.orbit for p in plan_campaign(3, 5)} == {5, 43, 57}


def test_truth_positions_project_back_through_backplanes():
    plan = _plan()
    f = simulate_frame(plan, population_seed=3, noise=False)
    sun = sun_position_body(plan.time_utc)
    cam = jiram_band_camera()
    n_checked = 0
    for band in ("L", "M"):
        bp = backplanes_from_pose(cam, band_pose(plan, band, true_jiram_to_body(plan), sun))
        rows = f.truth[f.truth.band == band]
        for r in rows.itertuples():
            s, ln = r.sample, r.band_line
            if not (1 <= s <= cam.n_samples - 2 and 1 <= ln <= cam.n_lines - 2):
                continue
            # bilinear interpolation of the backplanes is the yardstick: keep away from the limb
            if not np.all(bp.on_disk[int(ln) : int(ln) + 2, int(s) : int(s) + 2]) or r.emission_deg > 60:
                continue
            lat, lon = bp.value_at("lat_deg", s, ln), bp.value_at("lon_w_deg", s, ln)
            scale = bp.value_at("pixel_scale_km", s, ln)
            assert _sep_px(lat, lon, r.lat_deg, r.lon_w_deg, scale) < 0.1
            n_checked += 1
    assert n_checked > 30


def test_an_eclipsed_io_shows_its_hot_spots_without_sunlight():
    """Io in Jupiter's umbra (2024-02-04 07:00–09:05 UTC in the simulator's ephemeris): a frame of the
    sub-Jupiter (sunward) hemisphere shows no reflected light — its disk only the cold surface's emission,
    < 0.1 % of the same view in sunlight 3 h earlier — while its hot spots shine as before."""
    lit = simulate_frame(
        _plan(time_utc="2024-02-04T05:00:00", observer_km=np.array([60_000.0, 0, 0])),
        population_seed=3,
        noise=False,
    )
    dark = simulate_frame(
        _plan(time_utc="2024-02-04T08:00:00", observer_km=np.array([60_000.0, 0, 0])),
        population_seed=3,
        noise=False,
    )
    assert lit.frame_row["sunlight_fraction"] == 1.0 and dark.frame_row["sunlight_fraction"] == 0.0
    for band in ("L", "M"):
        a, b = lit.bands[band], dark.bands[band]
        disk = a.noiseless > 0.05 * np.percentile(a.noiseless, 99)
        assert disk.sum() > 2000  # the sunlit disk fills much of the band
        away = disk & ~_near_spots(b.spots, disk.shape)
        assert np.median(b.noiseless[away]) < 1e-3 * np.median(a.noiseless[away])
        seen = a.spots.visible.to_numpy() & b.spots.visible.to_numpy()
        assert seen.sum() >= 3
        ratio = b.spots.band_intensity_w_sr.to_numpy()[seen] / a.spots.band_intensity_w_sr.to_numpy()[seen]
        assert np.allclose(ratio, 1.0, rtol=0.05)


def _near_spots(spots, shape, radius_px: float = 6.0) -> np.ndarray:
    """Pixels within ``radius_px`` of a visible hot spot's position."""
    ll, ss = np.mgrid[: shape[0], : shape[1]]
    near = np.zeros(shape, bool)
    for r in spots[spots.visible].itertuples():
        near |= np.hypot(ss - r.sample, ll - r.line) <= radius_px
    return near


def test_pointing_error_moves_scene_along_track_by_the_angle():
    """Along track is +X of the imager frames (the spin direction), i.e. along the lines (−X): a +1.5° error
    moves the scene toward +X, 1.5° of lines toward line 0; a cross-track error moves it along the samples."""
    plan = _plan(pointing_error_deg=(1.5, 0.0), twist_deg=0.0)
    f = simulate_frame(plan, population_seed=3, noise=False)
    shift = f.frame_row["M_pointing_error_line_px"]
    assert shift == pytest.approx(-np.radians(1.5) / jiram.IFOV_RAD, rel=0.01)
    assert abs(f.frame_row["M_pointing_error_sample_px"]) < 1.0
    assert not np.allclose(recorded_jiram_to_body(plan), true_jiram_to_body(plan))
    plan = _plan(pointing_error_deg=(0.0, 0.1), twist_deg=0.0)
    across = simulate_frame(plan, population_seed=3, noise=False)
    # +0.1° toward +Y; samples run along −Y
    assert across.frame_row["M_pointing_error_sample_px"] == pytest.approx(
        -np.radians(0.1) / jiram.IFOV_RAD, rel=0.01
    )
    assert abs(across.frame_row["M_pointing_error_line_px"]) < 0.1


def test_pointing_errors_drawn_mostly_along_track():
    from ioscan.simulate.campaign import draw_pointing_error_deg

    rng = np.random.default_rng(0)
    draws = np.array([draw_pointing_error_deg(rng) for _ in range(2000)])
    along, across_px = draws[:, 0], draws[:, 1] / np.degrees(jiram.IFOV_RAD)
    assert np.abs(along).max() <= 2.0 and 0.6 < along.std() < 0.75
    assert np.abs(across_px).max() <= 5.0 and 1.7 < across_px.std() < 2.1
    uniform = np.array([draw_pointing_error_deg(rng, "uniform")[0] for _ in range(2000)])
    assert np.abs(uniform).max() <= 2.0 and uniform.std() > 1.0


def test_frame_round_trip_through_reader_is_bit_exact(tmp_path):
    f = simulate_frame(_plan(mode="I1"), population_seed=3, out_dir=tmp_path)
    frame = read_product(f.label_path)
    data = np.concatenate([frame.bands["L"].data, frame.bands["M"].data], axis=0)
    assert data.dtype == np.float32 and np.array_equal(data.view(np.uint32), f.image.view(np.uint32))
    assert frame.exposure_s == pytest.approx(0.02) and frame.mode == "I1" and frame.orbit == 43


def test_campaign_writes_everything_and_pdr_parses_labels(campaign):
    import pdr

    assert campaign.metakernel.is_file()
    assert campaign.n_jiram == 6 and campaign.n_ground == 3
    assert all(p.is_file() for p in campaign.paths)
    truth = pd.read_parquet(campaign.truth_parquet)
    assert len(truth) == len(pd.read_csv(campaign.truth_csv)) > 100
    for col in (
        "lat_deg",
        "lon_w_deg",
        "sample",
        "line",
        "temp1_k",
        "area1_km2",
        "band_radiance_w_m2_sr",
        "spectral_intensity_gw_um_sr",
        "snr",
        "pointing_error_sample_px",
    ):
        assert col in truth.columns
    for p in campaign.paths:
        if p.suffix == ".LBL":
            data = pdr.read(str(p))
            img = data["IMAGE"]
            frame = read_product(p)
            assert img.shape[1] == 432 and np.array_equal(
                np.asarray(img, dtype=np.float32).ravel()[:1000],
                np.concatenate([b.data for b in frame.bands.values()]).ravel()[:1000],
            )
        else:
            assert read_product(p).label_geometry is not None


def test_ground_truth_agrees_with_label_geometry(campaign):
    truth = pd.read_parquet(campaign.truth_parquet)
    fits = [p for p in campaign.paths if p.suffix == ".fits"][0]
    frame = read_product(fits)
    geom = frame.label_geometry
    rows = truth[truth.product_id == frame.product_id]
    assert len(rows) > 50
    ny, nx = next(iter(frame.bands.values())).data.shape
    bp = backplanes_from_label(geom, nx, ny)
    checked = 0
    for r in rows.itertuples():
        s, ln = r.sample, r.line
        if bp.on_disk[int(ln) : int(ln) + 2, int(s) : int(s) + 2].all() and r.emission_deg < 60:
            lat, lon = bp.value_at("lat_deg", s, ln), bp.value_at("lon_w_deg", s, ln)
            assert _sep_px(lat, lon, r.lat_deg, r.lon_w_deg, geom.pixel_scale_km) < 0.1
            checked += 1
    assert checked > 20


def test_jiram_truth_agrees_with_spice_geometry(campaign):
    """Campaign truth agrees with SpiceGeometry on the written kernels, once the recorded pointing error is
    applied as the optical-centre offset a registration would find."""
    from ioscan.geometry.spice_provider import SpiceGeometry

    truth = pd.read_parquet(campaign.truth_parquet)
    geo = SpiceGeometry(campaign.metakernel)
    checked = 0
    for _pid, rows in truth[truth.instrument == "JIRAM"].groupby("product_id"):
        r0 = rows.iloc[0]
        if abs(r0.pointing_error_line_px) > 60:  # keep the small-angle offset model accurate
            continue
        for band, rb in rows.groupby("band"):
            frame_name = jiram.BANDS[band].spice_frame
            bp = geo.backplanes(
                r0.time_utc,
                frame_name,
                pointing_offset_px=(r0.pointing_error_sample_px, r0.pointing_error_line_px),
            )
            for r in rb.itertuples():
                s, ln = r.sample, r.band_line
                if not bp.on_disk[int(ln) : int(ln) + 2, int(s) : int(s) + 2].all() or r.emission_deg > 60:
                    continue
                lat, lon = bp.value_at("lat_deg", s, ln), bp.value_at("lon_w_deg", s, ln)
                assert _sep_px(lat, lon, r.lat_deg, r.lon_w_deg, bp.value_at("pixel_scale_km", s, ln)) < 0.5
                checked += 1
    assert checked > 10


def test_a_world_with_the_other_sample_sign_renders_mirrored():
    """``pixel_axes`` renders a world whose true samples run along +Y: the same scene, mirrored about the
    boresight's sample 215.5, while the label keeps ioscan's declared geometry (with a perfect flat field: the
    residual flat belongs to the detector, which the mirrored world does not mirror)."""
    from ioscan.instruments import PixelAxes
    from ioscan.simulate.flatfield import FlatField
    from ioscan.simulate.render_jiram import JiramDetector

    plus_y = PixelAxes((0.0, 1.0, 0.0), (-1.0, 0.0, 0.0))
    plan = _plan(mode="I2", pointing_error_deg=(0.3, 0.0))
    det = JiramDetector(flat=FlatField(pixel_rms=0.0, column_rms=0.0))
    a = simulate_frame(plan, population_seed=3, noise=False, artefacts=False, detector=det)
    b = simulate_frame(plan, population_seed=3, noise=False, artefacts=False, pixel_axes=plus_y, detector=det)
    assert np.allclose(b.image[:, ::-1], a.image, rtol=1e-5, atol=1e-9 * np.nanmax(a.image))
    ta, tb = a.truth.set_index("hot_spot_id"), b.truth.set_index("hot_spot_id")
    common = ta.index.intersection(tb.index)
    assert len(common) > 5
    assert np.allclose(tb.loc[common, "sample"], 431.0 - ta.loc[common, "sample"], atol=1e-6)
    assert np.allclose(tb.loc[common, "line"], ta.loc[common, "line"], atol=1e-6)


def test_an_eclipsed_frame_is_scanned_as_dark(tmp_path):
    """End to end: a JIRAM frame of the sunward hemisphere taken in Jupiter's umbra, written with its
    kernels and read back. ioscan's SPICE geometry says the Sun is occulted (the simulator's eclipse and
    CSPICE's ``occult`` agree), detection treats the disk as dark (no shading template), finds the bright
    hot spots and nothing else (cosmic-ray hits flagged as such)."""
    import dataclasses

    from ioscan.detect import detect_frame
    from ioscan.geometry.navigate import navigate_frame, register_on_limb
    from ioscan.settings import Settings
    from ioscan.simulate import ephemeris as eph
    from ioscan.simulate.kernels import write_kernel_set

    plan = _plan(
        product_id="JIR_IMG_RDR_2024035T080000_V01",
        orbit=58,
        time_utc="2024-02-04T08:00:00",
        observer_km=np.array([150_000.0, 10_000.0, 20_000.0]),
        pointing_error_deg=(0.0, 0.0),
    )
    obs = [
        eph.PlannedObservation(
            plan.time_utc, plan.observer_km, plan.observer_velocity_km_s, recorded_jiram_to_body(plan)
        )
    ]
    mk = write_kernel_set(
        tmp_path / "kernels", obs, start_utc="2024-02-04T06:00:00", stop_utc="2024-02-04T10:00:00"
    )
    names = sorted(p.name for p in (tmp_path / "kernels").iterdir() if p.name != mk.name)
    sim = simulate_frame(
        plan, population_seed=3, out_dir=tmp_path / "jiram", spice_file_names=names, metakernel=mk
    )
    assert sim.frame_row["sunlight_fraction"] == 0.0
    frame = read_product(sim.label_path)
    nav = navigate_frame(frame, kernels=mk, register=False)
    register_on_limb(frame, nav)
    assert nav.backplanes and all(bp.in_jupiter_shadow for bp in nav.backplanes.values())
    config = dataclasses.replace(Settings().detect, pointing_error_px=nav.detection_error_px)
    found = detect_frame(frame, nav.backplanes, config=config)
    from ioscan.records.detection import DetectionFlag

    rejected = DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT | DetectionFlag.OFF_DISK
    det = pd.DataFrame(
        [(d.band, d.sample, d.line) for d in found.detections if not d.flags & rejected],
        columns=["band", "sample", "line"],
    )
    truth = sim.truth
    bright = truth[truth.snr >= 10]
    assert len(bright) >= 5

    def nearest_px(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
        """Distance (px) from each row of ``a`` to the nearest row of ``b`` in the same band."""
        out = np.full(len(a), np.inf)
        for band, rows in a.groupby("band"):
            other = b[b.band == band]
            if len(other):
                d = np.hypot(
                    rows["sample"].to_numpy()[:, None] - other["sample"].to_numpy(),
                    rows["line"].to_numpy()[:, None] - other["line"].to_numpy(),
                )
                out[a.index.get_indexer(rows.index)] = d.min(axis=1)
        return out

    assert np.mean(nearest_px(bright.reset_index(drop=True), det) <= 1.5) >= 0.9
    assert np.sum(nearest_px(det, truth.reset_index(drop=True)) > 2.0) == 0
