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


def _fallback_pixel(arr: np.ndarray, s: np.ndarray, ln: np.ndarray) -> np.ndarray:
    """Flat index of the pixel :func:`_bilinear` falls back to at each position (a neighbour NaN), −1 where
    it interpolates."""
    nl, ns = arr.shape
    s0 = np.clip(np.floor(s).astype(int), 0, ns - 2)
    l0 = np.clip(np.floor(ln).astype(int), 0, nl - 2)
    cell = np.isfinite(arr[l0, s0]) & np.isfinite(arr[l0, s0 + 1])
    cell &= np.isfinite(arr[l0 + 1, s0]) & np.isfinite(arr[l0 + 1, s0 + 1])
    i = np.clip(np.rint(ln).astype(int), 0, nl - 1)
    j = np.clip(np.rint(s).astype(int), 0, ns - 1)
    return np.where(cell, -1, i * ns + j)


#: the backplanes surface_positions differentiates (the others are read at the centroid only)
_DIFFERENTIATED = ("lat_deg", "lon_w_deg", "pixel_scale_km", "emission_deg")


def _at_points(read, arr: np.ndarray, points: list[tuple[np.ndarray, np.ndarray]], **kw) -> list[np.ndarray]:
    """``read(arr, s, ln, **kw)`` (:func:`_bilinear`, :func:`_fallback_pixel`: position by position) at every
    (s, ln) of ``points`` in one call, split back: each position's own value."""
    sizes = np.cumsum([len(s) for s, _ in points])[:-1]
    s = np.concatenate([s for s, _ in points])
    ln = np.concatenate([ln for _, ln in points])
    return np.split(read(arr, s, ln, **kw), sizes)


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
    h = 0.5
    # every position a value or a difference reads (the centre, then ± h along samples and lines), each
    # backplane's bilinear values and fallback pixels at all of them in one call (each position's own values)
    shifts = ((h, 0), (0, h))
    points = (
        [(ps, pl)] + [(ps + ds, pl + dl) for ds, dl in shifts] + [(ps - ds, pl - dl) for ds, dl in shifts]
    )
    centre = 0
    plus = {shift: 1 + k for k, shift in enumerate(shifts)}
    minus = {shift: 1 + len(shifts) + k for k, shift in enumerate(shifts)}
    values = {
        name: _at_points(_bilinear, a[name], points, angle=name == "lon_w_deg") for name in _DIFFERENTIATED
    }
    pixels = {name: _at_points(_fallback_pixel, a[name], points) for name in _DIFFERENTIATED}
    lat, lon = values["lat_deg"][centre], values["lon_w_deg"][centre]

    def deriv(name: str, ds: float, dl: float, strict: bool = False) -> np.ndarray:
        angle = name == "lon_w_deg"
        c = values[name][centre]
        fa, fb = values[name][plus[ds, dl]], values[name][minus[ds, dl]]
        both = np.isfinite(fa) & np.isfinite(fb)
        diff = np.where(both, fa - fb, np.where(np.isfinite(fa), fa - c, c - fb))
        span = np.where(both, 2 * h, h)
        if angle:
            diff = (diff + 180.0) % 360.0 - 180.0
        if strict:  # the two values read the same pixel (off-disk neighbours): no derivative, not a 0 one
            pa, pb, pc = pixels[name][plus[ds, dl]], pixels[name][minus[ds, dl]], pixels[name][centre]
            one = np.where(np.isfinite(fa), pa, pb)  # a one-sided difference's side, against the centre
            same = np.where(both, (pa >= 0) & (pa == pb), (one >= 0) & (one == pc))
            diff = np.where(same, np.nan, diff)
        return diff / span

    # strict: at the limb pixel both sides of a difference can fall back to the same pixel, whose 0 stated a
    # position error of 0 where it is largest; there the error is unknown (NaN), not 0
    dlat_ds, dlat_dl = deriv("lat_deg", h, 0, strict=True), deriv("lat_deg", 0, h, strict=True)
    dlon_ds, dlon_dl = deriv("lon_w_deg", h, 0, strict=True), deriv("lon_w_deg", 0, h, strict=True)
    lat_err = np.hypot(dlat_ds * s_err, dlat_dl * l_err)
    lon_err = np.hypot(dlon_ds * s_err, dlon_dl * l_err)
    rad = np.radians
    coslat = np.cos(rad(lat))
    n_s, e_s = IO_MEAN_RADIUS_KM * rad(dlat_ds), IO_MEAN_RADIUS_KM * coslat * rad(dlon_ds)
    n_l, e_l = IO_MEAN_RADIUS_KM * rad(dlat_dl), IO_MEAN_RADIUS_KM * coslat * rad(dlon_dl)
    pos_km = np.sqrt((n_s**2 + e_s**2) * s_err**2 + (n_l**2 + e_l**2) * l_err**2)
    other = {
        name: values[name][centre] if name in values else _bilinear(a[name], ps, pl)
        for name in ("emission_deg", "incidence_deg", "phase_deg", "range_km", "pixel_scale_km")
    }
    # the intensity's geometric factor G = (pixel scale)² / cos e, taken at the measured position: its log
    # derivative along samples and lines times the centroid errors (fit, pointing, systematic)
    dlng = []
    for ds, dl in ((h, 0), (0, h)):
        # strict, as above: no geometric error is known there (the intensity is withheld: measure.intensity)
        d_scale = deriv("pixel_scale_km", ds, dl, strict=True) / other["pixel_scale_km"]
        d_e = np.radians(deriv("emission_deg", ds, dl, strict=True))
        d_e = d_e * np.tan(np.radians(other["emission_deg"]))
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


