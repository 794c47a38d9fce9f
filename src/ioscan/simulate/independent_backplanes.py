"""Backplanes of an independently rendered frame from the renderer's own geometry (its truth), in ioscan's
form: what a test or a benchmark hands detection and measurement as "geometry given" for frames of
:mod:`ioscan.simulate.independent` (which itself knows nothing of ioscan's records)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ioscan import body as iobody
from ioscan.geometry.backplanes import Backplanes
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
        "limb_distance_px": np.where(hit, inside - 0.5, 0.5 - outside),
    }
    return Backplanes(arrays, {"provider": "independent"})
