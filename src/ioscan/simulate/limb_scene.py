"""Synthetic Io frames with a known disk position, for testing and benchmarking the limb fit.

The renderer is deliberately independent of :mod:`ioscan.geometry.limbfit`: it intersects supersampled pixel
rays with Io's ellipsoid (:func:`ioscan.geometry.ellipsoid.intersect_rays`), shades each sub-pixel with a
Minnaert law (``k = 1`` is Lambert) plus a uniform thermal (night-side) level, averages the sub-pixels
(anti-aliased partial-pixel coverage), blurs with a Gaussian PSF and adds point sources and noise.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from ioscan import body as iobody
from ioscan.geometry.camera import DIRECT_VIEW_AXES, FrameCamera, PixelAxes
from ioscan.geometry.ellipsoid import intersect_rays
from ioscan.geometry.label_provider import camera_from_label, pose_from_label
from ioscan.geometry.pose import CameraPose
from ioscan.records import LabelGeometry


def supersampled_camera(camera: FrameCamera, factor: int) -> FrameCamera:
    """Camera whose pixels are ``factor`` × ``factor`` sub-pixels of ``camera``'s (same field of view)."""
    return FrameCamera(
        n_samples=camera.n_samples * factor,
        n_lines=camera.n_lines * factor,
        ifov_rad=camera.ifov_rad / factor,
        center_sample=(camera.center_sample + 0.5) * factor - 0.5,
        center_line=(camera.center_line + 0.5) * factor - 0.5,
        sample_axis=camera.sample_axis,
        line_axis=camera.line_axis,
        boresight=camera.boresight,
        twist_deg=camera.twist_deg,
    )


def render_io(
    camera: FrameCamera,
    pose: CameraPose,
    *,
    albedo: float = 1.0,
    minnaert_k: float = 1.0,
    night_level: float = 0.0,
    sky: float = 0.0,
    psf_sigma_px: float = 1.0,
    supersample: int = 4,
    body: iobody.Ellipsoid = iobody.IO,
) -> np.ndarray:
    """Noise-free image (n_lines, n_samples) of Io: Minnaert-lit disk + uniform thermal level, PSF-blurred.

    Brightness on the disk is ``albedo·μ0^k·μ^(k−1) + night_level`` (μ0 = cos incidence clipped at 0,
    μ = cos emission), ``sky`` elsewhere.
    """
    cam = supersampled_camera(camera, supersample)
    rays = cam.rays() @ pose.inst_to_body.T
    pts, hit = intersect_rays(pose.observer_km, rays, body.radii_km)
    normal = iobody.surface_normal(np.where(hit[..., None], pts, 1.0), body)
    to_sun = pose.sun_km - pts
    to_obs = pose.observer_km - pts
    mu0 = np.sum(normal * to_sun, axis=-1) / np.linalg.norm(to_sun, axis=-1)
    mu = np.sum(normal * to_obs, axis=-1) / np.linalg.norm(to_obs, axis=-1)
    mu0 = np.clip(np.nan_to_num(mu0), 0.0, None)
    mu = np.clip(np.nan_to_num(mu), 1e-3, None)
    lit = albedo * mu0**minnaert_k * mu ** (minnaert_k - 1.0)
    fine = np.where(hit, lit + night_level, sky)
    img = fine.reshape(camera.n_lines, supersample, camera.n_samples, supersample).mean(axis=(1, 3))
    if psf_sigma_px > 0:
        img = gaussian_filter(img, psf_sigma_px, mode="nearest")
    return img


def add_point_sources(image: np.ndarray, positions_px, amplitudes, psf_sigma_px: float) -> np.ndarray:
    """Copy of ``image`` plus Gaussian point sources (peak ``amplitude``) at (sample, line) positions."""
    out = np.array(image, dtype=float)
    ll, ss = np.mgrid[0 : out.shape[0], 0 : out.shape[1]]
    sig = max(psf_sigma_px, 0.5)
    for (s, ln), amp in zip(positions_px, amplitudes, strict=True):
        out += amp * np.exp(-((ss - s) ** 2 + (ll - ln) ** 2) / (2 * sig * sig))
    return out


