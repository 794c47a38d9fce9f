"""A Juno-like JIRAM campaign plus ground-based AO nights, written as real-format products with known truth.

Plan (deterministic from ``seed``):

* perijove dates: piecewise-linear in the orbit number through PJ5 2017-03-27, PJ33 2021-04-15,
  PJ57 2023-12-30 and PJ58 2024-02-03 (≈ 53 d orbits, then ≈ 41 d, ≈ 35 d after PJ58);
* each orbit has an Io encounter a few hours before perijove, flown as a straight line past Io (Jupiter's
  gravity ignored over the hours of an encounter) with closest approach :func:`closest_approach_km` (≈ 1,500
  km at PJ57/58, tens of thousands of km late in the mission, 100,000–400,000 km early on); frames are spread
  along it at ranges up to 3× closest approach (≤ 400,000 km);
* JIRAM points its band's boresight at Io's centre (:func:`ioscan.simulate.ephemeris.point_at_io`) with a
  random twist; the **true** attitude adds a pointing error (:func:`draw_pointing_error_deg`: along track,
  the spin direction, which is the line axis under NAIF's real frames (``docs/jiram_conventions.md``;
  the registry's ``JIRAM.pointing.along_track_axis``), a Gaussian of σ 0.7° clipped at ±2°; across track
  σ 2 px clipped at ±5 px); kernels (:func:`ioscan.simulate.kernels.write_kernel_set`) and labels record the
  **reconstructed** attitude, the image is rendered with the true one;
* modes I1/I2/I3, exposures log-uniform in 5–300 ms;
* ground nights: Keck NIRC2-like frames (Lp, Ms, Kc), geometry from the analytic ephemeris (Earth–Io
  distance, sub-observer and sub-solar points) written as FITS label-geometry keywords; rendered with
  exactly the pose that :func:`ioscan.geometry.label_provider.pose_from_label` builds from those keywords.

Campaign frames are rendered from the kernels' apparent (SPICE ``LT+S``) pose, so truth positions agree with
what :class:`ioscan.geometry.spice_provider.SpiceGeometry` computes; single frames without kernels use the
geometric plan (the difference is below ~1 pixel).
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ioscan import body as iobody
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.pose import CameraPose
from ioscan.instruments import PixelAxes, jiram, nirc2
from ioscan.records import LabelGeometry
from ioscan.simulate import ephemeris as eph
from ioscan.simulate.population import HotSpotPopulation, PopulationConfig
from ioscan.simulate.render_jiram import (
    BandRender,
    JiramDetector,
    assemble_mode,
    jiram_band_camera,
    render_band,
)
from ioscan.simulate.scene import KM2_TO_M2, SurfaceModel

PERIJOVE_ANCHORS: tuple[tuple[int, str], ...] = (
    (5, "2017-03-27T08:51:00"),
    (33, "2021-04-15T23:32:00"),
    (57, "2023-12-30T06:35:00"),
    (58, "2024-02-03T21:47:00"),
)
ORBIT_PERIOD_EARLY_D = 53.5
ORBIT_PERIOD_LATE_D = 33.0
#: orbits taken first when ``orbits`` is a count: early, late, the close flybys, then the rest
REPRESENTATIVE_ORBITS = (57, 5, 43, 58, 20, 49, 33, 11, 53, 27, 41, 60, 9, 47, 17, 55, 25, 37, 51, 62, 14, 45)
GROUND_FILTERS = ("Lp", "Ms", "Kc")
MAX_RANGE_KM = 400_000.0
CLOSE_RANGE_KM = 12_000.0


@dataclass
class CampaignResult:
    """Paths written by :func:`simulate_campaign`."""

    paths: list[Path]
    metakernel: Path
    truth_csv: Path
    truth_parquet: Path
    frames_csv: Path | None = None
    n_jiram: int = 0
    n_ground: int = 0


@dataclass
class FramePlan:
    """One planned JIRAM frame (all angles in degrees, positions IAU_IO km)."""

    product_id: str
    orbit: int
    mode: str
    time_utc: str
    exposure_s: float
    observer_km: np.ndarray
    observer_velocity_km_s: np.ndarray
    twist_deg: float
    pointing_error_deg: tuple[float, float]  # scene shift (along track, across track), degrees
    seed: int
    label_geometry: bool = False
    target_km: np.ndarray = field(default_factory=lambda: np.zeros(3))


@dataclass
class SimulatedFrame:
    """A rendered JIRAM frame: product array, per-band renders, truth rows, written label (if any)."""

    plan: FramePlan
    image: np.ndarray
    bands: dict[str, BandRender]
    truth: pd.DataFrame
    frame_row: dict
    label_path: Path | None = None


# ------------------------------------------------------------------------------------------------- planning
def _parse(t: str) -> datetime:
    return datetime.fromisoformat(t)


def perijove_utc(orbit: int) -> str:
    """Planned perijove time of an orbit (ISO UTC), piecewise linear through :data:`PERIJOVE_ANCHORS`."""
    pts = [(n, _parse(t)) for n, t in PERIJOVE_ANCHORS]
    if orbit <= pts[0][0]:
        t = pts[0][1] - timedelta(days=ORBIT_PERIOD_EARLY_D * (pts[0][0] - orbit))
    elif orbit >= pts[-1][0]:
        t = pts[-1][1] + timedelta(days=ORBIT_PERIOD_LATE_D * (orbit - pts[-1][0]))
    else:
        for (n0, t0), (n1, t1) in zip(pts[:-1], pts[1:], strict=True):
            if n0 <= orbit <= n1:
                t = t0 + (t1 - t0) * ((orbit - n0) / (n1 - n0))
                break
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def closest_approach_km(orbit: int, rng: np.random.Generator) -> float:
    """Io closest-approach distance (from Io's centre) of an orbit's encounter, km (a model of the mission's
    evolution; PJ57/58: 1,400–1,600 km altitude)."""
    if orbit in (57, 58):
        return float(iobody.IO.a_km + rng.uniform(1400.0, 1600.0))
    if orbit < 33:
        return float(10 ** rng.uniform(5.0, 5.5))
    if orbit < 57:  # the orbit slowly walks toward Io
        lo = 10 ** (5.0 - 0.04 * (orbit - 33))
        return float(rng.uniform(lo, 3 * lo))
    return float(10 ** rng.uniform(4.0, 4.8))


def _random_unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def _product_id(t: datetime) -> str:
    return f"JIR_IMG_RDR_{t.strftime('%Y%j')}T{t.strftime('%H%M%S')}_V01"


def _close_target(pos: np.ndarray, targets: np.ndarray | None) -> np.ndarray:
    """The first of ``targets`` (body-fixed km, brightest first) in view from ``pos``, else Io's centre."""
    if targets is None:
        return np.zeros(3)
    facing = np.sum(iobody.surface_normal(targets) * (pos - targets), axis=-1) > 0
    idx = np.flatnonzero(facing)
    return targets[idx[0]].copy() if idx.size else np.zeros(3)


def plan_orbit(
    orbit: int, n_frames: int, rng: np.random.Generator, used: set[str], targets: np.ndarray | None = None
) -> list[FramePlan]:
    """Frames of one orbit's Io encounter (straight-line flyby, see module docstring). Frames closer than
    :data:`CLOSE_RANGE_KM` (where Io overfills the field) point at the brightest visible of ``targets``."""
    pj = _parse(perijove_utc(orbit))
    t_ca = pj - timedelta(hours=float(rng.uniform(2.0, 10.0)))
    d = closest_approach_km(orbit, rng)
    u = _random_unit(rng)
    u[2] *= 0.6  # fewer pole-on encounters
    u /= np.linalg.norm(u)
    speed = float(rng.uniform(15.0, 40.0)) if d < 20_000 else float(rng.uniform(10.0, 25.0))
    v = _random_unit(rng)
    v -= (v @ u) * u
    v = v / np.linalg.norm(v) * speed
    r_max = min(3.0 * d, MAX_RANGE_KM)
    half_span = math.sqrt(max(r_max**2 - d**2, 0.0)) / speed
    offsets = np.sort(rng.uniform(-half_span, half_span, n_frames))
    plans = []
    for dt in offsets:
        t = t_ca + timedelta(seconds=float(np.round(dt)))
        while _product_id(t) in used:  # product IDs have 1-s resolution
            t += timedelta(seconds=1)
        used.add(pid := _product_id(t))
        pos = d * u + v * (t - t_ca).total_seconds()
        mode = str(rng.choice(["I1", "I1", "I2", "I3"]))
        err = draw_pointing_error_deg(rng)
        plans.append(
            FramePlan(
                product_id=pid,
                orbit=orbit,
                mode=mode,
                time_utc=t.strftime("%Y-%m-%dT%H:%M:%S"),
                exposure_s=float(10 ** rng.uniform(np.log10(0.005), np.log10(0.3))),
                observer_km=pos,
                observer_velocity_km_s=v.copy(),
                twist_deg=float(rng.uniform(0, 360)),
                pointing_error_deg=err,
                seed=int(rng.integers(0, 2**31 - 1)),
                label_geometry=(mode != "I1" and orbit < 39),
                target_km=_close_target(pos, targets)
                if np.linalg.norm(pos) < CLOSE_RANGE_KM
                else np.zeros(3),
            )
        )
    return plans


#: the simulator's pointing-error model: along track 1σ and bound (deg), across track 1σ and bound (px)
ALONG_TRACK_SIGMA_DEG = 0.7
ALONG_TRACK_MAX_DEG = 2.0
CROSS_TRACK_SIGMA_PX = 2.0
CROSS_TRACK_MAX_PX = 5.0


def draw_pointing_error_deg(rng: np.random.Generator, along: str = "gaussian") -> tuple[float, float]:
    """A reconstructed-pointing error (along track, across track), degrees: along track a Gaussian of σ
    :data:`ALONG_TRACK_SIGMA_DEG` clipped at ±:data:`ALONG_TRACK_MAX_DEG` (``along="uniform"``: uniform in
    that range, a harder case than navigation's prior assumes), across track σ 2 px clipped at ±5 px."""
    if along == "uniform":
        a = float(rng.uniform(-ALONG_TRACK_MAX_DEG, ALONG_TRACK_MAX_DEG))
    elif along == "gaussian":
        a = float(np.clip(rng.normal(0.0, ALONG_TRACK_SIGMA_DEG), -ALONG_TRACK_MAX_DEG, ALONG_TRACK_MAX_DEG))
    else:
        raise ValueError(f"along must be 'gaussian' or 'uniform', not {along!r}")
    c = float(np.clip(rng.normal(0.0, CROSS_TRACK_SIGMA_PX), -CROSS_TRACK_MAX_PX, CROSS_TRACK_MAX_PX))
    return a, c * math.degrees(jiram.IFOV_RAD)


def recorded_jiram_to_body(plan: FramePlan) -> np.ndarray:
    """The reconstructed JUNO_JIRAM_I → IAU_IO attitude (what kernels and labels say): the planned band's
    boresight (M for I1/I2, L for I3) on the plan's target (Io's centre, or a hot spot on close passes)."""
    frame = jiram.BANDS["L" if plan.mode == "I3" else "M"].spice_frame
    return eph.point_at_io(plan.observer_km, plan.twist_deg, frame=frame, target_km=plan.target_km)


def _rot_about(axis, angle_rad: float) -> np.ndarray:
    """Active rotation by ``angle_rad`` about the unit vector ``axis`` (Rodrigues)."""
    k = np.asarray(axis, dtype=float)
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle_rad) * kx + (1.0 - math.cos(angle_rad)) * (kx @ kx)