#: flags as plain ints (an IntFlag's & goes through the enum machinery)
_SATURATED, _OFF_DISK, _NEAR_LIMB = (
    int(DetectionFlag.SATURATED),
    int(DetectionFlag.OFF_DISK),
    int(DetectionFlag.NEAR_LIMB),
)
#: a flagged (NEAR_LIMB, BLENDED) centroid's systematic error is at least this fraction of the PSF core σ
FLAGGED_CORE = 0.25


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
                max(cfg.flagged_centroid_sys_px, FLAGGED_CORE * d.extra.get("psf_core_sigma_px", 0.0))
                if d.flags & pulled
                else 0.0,
                cfg.saturated_centroid_sys_px if d.flags & _SATURATED else 0.0,
            )
            for d in dets
        ]
    )
    s_err = np.sqrt(np.square([d.sample_err_px for d in dets]) + pointing_error_px**2 + sys_px**2)
    l_err = np.sqrt(np.square([d.line_err_px for d in dets]) + pointing_error_px**2 + sys_px**2)
    return s_err, l_err


@dataclass
class PointingSamples:
    """A band's geometry and draws of its remaining pointing error, to propagate into the measurements.

    Attributes:
        view: the band's camera and pose (:class:`ioscan.geometry.views.View`), the same geometry as its
            backplanes.
        offsets_px: (N, 2) draws of the scene shift (sample, line) still unknown, observed − predicted, px:
            a registered frame's covariance, or an unregistered frame's posterior or prior (bounded, mostly
            along track).
        ground_err_km: 1σ ground position error beyond the pointing (a limb registration's: Io's limb is not
            the ellipsoid's), km, added isotropically to the positions' covariance only.
    """

    view: object
    offsets_px: np.ndarray
    ground_err_km: float = 0.0


#: at least this fraction of a detection's pointing draws must land on Io for a position
MIN_ON_DISK_FRACTION = 0.5


def sampled_positions(
    dets: list[Detection], pointing: PointingSamples, s_err: np.ndarray, l_err: np.ndarray, seed: int = 0
) -> list[dict | None]:
    """Geometry of each detection under every draw of the pointing error (plus its centroid error): the
    mean position (planetographic °N, west °W) with its 2×2 covariance (1σ along lat and lon, correlation),
    emission and range with their spread, and the foreshortening-corrected intensity factor
    (pixel scale² / cos e, km²) as its median and a symmetric 1σ that covers its central 95 %. Draws that
    push the source off Io are dropped (a hot spot is on Io); ``p_on_disk`` says how many stayed. None where
    fewer than :data:`MIN_ON_DISK_FRACTION` of them land on Io."""
    if not dets:
        return []
    return _summaries(len(dets), *_sampled_columns(dets, pointing, s_err, l_err, seed))