def rotate_pointing(
    camera: FrameCamera,
    pose: CameraPose,
    angle_sample_rad: float,
    angle_line_rad: float,
    twist_rad: float = 0.0,
) -> CameraPose:
    """Pose whose instrument is turned by small angles: about boresight × sample axis (moves the scene toward
    −sample by ``angle_sample_rad``), about boresight × line axis (toward −line by ``angle_line_rad``) and
    about the boresight (twist); the same image motion for direct-view and mirrored pixel axes."""
    u_s, u_l, b = camera.axes()

    def rot(axis, ang):
        axis = np.asarray(axis, float) / np.linalg.norm(axis)
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        return np.eye(3) + np.sin(ang) * k + (1 - np.cos(ang)) * k @ k

    r = rot(np.cross(b, u_s), angle_sample_rad) @ rot(np.cross(b, u_l), angle_line_rad) @ rot(b, twist_rad)
    return CameraPose(
        observer_km=pose.observer_km,
        inst_to_body=pose.inst_to_body @ r,
        sun_km=pose.sun_km,
        time_utc=pose.time_utc,
        abcorr=pose.abcorr,
    )


def io_center_px(camera: FrameCamera, pose: CameraPose) -> tuple[float, float]:
    """(sample, line) where Io's centre projects."""
    inst = (-np.asarray(pose.observer_km, float)) @ pose.inst_to_body
    s, ln, _ = camera.project(inst)
    return float(s), float(ln)


def scene_geometry(
    *,
    range_km: float,
    ifov_rad: float,
    n_samples: int,
    n_lines: int,
    center_sample: float,
    center_line: float,
    phase_deg: float = 30.0,
    sun_azimuth_deg: float = 0.0,
    sub_obs_lat_deg: float = 5.0,
    sub_obs_lon_w_deg: float = 120.0,
    north_pa_deg: float = 10.0,
    axes: PixelAxes = DIRECT_VIEW_AXES,
) -> tuple[LabelGeometry, FrameCamera, CameraPose]:
    """Label geometry, camera and pose of a frame with pixel axes ``axes``; the sub-solar point lies
    ``phase_deg`` from the sub-observer point toward ``sun_azimuth_deg`` (0 = toward larger west longitude
    along the equator)."""
    az = np.radians(sun_azimuth_deg)
    ph = np.radians(phase_deg)
    lat0, lon0 = np.radians(sub_obs_lat_deg), np.radians(sub_obs_lon_w_deg)
    # destination point on the sphere from (lat0, lon0) at angular distance ph, bearing az (west-positive)
    lat1 = np.arcsin(np.sin(lat0) * np.cos(ph) + np.cos(lat0) * np.sin(ph) * np.cos(np.pi / 2 - az))
    dlon = np.arctan2(
        np.sin(np.pi / 2 - az) * np.sin(ph) * np.cos(lat0), np.cos(ph) - np.sin(lat0) * np.sin(lat1)
    )
    geom = LabelGeometry(
        sub_observer_lat_deg=sub_obs_lat_deg,
        sub_observer_lon_w_deg=sub_obs_lon_w_deg,
        sub_solar_lat_deg=float(np.degrees(lat1)),
        sub_solar_lon_w_deg=float(np.degrees(lon0 + dlon) % 360),
        range_km=range_km,
        north_pa_deg=north_pa_deg,
        pixel_scale_km=range_km * ifov_rad,
        disk_center_sample=center_sample,
        disk_center_line=center_line,
    )
    return geom, camera_from_label(geom, n_samples, n_lines, axes=axes), pose_from_label(geom, axes=axes)


def jiram_band_geometry(*, range_km: float, phase_deg: float, center: tuple[float, float]):
    """(label geometry, camera, pose) of a 432×128 JIRAM band with Io's centre at ``center`` (sample, line),
    with JIRAM's (mirrored) pixel axes, lit from 110° azimuth: the standard JIRAM scene of the limb-fit tests
    and benchmark. It renders the image (to 0.01 of the peak) of the direct-view scene lit from 70° on which
    they were validated before JIRAM's axes were adopted."""
    from ioscan.instruments.jiram import IFOV_RAD, PIXEL_AXES

    return scene_geometry(
        range_km=range_km,
        ifov_rad=IFOV_RAD,
        n_samples=432,
        n_lines=128,
        center_sample=center[0],
        center_line=center[1],
        phase_deg=phase_deg,
        sun_azimuth_deg=110.0,
        axes=PIXEL_AXES,
    )