def true_jiram_to_body(plan: FramePlan) -> np.ndarray:
    """The true attitude: the recorded one turned by the pointing error ``(along, across)``. Along track
    (JUNO_JIRAM_I's X, the spin direction) the camera turns about the spin axis (Y) so that the scene
    moves along X by ``pointing_error_deg[0]``; across track about X, moving it along Y by
    ``pointing_error_deg[1]``.
    In pixels (JIRAM's axes: lines along −X) the first is a shift along the lines, the second along the
    samples."""
    a_x, a_y = (math.radians(x) for x in plan.pointing_error_deg)
    ex, ey, ez = np.eye(3)
    rec = recorded_jiram_to_body(plan)
    # the camera turns by −a about Y: its boresight moves toward −X, the scene appears displaced toward +X
    return rec @ _rot_about(ey, -a_x) @ _rot_about(ex, a_y)


def band_pose(plan: FramePlan, band: str, jiram_to_body: np.ndarray, sun_km: np.ndarray) -> CameraPose:
    """Pose of one band's camera for a JUNO_JIRAM_I attitude."""
    frame = jiram.BANDS[band].spice_frame
    return CameraPose(
        observer_km=np.asarray(plan.observer_km, float),
        inst_to_body=jiram_to_body @ eph.band_frame_in_jiram_i(frame),
        sun_km=sun_km,
        time_utc=plan.time_utc,
        abcorr="NONE",
    )


