"""``ioscan lightcurve``: one hot spot's light curve in one band, its variability statistics, its events and
a Lomb–Scargle periodogram (the CLI prints and plots what :func:`hotspot_lightcurve` returns)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ioscan.errors import CatalogError

#: fewest points for a period search
MIN_POINTS_FOR_PERIODS = 5


@dataclass
class HotspotLightcurve:
    """A hot spot's light curve and what is known about it.

    Attributes:
        hotspot_id, band: which light curve.
        points: detections in time order; ``value`` is the foreshortening-corrected spectral intensity,
            ``err`` its random and ``sys_err`` its systematic 1σ error, GW µm⁻¹ sr⁻¹; ``lower_limit`` marks
            saturated sources (not measurements).
        stats: variability statistics from the random errors, lower limits left out
            (:func:`ioscan.track.lightcurve.variability_stats`), with the systematic error of the mean level.
        events: the hot spot's events in this band.
        periodogram: Lomb–Scargle result (measured points, random errors), or None with fewer than
            :data:`MIN_POINTS_FOR_PERIODS` of them.
        title: a plot title naming the hot spot, its best cross-ID and position (°N, °W).
    """

    hotspot_id: str
    band: str
    points: pd.DataFrame
    stats: dict
    events: pd.DataFrame
    periodogram: object | None
    title: str


def hotspot_lightcurve(
    store, hotspot_id: str, band: str, *, min_period_d: float = 2.0, max_period_d: float = 1000.0
) -> HotspotLightcurve:
    """The light curve of ``hotspot_id`` in ``band`` from ``store``; CatalogError when it has no points."""
    from ioscan.records import DetectionFlag
    from ioscan.track.lightcurve import measured, variability_stats
    from ioscan.track.periodogram import periodogram

    lc = store.lightcurve(hotspot_id, band)
    if lc.empty:
        raise CatalogError(f"no {band}-band detections of hot spot {hotspot_id} in {store.url}")
    events = store.events_frame()
    spots = store.hotspots_frame()
    lc = lc.rename(
        columns={
            "spectral_intensity_gw_um_sr": "value",
            "spectral_intensity_err_gw_um_sr": "err",
            "spectral_intensity_sys_err_gw_um_sr": "sys_err",
        }
    )
    flags = pd.to_numeric(lc["flags"], errors="coerce").fillna(0).astype(int)
    lc["lower_limit"] = (flags & int(DetectionFlag.LOWER_LIMIT)) != 0
    ev = (
        events[(events["hotspot_id"] == hotspot_id) & (events["band"] == band)]
        if not events.empty
        else events
    )
    pg = None
    points = measured(lc)
    if points["value"].notna().sum() >= MIN_POINTS_FOR_PERIODS:
        pg = periodogram(points, min_period_d=min_period_d, max_period_d=max_period_d)
    row = spots[spots["hotspot_id"] == hotspot_id]
    name = f" ({row['name'].iloc[0]})" if not row.empty and isinstance(row["name"].iloc[0], str) else ""
    where = f", {row['lat_deg'].iloc[0]:.1f}°N {row['lon_w_deg'].iloc[0]:.1f}°W" if not row.empty else ""
    title = f"{hotspot_id}{name}{where}, {band} band (foreshortening-corrected)"
    return HotspotLightcurve(hotspot_id, band, lc, variability_stats(lc), ev, pg, title)
