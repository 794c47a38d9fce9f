"""Named per-pixel geometry layers ("backplanes") and their computation from surface points.

Each backplane has a name, a unit and a one-line description (:data:`REGISTRY`, as planetmapper does).
Latitudes are planetographic °N unless the name says ``_pc``; longitudes are west °W (0–360).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
        BackplaneInfo("lat_deg", "deg", "Planetographic latitude of the surface point, deg N (SPICE recpgr)"),
        BackplaneInfo("lat_pc_deg", "deg", "Planetocentric latitude of the surface point, deg N"),
        BackplaneInfo("lon_w_deg", "deg", "West longitude of the surface point, deg W, 0-360"),
        BackplaneInfo("emission_deg", "deg", "Emission angle: surface normal to observer direction"),
        BackplaneInfo("incidence_deg", "deg", "Solar incidence angle: surface normal to Sun direction"),
        BackplaneInfo("phase_deg", "deg", "Phase angle at the surface point: Sun-point-observer"),
        BackplaneInfo("range_km", "km", "Distance from the observer to the surface point"),
        BackplaneInfo("pixel_scale_km", "km", "Pixel footprint at normal view: range x IFOV"),
        BackplaneInfo("local_solar_time_h", "h", "Local solar time at the surface point, 0-24 Io hours"),
        BackplaneInfo("on_disk", "", "1 where the pixel's ray meets Io, else 0"),
        BackplaneInfo(
            "limb_distance_px", "pix", "Signed distance to the limb, pixels (positive on the disk)"
        ),
    )
}


class LazyLayers(dict):
    """Backplane name → array where some layers are made only when first read (the same values).

    A provider hands over the layers it made (``ready``) and ``make_rest``, which returns the others;
    reading a ready layer (``[]``, ``in``) costs nothing more, anything else (another layer, iteration,
    ``items``, ``len``, copies, pickling) makes the rest once, in ``names``' order. Navigation's limb fit
    reads only the limb layers and incidence of the predicted geometry, which it re-points when it
    registers: the rest of those backplanes is then never made.

    With ``make_layer`` (name → a dict holding that layer, and any made with it) reading one layer that is
    not made yet makes that layer alone (a scan never reads some layers: ``lat_pc_deg``,
    ``local_solar_time_h``); anything else makes the layers still missing, by ``make_layer``. With
    ``make_at`` ((name, flat pixel indices) → those pixels' values, or None when it cannot) :meth:`values_at`
    reads a layer not made yet at a few pixels without making it. ``finite_on_disk``: the layers the
    provider makes finite exactly where ``on_disk`` is 1 (and NaN elsewhere).
    """

    def __init__(
        self,
        ready: dict,
        names: tuple[str, ...],
        make_rest: Callable[[], dict] | None = None,
        make_layer: Callable[[str], dict] | None = None,
        make_at: Callable[[str, np.ndarray], np.ndarray | None] | None = None,
        finite_on_disk: frozenset[str] = frozenset(),
    ):
        super().__init__(ready)
        self._make_at = make_at
        self.finite_on_disk = finite_on_disk
        self._names = names
        if make_rest is None:
            if make_layer is None:
                raise ValueError("LazyLayers needs make_rest or make_layer")
            make_rest = self._rest_by_layer
        self._make_rest: Callable[[], dict] | None = make_rest
        self._make_layer = make_layer
        self._lock = threading.Lock()  # one thread makes the rest; readers of a ready layer wait for it

    def values_at(self, name: str, flat: np.ndarray) -> np.ndarray:
        """``self[name].reshape(-1)[flat]`` (the same values), without making the layer when it is not made
        yet and the provider can evaluate those pixels alone (``make_at``)."""
        if self._make_at is not None and not dict.__contains__(self, name) and name in self._names:
            with self._lock:
                if self._make_at is not None and not dict.__contains__(self, name):
                    values = self._make_at(name, flat)
                    if values is not None:
                        return values
        return np.asarray(self[name]).reshape(-1)[flat]

    def _rest_by_layer(self) -> dict:
        """The layers not made yet, by ``make_layer`` (under the lock)."""
        rest: dict = {}
        for name in self._names:
            if name not in rest and not dict.__contains__(self, name):
                rest.update(self._make_layer(name))
        return rest

    def _make_one(self, name: str) -> None:
        """Make the layer ``name`` alone (and whatever ``make_layer`` makes with it), once."""
        with self._lock:
            if self._make_rest is None or dict.__contains__(self, name):
                return  # made meanwhile (by another thread, or the whole rest)
            for key, arr in self._make_layer(name).items():
                if not dict.__contains__(self, key):
                    super().__setitem__(key, arr)

    @property
    def pending(self) -> bool:
        """True while some layers are not made yet."""
        return self._make_rest is not None

    def _complete(self) -> None:
        if self._make_rest is None:
            return
        with self._lock:
            make = self._make_rest
            if make is None:  # another thread made it meanwhile
                return
            rest = make()
            have = dict(super().items())
            super().clear()
            for name in self._names:
                super().__setitem__(name, have.pop(name) if name in have else rest[name])
            for name, arr in have.items():  # layers set by hand beyond the provider's
                super().__setitem__(name, arr)
            self._make_rest = None
            self._make_layer = None
            self._make_at = None

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return super().__getitem__(name)
        except KeyError:  # not made yet, or another thread re-ordering the layers: wait for the rest
            if self._make_layer is not None and name in self._names:
                self._make_one(name)
                try:
                    return super().__getitem__(name)
                except KeyError:  # another thread re-ordering the layers
                    pass
            self._complete()
            return super().__getitem__(name)

    def __contains__(self, name) -> bool:
        return super().__contains__(name) or (self._make_rest is not None and name in self._names)

    def get(self, name, default=None):
        if name not in self:
            return default
        return self[name]

    def __delitem__(self, name) -> None:
        self._complete()
        super().__delitem__(name)

    def _completed(name: str):  # noqa: N805 (a decorator factory, not a method)
        def method(self, *args, **kwargs):
            self._complete()
            return getattr(dict, name)(self, *args, **kwargs)

        method.__name__ = name
        return method

    for _name in (
        "__iter__", "__len__", "__reversed__", "__repr__", "__eq__", "__ne__", "__or__", "__ror__",
        "__ior__", "keys", "values", "items", "pop", "popitem", "setdefault", "update", "copy", "clear",
    ):  # fmt: skip
        locals()[_name] = _completed(_name)
    del _name, _completed

    __hash__ = None  # type: ignore[assignment]

    def __reduce_ex__(self, protocol):
        """Pickled and copied as a plain dict of every layer."""
        self._complete()
        return dict, (dict(super().items()),)


SUN_IO_DISTANCE_KM = 7.785e8  # 5.204 au, for providers that only know the Sun's direction
#: the ``meta`` key of the Sun's occultation by Jupiter seen from Io (CSPICE ``occult``'s code: 0 none, −1
#: partial, −3 total; absent or None: not known), :attr:`Backplanes.in_jupiter_shadow`
SUN_OCCULTED_KEY = "sun_occulted_by_jupiter"
#: ``occult``'s code for a total occultation of the Sun (Io in Jupiter's umbra)
SUN_TOTALLY_OCCULTED = -3


@dataclass(frozen=True)
class LimbRegistration:
    """The limb fit whose offset re-pointed the geometry of a set of backplanes (navigation's limb
    registration, :func:`ioscan.geometry.navigate.navigate_frame`): in ``band`` the backplanes' limb *is*
    the limb fitted to that image, so detection need not measure it there again
    (:func:`ioscan.detect.region.locate_limb`).

    Attributes:
        band: the band whose image's limb was fitted.
        offset_px: (sample, line) correction applied, px.
        offset_err_px: the fit's 1σ of that correction (sample, line), px.
        rms_px: rms distance of the fit's edge points from the fitted limb, px.
        n_limb_points: edge points in the fit.
    """

    band: str
    offset_px: tuple[float, float]
    offset_err_px: tuple[float, float]
    rms_px: float
    n_limb_points: int


@dataclass
class Backplanes:
    """Per-pixel geometry of one frame (or one band of a frame).

    Attributes:
        arrays: backplane name → (n_lines, n_samples) float64 array, NaN off the disk.
        meta: provider ("spice", "label", "limbfit"), aberration correction, time, observer, disk centre...
        limb_conic_px: 3×3 symmetric C of the limb as the image conic xᵀCx = 0 in homogeneous pixels
            x = (sample, line, 1), > 0 on the disk: the curve ``limb_distance_px`` measures the distance to
            (None when the provider does not know it; the limb fit then fits one to that backplane).
        limb_registration: the limb fit that registered the pointing these backplanes were made with (None:
            predicted, or registered otherwise).
    """

    arrays: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)
    limb_conic_px: np.ndarray | None = None
    limb_registration: LimbRegistration | None = None

    @property
    def in_jupiter_shadow(self) -> bool:
        """True when the provider found Io in Jupiter's umbra (:data:`SUN_OCCULTED_KEY`): no pixel is sunlit,
        whatever the incidence (the Sun's direction alone) says."""
        return self.meta.get(SUN_OCCULTED_KEY) == SUN_TOTALLY_OCCULTED

    def limb_fitted_in(self, band: str) -> bool:
        """True when these backplanes' limb was registered on ``band``'s own image (its limb fit)."""
        return self.limb_registration is not None and self.limb_registration.band == band

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def values_at(self, name: str, flat: np.ndarray) -> np.ndarray:
        """Backplane ``name`` at the flat pixel indices ``flat`` (``self[name].reshape(-1)[flat]``: the same
        values), without making a lazy layer that is not made yet where its provider can help
        (:meth:`LazyLayers.values_at`)."""
        if isinstance(self.arrays, LazyLayers):
            return self.arrays.values_at(name, flat)
        return np.asarray(self.arrays[name]).reshape(-1)[flat]

    def finite_on_disk(self, name: str) -> bool:
        """True when the provider makes backplane ``name`` finite exactly where ``on_disk`` is 1 (so where it
        is finite on the disk is known without making it)."""
        return isinstance(self.arrays, LazyLayers) and name in self.arrays.finite_on_disk

    @property
    def on_disk(self) -> np.ndarray:
        """The ``on_disk`` backplane as booleans (read only), made once per array: measurement asks for it
        at every detection (~80 times a frame, 11 µs each for a JIRAM band)."""
        arr = self.arrays["on_disk"]
        kept = self.__dict__.get("_on_disk_bool")
        if kept is None or kept[0] is not arr:
            mask = arr.astype(bool)
            mask.flags.writeable = False
            kept = (arr, mask)
            self.__dict__["_on_disk_bool"] = kept
        return kept[1]

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
            p[0, 0] * (1 - fl) * (1 - fs)
            + p[0, 1] * (1 - fl) * fs
            + p[1, 0] * fl * (1 - fs)
            + p[1, 1] * fl * fs
        )


_DEG = 180.0 / np.pi


def lat_pg_deg_components(x, y, z, body: iobody.Ellipsoid = iobody.IO, p=None) -> np.ndarray:
    """Planetographic latitude °N of body-fixed points (SPICE ``recpgr``: geodetic on the spheroid a, c).

    Bowring's closed form (parametric-latitude start, one evaluation, no trigonometric calls but the final
    arctan2): error < 1e-9° against ``recpgr`` on Io's triaxial surface, < 1e-8° within ±10 km of it.
    """
    a = body.a_km
    c = a * (1.0 - body.flattening)
    e2 = 1.0 - (c / a) ** 2
    ep2 = (a / c) ** 2 - 1.0
    if p is None:
        p = np.sqrt(x * x + y * y)
    num, den = a * z, c * p  # tan(beta) = a z / (c p)
    r = num * num
    r += den * den
    np.sqrt(r, out=r)
    with np.errstate(invalid="ignore", divide="ignore"):
        num /= r  # sin(beta)
        den /= r  # cos(beta)
    num *= num * num
    num *= ep2 * c
    num += z
    den *= den * den
    den *= -e2 * a
    den += p
    out = np.arctan2(num, den)
    out *= _DEG
    return out


def _unit_dot_deg(ux, uy, uz, vx, vy, vz, norm_u, norm_v, sign: float = 1.0) -> np.ndarray:
    """Angle between two vectors (× ``sign``) given their norms, degrees (arccos: < 1e-6° error near 0°)."""
    dot = ux * vx
    dot += uy * vy
    dot += uz * vz
    norm = norm_u * norm_v
    if sign != 1.0:
        norm *= sign
    dot /= norm
    np.clip(dot, -1.0, 1.0, out=dot)
    np.arccos(dot, out=dot)
    dot *= _DEG
    return dot


def _norm3(x, y, z) -> np.ndarray:
    n = x * x
    n += y * y
    n += z * z
    return np.sqrt(n, out=n)


def lon_time_centric(x, y, z, rho, sun_lon_w_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(west longitude °, local solar time h, planetocentric latitude °) of body-frame points (x, y, z) km,
    ``rho`` = √(x² + y²), with the sub-solar west longitude ``sun_lon_w_deg``."""
    lon_w = lon_w_deg_of(x, y)
    return lon_w, local_solar_time_h_of(lon_w, sun_lon_w_deg), lat_pc_deg_of(z, rho)


def lon_w_deg_of(x, y) -> np.ndarray:
    """:func:`lon_time_centric`'s west longitude (°, [0, 360)) of body-frame points, a new array."""
    # west longitude in [0, 360) without np.mod (slow): −θ ≡ π − atan2(−y, −x); 0 − y keeps +0.0 for y = ±0
    lon_w = np.arctan2(np.subtract(0.0, y), np.negative(x))
    lon_w *= -_DEG
    lon_w += 180.0
    return lon_w


def local_solar_time_h_of(lon_w: np.ndarray, sun_lon_w_deg: float) -> np.ndarray:
    """:func:`lon_time_centric`'s local solar time (h, [0, 24)) at west longitudes ``lon_w`` (°), a new
    array."""
    # local solar time 12 h + (sun lon − lon)/15, wrapped into [0, 24) without np.mod
    c = (sun_lon_w_deg + 180.0) % 360.0
    lst = c - lon_w
    lst += 360.0 * (lst < 0.0)
    lst /= 15.0
    return lst


def lat_pc_deg_of(z, rho) -> np.ndarray:
    """:func:`lon_time_centric`'s planetocentric latitude (°), ``rho`` = √(x² + y²), a new array."""
    lat_pc = np.arctan2(z, rho)
    lat_pc *= _DEG
    return lat_pc


def surface_arrays(
    p: tuple[np.ndarray, np.ndarray, np.ndarray],
    to_obs: tuple,
    to_sun: tuple,
    range_km: np.ndarray,
    ifov_rad: float,
    sun_lon_w_deg: float,
    body: iobody.Ellipsoid = iobody.IO,
    obs_norm: np.ndarray | None = None,
    obs_sign: float = 1.0,
) -> dict[str, np.ndarray]:
    """Surface backplanes from flat component arrays (NaN points give NaN everywhere).

    Args:
        p: surface points (x, y, z), body frame, km.
        to_obs: vectors from the points toward the observer (any length; arrays or scalars).
        to_sun: vectors from the points toward the Sun (any length).
        range_km: observer–point distance, km.
        ifov_rad: angular pixel size, rad.
        sun_lon_w_deg: sub-solar west longitude (for local solar time).
        obs_norm: length of ``to_obs`` if already known.
        obs_sign: −1 if ``to_obs`` is given pointing the other way (from the observer to the point).
    """
    x, y, z = p
    w = 1.0 / body.radii_km**2
    nx, ny, nz = x * w[0], y * w[1], z * w[2]
    n_norm = _norm3(nx, ny, nz)
    o_norm = _norm3(*to_obs) if obs_norm is None else obs_norm
    s_norm = _norm3(*to_sun)
    rho = np.sqrt(x * x + y * y)
    lon_w, lst, lat_pc = lon_time_centric(x, y, z, rho, sun_lon_w_deg)
    return {
        "lat_deg": lat_pg_deg_components(x, y, z, body, p=rho),
        "lat_pc_deg": lat_pc,
        "lon_w_deg": lon_w,
        "emission_deg": _unit_dot_deg(nx, ny, nz, *to_obs, n_norm, o_norm, obs_sign),
        "incidence_deg": _unit_dot_deg(nx, ny, nz, *to_sun, n_norm, s_norm),
        "phase_deg": _unit_dot_deg(*to_obs, *to_sun, o_norm, s_norm, obs_sign),
        "range_km": range_km,
        "pixel_scale_km": range_km * ifov_rad,
        "local_solar_time_h": lst,
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