def _sub_point(direction_km: np.ndarray) -> tuple[float, float]:
    """Planetographic lat / west lon of the ellipsoid point whose normal is parallel to ``direction_km``."""
    u = np.asarray(direction_km, float) / np.linalg.norm(direction_km)
    p = iobody.IO.radii_km**2 * u
    p = p / np.sqrt(np.sum((p / iobody.IO.radii_km) ** 2))
    return float(iobody.vector_to_lat_pg_deg(p)), float(iobody.vector_to_lon_w_deg(p))


def label_geometry_for(camera: FrameCamera, pose: CameraPose, north_pa_deg: float) -> LabelGeometry:
    """LabelGeometry (sub-observer/sub-solar points, range, disk centre) of a camera pose."""
    s, ln, _ = camera.project((-pose.observer_km) @ pose.inst_to_body)
    obs_lat, obs_lon = _sub_point(pose.observer_km)
    sun_lat, sun_lon = _sub_point(pose.sun_km)
    rng = float(np.linalg.norm(pose.observer_km))
    return LabelGeometry(
        obs_lat,
        obs_lon,
        sun_lat,
        sun_lon,
        rng,
        float(north_pa_deg),
        rng * camera.ifov_rad,
        float(s),
        float(ln),
    )


# ------------------------------------------------------------------------------------------------ rendering
@lru_cache(maxsize=4)
def _population(seed: int, ref_dir: str | None) -> HotSpotPopulation:
    return HotSpotPopulation(seed, ref_dir, PopulationConfig())


