"""Surface position of a detection: latitude, longitude and their errors from the backplanes' local
Jacobian, and the viewing geometry at the source (planetographic °N, west °W)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioscan.body import IO_MEAN_RADIUS_KM
from ioscan.geometry.backplanes import Backplanes
from ioscan.measure.config import MeasureConfig
from ioscan.records import Detection, DetectionFlag


@dataclass
class SurfacePosition:
    """Geometry of one detection (planetographic °N, west °W)."""

    lat_deg: float
    lon_w_deg: float
    lat_err_deg: float
    lon_err_deg: float
    position_err_km: float
    emission_deg: float
    incidence_deg: float
    phase_deg: float
    range_km: float
    pixel_scale_km: float
    on_disk: bool
    geometry_err_fraction: float = (
        0.0  #: 1σ relative error of (pixel scale)² / cos e from the centroid errors
    )


def _bilinear(arr: np.ndarray, s: np.ndarray, ln: np.ndarray, *, angle: bool = False) -> np.ndarray:
    """Bilinear values of a backplane at sub-pixel positions; the nearest pixel where a neighbour is NaN.

    ``angle``: interpolate a longitude (degrees) through unit vectors (safe across 0/360).
    """
    nl, ns = arr.shape
    s0 = np.clip(np.floor(s).astype(int), 0, ns - 2)
    l0 = np.clip(np.floor(ln).astype(int), 0, nl - 2)
    fs = np.clip(s - s0, 0, 1)
    fl = np.clip(ln - l0, 0, 1)
    w = [(1 - fl) * (1 - fs), (1 - fl) * fs, fl * (1 - fs), fl * fs]
    idx = [(l0, s0), (l0, s0 + 1), (l0 + 1, s0), (l0 + 1, s0 + 1)]
    vals = [arr[i, j] for i, j in idx]
    if angle:
        c = sum(wk * np.cos(np.radians(v)) for wk, v in zip(w, vals, strict=True))
        sn = sum(wk * np.sin(np.radians(v)) for wk, v in zip(w, vals, strict=True))
        out = np.degrees(np.arctan2(sn, c)) % 360.0
    else:
        out = sum(wk * v for wk, v in zip(w, vals, strict=True))
    bad = ~np.isfinite(out)
    if np.any(bad):
        i = np.clip(np.rint(ln[bad]).astype(int), 0, nl - 1)
        j = np.clip(np.rint(s[bad]).astype(int), 0, ns - 1)
        out[bad] = arr[i, j]
    return out


def _nearest_on_disk(on: np.ndarray, s: float, ln: float, max_px: float) -> tuple[float, float] | None:
    nl, ns = on.shape
    r = int(np.ceil(max_px)) + 1
    i0, j0 = int(np.rint(ln)), int(np.rint(s))
    la, lb = max(i0 - r, 0), min(i0 + r + 1, nl)
    sa, sb = max(j0 - r, 0), min(j0 + r + 1, ns)
    if la >= lb or sa >= sb:
        return None
    ii, jj = np.nonzero(on[la:lb, sa:sb])
    if ii.size == 0:
        return None
    d = np.hypot(ii + la - ln, jj + sa - s)
    k = int(np.argmin(d))
    if d[k] > max_px + 0.75:
        return None
    return float(jj[k] + sa), float(ii[k] + la)


def surface_positions(
    bp: Backplanes,
    s: np.ndarray,
    ln: np.ndarray,
    s_err: np.ndarray,
    l_err: np.ndarray,
    *,
    max_off_disk_px: float = 3.0,
) -> list[SurfacePosition | None]:
    """Surface points of centroids (band-local pixels), with errors from the local Jacobian of lat/lon.

    A centroid just off the limb (within ``max_off_disk_px``) takes the nearest on-disk pixel's geometry
    (``on_disk`` False); None where no disk pixel is that close.
    """
    s = np.asarray(s, float)
    ln = np.asarray(ln, float)
    n = s.size
    if n == 0:
        return []
    on = bp.on_disk
    nl, ns = on.shape
    i = np.clip(np.rint(ln).astype(int), 0, nl - 1)
    j = np.clip(np.rint(s).astype(int), 0, ns - 1)
    on_disk = on[i, j] & (ln >= -0.5) & (ln <= nl - 0.5) & (s >= -0.5) & (s <= ns - 0.5)
    ps, pl = s.copy(), ln.copy()
    usable = np.ones(n, bool)
    for k in np.flatnonzero(~on_disk):
        near = _nearest_on_disk(on, s[k], ln[k], max_off_disk_px)
        if near is None:
            usable[k] = False
        else:
            ps[k], pl[k] = near
    a = bp.arrays
    lat = _bilinear(a["lat_deg"], ps, pl)
    lon = _bilinear(a["lon_w_deg"], ps, pl, angle=True)
    h = 0.5

    def deriv(name: str, ds: float, dl: float) -> np.ndarray:
        angle = name == "lon_w_deg"
        c = lon if angle else (lat if name == "lat_deg" else _bilinear(a[name], ps, pl))
        fa = _bilinear(a[name], ps + ds, pl + dl, angle=angle)
        fb = _bilinear(a[name], ps - ds, pl - dl, angle=angle)
        both = np.isfinite(fa) & np.isfinite(fb)
        diff = np.where(both, fa - fb, np.where(np.isfinite(fa), fa - c, c - fb))
        span = np.where(both, 2 * h, h)
        if angle:
            diff = (diff + 180.0) % 360.0 - 180.0
        return diff / span

    dlat_ds, dlat_dl = deriv("lat_deg", h, 0), deriv("lat_deg", 0, h)
    dlon_ds, dlon_dl = deriv("lon_w_deg", h, 0), deriv("lon_w_deg", 0, h)
    lat_err = np.hypot(dlat_ds * s_err, dlat_dl * l_err)
    lon_err = np.hypot(dlon_ds * s_err, dlon_dl * l_err)
    rad = np.radians
    coslat = np.cos(rad(lat))
    n_s, e_s = IO_MEAN_RADIUS_KM * rad(dlat_ds), IO_MEAN_RADIUS_KM * coslat * rad(dlon_ds)
    n_l, e_l = IO_MEAN_RADIUS_KM * rad(dlat_dl), IO_MEAN_RADIUS_KM * coslat * rad(dlon_dl)
    pos_km = np.sqrt((n_s**2 + e_s**2) * s_err**2 + (n_l**2 + e_l**2) * l_err**2)
    other = {
        name: _bilinear(a[name], ps, pl)
        for name in ("emission_deg", "incidence_deg", "phase_deg", "range_km", "pixel_scale_km")
    }
    # the intensity's geometric factor G = (pixel scale)² / cos e, taken at the measured position: its log
    # derivative along samples and lines times the centroid errors (fit, pointing, systematic)
    dlng = []
    for ds, dl in ((h, 0), (0, h)):
        d_scale = deriv("pixel_scale_km", ds, dl) / other["pixel_scale_km"]
        d_e = np.radians(deriv("emission_deg", ds, dl)) * np.tan(np.radians(other["emission_deg"]))
        dlng.append(2.0 * d_scale + d_e)
    geo_frac = np.hypot(dlng[0] * s_err, dlng[1] * l_err)
    out: list[SurfacePosition | None] = []
    for k in range(n):
        if not usable[k] or not (np.isfinite(lat[k]) and np.isfinite(lon[k])):
            out.append(None)
            continue
        out.append(
            SurfacePosition(
                lat_deg=float(lat[k]),
                lon_w_deg=float(lon[k] % 360.0),
                lat_err_deg=float(lat_err[k]),
                lon_err_deg=float(lon_err[k]),
                position_err_km=float(pos_km[k]),
                emission_deg=float(other["emission_deg"][k]),
                incidence_deg=float(other["incidence_deg"][k]),
                phase_deg=float(other["phase_deg"][k]),
                range_km=float(other["range_km"][k]),
                pixel_scale_km=float(other["pixel_scale_km"][k]),
                on_disk=bool(on_disk[k]),
                geometry_err_fraction=float(geo_frac[k]) if np.isfinite(geo_frac[k]) else float("nan"),
            )
        )
    return out


def band_line(det: Detection) -> float:
    """The detection's line in its band's own image (product line minus the band's first product line)."""
    return det.line - int(det.extra.get("line_offset", 0))


def centroid_errors_px(
    dets: list[Detection], cfg: MeasureConfig, pointing_error_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """1σ (sample, line) errors of the centroids on the sky: the fit's, the pointing's, and a systematic term
    for flagged sources (near the limb and in blends centroids are pulled by the background, the truncated
    PSF and neighbours; saturated ones are fitted to their wings), px."""
    pulled = int(DetectionFlag.NEAR_LIMB | DetectionFlag.BLENDED)
    sys_px = np.array(
        [
            max(
                max(cfg.flagged_centroid_sys_px, 0.5 * d.extra.get("psf_core_sigma_px", 0.0))
                if d.flags & pulled
                else 0.0,
                cfg.saturated_centroid_sys_px if d.flags & DetectionFlag.SATURATED else 0.0,
            )
            for d in dets
        ]
    )
    s_err = np.sqrt(np.square([d.sample_err_px for d in dets]) + pointing_error_px**2 + sys_px**2)
    l_err = np.sqrt(np.square([d.line_err_px for d in dets]) + pointing_error_px**2 + sys_px**2)
    return s_err, l_err


def locate_detections(
    dets: list[Detection], bp: Backplanes, cfg: MeasureConfig, pointing_error_px: float
) -> list[SurfacePosition | None]:
    """Surface positions of one band's detections (set on them, with the viewing geometry at the source);
    a centroid off the disk is flagged OFF_DISK (and NEAR_LIMB when within reach of the limb). Returns the
    positions (None where off the disk)."""
    if not dets:
        return []
    xs = np.array([d.sample for d in dets])
    ys = np.array([band_line(d) for d in dets])
    s_err, l_err = centroid_errors_px(dets, cfg, pointing_error_px)
    near_px = max(d.extra.get("near_limb_px", 2 * d.extra.get("psf_core_sigma_px", 0.0) + 1) for d in dets)
    positions = surface_positions(
        bp, xs, ys, s_err, l_err, max_off_disk_px=max(near_px, 3 * pointing_error_px)
    )
    for det, pos in zip(dets, positions, strict=True):
        if pos is None:
            det.flags |= int(DetectionFlag.OFF_DISK)
            continue
        if not pos.on_disk:
            det.flags |= int(DetectionFlag.OFF_DISK | DetectionFlag.NEAR_LIMB)
        det.lat_deg, det.lon_w_deg = pos.lat_deg, pos.lon_w_deg
        det.lat_err_deg, det.lon_err_deg = pos.lat_err_deg, pos.lon_err_deg
        det.position_err_km = pos.position_err_km
        det.emission_deg, det.incidence_deg, det.phase_deg = (
            pos.emission_deg,
            pos.incidence_deg,
            pos.phase_deg,
        )
        det.range_km, det.pixel_scale_km = pos.range_km, pos.pixel_scale_km
        det.extra["geometry_err_fraction"] = pos.geometry_err_fraction
    return positions
