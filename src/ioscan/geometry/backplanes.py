"""Named per-pixel geometry layers ("backplanes") and their computation from surface points.

Each backplane has a name, a unit and a one-line description (:data:`REGISTRY`, as planetmapper does).
Latitudes are planetographic °N unless the name says ``_pc``; longitudes are west °W (0–360).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ioscan import body as iobody


@dataclass(frozen=True)
class BackplaneInfo:
    """Name, unit and one-line description of a backplane."""

    name: str
    unit: str
    description: str


REGISTRY: dict[str, BackplaneInfo] = {
    b.name: b
    for b in (
        BackplaneInfo("lat_deg", "deg", "Planetographic latitude of the surface point, °N (SPICE recpgr)"),
        BackplaneInfo("lat_pc_deg", "deg", "Planetocentric latitude of the surface point, °N"),
        BackplaneInfo("lon_w_deg", "deg", "West longitude of the surface point, °W, 0-360"),
        BackplaneInfo("emission_deg", "deg", "Emission angle: surface normal to observer direction"),
        BackplaneInfo("incidence_deg", "deg", "Solar incidence angle: surface normal to Sun direction"),
        BackplaneInfo("phase_deg", "deg", "Phase angle at the surface point: Sun-point-observer"),
        BackplaneInfo("range_km", "km", "Distance from the observer to the surface point"),
        BackplaneInfo("pixel_scale_km", "km", "Pixel footprint at normal view: range x IFOV"),
        BackplaneInfo("local_solar_time_h", "h", "Local solar time at the surface point, 0-24 Io hours"),
        BackplaneInfo("on_disk", "", "1 where the pixel's ray meets Io, else 0"),
        BackplaneInfo("limb_distance_px", "pix", "Signed distance to the limb, pixels (positive on the disk)"),
    )
}

SUN_IO_DISTANCE_KM = 7.785e8  # 5.204 au, for providers that only know the Sun's direction


@dataclass
class Backplanes:
    """Per-pixel geometry of one frame (or one band of a frame).

    Attributes:
        arrays: backplane name → (n_lines, n_samples) float64 array, NaN off the disk.
        meta: provider ("spice", "label", "limbfit"), aberration correction, time, observer, disk centre...
    """

    arrays: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @property
    def on_disk(self) -> np.ndarray:
        return self.arrays["on_disk"].astype(bool)

    @property
    def shape(self) -> tuple[int, int]:
        return self.arrays["on_disk"].shape  # type: ignore[return-value]

    def value_at(self, name: str, sample: float, line: float) -> float:
        """Bilinear value of a backplane at a sub-pixel position (NaN if any neighbour is off-disk)."""
        arr = self.arrays[name]
        nl, ns = arr.shape
        s0, l0 = int(np.floor(sample)), int(np.floor(line))
        s0, l0 = min(max(s0, 0), ns - 2), min(max(l0, 0), nl - 2)
        fs, fl = sample - s0, line - l0
        if name == "lon_w_deg":  # interpolate across the 0/360 seam on unit vectors
            patch = np.radians(arr[l0 : l0 + 2, s0 : s0 + 2])
            w = np.array([[(1 - fl) * (1 - fs), (1 - fl) * fs], [fl * (1 - fs), fl * fs]])
            return float(np.degrees(np.arctan2(np.sum(w * np.sin(patch)), np.sum(w * np.cos(patch)))) % 360)
        p = arr[l0 : l0 + 2, s0 : s0 + 2]
        return float(
            p[0, 0] * (1 - fl) * (1 - fs) + p[0, 1] * (1 - fl) * fs + p[1, 0] * fl * (1 - fs) + p[1, 1] * fl * fs
        )


def _angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between vectors (..., 3), degrees (atan2 form, accurate at all angles)."""
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    return np.degrees(np.arctan2(cross, np.sum(u * v, axis=-1)))


def surface_backplanes(
    points_km: np.ndarray,
    hit: np.ndarray,
    observer_km: np.ndarray,
    sun_km: np.ndarray,
    ifov_rad: float,
    limb_distance_px: np.ndarray,
    body: iobody.Ellipsoid = iobody.IO,
) -> dict[str, np.ndarray]:
    """All registered backplanes from surface points.

    Args:
        points_km: surface points (n_lines, n_samples, 3), body-fixed km, NaN where missed.
        hit: on-disk mask.
        observer_km: observer position in the body frame (3,) or per pixel (..., 3), km.
        sun_km: Sun position relative to Io's centre in the body frame (3,) or (..., 3), km.
        ifov_rad: angular pixel size, rad.
        limb_distance_px: signed limb distance, pixels.
    """
    normal = iobody.surface_normal(points_km, body)
    to_obs = observer_km - points_km
    to_sun = sun_km - points_km
    rng = np.linalg.norm(to_obs, axis=-1)
    lon_w = iobody.vector_to_lon_w_deg(points_km)
    sun_lon_w = float(iobody.vector_to_lon_w_deg(np.asarray(sun_km, dtype=float).reshape(-1, 3).mean(axis=0)))
    return {
        "lat_deg": iobody.vector_to_lat_pg_deg(points_km, body),
        "lat_pc_deg": iobody.vector_to_lat_pc_deg(points_km),
        "lon_w_deg": lon_w,
        "emission_deg": _angle_deg(normal, to_obs),
        "incidence_deg": _angle_deg(normal, to_sun),
        "phase_deg": _angle_deg(to_obs, to_sun),
        "range_km": rng,
        "pixel_scale_km": rng * ifov_rad,
        "local_solar_time_h": np.mod(12.0 + (sun_lon_w - lon_w) / 15.0, 24.0),
        "on_disk": hit.astype(np.float64),
        "limb_distance_px": limb_distance_px,
    }


def to_fits_hdulist(backplanes: Backplanes):
    """A multi-extension FITS HDUList: one named image extension per backplane, units in BUNIT."""
    from astropy.io import fits

    primary = fits.PrimaryHDU()
    for key, value in backplanes.meta.items():
        if isinstance(value, (str, int, float, bool)) and len(key) <= 8:
            primary.header[key.upper()] = value
        elif isinstance(value, (str, int, float, bool)):
            primary.header[f"HIERARCH IOSCAN {key.upper()}"] = value
    hdus = [primary]
    for name, arr in backplanes.arrays.items():
        info = REGISTRY.get(name)
        hdu = fits.ImageHDU(np.asarray(arr, dtype=np.float32), name=name.upper())
        if info is not None:
            hdu.header["BUNIT"] = info.unit
            hdu.header["COMMENT"] = info.description
        hdus.append(hdu)
    return fits.HDUList(hdus)