def _truth_rows(
    spots: pd.DataFrame, state: pd.DataFrame, frame_id: str, band: str, line_offset: int, extra: dict
) -> pd.DataFrame:
    keep = spots["in_frame"].to_numpy() & spots["visible"].to_numpy()
    s, st = spots[keep], state[keep]
    area = st["area1_km2"].to_numpy() + np.nan_to_num(st["area2_km2"].to_numpy())
    out = pd.DataFrame(
        {
            "product_id": frame_id,
            "band": band,
            "hot_spot_id": st["id"].to_numpy(),
            "name": st["name"].to_numpy(),
            "lat_deg": st["lat_deg"].to_numpy(),
            "lon_w_deg": st["lon_w_deg"].to_numpy(),
            "sample": s["sample"].to_numpy(),
            "line": s["line"].to_numpy() + line_offset,
            "band_line": s["line"].to_numpy(),
            "emission_deg": s["emission_deg"].to_numpy(),
            "range_km": s["range_km"].to_numpy(),
            "temp1_k": st["temp1_k"].to_numpy(),
            "area1_km2": st["area1_km2"].to_numpy(),
            "temp2_k": st["temp2_k"].to_numpy(),
            "area2_km2": st["area2_km2"].to_numpy(),
            "power_gw": st["power_gw"].to_numpy(),
            "in_outburst": st["in_outburst"].to_numpy(),
            "band_radiance_w_m2_sr": s["band_intensity_w_sr"].to_numpy() / (area * KM2_TO_M2),
            "band_intensity_w_sr": s["band_intensity_w_sr"].to_numpy(),
            "spectral_intensity_gw_um_sr": s["spectral_intensity_gw_um_sr"].to_numpy(),
            "spectral_intensity_corrected_gw_um_sr": s["spectral_intensity_gw_um_sr"].to_numpy()
            / np.clip(np.cos(np.radians(s["emission_deg"].to_numpy())), 1e-6, None),
            "flux_px": s["flux_px"].to_numpy(),
            "noise_sigma": s["noise_sigma"].to_numpy(),
            "snr": s["snr"].to_numpy(),
            "peak": s["peak"].to_numpy(),
            "saturated": s["saturated"].to_numpy(),
        }
    )
    for k, v in extra.items():
        out[k] = v
    return out