def _sampled_columns(
    dets: list[Detection], pointing: PointingSamples, s_err: np.ndarray, l_err: np.ndarray, seed: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`sampled_positions` as columns (:func:`_summary_columns`); ``dets`` not empty."""
    off = np.asarray(pointing.offsets_px, dtype=float)
    n, k = len(dets), len(off)
    rng = np.random.default_rng(seed)
    xs = np.array([d.sample for d in dets])[:, None] - off[None, :, 0]
    ys = np.array([band_line(d) for d in dets])[:, None] - off[None, :, 1]
    xs = xs + rng.standard_normal((n, k)) * s_err[:, None]
    ys = ys + rng.standard_normal((n, k)) * l_err[:, None]
    g = pointing.view.surface(xs, ys)
    return _summary_columns(g)


#: radians per degree and degrees per radian, as ``np.radians`` and ``np.degrees`` multiply by them (the same
#: values, without their slower loops)
_RAD_PER_DEG, _DEG_PER_RAD = np.pi / 180.0, 180.0 / np.pi


def _row_percentiles(x: np.ndarray, count: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Percentiles ``qs`` (%) of the first ``count[i]`` values of each row of ``x`` sorted ascending (NaN
    last), as ``np.percentile``'s default (linear) method gives them: (n, len(qs))."""
    rows = np.arange(len(x))
    out = np.empty((len(x), len(qs)))
    last = np.maximum(count - 1, 0)
    for c, q in enumerate(qs):
        virtual = (q / 100.0) * last
        lo = np.floor(virtual).astype(np.intp)
        hi = np.minimum(lo + 1, last)
        t = virtual - lo
        a, b = x[rows, lo], x[rows, hi]
        diff = b - a
        out[:, c] = np.where(t >= 0.5, b - diff * (1.0 - t), a + diff * t)  # numpy's _lerp
    return out


def _summarise_draws(g: dict[str, np.ndarray]) -> list[dict | None]:
    """:func:`sampled_positions`' per-detection summaries of the draws' geometry ``g`` (n detections × k
    draws), all detections at once (the draws that stay on Io, masked)."""
    return _summaries(len(g["on_disk"]), *_summary_columns(g))


#: the keys of a :func:`sampled_positions` summary, in their order
SUMMARY_KEYS = (
    "lat_deg",
    "lon_w_deg",
    "lat_err_deg",
    "lon_err_deg",
    "lat_lon_err_corr",
    "position_err_km",
    "emission_deg",
    "emission_err_deg",
    "incidence_deg",
    "phase_deg",
    "range_km",
    "range_err_km",
    "pixel_scale_km",
    "geometry_factor_km2",
    "geometry_factor_err_km2",
    "p_on_disk",
)


def _summaries(n: int, use: np.ndarray, columns: dict[str, np.ndarray]) -> list[dict | None]:
    """The summaries of :func:`_summary_columns`' columns, one dict of Python floats per detection (None
    for the ``n`` detections not in ``use``)."""
    out: list[dict | None] = [None] * n
    rows = zip(*(columns[key].tolist() for key in SUMMARY_KEYS), strict=True)
    for i, row in zip(use.tolist(), rows, strict=True):
        out[i] = dict(zip(SUMMARY_KEYS, row, strict=True))
    return out


def _summary_columns(g: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The detections of ``g`` (n × k draws) that get a summary (``use``) and their summaries as columns
    (float64 arrays, :data:`SUMMARY_KEYS`), all detections at once (the draws that stay on Io, masked)."""
    on = np.asarray(g["on_disk"], dtype=bool)
    n_on = on.sum(axis=1)
    frac = on.mean(axis=1)
    use = np.flatnonzero((frac >= MIN_ON_DISK_FRACTION) & (n_on >= 8))
    if len(use) == 0:
        return use, {key: np.empty(0) for key in SUMMARY_KEYS}
    on, cnt = on[use], n_on[use].astype(float)
    everywhere = bool(on.all())  # every draw on Io: the masks change nothing

    def masked(x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        return x if everywhere else np.where(on, x, fill)

    def mean(x: np.ndarray) -> np.ndarray:
        return masked(x).sum(axis=1) / cnt

    def pick(key: str) -> np.ndarray:
        return masked(np.asarray(g[key], dtype=float)[use])

    lat, lon = pick("lat_deg") * _RAD_PER_DEG, pick("lon_w_deg") * _RAD_PER_DEG
    cos_lat = np.cos(lat)
    m = np.stack([mean(cos_lat * np.cos(lon)), mean(cos_lat * np.sin(lon)), mean(np.sin(lat))], -1)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    lat0, lon0 = np.arcsin(m[:, 2]), np.arctan2(m[:, 1], m[:, 0])
    dlat = (lat - lat0[:, None]) * _DEG_PER_RAD
    dlon = _wrap_180((lon - lon0[:, None]) * _DEG_PER_RAD)
    rlat, rlon = masked(dlat - mean(dlat)[:, None]), masked(dlon - mean(dlon)[:, None])
    c00, c11, c01 = ((a * b).sum(axis=1) / (cnt - 1.0) for a, b in ((rlat, rlat), (rlon, rlon), (rlat, rlon)))
    sl, so = np.sqrt(c00), np.sqrt(c11)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where((sl > 0) & (so > 0), c01 / (sl * so), 0.0)
    pos_km = np.radians(1.0) * IO_MEAN_RADIUS_KM * np.sqrt(c00 + np.cos(lat0) ** 2 * c11)
    e, rng_km, scale = pick("emission_deg"), pick("range_km"), pick("pixel_scale_km")
    e_mean, r_mean = mean(e), mean(rng_km)
    e_std = np.sqrt(mean((e - e_mean[:, None]) ** 2))  # x² = |x|², exactly
    r_std = np.sqrt(mean((rng_km - r_mean[:, None]) ** 2))
    with np.errstate(divide="ignore"):
        factor = scale**2 / np.clip(np.cos(e * _RAD_PER_DEG), 1e-6, None)
    ordered = np.sort(masked(factor, np.nan), axis=1)  # NaN (off Io) last
    # the 1σ is the larger side of the central 95 % over 1.96: 1.025-1.054x the linear propagation of the same
    # pointing covariance on the simulated campaigns (bench_pulls seeds 20261208 / 7; 1.033 on Gaussian draws
    # of 256, the larger of two noisy sides). Tried and left: half the central 68 % (0.993 on Gaussian draws)
    # covered the true factor at ± 1.96σ in 90.0 % of close-flyby detections against 94.0 % (skewed factors
    # near the limb; bench_navigation --quick), and the larger of that and half the central 95 % / 1.96
    # (1.014) in 91.5 %: a 2-4 % gain in the campaigns' geometric pulls is not worth the intervals it narrows
    lo, med, hi = _row_percentiles(ordered, n_on[use], (2.5, 50.0, 97.5)).T
    inc, phase, scale_mean = mean(pick("incidence_deg")), mean(pick("phase_deg")), mean(scale)
    low, high = med - lo, hi - med
    columns = {  # per detection
        "lat_deg": lat0 * _DEG_PER_RAD,
        "lon_w_deg": (lon0 * _DEG_PER_RAD) % 360.0,
        "lat_err_deg": sl,
        "lon_err_deg": so,
        "lat_lon_err_corr": corr,
        "position_err_km": pos_km,
        "emission_deg": e_mean,
        "emission_err_deg": e_std,
        "incidence_deg": inc,
        "phase_deg": phase,
        "range_km": r_mean,
        "range_err_km": r_std,
        "pixel_scale_km": scale_mean,
        "geometry_factor_km2": med,
        # the larger side (max(high, low), as Python's max: the first unless the second is larger) / 1.96
        "geometry_factor_err_km2": np.where(low > high, low, high) / 1.96,
        "p_on_disk": frac[use],
    }
    return use, {key: np.asarray(v, dtype=float) for key, v in columns.items()}


def _wrap_180(angle_deg: np.ndarray) -> np.ndarray:
    """(angle + 180) % 360 − 180, degrees, the same values: for sums in (−360, 720), where ``%`` is exact,
    by one subtraction or addition of 360 (Sterbenz: exact), else by ``%``."""
    shifted = angle_deg + 180.0
    if not (shifted.size and shifted.min() > -360.0 and shifted.max() < 720.0):
        return shifted % 360.0 - 180.0
    shifted -= np.where(shifted >= 360.0, 360.0, np.where(shifted < 0.0, -360.0, 0.0))
    shifted -= 180.0
    return shifted


def with_ground_error(g: dict, ground_err_km: float) -> dict:
    """A :func:`sampled_positions` summary with an isotropic ground error of ``ground_err_km`` (1σ, km) in its
    position covariance (lat/lon 1σ, their correlation, ``position_err_km``); emission, range and the
    intensity factor are left as they are."""
    lat_deg = np.degrees(ground_err_km / IO_MEAN_RADIUS_KM)
    lon_deg = lat_deg / max(np.cos(np.radians(g["lat_deg"])), 1e-6)
    sl, so, corr = g["lat_err_deg"], g["lon_err_deg"], g["lat_lon_err_corr"]
    new_sl, new_so = float(np.hypot(sl, lat_deg)), float(np.hypot(so, lon_deg))
    out = dict(g)
    out["lat_err_deg"], out["lon_err_deg"] = new_sl, new_so
    out["lat_lon_err_corr"] = float(corr * sl * so / (new_sl * new_so)) if new_sl * new_so > 0 else 0.0
    out["position_err_km"] = float(np.hypot(g["position_err_km"], np.sqrt(2.0) * ground_err_km))
    return out


def with_ground_errors(summaries: list[dict | None], ground_err_km: float) -> list[dict | None]:
    """:func:`with_ground_error` of every summary at once (None left as None), the same values."""
    rows = [i for i, g in enumerate(summaries) if g is not None]
    if not rows:
        return list(summaries)
    keys = ("lat_deg", "lat_err_deg", "lon_err_deg", "lat_lon_err_corr", "position_err_km")
    columns = {key: np.array([summaries[i][key] for i in rows], dtype=float) for key in keys}
    columns = _ground_columns(columns, ground_err_km)
    out = list(summaries)
    changed = ("lat_err_deg", "lon_err_deg", "lat_lon_err_corr", "position_err_km")
    for i, a, b, c, e in zip(rows, *(columns[key].tolist() for key in changed), strict=True):
        out[i] = dict(summaries[i])
        out[i].update(lat_err_deg=a, lon_err_deg=b, lat_lon_err_corr=c, position_err_km=e)
    return out


def _ground_columns(columns: dict[str, np.ndarray], ground_err_km: float) -> dict[str, np.ndarray]:
    """:func:`with_ground_error` of summaries given as columns (float arrays, ``lat_deg``, ``lat_err_deg``,
    ``lon_err_deg``, ``lat_lon_err_corr``, ``position_err_km`` at least): the columns, these four new."""
    lat_deg = np.degrees(ground_err_km / IO_MEAN_RADIUS_KM)
    lon_deg = lat_deg / np.maximum(np.cos(np.radians(columns["lat_deg"])), 1e-6)
    sl, so, corr = columns["lat_err_deg"], columns["lon_err_deg"], columns["lat_lon_err_corr"]
    new_sl, new_so = np.hypot(sl, lat_deg), np.hypot(so, lon_deg)
    both = new_sl * new_so
    with np.errstate(invalid="ignore", divide="ignore"):
        new_corr = np.where(both > 0, corr * sl * so / both, 0.0)
    pos_km = np.hypot(columns["position_err_km"], np.sqrt(2.0) * ground_err_km)
    return columns | {
        "lat_err_deg": new_sl,
        "lon_err_deg": new_so,
        "lat_lon_err_corr": new_corr,
        "position_err_km": pos_km,
    }


def locate_detections(
    dets: list[Detection],
    bp: Backplanes,
    cfg: MeasureConfig,
    pointing_error_px: float,
    pointing: PointingSamples | None = None,
) -> list[SurfacePosition | None]:
    """Surface positions of one band's detections (set on them, with the viewing geometry at the source);
    a centroid off the disk is flagged OFF_DISK (and NEAR_LIMB when within reach of the limb). Returns the
    positions (None where off the disk).

    With ``pointing`` the pointing error is propagated by its draws (:func:`sampled_positions`): positions
    get a full 2×2 covariance (``lat_lon_err_corr``), emission and range their errors, and the intensity
    factor its spread (``extra['geometry_factor_km2']``, ``extra['geometry_factor_err_km2']``, used by the
    intensity); otherwise by the backplanes' local Jacobian with ``pointing_error_px`` on both axes."""
    if not dets:
        return []
    if pointing is not None:
        return _locate_sampled(dets, bp, cfg, pointing)
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


#: the sampled summary's keys set on a detection as they are
_SAMPLED_FIELDS = SUMMARY_KEYS[: SUMMARY_KEYS.index("pixel_scale_km") + 1]
#: SurfacePosition's fields taken from the sampled summary
_POSITION_FIELDS = tuple(
    k for k in SurfacePosition.__dataclass_fields__ if k not in ("on_disk", "geometry_err_fraction")
)


def _locate_sampled(
    dets: list[Detection], bp: Backplanes, cfg: MeasureConfig, pointing: PointingSamples
) -> list[SurfacePosition | None]:
    s_err, l_err = centroid_errors_px(dets, cfg, 0.0)
    seed = int(abs(hash((round(dets[0].sample, 3), round(dets[0].line, 3)))) % 2**31)
    # the summaries as columns (sampled_positions, with_ground_errors: the same values), not a dict each
    use, columns = _sampled_columns(dets, pointing, s_err, l_err, seed)
    if pointing.ground_err_km > 0 and len(use):
        columns = _ground_columns(columns, pointing.ground_err_km)
    values = {key: columns[key].tolist() for key in SUMMARY_KEYS}
    summary_of = dict(zip(use.tolist(), range(len(use)), strict=True))
    out: list[SurfacePosition | None] = []
    nl, ns = bp.shape
    on_disk = bp.on_disk
    for k, det in enumerate(dets):
        j = summary_of.get(k)
        if j is None:
            det.flags |= _OFF_DISK
            out.append(None)
            continue
        # the nearest pixel (round half to even, as np.rint), clipped to the band
        i = min(max(round(band_line(det)), 0), nl - 1)
        jj = min(max(round(det.sample), 0), ns - 1)
        on = bool(on_disk[i, jj])
        if not on:
            det.flags |= _NEAR_LIMB
        for key in _SAMPLED_FIELDS:
            setattr(det, key, values[key][j])
        factor, factor_err = values["geometry_factor_km2"][j], values["geometry_factor_err_km2"][j]
        det.extra["geometry_factor_km2"] = factor
        det.extra["geometry_factor_err_km2"] = factor_err
        det.extra["p_on_disk"] = values["p_on_disk"][j]
        # the sampled spread of (pixel scale)²/cos e is the intensity's geometric error (measure.errors)
        geo_frac = factor_err / factor if factor else np.nan
        det.extra["geometry_err_fraction"] = float(geo_frac)
        out.append(
            SurfacePosition(
                **{key: values[key][j] for key in _POSITION_FIELDS},
                on_disk=on,
                geometry_err_fraction=float(geo_frac),
            )
        )
    return out
