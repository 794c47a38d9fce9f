"""Two-band colour temperature, emitting area and total power of the same hot spot seen in two bands of one
frame (:func:`colour_temperatures`): pairs are mutual nearest neighbours on the surface (or in pixels without
geometry), fitted with :func:`ioscan.radiometry.fit_color_temperature`."""

from __future__ import annotations

import numpy as np

from ioscan.measure.config import MeasureConfig
from ioscan.measure.intensity import spectral_factor
from ioscan.records import Detection, DetectionFlag, Frame


def _pair_distances(
    c1: list[Detection], c2: list[Detection], offset1: int, offset2: int, cfg: MeasureConfig
) -> np.ndarray:
    """(len(c1), len(c2)) distance ÷ tolerance of every pair (inf beyond the tolerance): surface distance (km)
    when both have geometry, else pixels."""
    from ioscan.body import IO_MEAN_RADIUS_KM

    def cols(ds: list[Detection], offset: int):
        geo = np.array([d.lat_deg is not None for d in ds])
        lat = np.radians(np.array([d.lat_deg if g else np.nan for d, g in zip(ds, geo, strict=True)], float))
        lon = np.array([d.lon_w_deg if g else np.nan for d, g in zip(ds, geo, strict=True)], float)
        err = np.array([d.position_err_km or 0 for d in ds], float)
        smp = np.array([d.sample for d in ds], float)
        lin = np.array([d.line - offset for d in ds], float)
        return geo, lat, lon, err, smp, lin

    g1, la, lo1, e1, s1, l1 = cols(c1, offset1)
    g2, lb, lo2, e2, s2, l2 = cols(c2, offset2)
    la, e1, s1, l1 = la[:, None], e1[:, None], s1[:, None], l1[:, None]
    dlon = np.radians(lo1[:, None] - lo2)
    with np.errstate(invalid="ignore"):
        h = np.sin((lb - la) / 2) ** 2 + np.cos(la) * np.cos(lb) * np.sin(dlon / 2) ** 2
        d_km = 2 * IO_MEAN_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    tol_km = np.fmax(cfg.match_radius_km, 3 * np.hypot(e1, e2))
    d_px = np.hypot(s1 - s2, l1 - l2)
    geo = g1[:, None] & g2[None]
    d = np.where(geo, d_km, d_px)
    tol = np.where(geo, tol_km, cfg.match_radius_px)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d <= tol, d / tol, np.inf)


def pair_bands(
    dets1: list[Detection], dets2: list[Detection], *, offset1: int, offset2: int, cfg: MeasureConfig
) -> list[tuple[Detection, Detection]]:
    """Mutual nearest pairs between two bands: by surface distance when both have geometry, else by pixels."""
    pairs = []
    bad = DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT
    c1 = [d for d in dets1 if not d.flags & bad]
    c2 = [d for d in dets2 if not d.flags & bad]
    if not c1 or not c2:
        return pairs
    dist = _pair_distances(c1, c2, offset1, offset2, cfg)
    for i in range(len(c1)):
        j = int(np.argmin(dist[i]))
        if np.isfinite(dist[i, j]) and int(np.argmin(dist[:, j])) == i:
            pairs.append((c1[i], c2[j]))
    return pairs


def colour_temperatures(
    frame: Frame, by_band: dict[str, list[Detection]], cfg: MeasureConfig, messages: list[str]
) -> None:
    """Colour temperature, area and power of matched pairs of the frame's two shortest bands (JIRAM L/M, or
    two NIRC2 filters), set on both detections of each pair."""
    from ioscan.radiometry import band_response, fit_color_temperature

    names = [b for b in frame.bands if by_band.get(b)]
    if len(names) < 2:
        return
    names = sorted(names, key=lambda b: frame.bands[b].wavelength_um)[:2]
    b1, b2 = frame.bands[names[0]], frame.bands[names[1]]
    try:
        r1, r2 = band_response(frame.instrument, b1.band), band_response(frame.instrument, b2.band)
    except Exception as exc:  # noqa: BLE001 - unknown filter: no colour temperature, not a failure
        messages.append(f"two-band fit skipped: {exc}")
        return
    for d1, d2 in pair_bands(
        by_band[names[0]],
        by_band[names[1]],
        offset1=b1.line_offset,
        offset2=b2.line_offset,
        cfg=cfg,
    ):
        geo = d1.spectral_intensity_gw_um_sr is not None and d2.spectral_intensity_gw_um_sr is not None
        if geo:
            i1, e1 = d1.spectral_intensity_gw_um_sr, d1.spectral_intensity_err_gw_um_sr
            i2, e2 = d2.spectral_intensity_gw_um_sr, d2.spectral_intensity_err_gw_um_sr
        else:  # same camera footprint in both bands: the ratio (hence T) needs no geometry
            i1, e1 = d1.spectral_radiance_sum_w_m2_sr_um, d1.net_radiance_sum_err * spectral_factor(b1)
            i2, e2 = d2.spectral_radiance_sum_w_m2_sr_um, d2.net_radiance_sum_err * spectral_factor(b2)
        fit = fit_color_temperature(r1, r2, i1, e1, i2, e2)
        for d, other in ((d1, d2), (d2, d1)):
            d.extra["pair"] = {"band": other.band, "sample": other.sample, "line": other.line}
            d.extra["color_fit_message"] = fit.message
        if not fit.valid:
            messages.append(
                f"colour fit {d1.band}/{d2.band} at ({d1.sample:.1f}, {d1.line:.1f}): {fit.message}"
            )
            continue
        for d in (d1, d2):
            d.color_temperature_k, d.color_temperature_err_k = fit.temperature_k, fit.temperature_err_k
            if geo:
                d.area_km2, d.area_err_km2 = fit.area_km2, fit.area_err_km2
                d.total_power_gw, d.total_power_err_gw = fit.power_gw, fit.power_err_gw