def simulate_frame(
    plan: FramePlan,
    *,
    population: HotSpotPopulation | None = None,
    population_seed: int = 0,
    ref_dir: str | None = None,
    out_dir: Path | None = None,
    spice_file_names: list[str] | None = None,
    detector: JiramDetector | None = None,
    surface: SurfaceModel | None = None,
    noise: bool = True,
    artefacts: bool = True,
    metakernel: Path | str | None = None,
    pixel_axes: PixelAxes | None = None,
) -> SimulatedFrame:
    """Render one planned JIRAM frame with the true attitude and (if ``out_dir``) write it as a PDS3 RDR whose
    label records the reconstructed attitude's geometry (single-band frames of orbits < 39 only).

    With ``metakernel`` (the kernel set holding the plan's reconstructed attitude) the image is rendered from
    SPICE's apparent (``LT+S``) pose of the reconstructed attitude turned by the pointing error, i.e. the
    same geometry a scan of the product computes once registered; without it, from the geometric plan.

    ``pixel_axes``: the world's true pixel-axis convention when it is not the one ioscan declares
    (``jiram.PIXEL_AXES``), e.g. samples along +Y: the image is rendered with it, while kernels and labels
    stay as the declaration makes them (to test ``ioscan check-convention``).

    Truth rows (one per visible hot spot per band): see :func:`simulate_campaign`.
    """
    pop = population or _population(population_seed, ref_dir)
    state = pop.state_at(plan.time_utc)
    sun = eph.sun_position_body(plan.time_utc)
    sunlight = eph.sunlight_fraction(plan.time_utc)  # 0 in Io's eclipse: no reflected light
    declared = jiram_band_camera()
    camera = jiram_band_camera(axes=pixel_axes) if pixel_axes is not None else declared
    rng = np.random.default_rng(plan.seed)
    true_att, rec_att = true_jiram_to_body(plan), recorded_jiram_to_body(plan)
    surface = surface or default_surface(pop)
    bands: dict[str, BandRender] = {}
    truth = []
    frame_row = {
        "product_id": plan.product_id,
        "orbit": plan.orbit,
        "mode": plan.mode,
        "time_utc": plan.time_utc,
        "exposure_s": plan.exposure_s,
        "range_km": float(np.linalg.norm(plan.observer_km)),
        "twist_deg": plan.twist_deg,
        "pointing_error_along_track_deg": plan.pointing_error_deg[0],
        "pointing_error_cross_track_deg": plan.pointing_error_deg[1],
        "sunlight_fraction": sunlight,
        "instrument": "JIRAM",
    }
    for k, band in enumerate(jiram.MODES[plan.mode]):
        if metakernel is not None:
            pose_r, pose_t = _spice_poses(plan, band, metakernel)
        else:
            pose_t = band_pose(plan, band, true_att, sun)
            pose_r = band_pose(plan, band, rec_att, sun)
        r = render_band(
            band,
            camera,
            pose_t,
            state,
            exposure_s=plan.exposure_s,
            rng=rng,
            detector=detector,
            surface=surface,
            noise=noise,
            artefacts=artefacts,
            sunlight_fraction=sunlight,
        )
        bands[band] = r
        # applied pointing error as the shift of the aim point (Io's centre or the close-pass target) in this
        # band, true − recorded, pixels
        aim = np.asarray(plan.target_km, float)
        st_, lt_, _ = camera.project((aim - pose_t.observer_km) @ pose_t.inst_to_body)
        sr_, lr_, _ = camera.project((aim - pose_r.observer_km) @ pose_r.inst_to_body)
        shift = {"pointing_error_sample_px": float(st_ - sr_), "pointing_error_line_px": float(lt_ - lr_)}
        frame_row[f"{band}_saturation_w_m2_sr"] = r.saturation_w_m2_sr
        frame_row[f"{band}_aim_sample"], frame_row[f"{band}_aim_line"] = float(st_), float(lt_)
        frame_row[f"{band}_cosmic_rays"] = len(r.cosmic_rays)
        frame_row.update({f"{band}_{k2}": v for k2, v in shift.items()})
        truth.append(
            _truth_rows(
                r.spots,
                state,
                plan.product_id,
                band,
                k * jiram.N_LINES_PER_BAND,
                {
                    "orbit": plan.orbit,
                    "mode": plan.mode,
                    "time_utc": plan.time_utc,
                    "instrument": "JIRAM",
                    "exposure_s": plan.exposure_s,
                    "saturation": r.saturation_w_m2_sr,
                    "pointing_error_along_track_deg": plan.pointing_error_deg[0],
                    "pointing_error_cross_track_deg": plan.pointing_error_deg[1],
                    **shift,
                },
            )
        )
    image = assemble_mode(plan.mode, bands)
    label = None
    if out_dir is not None:
        label = _write_rdr(plan, image, bands, declared, rec_att, sun, Path(out_dir), spice_file_names)
    return SimulatedFrame(plan, image, bands, pd.concat(truth, ignore_index=True), frame_row, label)


def _spice_poses(plan: FramePlan, band: str, metakernel) -> tuple[CameraPose, CameraPose]:
    """(recorded, true) apparent band poses from the kernels: true = recorded · (Bᵀ E B), with B the band
    frame in JUNO_JIRAM_I and E the pointing-error rotation (the aberration rotation acts on the left)."""
    geo = _spice_geometry(str(metakernel))
    rec = geo.pose(plan.time_utc, jiram.BANDS[band].spice_frame)
    b = eph.band_frame_in_jiram_i(jiram.BANDS[band].spice_frame)
    err = recorded_jiram_to_body(plan).T @ true_jiram_to_body(plan)
    true = CameraPose(
        observer_km=rec.observer_km,
        inst_to_body=rec.inst_to_body @ (b.T @ err @ b),
        sun_km=rec.sun_km,
        time_utc=rec.time_utc,
        abcorr=rec.abcorr,
    )
    return rec, true


@lru_cache(maxsize=2)
def _spice_geometry(metakernel: str):
    from ioscan.geometry.spice_provider import SpiceGeometry

    return SpiceGeometry(metakernel)


def default_surface(pop: HotSpotPopulation) -> SurfaceModel:
    """The campaign's surface model for a population (seeded like it, dark paterae at its 40 most powerful
    sources), cached on the population so its albedo tables are built once per process."""
    cached = pop.__dict__.get("_surface")
    if cached is None:
        cached = pop.__dict__["_surface"] = SurfaceModel(seed=pop.seed, dark_spots=_dark_spots(pop))
    return cached


def _dark_spots(pop: HotSpotPopulation, n: int = 40) -> tuple:
    src = pop.sources.nlargest(n, "power_gw")
    return tuple(
        (float(a), float(b), 2.0 + 2.0 * float(p > 1000))
        for a, b, p in zip(src.lat_deg, src.lon_w_deg, src.power_gw, strict=True)
    )


