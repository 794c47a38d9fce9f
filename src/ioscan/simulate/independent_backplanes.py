"""Backplanes of an independently rendered frame from the renderer's own geometry (its truth), in ioscan's
form: what a test or a benchmark hands detection and measurement as "geometry given" for frames of
:mod:`ioscan.simulate.independent` (which itself knows nothing of ioscan's records)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ioscan import body as iobody
from ioscan.geometry.backplanes import SUN_OCCULTED_KEY, SUN_TOTALLY_OCCULTED, Backplanes
from ioscan.simulate.independent import geometry as igeo
from ioscan.simulate.independent.scene import BAND_FIRST_LINE_M


def truth_backplanes(view: igeo.ViewGeometry, band: str) -> Backplanes:
    """Backplanes of one band from the renderer's own geometry (planetographic °N, west °W)."""
    first = BAND_FIRST_LINE_M[band]
    ss, ll = np.meshgrid(np.arange(igeo.N_SAMPLES, dtype=float), np.arange(igeo.N_LINES_BAND) + float(first))
    hits = igeo.intersect(view, ss, ll)
    hit = hits.hit
    p = np.where(hit[..., None], hits.point_body_km, np.nan)
    p_cam = p @ view.body_to_cam.T + view.center_cam_km
    rng_km = np.linalg.norm(p_cam, axis=-1)
    to_cam = -p_cam / rng_km[..., None]
    sun_b = view.body_to_cam.T @ view.sun_dir_cam
    to_cam_b = to_cam @ view.body_to_cam
    phase = np.degrees(np.arccos(np.clip(np.sum(to_cam_b * sun_b, axis=-1), -1, 1)))

    def nan_off(a):
        return np.where(hit, a, np.nan)

    inside = ndimage.distance_transform_edt(hit)
    outside = ndimage.distance_transform_edt(~hit)
    arrays = {
        "lat_deg": nan_off(iobody.vector_to_lat_pg_deg(np.nan_to_num(p))),
        "lon_w_deg": nan_off(igeo.lat_lon(np.nan_to_num(p))[1]),
        "emission_deg": nan_off(np.degrees(np.arccos(np.clip(hits.cos_emission, -1, 1)))),
        "incidence_deg": nan_off(np.degrees(np.arccos(np.clip(hits.cos_incidence, -1, 1)))),
        "phase_deg": nan_off(phase),
        "range_km": nan_off(rng_km),
        "pixel_scale_km": nan_off(rng_km * igeo.IFOV_RAD),
        "on_disk": hit.astype(float),
        "limb_distance_px": limb_distance_px(view, ss, ll, np.where(hit, inside - 0.5, 0.5 - outside)),
    }
    # the renderer knows when Io is in Jupiter's shadow, as SPICE does (SpiceGeometry.sun_occultation)
    meta = {"provider": "independent", SUN_OCCULTED_KEY: SUN_TOTALLY_OCCULTED if view.eclipsed else 0}
    return Backplanes(arrays, meta)


#: pixels whose pixel-grid distance to the limb is within this (px) get the exact sub-pixel distance
EXACT_WITHIN_PX = 6.0


def limb_discriminant(view: igeo.ViewGeometry, sample_px: np.ndarray, line_px: np.ndarray) -> np.ndarray:
    """The ray–ellipsoid discriminant of :func:`ioscan.simulate.independent.geometry.intersect` at pixel
    coordinates (its rays' quadratic, unit radii): > 0 where the ray meets Io, 0 on its limb."""
    radii = np.asarray(view.radii_km, dtype=float)
    o = (view.body_to_cam.T @ (-view.center_cam_km)) / radii
    d = (igeo.pixel_ray(sample_px, line_px) @ view.body_to_cam) / radii
    qb = d @ o
    return qb * qb - np.sum(d * d, axis=-1) * (o @ o - 1.0)


def limb_distance_px(
    view: igeo.ViewGeometry, sample_px: np.ndarray, line_px: np.ndarray, grid_px: np.ndarray
) -> np.ndarray:
    """Signed distance (px, > 0 on the disk) of each pixel centre to the limb of the renderer's ellipsoid:
    within :data:`EXACT_WITHIN_PX` of it (by ``grid_px``, the pixel-grid estimate) the distance to the limb's
    point found by Newton steps along the discriminant's gradient from the pixel (exact to ~1e-6 px: what
    ioscan's own backplanes give from SPICE), ``grid_px`` beyond."""
    out = np.array(grid_px, dtype=float)
    near = np.abs(out) <= EXACT_WITHIN_PX
    if not near.any():
        return out
    s0, l0 = np.asarray(sample_px, float)[near], np.asarray(line_px, float)[near]
    s, ln = s0.copy(), l0.copy()
    h = 1e-3
    for _ in range(8):
        f = limb_discriminant(view, s, ln)
        gs = (limb_discriminant(view, s + h, ln) - limb_discriminant(view, s - h, ln)) / (2 * h)
        gl = (limb_discriminant(view, s, ln + h) - limb_discriminant(view, s, ln - h)) / (2 * h)
        g2 = gs * gs + gl * gl
        step = np.where(g2 > 0, f / np.where(g2 > 0, g2, 1.0), 0.0)
        s, ln = s - step * gs, ln - step * gl
    sign = np.where(limb_discriminant(view, s0, l0) > 0, 1.0, -1.0)
    out[near] = sign * np.hypot(s - s0, ln - l0)
    return out