def _write_rdr(
    plan: FramePlan,
    image: np.ndarray,
    bands: dict[str, BandRender],
    camera: FrameCamera,
    rec_att: np.ndarray,
    sun: np.ndarray,
    out_dir: Path,
    spice_file_names,
) -> Path:
    from ioscan.formats.jiram_pds3 import write_jiram_rdr
    from ioscan.simulate.kernels import et_to_sclk_ticks

    mid = _parse(plan.time_utc)
    start = mid - timedelta(seconds=plan.exposure_s / 2)
    stop = mid + timedelta(seconds=plan.exposure_s / 2)
    ticks = et_to_sclk_ticks(eph.utc_to_et(start.isoformat()))
    sclk = f"1/{int(ticks // 256)}:{int(ticks % 256):03d}"
    first = jiram.MODES[plan.mode][0]
    geom = None
    sub_sun_e = None
    if plan.label_geometry:
        geom = label_geometry_for(camera, band_pose(plan, first, rec_att, sun), plan.twist_deg)
    else:
        sub_sun_e = float(iobody.lon_w_to_lon_e(_sub_point(sun)[1]))
    sat = min(b.saturation_w_m2_sr for b in bands.values())
    return write_jiram_rdr(
        out_dir / f"JNOJIR_2{plan.orbit:03d}",
        product_id=plan.product_id,
        mode=plan.mode,
        image=image,
        start_time_utc=start.isoformat(),
        stop_time_utc=stop.isoformat(),
        sclk_start=sclk,
        orbit=plan.orbit,
        exposure_s=plan.exposure_s,
        saturation_w_m2_sr=sat,
        label_geometry=geom,
        sub_solar_lon_e_deg=sub_sun_e,
        spice_file_names=spice_file_names,
    )


# ------------------------------------------------------------------------------------------------ ground AO
def earth_observer_body_km(time_utc: str) -> np.ndarray:
    """Earth's position relative to Io in IAU_IO, km (analytic ephemeris, geometric)."""
    et = eph.utc_to_et(time_utc)
    earth = eph.EARTH_ORBIT.state_j2000(et)[:3]
    io = eph.JUPITER_ORBIT.state_j2000(et)[:3] + eph.io_state_j2000(et)[:3]
    return eph.body_rotation(time_utc) @ (earth - io)


def ground_label_geometry(
    time_utc: str,
    n_pixels: int,
    center_offset_px=(0.0, 0.0),
    plate_scale_arcsec: float = nirc2.PLATE_SCALE_ARCSEC,
) -> LabelGeometry:
    """Label geometry of a north-up ground frame at ``time_utc`` from the analytic ephemeris."""
    obs = earth_observer_body_km(time_utc)
    sun = eph.sun_position_body(time_utc)
    o_lat, o_lon = _sub_point(obs)
    s_lat, s_lon = _sub_point(sun)
    rng = float(np.linalg.norm(obs))
    c = (n_pixels - 1) / 2.0
    return LabelGeometry(
        o_lat,
        o_lon,
        s_lat,
        s_lon,
        rng,
        0.0,
        rng * plate_scale_arcsec * math.pi / 648000.0,
        c + center_offset_px[0],
        c + center_offset_px[1],
    )


def simulate_ground_frame(
    time_utc: str,
    filter_name: str,
    *,
    population: HotSpotPopulation,
    n_pixels: int = 1024,
    seed: int = 0,
    exposure_s: float = 10.0,
    out_path: Path | None = None,
    noise: bool = True,
    product_id: str | None = None,
    center_offset_px=(0.0, 0.0),
    surface: SurfaceModel | None = None,
):
    """Render (and optionally write as FITS) one AO frame; returns (AoRender, LabelGeometry, truth rows)."""
    from ioscan.geometry.label_provider import camera_from_label, pose_from_label
    from ioscan.simulate.render_ao import render_ao

    geom = ground_label_geometry(time_utc, n_pixels, center_offset_px)
    camera = camera_from_label(geom, n_pixels, n_pixels)
    pose = pose_from_label(geom, time_utc)
    state = population.state_at(time_utc)
    surface = surface or default_surface(population)
    r = render_ao(
        filter_name,
        camera,
        pose,
        state,
        exposure_s=exposure_s,
        rng=np.random.default_rng(seed),
        surface=surface,
        noise=noise,
        sunlight_fraction=eph.sunlight_fraction(time_utc),
    )
    pid = (
        product_id
        or f"NIRC2_{time_utc[:10].replace('-', '')}_{time_utc[11:19].replace(':', '')}_{filter_name}"
    )
    truth = _truth_rows(
        r.spots,
        state,
        pid,
        filter_name,
        0,
        {
            "orbit": -1,
            "mode": "AO",
            "time_utc": time_utc,
            "instrument": "NIRC2",
            "exposure_s": exposure_s,
            "saturation": r.saturation,
            "pointing_error_along_track_deg": 0.0,
            "pointing_error_cross_track_deg": 0.0,
            "pointing_error_sample_px": 0.0,
            "pointing_error_line_px": 0.0,
        },
    )
    if out_path is not None:
        from ioscan.formats.fits_ground import write_ground_fits

        start = (_parse(time_utc) - timedelta(seconds=exposure_s / 2)).isoformat()
        write_ground_fits(
            out_path,
            image=r.image,
            filter_name=filter_name,
            date_obs_utc=start,
            exposure_s=exposure_s,
            saturation=r.saturation,
            label_geometry=geom,
            product_id=pid,
        )
    return r, geom, truth


# ------------------------------------------------------------------------------------------------- campaign
def _orbit_list(orbits) -> list[int]:
    if isinstance(orbits, int):
        if orbits < 1:
            raise ValueError("orbits must be ≥ 1")
        chosen = list(REPRESENTATIVE_ORBITS[:orbits])
        extra = orbits - len(chosen)
        k = 6
        while extra > 0:
            if k not in chosen:
                chosen.append(k)
                extra -= 1
            k += 1
        return sorted(chosen)
    return sorted(int(o) for o in orbits)


def plan_campaign(
    orbits, seed: int, frames_per_orbit: int = 4, ref_dir: str | None = None
) -> list[FramePlan]:
    """All JIRAM frame plans of a campaign (deterministic from ``seed``)."""
    used: set[str] = set()
    plans = []
    # close passes are planned on the published positions (what a team knows), not on the truth
    src = _population(seed, ref_dir).sources.nlargest(60, "power_gw")
    lat = src.catalogue_lat_deg.fillna(src.lat_deg).to_numpy(float)
    lon = src.catalogue_lon_w_deg.fillna(src.lon_w_deg).to_numpy(float)
    targets = iobody.surface_point_from_lat_pg(lat, lon)
    for orbit in _orbit_list(orbits):
        rng = np.random.default_rng([seed, orbit, 0x0B])
        plans += plan_orbit(orbit, frames_per_orbit, rng, used, targets)
    return plans


def _render_task(args):
    plan, seed, ref_dir, out_dir, names, kwargs = args
    f = simulate_frame(
        plan, population_seed=seed, ref_dir=ref_dir, out_dir=out_dir, spice_file_names=names, **kwargs
    )
    return f.label_path, f.truth, f.frame_row


def render_plans(
    plans: list[FramePlan],
    *,
    seed: int,
    out_dir: Path,
    spice_file_names: list[str],
    ref_dir: str | None = None,
    workers: int = 1,
    **kwargs,
):
    """Render and write many frames (``workers`` > 1: a process pool). Returns (paths, truth, frame rows)."""
    tasks = [(p, seed, ref_dir, out_dir, spice_file_names, kwargs) for p in plans]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(_render_task, tasks, chunksize=max(1, len(tasks) // (4 * workers))))
    else:
        results = [_render_task(t) for t in tasks]
    return [r[0] for r in results], [r[1] for r in results], [r[2] for r in results]


def simulate_campaign(
    out_dir,
    *,
    orbits: int = 3,
    seed: int = 0,
    frames_per_orbit: int = 4,
    ground_nights: int = 2,
    ground_pixels: int = 1024,
    ref_dir: str | None = None,
    workers: int = 1,
    pixel_axes: PixelAxes | None = None,
    close_sequences: int = 0,
) -> CampaignResult:
    """Simulate a JIRAM campaign and ground-based nights with known truth.

    Writes into ``out_dir``: ``kernels/`` (SPICE set + ``ioscan.tm``, recorded attitude),
    ``jiram/JNOJIR_2nnn/*.LBL|IMG`` (PDS3 RDRs), ``ground/*.fits`` and ``truth/``: ``truth.parquet`` and
    ``truth.csv`` (one row per visible hot spot per frame band: product_id, band, hot_spot_id, lat_deg,
    lon_w_deg, sample, line (product lines), temperatures/areas, power_gw, band_radiance_w_m2_sr,
    band_intensity_w_sr, spectral_intensity_gw_um_sr (observed) and ..._corrected (÷ cos e), snr, saturated,
    pointing errors) and ``frames.csv`` (one row per frame: mode, exposure, range, pointing error...).

    Args:
        out_dir: output folder.
        orbits: number of orbits (taken from :data:`REPRESENTATIVE_ORBITS`), or a list of perijove numbers.
        seed: master seed (population, plan, noise).
        frames_per_orbit: JIRAM frames per orbit.
        ground_nights: Keck-like nights (3 frames each: Lp, Ms, Kc).
        ground_pixels: AO frame size (1024 like NIRC2; smaller is faster).
        ref_dir: reference tables folder (default: the package copy).
        workers: processes for rendering (1 = in this process).
        pixel_axes: the simulated world's true JIRAM pixel axes (default: ioscan's declaration), see
            :func:`simulate_frame`.
        close_sequences: also this many five-frame close-flyby sequences of PJ57 (1,500–20,000 km,
            :mod:`ioscan.simulate.close_flybys`); ``frames.csv`` numbers them in ``sequence``.
    """
    from ioscan.simulate.kernels import write_kernel_set

    out = Path(out_dir)
    plans = plan_campaign(orbits, seed, frames_per_orbit, ref_dir)
    n_regular = len(plans)
    if close_sequences:
        from ioscan.simulate.close_flybys import plan_close_sequences

        used = {p.product_id for p in plans}
        plans += plan_close_sequences(close_sequences, 5, seed, ref_dir=ref_dir, used=used)
    obs = [
        eph.PlannedObservation(p.time_utc, p.observer_km, p.observer_velocity_km_s, recorded_jiram_to_body(p))
        for p in plans
    ]
    nights = _plan_nights(plans, ground_nights, seed)
    times = [p.time_utc for p in plans] + [t for t, _ in nights]
    t0 = min(_parse(t) for t in times) - timedelta(hours=2)
    t1 = max(_parse(t) for t in times) + timedelta(hours=2)
    mk = write_kernel_set(
        out / "kernels", obs, start_utc=t0.isoformat(), stop_utc=t1.isoformat(), io_step_s=7200.0
    )
    names = sorted(p.name for p in (out / "kernels").iterdir() if p.name != mk.name)
    paths, truths, frames = render_plans(
        plans,
        seed=seed,
        out_dir=out / "jiram",
        spice_file_names=names,
        ref_dir=ref_dir,
        workers=workers,
        metakernel=mk,
        pixel_axes=pixel_axes,
    )
    pop = _population(seed, ref_dir)
    n_ground = 0
    for k, (t, offset) in enumerate(nights):
        for j, f in enumerate(GROUND_FILTERS):
            tf = (_parse(t) + timedelta(minutes=3 * j)).strftime("%Y-%m-%dT%H:%M:%S")
            pid = f"NIRC2_{tf[:10].replace('-', '')}_{tf[11:19].replace(':', '')}_{f}"
            path = out / "ground" / f"{pid}.fits"
            _, geom, truth = simulate_ground_frame(
                tf,
                f,
                population=pop,
                n_pixels=ground_pixels,
                seed=seed * 1000 + 10 * k + j,
                out_path=path,
                product_id=pid,
                center_offset_px=offset,
            )
            paths.append(path)
            truths.append(truth)
            frames.append(
                {
                    "product_id": pid,
                    "orbit": -1,
                    "mode": "AO",
                    "time_utc": tf,
                    "exposure_s": 10.0,
                    "range_km": geom.range_km,
                    "instrument": "NIRC2",
                    "filter": f,
                    "disk_center_sample": geom.disk_center_sample,
                    "disk_center_line": geom.disk_center_line,
                }
            )
            n_ground += 1
    tdir = out / "truth"
    tdir.mkdir(parents=True, exist_ok=True)
    truth = pd.concat([t for t in truths if len(t)], ignore_index=True) if truths else pd.DataFrame()
    truth_csv, truth_pq, frames_csv = tdir / "truth.csv", tdir / "truth.parquet", tdir / "frames.csv"
    truth.to_csv(truth_csv, index=False)
    truth.to_parquet(truth_pq, index=False)
    frames_df = pd.DataFrame(frames)
    frames_df["sequence"] = [
        (i - n_regular) // 5 if n_regular <= i < len(plans) else None for i in range(len(frames_df))
    ]
    frames_df.to_csv(frames_csv, index=False)
    return CampaignResult([Path(p) for p in paths], mk, truth_csv, truth_pq, frames_csv, len(plans), n_ground)


def _plan_nights(plans: list[FramePlan], n: int, seed: int) -> list[tuple[str, tuple[float, float]]]:
    """Ground nights: 10:00 UTC (Hawaiian night) a few days after evenly chosen orbits."""
    if n <= 0:
        return []
    rng = np.random.default_rng([seed, 0xA0])
    orbits = sorted({p.orbit for p in plans})
    out = []
    for k in range(n):
        o = orbits[int(k * len(orbits) / n)]
        day = _parse(perijove_utc(o)).date() + timedelta(days=int(rng.integers(3, 20)) + k)
        out.append(
            (f"{day.isoformat()}T10:00:00", (float(rng.uniform(-20, 20)), float(rng.uniform(-20, 20))))
        )
    return out
